// Encoding and decoding records: layout, round trips, the reader's subset rule, and damage.
#include "codec/record.hpp"
#include "support.hpp"

#include <cshelve/errors.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using cshelve::codec::decode_record;
using cshelve::codec::encode_record;
using cshelve::codec::EncodedRecord;
using cshelve::codec::Processing;
using namespace cshelve::test;

const std::string kKey16 = "Sixteen byte key";
const std::string kKey24 = "twenty-four byte key 24!";
const std::string kKey32 = "0123456789abcdef0123456789ABCDEF";

struct Config {
  const char* name;
  Processing processing;
};

Processing make(std::optional<int> level, std::string key) {
  Processing processing;
  processing.zlib_level = level;
  processing.encryption_key = std::move(key);
  return processing;
}

std::vector<Config> configurations() {
  return {{"none", make(std::nullopt, "")},
          {"zlib", make(-1, "")},
          {"zlib-0", make(0, "")},
          {"zlib-9", make(9, "")},
          {"aes-128", make(std::nullopt, kKey16)},
          {"aes-192", make(std::nullopt, kKey24)},
          {"aes-256", make(std::nullopt, kKey32)},
          {"zlib+aes", make(-1, kKey16)}};
}

std::string expected_signature(const Processing& processing) {
  std::string signature;
  if (!processing.encryption_key.empty()) signature += 'e';
  if (processing.zlib_level) signature += 'c';
  return signature;
}

std::string envelope(std::string_view signature, std::string_view data) {
  std::string record(1, '\0');
  record += static_cast<char>(signature.size());
  std::uint64_t size = data.size();
  for (int i = 0; i < 8; ++i) record += static_cast<char>((size >> (8 * i)) & 0xff);
  record += signature;
  record += data;
  return record;
}

// "Short pickled value": a payload like the ones Python hands down.
const std::string kPayload = from_hex("80059516000000000000008c1268c3a96c6c6f20e6bca2e5ad9720f09f9a80942e");

bool mentions_a_key(const std::string& message) {
  return message.find(kKey16) != std::string::npos || message.find(kKey24) != std::string::npos ||
         message.find(kKey32) != std::string::npos;
}

}  // namespace

TEST_CASE("record: the plain layout, byte for byte, without copying the payload") {
  const std::string payload = from_hex("80059509000000000000008c0576616c7565942e");
  const EncodedRecord record = encode_record(payload, Processing{});
  CHECK(to_hex(record.header) == "00001400000000000000");
  CHECK(record.processed.empty());
  CHECK(record.data.data() == payload.data());
  CHECK(record.size() == 30);
  CHECK(to_hex(flatten(record)) == "0000140000000000000080059509000000000000008c0576616c7565942e");
  CHECK(decode_record(flatten(record), Processing{}) == payload);
}

TEST_CASE("record: the compressed layout from the S3 listing of the format notes") {
  const std::string payload = from_hex("80059509000000000000008c0576616c7565942e");
  const std::string record = flatten(encode_record(payload, make(1, "")));
  CHECK(to_hex(record) == "000117000000000000006378016b609dcac900013dac658939a5a953f400268f0494");
}

TEST_CASE("record: the encrypted layout is algorithm 1, 16-byte tag, 16-byte random nonce") {
  for (const Processing& processing : {make(std::nullopt, kKey16), make(6, kKey32)}) {
    const std::string first = flatten(encode_record(kPayload, processing));
    const std::string second = flatten(encode_record(kPayload, processing));
    const std::string signature = expected_signature(processing);
    const std::size_t data = 10 + signature.size();
    CHECK(first.substr(10, signature.size()) == signature);
    CHECK(static_cast<unsigned char>(first[data]) == 1);
    CHECK(static_cast<unsigned char>(first[data + 1]) == 16);
    CHECK(static_cast<unsigned char>(first[data + 2]) == 16);
    // Fresh nonces: the same value never encrypts the same way twice.
    CHECK(first.substr(data + 19, 16) != second.substr(data + 19, 16));
    CHECK(first != second);
    CHECK(decode_record(first, processing) == kPayload);
    CHECK(decode_record(second, processing) == kPayload);
  }
}

