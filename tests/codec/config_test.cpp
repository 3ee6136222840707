// [compression] and [encryption] as Python cshelve 1.1 reads them.
#include "codec/record.hpp"
#include "config/settings.hpp"

#include <cshelve/errors.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

namespace {

using cshelve::codec::Processing;
using cshelve::config::processing_from_config;
using cshelve::config::Section;

const std::string kKey16 = "Sixteen byte key";

Processing compression_only(const Section& section) { return processing_from_config(&section, nullptr); }
Processing encryption_only(const Section& section) { return processing_from_config(nullptr, &section); }

// Runs `call`, which must throw `Expected`, and returns the message.
template <typename Expected, typename Call>
std::string message_of(Call call) {
  try {
    call();
  } catch (const Expected& error) {
    return error.what();
  } catch (const std::exception& error) {
    FAIL("wrong exception: " << error.what());
    return {};
  }
  FAIL("no exception");
  return {};
}

}  // namespace

TEST_CASE("config: no sections, or sections without an algorithm, process nothing") {
  const Processing none = processing_from_config(nullptr, nullptr);
  CHECK_FALSE(none.zlib_level.has_value());
  CHECK(none.encryption_key.empty());

  const Section level_only{{"level", "9"}};
  CHECK_FALSE(compression_only(level_only).zlib_level.has_value());
  // Python cshelve leaves encryption off when the section names no algorithm, even with a key.
  const Section key_only{{"key", kKey16}};
  CHECK(encryption_only(key_only).encryption_key.empty());
  const Section empty;
  CHECK(processing_from_config(&empty, &empty).encryption_key.empty());
}

TEST_CASE("config: zlib and its level") {
  CHECK(compression_only({{"algorithm", "zlib"}}).zlib_level == -1);
  const std::pair<const char*, int> accepted[] = {{"-1", -1}, {"0", 0},  {"1", 1},   {"6", 6},
                                                  {"9", 9},   {"+3", 3}, {" 7 ", 7}, {"007", 7}};
  for (const auto& [text, level] : accepted) {
    CAPTURE(text);
    CHECK(compression_only({{"algorithm", "zlib"}, {"level", text}}).zlib_level == level);
  }
  for (const char* text : {"10", "-2", "100", "99999999999999999999", "", "abc", "1.5", "6 ; max", "0x5", "- 1", "+"}) {
    CAPTURE(text);
    const std::string message = message_of<cshelve::ConfigurationError>([&] {
      compression_only({{"algorithm", "zlib"}, {"level", text}});
    });
    CHECK(message.find("level") != std::string::npos);
  }
}

TEST_CASE("config: other compression algorithms are unknown") {
  for (const char* name : {"ZLIB", "gzip", "lzma", ""}) {
    CAPTURE(name);
    const std::string message = message_of<cshelve::UnknownCompressionAlgorithmError>([&] {
      compression_only({{"algorithm", name}});
    });
    CHECK(message.find("zlib") != std::string::npos);
  }
}

TEST_CASE("config: the key's UTF-8 length picks AES-128, AES-192 or AES-256") {
  for (const std::string& key :
       {kKey16, std::string(24, 'k'), std::string(32, 'k'), std::string("cl\xc3\xa9 de seize oc")}) {
    CAPTURE(key.size());
    const Processing processing = encryption_only({{"algorithm", "aes256"}, {"key", key}});
    CHECK(processing.encryption_key == key);
    CHECK_FALSE(processing.zlib_level.has_value());
  }
  for (const std::size_t size : {1U, 8U, 15U, 17U, 23U, 31U, 33U, 64U}) {
    CAPTURE(size);
    const std::string key(size, 'Q');
    const std::string message = message_of<cshelve::MissingEncryptionKeyError>([&] {
      encryption_only({{"algorithm", "aes256"}, {"key", key}});
    });
    CHECK(message.find("16, 24 or 32") != std::string::npos);
    CHECK(message.find(key) == std::string::npos);
  }
}

TEST_CASE("config: compression and encryption together") {
  const Section compression{{"algorithm", "zlib"}, {"level", "1"}};
  const Section encryption{{"algorithm", "aes256"}, {"key", kKey16}};
  const Processing processing = processing_from_config(&compression, &encryption);
  CHECK(processing.zlib_level == 1);
  CHECK(processing.encryption_key == kKey16);
}

TEST_CASE("config: a missing key is MissingEncryptionKeyError") {
  CHECK_THROWS_AS(encryption_only({{"algorithm", "aes256"}}), cshelve::MissingEncryptionKeyError);
  CHECK_THROWS_AS(encryption_only({{"algorithm", "aes256"}, {"key", ""}}), cshelve::MissingEncryptionKeyError);
  // The key is looked for before the algorithm, as in Python cshelve.
  CHECK_THROWS_AS(encryption_only({{"algorithm", "rot13"}}), cshelve::MissingEncryptionKeyError);
}

