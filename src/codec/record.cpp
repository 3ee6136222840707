#include "codec/record.hpp"

#include "codec/eax.hpp"
#include "codec/zlib_stream.hpp"

#include <cshelve/errors.hpp>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

namespace cshelve::codec {
namespace {

constexpr unsigned char kRecordVersion = 0;
constexpr std::size_t kEnvelopeHeaderSize = 1 + 1 + 8;  // version, signature length, data length
constexpr char kCompressionStep = 'c';
constexpr char kEncryptionStep = 'e';

// Encrypted data: algorithm byte, tag length, nonce length, tag, nonce, ciphertext.
constexpr unsigned char kAesEaxAlgorithm = 1;
constexpr std::size_t kEncryptionHeaderSize = 3;
constexpr std::size_t kNonceSize = 16;
// Python cshelve rejects encrypted data shorter than this before looking at it further.
constexpr std::size_t kShortestEncryptedData = 5;

void wipe(std::string& secret) {
  // Clear the whole allocation, not just the current contents, which may be shorter than what
  // the string held before.
  secret.resize(secret.capacity());
  OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

const std::string* find(const Section& section, const char* option) {
  const auto found = section.find(option);
  return found == section.end() ? nullptr : &found->second;
}

void check_key_size(std::size_t size) {
  if (!eax::is_valid_key_size(size)) {
    throw MissingEncryptionKeyError(
        "The encryption key is " + std::to_string(size) +
        " bytes long (UTF-8); AES needs a key of exactly 16, 24 or 32 bytes");
  }
}

int parse_zlib_level(const std::string& text) {
  // Python reads the level with int(): optional sign and decimal digits, spaces around allowed.
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  std::size_t begin = 0;
  std::size_t end = text.size();
  while (begin < end && is_space(text[begin])) ++begin;
  while (end > begin && is_space(text[end - 1])) --end;
  const std::string trimmed = text.substr(begin, end - begin);
  const std::string problem = "[compression] level = '" + trimmed + "' ";
  std::size_t first_digit = 0;
  if (!trimmed.empty() && (trimmed[0] == '-' || trimmed[0] == '+')) first_digit = 1;
  if (first_digit == trimmed.size()) throw ConfigurationError(problem + "is not an integer");
  for (std::size_t i = first_digit; i < trimmed.size(); ++i) {
    if (trimmed[i] < '0' || trimmed[i] > '9')
      throw ConfigurationError(problem + "is not an integer");
  }
  errno = 0;
  const long level = std::strtol(trimmed.c_str(), nullptr, 10);
  if (errno == ERANGE || level < std::numeric_limits<int>::min() ||
      level > std::numeric_limits<int>::max() || !is_valid_zlib_level(static_cast<int>(level))) {
    throw ConfigurationError(problem + "is out of range: use -1 (zlib's default) or 0 to 9");
  }
  return static_cast<int>(level);
}

void append_u64_le(std::string& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::uint64_t read_u64_le(const std::string& in, std::size_t offset) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(in[offset + static_cast<std::size_t>(i)]);
  }
  return value;
}

unsigned char* bytes(std::string& s, std::size_t offset) {
  return reinterpret_cast<unsigned char*>(&s[0]) + offset;
}

// The steps of a configuration, in the order Python cshelve lists them: the signature of what it
// writes (outermost step first), and the order in which it undoes steps when it reads.
std::string signature_of(const Processing& processing) {
  std::string signature;
  if (!processing.encryption_key.empty()) signature += kEncryptionStep;
  if (processing.zlib_level) signature += kCompressionStep;
  return signature;
}

std::string printable(std::string_view raw) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : raw) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\' && byte != '\'') {
      out += c;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

// A range of a string being decoded: the data still to be processed.
struct Region {
  std::size_t begin;
  std::size_t size;
};

void check_encrypted_size(std::uint64_t size) {
  if (size < kShortestEncryptedData) {
    throw EncryptedDataCorruptionError(
        "The encrypted data is corrupted: " + std::to_string(size) +
        " bytes cannot hold its header");
  }
}

// The checks of an encryption header, in Python cshelve's order: `data` holds the first 3 bytes
// of encrypted data of `size` bytes. Returns the offset of the ciphertext.
std::size_t check_encryption_header(const unsigned char* data, std::uint64_t size) {
  check_encrypted_size(size);
  if (data[0] != kAesEaxAlgorithm) {
    throw EncryptedDataCorruptionError("The data was encrypted with an unknown algorithm (" +
                                       std::to_string(data[0]) +
                                       "); this library knows AES-EAX (1) only");
  }
  const std::size_t tag_size = data[1];
  const std::size_t nonce_size = data[2];
  if (kEncryptionHeaderSize + tag_size + nonce_size > size) {
    throw EncryptedDataCorruptionError(
        "The encrypted data is truncated: it is shorter than its tag and nonce");
  }
  if (nonce_size == 0) {
    throw EncryptedDataCorruptionError("The encrypted data is corrupted: its nonce is empty");
  }
  if (tag_size != eax::kTagSize) {
    throw EncryptedDataCorruptionError("The encrypted data is corrupted: its tag is " +
                                       std::to_string(tag_size) + " bytes, not 16");
  }
  return kEncryptionHeaderSize + tag_size + nonce_size;
}

[[noreturn]] void throw_tag_mismatch() {
  throw EncryptedDataCorruptionError(
      "The encrypted data is corrupted, or the encryption key is not the one it was written "
      "with: its tag does not verify");
}

// Checks and decrypts encrypted data in place; on return `region` covers the plaintext.
void decrypt_in_place(std::string& buffer, Region& region, const std::string& key) {
  check_key_size(key.size());
  const unsigned char* data = bytes(buffer, region.begin);
  const std::size_t ciphertext_offset = check_encryption_header(data, region.size);
  eax::Tag tag{};
  std::memcpy(tag.data(), data + kEncryptionHeaderSize, tag.size());
  const std::string_view nonce(reinterpret_cast<const char*>(data) + kEncryptionHeaderSize + tag.size(),
                               ciphertext_offset - kEncryptionHeaderSize - tag.size());
  const std::size_t ciphertext_size = region.size - ciphertext_offset;
  // Python cshelve also refuses ciphertexts shorter than 2 bytes even when they authenticate.
  // Those only come from payloads of 0 or 1 bytes, which Python never produces (its payloads are
  // pickles) but C++ callers may store; they are accepted here so that such values round-trip.
  unsigned char* ciphertext = bytes(buffer, region.begin + ciphertext_offset);
  if (!eax::decrypt(key, nonce, {}, ciphertext, ciphertext_size, tag, ciphertext)) throw_tag_mismatch();
  region.begin += ciphertext_offset;
  region.size = ciphertext_size;
}

// A record's steps as a reader with `processing` undoes them: Python cshelve walks its own steps
// in order and undoes each one that is next in the record's signature, so a record may use fewer
// steps than the reader has, never others. `left` is what no step of the reader undoes.
struct Plan {
  std::string steps;
  std::string left;
};

Plan plan_for(const Processing& processing, std::string_view signature) {
  Plan plan{{}, std::string(signature)};
  for (const char step : signature_of(processing)) {
    if (plan.left.empty()) break;
    if (plan.left.front() != step) continue;
    plan.steps += step;
    plan.left.erase(0, 1);
  }
  return plan;
}

[[noreturn]] void throw_missing_steps(const std::string& left, std::string_view signature) {
  throw DataProcessingSignatureError(
      "The record needs processing this shelf is not configured for: step(s) '" + printable(left) +
      "' of signature '" + printable(signature) + "' ('c' is zlib compression, 'e' is encryption)");
}

// Algorithm, tag length, nonce length, tag, nonce: the front of encrypted data.
void put_encryption_header(unsigned char* out, const eax::Tag& tag, std::string_view nonce) {
  out[0] = kAesEaxAlgorithm;
  out[1] = static_cast<unsigned char>(eax::kTagSize);
  out[2] = static_cast<unsigned char>(nonce.size());
  std::memcpy(out + kEncryptionHeaderSize, tag.data(), tag.size());
  std::memcpy(out + kEncryptionHeaderSize + tag.size(), nonce.data(), nonce.size());
}

std::string fresh_nonce() {
  std::string nonce(kNonceSize, '\0');
  if (RAND_bytes(bytes(nonce, 0), static_cast<int>(kNonceSize)) != 1) {
    throw Error("The system's random generator could not provide a nonce");
  }
  return nonce;
}

void check_nonce_size(std::string_view nonce) {
  if (nonce.size() > std::numeric_limits<unsigned char>::max()) {
    throw Error("An EAX nonce for a record must be 1 to 255 bytes long");
  }
}

// The envelope header: version, signature length, data length, signature.
std::string envelope_header(std::string_view signature, std::uint64_t data_size) {
  std::string header;
  header.reserve(kEnvelopeHeaderSize + signature.size());
  header.push_back(static_cast<char>(kRecordVersion));
  header.push_back(static_cast<char>(signature.size()));
  append_u64_le(header, data_size);
  header += signature;
  return header;
}

void check_legacy_allowed(const Processing& processing) {
  if (processing.require_encryption) {
    throw DataProcessingSignatureError(
        "The record is in the unversioned legacy form, not encrypted; [encryption] strict = true refuses it");
  }
}

// The record's length must be exactly what its header announces.
void check_envelope(std::size_t signature_size, std::uint64_t data_size, std::uint64_t after_header) {
  if (signature_size > after_header || data_size != after_header - signature_size) {
    throw DataCorruptionError(
        "The stored record is truncated or has extra bytes: its header announces " +
        std::to_string(signature_size) + " signature and " + std::to_string(data_size) +
        " data bytes, but " + std::to_string(after_header) + " bytes follow the header");
  }
}

void check_strict(const Processing& processing, std::string_view signature) {
  if (processing.require_encryption && signature.find(kEncryptionStep) == std::string_view::npos) {
    throw DataProcessingSignatureError("The record is not encrypted (signature '" + printable(signature) +
                                       "'); [encryption] strict = true refuses it");
  }
}

}  // namespace