TEST_CASE("record: an injected nonce may have another length; over 255 bytes it cannot") {
  const Processing aes = make(std::nullopt, kKey16);
  const std::string twelve(12, '\x2a');
  const std::string record = flatten(encode_record(kPayload, aes, twelve));
  CHECK(static_cast<unsigned char>(record[13]) == 12);
  CHECK(record.substr(11 + 3 + 16, 12) == twelve);
  CHECK(decode_record(record, aes) == kPayload);
  CHECK_THROWS_AS(encode_record(kPayload, aes, std::string(256, 'n')), cshelve::Error);
}

TEST_CASE("record: copies and moves of an EncodedRecord keep viewing their own data") {
  // Short processed data lives inside the string object itself, so a moved record must re-point.
  const Processing zlib = make(9, "");
  EncodedRecord original = encode_record("", zlib);
  REQUIRE(original.processed.size() < 16);
  const std::string bytes = flatten(original);

  EncodedRecord copied(original);
  CHECK(copied.data.data() == copied.processed.data());
  CHECK(flatten(copied) == bytes);
  EncodedRecord moved(std::move(copied));
  CHECK(moved.data.data() == moved.processed.data());
  CHECK(flatten(moved) == bytes);
  EncodedRecord assigned;
  assigned = moved;
  CHECK(assigned.data.data() == assigned.processed.data());
  EncodedRecord move_assigned;
  move_assigned = std::move(moved);
  CHECK(move_assigned.data.data() == move_assigned.processed.data());
  CHECK(flatten(move_assigned) == bytes);
  CHECK(decode_record(flatten(move_assigned), zlib).empty());

  // A plain record keeps viewing the caller's payload.
  const std::string payload = "caller's bytes";
  EncodedRecord plain = encode_record(payload, Processing{});
  EncodedRecord plain_moved(std::move(plain));
  CHECK(plain_moved.data.data() == payload.data());
}

TEST_CASE("record: round trips of empty, 1-byte and 1 MiB random values in every configuration") {
  const std::vector<std::string> values = {std::string(), std::string(1, '\x80'), std::string(1, '\0'),
                                           pseudo_random_bytes(1 << 20, 42)};
  for (const Config& config : configurations()) {
    for (const std::string& value : values) {
      CAPTURE(config.name);
      CAPTURE(value.size());
      const EncodedRecord encoded = encode_record(value, config.processing);
      const std::string record = flatten(encoded);
      CHECK(record[0] == '\0');
      CHECK(record.substr(10, static_cast<unsigned char>(record[1])) == expected_signature(config.processing));
      const std::string decoded = decode_record(record, config.processing);
      CHECK(decoded.size() == value.size());
      CHECK(decoded == value);
    }
  }
}

TEST_CASE("record: decoding reuses the record's storage when nothing is inflated") {
  const std::string value = pseudo_random_bytes(1 << 20, 7);
  for (const Processing& processing : {Processing{}, make(std::nullopt, kKey32)}) {
    std::string record = flatten(encode_record(value, processing));
    const char* storage = record.data();
    const std::string decoded = decode_record(std::move(record), processing);
    CHECK(decoded.data() == storage);
    CHECK(decoded == value);
  }
}

TEST_CASE("record: legacy records (first byte above 0) are the payload, whatever the config") {
  const std::string legacy = from_hex("80059509000000000000008c0576616c7565942e");
  for (const Config& config : configurations()) {
    CAPTURE(config.name);
    CHECK(decode_record(legacy, config.processing) == legacy);
    CHECK(decode_record("not a cshelve record", config.processing) == "not a cshelve record");
    CHECK(decode_record(std::string(1, '\x01'), config.processing) == std::string(1, '\x01'));
  }
}

