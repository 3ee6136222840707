// Streaming zlib against zlib's own one-shot compress2()/uncompress().
#include "codec/zlib_stream.hpp"
#include "support.hpp"

#include <cshelve/errors.hpp>

#include <doctest/doctest.h>

#include <zlib.h>

#include <string>
#include <vector>

namespace {

using namespace cshelve::codec;
using cshelve::test::pseudo_random_bytes;

std::string compress2_bytes(const std::string& input, int level) {
  uLongf size = compressBound(input.size());
  std::string out(size, '\0');
  REQUIRE(compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(input.data()),
                    input.size(), level) == Z_OK);
  out.resize(size);
  return out;
}

std::string text_like(std::size_t size) {
  std::string out;
  out.reserve(size);
  const std::string words[] = {"shelf ", "pickle ", "record ", "value ", "key ", "zlib "};
  std::size_t i = 0;
  while (out.size() < size) {
    out += words[(i * 7 + i / 3) % 6];
    ++i;
  }
  out.resize(size);
  return out;
}

std::vector<std::string> sample_inputs() {
  std::string mixed = text_like(300000);
  mixed.replace(100000, 50000, pseudo_random_bytes(50000, 3));
  return {std::string(),
          std::string(1, 'a'),
          text_like(100),
          text_like(65536),
          text_like(1 << 20),
          pseudo_random_bytes(100000, 1),
          pseudo_random_bytes(300001, 2),
          std::string(1 << 20, '\0'),
          mixed};
}

}  // namespace

TEST_CASE("zlib: the stream is byte for byte compress2's at every level") {
  const auto inputs = sample_inputs();
  int compared = 0;
  for (int level = -1; level <= 9; ++level) {
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      CAPTURE(level);
      CAPTURE(i);
      std::string out;
      zlib_compress_append(inputs[i], level, out);
      CHECK(out == compress2_bytes(inputs[i], level));
      ++compared;
    }
  }
  CHECK(compared == 11 * 9);
}

TEST_CASE("zlib: appending keeps what the output held before") {
  std::string out = "prefix";
  zlib_compress_append("hello hello hello", 6, out);
  CHECK(out.substr(0, 6) == "prefix");
  CHECK(out.substr(6) == compress2_bytes("hello hello hello", 6));
}

TEST_CASE("zlib: inflating gives back every input, whatever its ratio") {
  auto inputs = sample_inputs();
  inputs.push_back(std::string(64 << 20, 'z'));  // ratio about 1000:1, many output doublings
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    CAPTURE(i);
    for (const int level : {0, 1, 9}) {
      const std::string compressed = compress2_bytes(inputs[i], level);
      const std::string inflated = zlib_decompress(compressed);
      CHECK(inflated.size() == inputs[i].size());
      CHECK(inflated == inputs[i]);
      // The output does not keep a much larger allocation than its contents.
      CHECK(inflated.capacity() <= inflated.size() + inflated.size() / 4 + 64 * 1024);
    }
  }
}

TEST_CASE("zlib: levels outside -1..9 are configuration errors") {
  std::string out;
  CHECK_THROWS_AS(zlib_compress_append("x", 10, out), cshelve::ConfigurationError);
  CHECK_THROWS_AS(zlib_compress_append("x", -2, out), cshelve::ConfigurationError);
  CHECK(is_valid_zlib_level(-1));
  CHECK(is_valid_zlib_level(0));
  CHECK(is_valid_zlib_level(9));
  CHECK_FALSE(is_valid_zlib_level(10));
}

TEST_CASE("zlib: damaged, truncated and foreign streams are DataCorruptionError") {
  const std::string input = text_like(5000);
  const std::string good = compress2_bytes(input, 6);

  SUBCASE("empty") { CHECK_THROWS_AS(zlib_decompress(""), cshelve::DataCorruptionError); }
  SUBCASE("every truncation") {
    for (std::size_t size = 0; size < good.size(); ++size) {
      CAPTURE(size);
      CHECK_THROWS_AS(zlib_decompress(good.substr(0, size)), cshelve::DataCorruptionError);
    }
  }
  SUBCASE("bad header check") {
    std::string bad = good;
    bad[1] ^= 0x01;
    CHECK_THROWS_AS(zlib_decompress(bad), cshelve::DataCorruptionError);
  }
  SUBCASE("bad Adler-32") {
    std::string bad = good;
    bad[bad.size() - 1] ^= 0x01;
    CHECK_THROWS_WITH_AS(zlib_decompress(bad), doctest::Contains("damaged"), cshelve::DataCorruptionError);
  }
  SUBCASE("raw deflate without the zlib wrapper") {
    CHECK_THROWS_AS(zlib_decompress(good.substr(2)), cshelve::DataCorruptionError);
  }
  SUBCASE("a stream that needs a preset dictionary") {
    z_stream stream{};
    REQUIRE(deflateInit(&stream, 6) == Z_OK);
    const std::string dictionary = "shelf pickle record";
    REQUIRE(deflateSetDictionary(&stream, reinterpret_cast<const Bytef*>(dictionary.data()),
                                 static_cast<uInt>(dictionary.size())) == Z_OK);
    std::string out(1000, '\0');
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    stream.avail_in = 100;
    stream.next_out = reinterpret_cast<Bytef*>(out.data());
    stream.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&stream, Z_FINISH) == Z_STREAM_END);
    out.resize(stream.total_out);
    deflateEnd(&stream);
    CHECK_THROWS_WITH_AS(zlib_decompress(out), doctest::Contains("dictionary"), cshelve::DataCorruptionError);
  }
  SUBCASE("bytes after the stream are ignored, as Python's zlib.decompress ignores them") {
    CHECK(zlib_decompress(good + "trailing") == input);
  }
}
