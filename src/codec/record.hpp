// The stored record format shared with Python cshelve 1.x.
//
//   record   = version (0x00) || envelope
//   envelope = signature length S (1 byte) || data length N (u64 little-endian) || S signature bytes
//              || N data bytes
// The signature names the processing steps, outermost first: 'c' zlib, 'e' AES-EAX.
// A first byte above 0 marks a legacy record: the whole object is the payload.
#ifndef CSHELVE_CODEC_RECORD_HPP
#define CSHELVE_CODEC_RECORD_HPP

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cshelve::codec {

// What a shelf applies to its values (config::processing_from_config reads it from the INI's
// [compression] and [encryption]).
struct Processing {
  std::optional<int> zlib_level;  // set: compress with zlib at this level (-1: zlib's default)
  std::string encryption_key;     // non-empty: AES-EAX with this key (16, 24 or 32 bytes)
  // Refuse records that are not encrypted ([encryption] strict = true). Python cshelve reads
  // them, so by default this library does too; strict closes that door to planted values.
  bool require_encryption = false;

  Processing() = default;
  Processing(const Processing&) = default;
  Processing& operator=(const Processing& other);  // wipes the key it replaces
  ~Processing();                                   // wipes the key
};

// Throws MissingEncryptionKeyError unless `size` is 16, 24 or 32 (bytes of an AES key).
void check_key_size(std::size_t size);

// An encoded record as pieces to be written one after the other, so a plain value is stored
// without being copied: `pieces()` refers to `header`, `processed` and the caller's payload.
// `data` views `processed` exactly when `processed` is non-empty (some step applied); copies and
// moves keep it so, even where a short `processed` lives inside the string object itself.
struct EncodedRecord {
  std::string header;     // version byte and envelope header
  std::string processed;  // the processed data, when any step applied
  std::string_view data;  // the data that follows the header
  std::vector<std::string_view> pieces() const { return {header, data}; }
  std::size_t size() const { return header.size() + data.size(); }

  EncodedRecord() = default;
  EncodedRecord(const EncodedRecord& other);
  EncodedRecord(EncodedRecord&& other) noexcept;
  EncodedRecord& operator=(const EncodedRecord& other);
  EncodedRecord& operator=(EncodedRecord&& other) noexcept;
  ~EncodedRecord() = default;
};

// Encodes a payload. `payload` must outlive the result when no processing applies.
// `nonce` (tests only) fixes the EAX nonce (16 bytes, as written normally; 1 to 255 bytes are
// accepted so hand-built layouts can be reproduced); empty draws 16 bytes from the CSPRNG.
EncodedRecord encode_record(std::string_view payload, const Processing& processing, std::string_view nonce = {});

// Decodes a stored record into its payload, reusing the record's storage where it can.
// Throws DataCorruptionError, EncryptedDataCorruptionError, DataProcessingSignatureError.
std::string decode_record(std::string record, const Processing& processing);

// Whether records are written without any processing step (no compression, no encryption).
bool writes_plain(const Processing& processing) noexcept;

// The header of a record without processing whose payload is `payload_size` bytes: the payload
// follows it unchanged, so a large one can be sent from where it lies.
std::string plain_record_header(std::uint64_t payload_size);

// Encodes a payload that comes a part at a time, for a value too large to hold in memory. The
// record is the one encode_record gives for the whole payload (with the same nonce; at zlib level
// 0 the stored blocks end where parts end, see ZlibCompressor), but its first prefix_size() bytes
// are known only at the end: update() writes placeholders there, and finish() returns them.
class RecordWriter {
 public:
  // `processing` must outlive the writer; `nonce` as for encode_record.
  explicit RecordWriter(const Processing& processing, std::string_view nonce = {});
  ~RecordWriter();
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  std::size_t prefix_size() const;
  // Appends to `out` the record's bytes for the next part of the payload (the placeholder prefix
  // first, on the first call).
  void update(std::string_view payload, std::string& out);
  // Appends the record's last bytes to `out`; returns the prefix, to be put over the placeholder.
  std::string finish(std::string& out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Decodes a record that arrives a part at a time and hands its payload to `out` as it comes, so a
// large value never sits whole in memory. What `out` received must be discarded when feed() or
// finish() throws: a processed record is authenticated (encryption) and complete (compression)
// only at the end. The errors, and their order, are decode_record's for the same bytes.
class RecordReader {
 public:
  // What a pass over a record does: decode it, or only check what comes before decompression
  // (the envelope, strictness, decryption's header and tag) and hand nothing on. A compressed
  // and encrypted record can so be authenticated before anything of it is inflated.
  enum class Pass { decode, authenticate };

  // `processing` must outlive the reader.
  RecordReader(const Processing& processing, std::function<void(std::string_view payload)> out,
               Pass pass = Pass::decode);
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  void restart();  // forget what was fed: the record starts again
  void feed(std::string_view bytes);
  void finish();  // the record is complete

 private:
  struct State;
  const Processing& processing_;
  std::function<void(std::string_view)> out_;
  Pass pass_;
  std::unique_ptr<State> state_;
};

}  // namespace cshelve::codec

#endif