TEST_CASE("record: framing errors are DataCorruptionError") {
  const Processing none;
  CHECK(run_decode("", none).outcome == Outcome::data_corruption);
  CHECK(run_decode(std::string(1, '\0'), none).outcome == Outcome::data_corruption);
  CHECK(run_decode(std::string(9, '\0'), none).outcome == Outcome::data_corruption);
  // Exactly a header announcing no data: an empty payload.
  CHECK(decode_record(std::string(10, '\0'), none).empty());

  const std::string good = envelope("", "abc");
  CHECK(decode_record(good, none) == "abc");
  CHECK(run_decode(good + "x", none).outcome == Outcome::data_corruption);
  CHECK(run_decode(good.substr(0, good.size() - 1), none).outcome == Outcome::data_corruption);

  // Lengths that would overflow if added naively.
  std::string huge = good;
  for (int i = 2; i < 10; ++i) huge[static_cast<std::size_t>(i)] = '\xff';
  CHECK(run_decode(huge, none).outcome == Outcome::data_corruption);
  std::string long_signature = good;
  long_signature[1] = '\xff';
  CHECK(run_decode(long_signature, none).outcome == Outcome::data_corruption);
}

TEST_CASE("record: the reader undoes the steps it has, in its order (Python's subset rule)") {
  const Processing none;
  const Processing zlib = make(-1, "");
  const Processing aes = make(std::nullopt, kKey16);
  const Processing both = make(-1, kKey16);
  const std::vector<std::pair<const char*, const Processing*>> writers = {
      {"", &none}, {"c", &zlib}, {"e", &aes}, {"ec", &both}};
  const std::vector<std::pair<const char*, const Processing*>> readers = {
      {"", &none}, {"c", &zlib}, {"e", &aes}, {"ec", &both}};
  // accepted[reader][writer], from the format notes' table.
  const bool accepted[4][4] = {
      {true, false, false, false}, {true, true, false, false}, {true, false, true, false}, {true, true, true, true}};
  for (std::size_t w = 0; w < writers.size(); ++w) {
    const std::string record = flatten(encode_record(kPayload, *writers[w].second));
    for (std::size_t r = 0; r < readers.size(); ++r) {
      CAPTURE(writers[w].first);
      CAPTURE(readers[r].first);
      const Result result = run_decode(record, *readers[r].second);
      if (accepted[r][w]) {
        CHECK_MESSAGE(result.outcome == Outcome::returned, result.message);
        CHECK(result.value == kPayload);
      } else {
        CHECK_MESSAGE(result.outcome == Outcome::signature, result.message);
      }
    }
  }

  // An 'ec' record under an encrypting reader is decrypted first; the leftover 'c' is named.
  const Result leftover = run_decode(flatten(encode_record(kPayload, both)), aes);
  CHECK(leftover.outcome == Outcome::signature);
  CHECK(leftover.message.find("'c'") != std::string::npos);
  // ... which a wrong key reports as corruption, as decryption comes first.
  const Result wrong_key = run_decode(flatten(encode_record(kPayload, both)), make(std::nullopt, kKey32));
  CHECK(wrong_key.outcome == Outcome::encrypted_corruption);

  // "ce" (encrypted, then compressed) is never written. An "ec" reader skips its own 'e',
  // decompresses, and cannot undo the 'e' left over.
  const EncodedRecord encrypted = encode_record(kPayload, aes);
  const EncodedRecord compressed_after = encode_record(encrypted.data, zlib);
  const Result reversed = run_decode(envelope("ce", compressed_after.data), both);
  CHECK(reversed.outcome == Outcome::signature);
  CHECK(reversed.message.find("'e'") != std::string::npos);
  // Unknown letters, shown printably.
  const Result unknown = run_decode(envelope(std::string("x\x01", 2), "data"), both);
  CHECK(unknown.outcome == Outcome::signature);
  CHECK(unknown.message.find("x\\x01") != std::string::npos);
}