struct RecordWriter::State {
  State(const Processing& processing, std::string_view nonce_given)
      : signature(signature_of(processing)), nonce(nonce_given) {
    if (!processing.encryption_key.empty()) {
      check_key_size(processing.encryption_key.size());
      check_nonce_size(nonce);
      if (nonce.empty()) nonce = fresh_nonce();
      cipher = std::make_unique<eax::Stream>(processing.encryption_key, nonce, std::string_view(),
                                             eax::Stream::Direction::encrypt);
    }
    if (processing.zlib_level) compressor = std::make_unique<ZlibCompressor>(*processing.zlib_level);
  }

  std::size_t encryption_prefix() const {
    return cipher ? kEncryptionHeaderSize + eax::kTagSize + nonce.size() : 0;
  }

  // Encrypts, when configured, and appends data bytes.
  void emit(std::string_view data, std::string& out) {
    const std::size_t at = out.size();
    out.append(data);
    if (cipher) cipher->update(bytes(out, at), data.size(), bytes(out, at));
    data_size += data.size();
  }

  void start(std::string& out) {
    if (started) return;
    started = true;
    out.append(kEnvelopeHeaderSize + signature.size() + encryption_prefix(), '\0');
    data_size = encryption_prefix();
  }

  std::string signature;
  std::string nonce;
  std::unique_ptr<eax::Stream> cipher;
  std::unique_ptr<ZlibCompressor> compressor;
  std::string compressed;  // a part's compressed bytes, before encryption
  std::uint64_t data_size = 0;
  bool started = false;
};