TEST_CASE("config: an unknown encryption algorithm never shows the key") {
  const std::string key = "a secret of 16 b";
  for (const std::string& used_key : {key, std::string("short secret")}) {
    const std::string message = message_of<cshelve::UnknownEncryptionAlgorithmError>([&] {
      encryption_only({{"algorithm", "aes128"}, {"key", used_key}});
    });
    CHECK(message.find("aes128") != std::string::npos);
    CHECK(message.find(used_key) == std::string::npos);
  }
}

TEST_CASE("config: environment_key names the variable holding the key") {
  const char* variable = "CSHELVE_CODEC_TEST_KEY";
  const std::string environment_value = "0123456789abcdef0123456789ABCDEF";
  REQUIRE(setenv(variable, environment_value.c_str(), 1) == 0);

  SUBCASE("it is used, and wins over key") {
    const Processing processing =
        encryption_only({{"algorithm", "aes256"}, {"environment_key", variable}, {"key", kKey16}});
    CHECK(processing.encryption_key == environment_value);
  }
  SUBCASE("an unset variable is named, with no fallback to key") {
    REQUIRE(unsetenv(variable) == 0);
    const std::string message = message_of<cshelve::MissingEncryptionKeyError>([&] {
      encryption_only({{"algorithm", "aes256"}, {"environment_key", variable}, {"key", kKey16}});
    });
    CHECK(message.find(variable) != std::string::npos);
    CHECK(message.find(kKey16) == std::string::npos);
  }
  SUBCASE("an empty variable is a missing key") {
    REQUIRE(setenv(variable, "", 1) == 0);
    CHECK_THROWS_AS(encryption_only({{"algorithm", "aes256"}, {"environment_key", variable}}),
                    cshelve::MissingEncryptionKeyError);
  }
  SUBCASE("a variable holding a key of the wrong length: the length rule, not the key") {
    const std::string bad = "twenty byte secret!!";
    REQUIRE(setenv(variable, bad.c_str(), 1) == 0);
    const std::string message = message_of<cshelve::MissingEncryptionKeyError>([&] {
      encryption_only({{"algorithm", "aes256"}, {"environment_key", variable}});
    });
    CHECK(message.find("16, 24 or 32") != std::string::npos);
    CHECK(message.find(bad) == std::string::npos);
  }
  unsetenv(variable);
}

TEST_CASE("config: Processing copies and assignments carry the configuration") {
  Processing original;
  original.zlib_level = 3;
  original.encryption_key = kKey16;
  const Processing copy(original);
  CHECK(copy.zlib_level == 3);
  CHECK(copy.encryption_key == kKey16);
  Processing assigned;
  assigned.encryption_key = std::string(32, 'z');
  assigned = original;
  CHECK(assigned.encryption_key == kKey16);
  CHECK(assigned.zlib_level == 3);
  const Processing& same = assigned;
  assigned = same;
  CHECK(assigned.encryption_key == kKey16);
}

TEST_CASE("config: [encryption] strict refuses records that are not encrypted") {
  using cshelve::codec::decode_record;
  using cshelve::codec::encode_record;
  const Processing lenient = encryption_only({{"algorithm", "aes256"}, {"key", kKey16}});
  const Processing strict = encryption_only({{"algorithm", "aes256"}, {"key", kKey16}, {"strict", "true"}});
  CHECK_FALSE(lenient.require_encryption);
  CHECK(strict.require_encryption);
  CHECK_FALSE(encryption_only({{"algorithm", "aes256"}, {"key", kKey16}, {"strict", "false"}}).require_encryption);
  CHECK(message_of<cshelve::ConfigurationError>([] {
          encryption_only({{"algorithm", "aes256"}, {"key", kKey16}, {"strict", "maybe"}});
        }).find("strict") != std::string::npos);

  const auto plain = encode_record("planted", Processing{});
  const std::string plain_record = plain.header + std::string(plain.data);
  const std::string legacy = "\x80legacy pickle";
  CHECK(decode_record(plain_record, lenient) == "planted");  // as Python cshelve reads it
  CHECK(decode_record(legacy, lenient) == legacy);
  CHECK(message_of<cshelve::DataProcessingSignatureError>([&] {
          decode_record(plain_record, strict);
        }).find("strict") != std::string::npos);
  CHECK_THROWS_AS(decode_record(legacy, strict), cshelve::DataProcessingSignatureError);

  const auto sealed = encode_record("secret", strict);
  CHECK(decode_record(sealed.header + std::string(sealed.data), strict) == "secret");
  Processing copy;
  copy = strict;
  CHECK(copy.require_encryption);
}