TEST_CASE("record: a wrong key is EncryptedDataCorruptionError and no key is ever shown") {
  for (const std::string& writer_key : {kKey16, kKey24, kKey32}) {
    for (const std::string& reader_key : {kKey16, kKey24, kKey32, std::string("Sixteen byte kez")}) {
      if (writer_key == reader_key) continue;
      const std::string record = flatten(encode_record(kPayload, make(std::nullopt, writer_key)));
      const Result result = run_decode(record, make(std::nullopt, reader_key));
      CHECK(result.outcome == Outcome::encrypted_corruption);
      CHECK_FALSE(mentions_a_key(result.message));
      CHECK(result.message.find("Sixteen byte kez") == std::string::npos);
    }
  }
}

TEST_CASE("record: a Processing with a key of the wrong length is refused on use") {
  const Processing bad = make(std::nullopt, "fifteen bytes!!");
  CHECK_THROWS_AS(encode_record(kPayload, bad), cshelve::MissingEncryptionKeyError);
  const std::string record = flatten(encode_record(kPayload, make(std::nullopt, kKey16)));
  const std::string message = [&] {
    try {
      decode_record(record, bad);
    } catch (const cshelve::MissingEncryptionKeyError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  }();
  CHECK(message.find("16, 24 or 32") != std::string::npos);
  CHECK(message.find("fifteen bytes!!") == std::string::npos);
  const Processing bad_level = make(12, "");
  CHECK_THROWS_AS(encode_record(kPayload, bad_level), cshelve::ConfigurationError);
}

TEST_CASE("record: malformed encryption headers are EncryptedDataCorruptionError") {
  const Processing aes = make(std::nullopt, kKey16);
  const std::string good = flatten(encode_record(kPayload, aes));
  const std::string data = good.substr(11);
  const auto with_data = [](const std::string& d) { return envelope("e", d); };

  SUBCASE("shorter than 5 bytes") {
    for (std::size_t size = 0; size < 5; ++size) {
      CHECK(run_decode(with_data(data.substr(0, size)), aes).outcome == Outcome::encrypted_corruption);
    }
  }
  SUBCASE("another algorithm") {
    for (const int algorithm : {0, 2, 255}) {
      std::string d = data;
      d[0] = static_cast<char>(algorithm);
      const Result result = run_decode(with_data(d), aes);
      CHECK(result.outcome == Outcome::encrypted_corruption);
      CHECK(result.message.find("algorithm") != std::string::npos);
    }
  }
  SUBCASE("tag and nonce lengths that do not fit, an empty nonce, a short or long tag") {
    for (const auto& [tag_size, nonce_size] :
         std::vector<std::pair<int, int>>{{255, 255}, {16, 255}, {16, 0}, {12, 16}, {17, 16}, {0, 16}}) {
      std::string d = data;
      d[1] = static_cast<char>(tag_size);
      d[2] = static_cast<char>(nonce_size);
      CAPTURE(tag_size);
      CAPTURE(nonce_size);
      CHECK(run_decode(with_data(d), aes).outcome == Outcome::encrypted_corruption);
    }
  }
}

TEST_CASE("record: every truncation point gives a clear error, never data") {
  for (const Config& config : configurations()) {
    const std::string record = flatten(encode_record(kPayload, config.processing));
    for (std::size_t size = 0; size < record.size(); ++size) {
      CAPTURE(config.name);
      CAPTURE(size);
      const Result result = run_decode(record.substr(0, size), config.processing);
      CHECK(result.outcome == Outcome::data_corruption);
      CHECK_FALSE(mentions_a_key(result.message));
    }
  }
}

TEST_CASE("record: truncated data in a consistent envelope is caught by the step that reads it") {
  for (const Config& config : configurations()) {
    const std::string record = flatten(encode_record(kPayload, config.processing));
    const std::size_t signature_size = static_cast<unsigned char>(record[1]);
    const std::string signature = record.substr(10, signature_size);
    const std::string data = record.substr(10 + signature_size);
    for (std::size_t size = 0; size < data.size(); ++size) {
      CAPTURE(config.name);
      CAPTURE(size);
      const Result result = run_decode(envelope(signature, data.substr(0, size)), config.processing);
      if (signature.empty()) {
        // Plain data carries no check: the format cannot tell, and the stored bytes come back.
        CHECK(result.outcome == Outcome::returned);
        CHECK(result.value == data.substr(0, size));
      } else if (signature[0] == 'e') {
        CHECK(result.outcome == Outcome::encrypted_corruption);
      } else {
        CHECK(result.outcome == Outcome::data_corruption);
      }
      CHECK_FALSE(mentions_a_key(result.message));
    }
  }
}

TEST_CASE("record: a flipped bit anywhere gives a clear error or exactly the stored bytes") {
  int flips = 0;
  for (const Config& config : configurations()) {
    const std::string record = flatten(encode_record(kPayload, config.processing));
    const std::size_t signature_size = static_cast<unsigned char>(record[1]);
    const std::size_t data_begin = 10 + signature_size;
    for (std::size_t position = 0; position < record.size(); ++position) {
      for (int bit = 0; bit < 8; ++bit) {
        CAPTURE(config.name);
        CAPTURE(position);
        CAPTURE(bit);
        std::string damaged = record;
        damaged[position] = static_cast<char>(damaged[position] ^ (1 << bit));
        const Result result = run_decode(damaged, config.processing);
        CHECK_FALSE(mentions_a_key(result.message));
        ++flips;
        if (position == 0) {
          // A non-zero first byte marks a legacy record: the whole object is returned as stored.
          CHECK(result.outcome == Outcome::returned);
          CHECK(result.value == damaged);
        } else if (position < 10) {
          CHECK(result.outcome == Outcome::data_corruption);
        } else if (position < data_begin) {
          CHECK(result.outcome == Outcome::signature);
        } else if (config.processing.encryption_key.empty() == false) {
          CHECK(result.outcome == Outcome::encrypted_corruption);
        } else if (config.processing.zlib_level) {
          // Deflate data is checked by its Adler-32; should a flip leave the output intact, the
          // exact payload is still what comes back.
          const bool clear_error = result.outcome == Outcome::data_corruption;
          const bool exact = result.outcome == Outcome::returned && result.value == kPayload;
          CHECK_MESSAGE((clear_error || exact), describe(result.outcome));
        } else {
          CHECK(result.outcome == Outcome::returned);
          CHECK(result.value == damaged.substr(data_begin));
        }
      }
    }
  }
  CHECK(flips > 8 * 8 * 30);
}

TEST_CASE("record: random data in a well-framed envelope gives the step's error, never a crash") {
  const Processing both = make(-1, kKey16);
  const char* signatures[] = {"", "c", "e", "ec"};
  int tries = 0;
  for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
    const std::string noise = pseudo_random_bytes(seed % 97, seed);
    const std::string signature = signatures[seed % 4];
    std::string data = noise;
    // Half of the encrypted tries get a plausible header, so the tag check itself is reached.
    if (signature[0] == 'e' && seed % 8 < 4 && data.size() >= 3) {
      data[0] = '\x01';
      data[1] = '\x10';
      data[2] = static_cast<char>(seed % 20);
    }
    CAPTURE(seed);
    const Result result = run_decode(envelope(signature, data), both);
    if (signature.empty()) {
      CHECK(result.value == data);
    } else if (signature[0] == 'e') {
      CHECK(result.outcome == Outcome::encrypted_corruption);
    } else {
      CHECK(result.outcome == Outcome::data_corruption);
    }
    ++tries;
  }
  CHECK(tries == 2000);
}