RecordWriter::RecordWriter(const Processing& processing, std::string_view nonce)
    : state_(std::make_unique<State>(processing, nonce)) {}

RecordWriter::~RecordWriter() = default;

std::size_t RecordWriter::prefix_size() const {
  return kEnvelopeHeaderSize + state_->signature.size() + state_->encryption_prefix();
}

void RecordWriter::update(std::string_view payload, std::string& out) {
  State& state = *state_;
  state.start(out);
  if (state.compressor) {
    state.compressed.clear();
    state.compressor->update(payload, state.compressed);
    state.emit(state.compressed, out);
  } else {
    state.emit(payload, out);
  }
}

std::string RecordWriter::finish(std::string& out) {
  State& state = *state_;
  state.start(out);
  if (state.compressor) {
    state.compressed.clear();
    state.compressor->finish(state.compressed);
    state.emit(state.compressed, out);
  }
  std::string prefix = envelope_header(state.signature, state.data_size);
  if (state.cipher) {
    const std::size_t at = prefix.size();
    prefix.resize(at + state.encryption_prefix());
    put_encryption_header(bytes(prefix, at), state.cipher->finish(), state.nonce);
  }
  return prefix;
}

// The reader's state. The record's steps run as its data arrives; their errors are held until
// finish(), where they come out in decode_record's order: the envelope's length, strictness,
// then each step's in turn (decryption's header, its tag; decompression), then missing steps.
struct RecordReader::State {
  enum class Mode { undecided, legacy, envelope };
  Mode mode = Mode::undecided;
  std::string head;  // the envelope header, then the signature
  std::size_t signature_size = 0;
  std::uint64_t data_size = 0;
  std::uint64_t data_seen = 0;  // data bytes fed (past data_size too)
  Plan plan;
  bool strict_refuses = false;
  bool decrypts = false;
  bool inflates = false;

  // Decryption: its header as it arrives, then the stream.
  std::string encryption_header;
  std::size_t encryption_header_size = kEncryptionHeaderSize;  // known once its first bytes are
  std::unique_ptr<eax::Stream> cipher;
  eax::Tag tag{};
  std::exception_ptr decryption_error;

  std::unique_ptr<ZlibDecompressor> decompressor;
  std::exception_ptr decompression_error;
  std::string plaintext;  // a part's decrypted bytes

  bool signature_complete() const { return head.size() == kEnvelopeHeaderSize + signature_size; }

  // Runs data bytes through the record's steps to `out`. An error in decryption's header stops
  // everything; one in decompression stops decompression only, since the tag over all of the
  // ciphertext still decides which error comes first.
  void take(std::string_view data, const Processing& processing, const std::function<void(std::string_view)>& out,
            Pass pass) {
    if (decryption_error) return;
    if (decrypts) {
      while (!cipher) {
        const std::size_t taken = std::min(data.size(), encryption_header_size - encryption_header.size());
        encryption_header.append(data.substr(0, taken));
        data.remove_prefix(taken);
        if (encryption_header.size() < encryption_header_size) return;
        try {
          const auto* header = reinterpret_cast<const unsigned char*>(encryption_header.data());
          if (encryption_header_size == kEncryptionHeaderSize) {
            // The lengths of tag and nonce are known now: read on to the end of both.
            encryption_header_size = check_encryption_header(header, data_size);
            continue;
          }
          std::memcpy(tag.data(), header + kEncryptionHeaderSize, tag.size());
          const std::string_view nonce = std::string_view(encryption_header).substr(kEncryptionHeaderSize + tag.size());
          cipher = std::make_unique<eax::Stream>(processing.encryption_key, nonce, std::string_view(),
                                                 eax::Stream::Direction::decrypt);
        } catch (...) {
          decryption_error = std::current_exception();
          return;
        }
      }
      if (data.empty()) return;
      plaintext.resize(data.size());
      cipher->update(reinterpret_cast<const unsigned char*>(data.data()), data.size(), bytes(plaintext, 0));
      data = plaintext;
    }
    if (pass == Pass::authenticate) return;
    if (inflates) {
      if (decompression_error) return;
      try {
        decompressor->update(data, out);
      } catch (const DataCorruptionError&) {
        decompression_error = std::current_exception();
      }
      return;
    }
    out(data);
  }
};