TEST_CASE("record: RecordWriter writes encode_record's bytes, whatever the parts it is fed") {
  const std::string nonce = "sixteen-byte-nce";
  std::string compressible;
  while (compressible.size() < 600000)
    compressible += "a line of text that repeats, " + std::to_string(compressible.size() % 97);
  const std::vector<std::string> payloads = {"", "x", kPayload, pseudo_random_bytes(200000, 5), compressible};
  int checked = 0;
  for (const Config& config : configurations()) {
    for (const std::string& payload : payloads) {
      const std::string whole = flatten(encode_record(payload, config.processing, nonce));
      for (const std::size_t part :
           {std::size_t{1}, std::size_t{7}, std::size_t{4096}, std::size_t{65536}, payload.size() + 1}) {
        if (part == 1 && payload.size() > 4096) continue;
        CAPTURE(config.name);
        CAPTURE(payload.size());
        CAPTURE(part);
        const std::string streamed = stream_encode(payload, config.processing, nonce, part);
        if (config.processing.zlib_level == 0) {
          // Level 0 ends its stored blocks where the parts end: other bytes, the same payload.
          const Result result = run_decode(streamed, config.processing);
          CHECK(result.outcome == Outcome::returned);
          CHECK(result.value == payload);
        } else {
          CHECK(to_hex(streamed) == to_hex(whole));
        }
        ++checked;
      }
    }
  }
  CHECK(checked > 150);
}