RecordReader::RecordReader(const Processing& processing, std::function<void(std::string_view)> out, Pass pass)
    : processing_(processing), out_(std::move(out)), pass_(pass), state_(std::make_unique<State>()) {}

RecordReader::~RecordReader() = default;

void RecordReader::restart() { state_ = std::make_unique<State>(); }

void RecordReader::feed(std::string_view bytes_in) {
  State& state = *state_;
  if (state.mode == State::Mode::undecided) {
    if (state.head.empty() && !bytes_in.empty() && static_cast<unsigned char>(bytes_in[0]) > kRecordVersion) {
      check_legacy_allowed(processing_);
      state.mode = State::Mode::legacy;
    } else {
      const std::size_t taken = std::min(bytes_in.size(), kEnvelopeHeaderSize - state.head.size());
      state.head.append(bytes_in.substr(0, taken));
      bytes_in.remove_prefix(taken);
      if (state.head.size() < kEnvelopeHeaderSize) return;
      state.mode = State::Mode::envelope;
      state.signature_size = static_cast<unsigned char>(state.head[1]);
      state.data_size = read_u64_le(state.head, 2);
    }
  }
  if (state.mode == State::Mode::legacy) {
    if (pass_ == Pass::decode) out_(bytes_in);
    return;
  }
  if (!state.signature_complete()) {
    const std::size_t taken = std::min(bytes_in.size(), kEnvelopeHeaderSize + state.signature_size - state.head.size());
    state.head.append(bytes_in.substr(0, taken));
    bytes_in.remove_prefix(taken);
    if (!state.signature_complete()) return;
    const std::string_view signature = std::string_view(state.head).substr(kEnvelopeHeaderSize);
    state.strict_refuses = processing_.require_encryption && signature.find(kEncryptionStep) == std::string_view::npos;
    state.plan = plan_for(processing_, signature);
    state.decrypts = !state.plan.steps.empty() && state.plan.steps.front() == kEncryptionStep;
    state.inflates = state.plan.steps.find(kCompressionStep) != std::string::npos;
    if (state.decrypts) {
      try {
        check_key_size(processing_.encryption_key.size());
        check_encrypted_size(state.data_size);
      } catch (...) {
        state.decryption_error = std::current_exception();
      }
    }
    if (state.inflates) state.decompressor = std::make_unique<ZlibDecompressor>();
  }
  // Bytes past the announced length only count: finish() refuses the record for them.
  const std::uint64_t room = state.data_size - std::min(state.data_seen, state.data_size);
  const std::string_view data = bytes_in.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(bytes_in.size(), room)));
  state.data_seen += bytes_in.size();
  // Under strict an unencrypted record is refused before any step runs; a record with steps this
  // reader lacks still has the others run, since their errors come first, but gives no payload.
  static const std::function<void(std::string_view)> discard = [](std::string_view) {};
  if (!data.empty() && !state.strict_refuses) {
    state.take(data, processing_, state.plan.left.empty() ? out_ : discard, pass_);
  }
}

void RecordReader::finish() {
  State& state = *state_;
  switch (state.mode) {
    case State::Mode::undecided:
      decode_record(std::move(state.head), processing_);  // too short: throws as for the whole record
      break;
    case State::Mode::legacy:
      break;
    case State::Mode::envelope: {
      const std::uint64_t after_header = state.head.size() - kEnvelopeHeaderSize + state.data_seen;
      check_envelope(state.signature_size, state.data_size, after_header);
      const std::string_view signature = std::string_view(state.head).substr(kEnvelopeHeaderSize);
      check_strict(processing_, signature);
      if (state.decrypts) {
        if (state.decryption_error) std::rethrow_exception(state.decryption_error);
        if (!state.cipher || !state.cipher->verify(state.tag)) throw_tag_mismatch();
      }
      if (pass_ == Pass::authenticate) break;
      if (state.inflates) {
        if (state.decompression_error) std::rethrow_exception(state.decompression_error);
        state.decompressor->finish();
      }
      if (!state.plan.left.empty()) throw_missing_steps(state.plan.left, signature);
      break;
    }
  }
  restart();
}

Processing::~Processing() { wipe(encryption_key); }

Processing& Processing::operator=(const Processing& other) {
  if (this != &other) {
    wipe(encryption_key);
    zlib_level = other.zlib_level;
    encryption_key = other.encryption_key;
    require_encryption = other.require_encryption;
  }
  return *this;
}

EncodedRecord::EncodedRecord(const EncodedRecord& other)
    : header(other.header), processed(other.processed), data(other.data) {
  if (!processed.empty()) data = processed;
}

EncodedRecord::EncodedRecord(EncodedRecord&& other) noexcept
    : header(std::move(other.header)), processed(std::move(other.processed)), data(other.data) {
  if (!processed.empty()) data = processed;
  other.data = {};
}

EncodedRecord& EncodedRecord::operator=(const EncodedRecord& other) {
  if (this != &other) {
    header = other.header;
    processed = other.processed;
    data = processed.empty() ? other.data : std::string_view(processed);
  }
  return *this;
}

EncodedRecord& EncodedRecord::operator=(EncodedRecord&& other) noexcept {
  if (this != &other) {
    header = std::move(other.header);
    processed = std::move(other.processed);
    data = processed.empty() ? other.data : std::string_view(processed);
    other.data = {};
  }
  return *this;
}

Processing processing_from_config(const Section* compression, const Section* encryption) {
  Processing processing;

  if (compression != nullptr) {
    if (const std::string* algorithm = find(*compression, "algorithm")) {
      if (*algorithm != "zlib") {
        throw UnknownCompressionAlgorithmError("Unknown [compression] algorithm '" + *algorithm +
                                               "': the only one is 'zlib'");
      }
      const std::string* level = find(*compression, "level");
      processing.zlib_level = level != nullptr ? parse_zlib_level(*level) : Z_DEFAULT_COMPRESSION;
    }
  }

  if (encryption != nullptr) {
    if (const std::string* algorithm = find(*encryption, "algorithm")) {
      // Python cshelve looks for the key before it looks at the algorithm's name.
      if (const std::string* variable = find(*encryption, "environment_key")) {
        const char* value = std::getenv(variable->c_str());
        if (value == nullptr || *value == '\0') {
          throw MissingEncryptionKeyError("[encryption] environment_key names the variable '" +
                                          *variable + "', which is not set or is empty");
        }
        processing.encryption_key = value;
      } else if (const std::string* key = find(*encryption, "key");
                 key != nullptr && !key->empty()) {
        processing.encryption_key = *key;
      } else {
        throw MissingEncryptionKeyError("[encryption] has no key: set `key` or `environment_key`");
      }
      if (*algorithm != "aes256") {
        throw UnknownEncryptionAlgorithmError("Unknown [encryption] algorithm '" + *algorithm +
                                              "': the only one is 'aes256'");
      }
      check_key_size(processing.encryption_key.size());
      if (const std::string* strict = find(*encryption, "strict")) {
        if (*strict == "true" || *strict == "True" || *strict == "yes" || *strict == "1") {
          processing.require_encryption = true;
        } else if (!(*strict == "false" || *strict == "False" || *strict == "no" || *strict == "0")) {
          throw ConfigurationError("[encryption] strict must be true or false, not '" + *strict + "'");
        }
      }
    }
  }
  return processing;
}