TEST_CASE("record: RecordWriter draws a fresh nonce when none is given, and refuses a bad key") {
  const Processing aes = make(std::nullopt, kKey16);
  const std::string first = stream_encode(kPayload, aes, {}, 5);
  const std::string second = stream_encode(kPayload, aes, {}, 5);
  CHECK(first != second);
  CHECK(run_decode(first, aes).value == kPayload);
  CHECK_THROWS_AS(cshelve::codec::RecordWriter(make(std::nullopt, "short key")), cshelve::MissingEncryptionKeyError);
}

namespace {

// An authentic encrypted record whose signature also claims compression: its plaintext is no
// zlib stream, yet its tag verifies (the signature is outside what the tag covers).
std::string encrypted_record_claiming_compression() {
  std::string record = flatten(encode_record(kPayload, make(std::nullopt, kKey16)));
  REQUIRE(record[1] == 1);
  record[1] = 2;
  record.insert(11, 1, 'c');
  return record;
}

std::string authenticate(const std::string& record, const Processing& processing, std::size_t part) {
  bool handed_on = false;
  cshelve::codec::RecordReader reader(
      processing, [&](std::string_view) { handed_on = true; }, cshelve::codec::RecordReader::Pass::authenticate);
  try {
    for (std::size_t at = 0; at < record.size(); at += part) reader.feed(std::string_view(record).substr(at, part));
    reader.finish();
  } catch (const cshelve::EncryptedDataCorruptionError&) {
    return "tag";
  } catch (const cshelve::DataCorruptionError&) {
    return "corrupt";
  }
  CHECK_FALSE(handed_on);
  return "authentic";
}

}  // namespace

TEST_CASE("record: an authentic record whose plaintext does not inflate is a compression error") {
  // run_decode also feeds the streamed reader 1, 7 and 4096 bytes at a time: the tag must be
  // computed over all of the ciphertext even after decompression has failed.
  const Result result = run_decode(encrypted_record_claiming_compression(), make(-1, kKey16));
  CHECK(result.outcome == Outcome::data_corruption);
  CHECK(result.message.find("compressed data is damaged") != std::string::npos);
}

TEST_CASE("record: an authenticating pass checks the tag and hands nothing on") {
  const Processing both = make(-1, kKey16);
  const std::string record = flatten(encode_record(pseudo_random_bytes(100000, 3), both));
  std::string tampered = record;
  tampered[tampered.size() / 2] ^= 1;
  for (const std::size_t part : {std::size_t{7}, std::size_t{4096}, record.size()}) {
    CAPTURE(part);
    CHECK(authenticate(record, both, part) == "authentic");
    CHECK(authenticate(tampered, both, part) == "tag");
    CHECK(authenticate(record.substr(0, record.size() - 1), both, part) == "corrupt");
    // Decompression is the decoding pass's business.
    CHECK(authenticate(encrypted_record_claiming_compression(), both, part) == "authentic");
  }
}