EncodedRecord encode_record(std::string_view payload, const Processing& processing,
                            std::string_view nonce) {
  const bool compress = processing.zlib_level.has_value();
  const bool encrypt = !processing.encryption_key.empty();
  if (encrypt) check_key_size(processing.encryption_key.size());
  check_nonce_size(nonce);

  EncodedRecord record;
  std::string signature;
  const std::size_t nonce_size = nonce.empty() ? kNonceSize : nonce.size();
  // Room for the encryption header in front, so that the compressed data is encrypted where it
  // lies instead of being copied.
  const std::size_t encryption_prefix =
      encrypt ? kEncryptionHeaderSize + eax::kTagSize + nonce_size : 0;

  if (compress) {
    record.processed.assign(encryption_prefix, '\0');
    zlib_compress_append(payload, *processing.zlib_level, record.processed);
    signature.insert(signature.begin(), kCompressionStep);
  }
  if (encrypt) {
    const unsigned char* plaintext = nullptr;
    std::size_t plaintext_size = 0;
    if (compress) {
      plaintext = bytes(record.processed, encryption_prefix);
      plaintext_size = record.processed.size() - encryption_prefix;
    } else {
      record.processed.resize(encryption_prefix + payload.size());
      plaintext = reinterpret_cast<const unsigned char*>(payload.data());
      plaintext_size = payload.size();
    }
    std::string drawn_nonce;
    if (nonce.empty()) {
      drawn_nonce = fresh_nonce();
      nonce = drawn_nonce;
    }
    unsigned char* out = bytes(record.processed, 0);
    const eax::Tag tag = eax::encrypt(processing.encryption_key, nonce, {}, plaintext,
                                      plaintext_size, out + encryption_prefix);
    put_encryption_header(out, tag, nonce);
    signature.insert(signature.begin(), kEncryptionStep);
  }
  record.data = record.processed.empty() ? payload : std::string_view(record.processed);

  record.header = envelope_header(signature, record.data.size());
  return record;
}

bool writes_plain(const Processing& processing) noexcept {
  return !processing.zlib_level && processing.encryption_key.empty();
}

std::string plain_record_header(std::uint64_t payload_size) { return envelope_header({}, payload_size); }

std::string decode_record(std::string record, const Processing& processing) {
  if (record.empty()) throw DataCorruptionError("The stored record is empty");
  // Records from before the versioned format are the payload itself, whatever the configuration.
  if (static_cast<unsigned char>(record[0]) > kRecordVersion) {
    check_legacy_allowed(processing);
    return record;
  }
  if (record.size() < kEnvelopeHeaderSize) {
    throw DataCorruptionError("The stored record is truncated: " + std::to_string(record.size()) +
                              " bytes cannot hold its 10-byte header");
  }
  const std::size_t signature_size = static_cast<unsigned char>(record[1]);
  const std::uint64_t data_size = read_u64_le(record, 2);
  check_envelope(signature_size, data_size, record.size() - kEnvelopeHeaderSize);
  const std::string left_to_undo = record.substr(kEnvelopeHeaderSize, signature_size);
  check_strict(processing, left_to_undo);

  // The data stays in `record` (decrypted in place) until decompression gives it a new home.
  std::string inflated;
  std::string* buffer = &record;
  Region region{kEnvelopeHeaderSize + signature_size, static_cast<std::size_t>(data_size)};
  const Plan plan = plan_for(processing, left_to_undo);
  for (const char step : plan.steps) {
    if (step == kEncryptionStep) {
      decrypt_in_place(*buffer, region, processing.encryption_key);
    } else {
      std::string output =
          zlib_decompress(std::string_view(*buffer).substr(region.begin, region.size));
      inflated = std::move(output);
      buffer = &inflated;
      region = Region{0, inflated.size()};
    }
  }
  if (!plan.left.empty()) {
    throw_missing_steps(plan.left, std::string_view(record).substr(kEnvelopeHeaderSize, signature_size));
  }

  if (buffer == &inflated) return inflated;
  record.erase(0, region.begin);
  record.resize(region.size);
  return record;
}

}  // namespace cshelve::codec
