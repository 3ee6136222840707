// The CRCs S3 offers as full-object checksums (src/util/crc.hpp): published vectors, the folding
// constants against their definition, and the processor's accelerated path against the portable
// one over every length to 600, misalignments, pieces and large buffers.
#include "util/crc.hpp"
#include "util/crc_internal.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

using cshelve::util::Crc;
using cshelve::util::CrcKind;
namespace detail = cshelve::util::crc_detail;

namespace {

constexpr CrcKind kKinds[] = {CrcKind::crc32, CrcKind::crc32c, CrcKind::crc64nvme};

std::string name_of(CrcKind kind) {
  switch (kind) {
    case CrcKind::crc32: return "CRC-32";
    case CrcKind::crc32c: return "CRC-32C";
    case CrcKind::crc64nvme: return "CRC-64/NVME";
  }
  return "?";
}

std::uint64_t checksum(CrcKind kind, const std::vector<unsigned char>& data) {
  return cshelve::util::crc(kind, data.data(), data.size());
}

// The definition, one bit at a time: the register (reflected, no initial value or final inversion
// applied) after `data`.
std::uint64_t bitwise_register(CrcKind kind, std::uint64_t reg, const unsigned char* data, std::size_t size) {
  const std::uint64_t polynomial = detail::reflected_polynomial(kind);
  for (std::size_t i = 0; i < size; ++i) {
    reg ^= data[i];
    for (int bit = 0; bit < 8; ++bit) reg = (reg >> 1) ^ (polynomial & (0 - (reg & 1)));
  }
  return reg;
}

std::uint64_t all_ones(CrcKind kind) { return kind == CrcKind::crc64nvme ? ~0ull : 0xFFFFFFFFull; }

std::vector<unsigned char> random_bytes(std::size_t size, std::uint32_t seed) {
  std::mt19937 generator(seed);
  std::vector<unsigned char> bytes(size);
  for (auto& byte : bytes) byte = static_cast<unsigned char>(generator());
  return bytes;
}

// The engines to compare with the portable one: the processor's, when it has one.
std::vector<detail::Engine> accelerated_engines() {
  std::vector<detail::Engine> engines;
  for (auto engine : {detail::Engine::x86_pclmul, detail::Engine::arm_pmull}) {
    if (detail::engine_available(engine)) engines.push_back(engine);
  }
  return engines;
}

}  // namespace

TEST_CASE("CRC: the check values of the CRC catalogue (\"123456789\")") {
  const std::string check = "123456789";
  CHECK(cshelve::util::crc(CrcKind::crc32, check.data(), check.size()) == 0xCBF43926u);
  CHECK(cshelve::util::crc(CrcKind::crc32c, check.data(), check.size()) == 0xE3069283u);
  CHECK(cshelve::util::crc(CrcKind::crc64nvme, check.data(), check.size()) == 0xAE8B14860A799888ull);
  CHECK(cshelve::util::crc(CrcKind::crc32, nullptr, 0) == 0);
  CHECK(cshelve::util::crc(CrcKind::crc64nvme, nullptr, 0) == 0);
}

TEST_CASE("CRC: CRC-32C vectors of RFC 3720 (iSCSI), appendix B.4") {
  std::vector<unsigned char> bytes(32, 0x00);
  CHECK(checksum(CrcKind::crc32c, bytes) == 0x8A9136AAu);
  bytes.assign(32, 0xFF);
  CHECK(checksum(CrcKind::crc32c, bytes) == 0x62A8AB43u);
  for (int i = 0; i < 32; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<unsigned char>(i);
  CHECK(checksum(CrcKind::crc32c, bytes) == 0x46DD794Eu);
  for (int i = 0; i < 32; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<unsigned char>(31 - i);
  CHECK(checksum(CrcKind::crc32c, bytes) == 0x113FDB5Cu);
}

TEST_CASE("CRC: CRC-64/NVME test cases of the NVMe NVM Command Set specification (4 KiB blocks)") {
  std::vector<unsigned char> block(4096, 0x00);
  CHECK(checksum(CrcKind::crc64nvme, block) == 0x6482D367EB22B64Eull);
  block.assign(4096, 0xFF);
  CHECK(checksum(CrcKind::crc64nvme, block) == 0xC0DDBA7302ECA3ACull);
  for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<unsigned char>(i);
  CHECK(checksum(CrcKind::crc64nvme, block) == 0x3E729F5F6750449Cull);
  for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<unsigned char>(255 - i);
  CHECK(checksum(CrcKind::crc64nvme, block) == 0x9A2DF64B8E9E517Eull);
}

TEST_CASE("CRC: a message followed by its CRC (little-endian) leaves the catalogue's residue") {
  // Residues 0xDEBB20E3, 0xB798B438 and 0xF310303B2B6F6E42, seen through the final inversion.
  const std::uint64_t residues[] = {0xDEBB20E3u ^ 0xFFFFFFFFu, 0xB798B438u ^ 0xFFFFFFFFu,
                                    0xF310303B2B6F6E42ull ^ ~0ull};
  for (std::size_t k = 0; k < 3; ++k) {
    const CrcKind kind = kKinds[k];
    const std::string kind_name = name_of(kind);
    CAPTURE(kind_name);
    for (std::size_t size : {0, 1, 15, 16, 17, 127, 128, 129, 300, 1000}) {
      std::vector<unsigned char> message = random_bytes(size, static_cast<std::uint32_t>(size));
      const std::uint64_t value = checksum(kind, message);
      for (int i = 0; i < detail::width(kind) / 8; ++i) message.push_back(static_cast<unsigned char>(value >> (8 * i)));
      CHECK(checksum(kind, message) == residues[k]);
    }
  }
}

TEST_CASE("CRC: digests are big-endian, 4 or 8 bytes; start() begins the next body, start(kind) another kind") {
  Crc running(CrcKind::crc32);
  running.update("1234", 4);
  running.update("56789", 5);
  CHECK(running.kind() == CrcKind::crc32);
  CHECK(running.digest() == std::string("\xCB\xF4\x39\x26", 4));
  running.start();
  CHECK(running.value() == 0);
  running.update("123456789", 9);
  CHECK(running.value() == 0xCBF43926u);
  running.start(CrcKind::crc64nvme);
  CHECK(running.kind() == CrcKind::crc64nvme);
  running.update("123456789", 9);
  CHECK(running.digest() == std::string("\xAE\x8B\x14\x86\x0A\x79\x98\x88", 8));
  running.start(CrcKind::crc32c);
  running.update("123456789", 9);
  CHECK(running.digest() == std::string("\xE3\x06\x92\x83", 4));
}

TEST_CASE("CRC: the folding constants are the powers of x and the Barrett quotient they claim to be") {
  for (CrcKind kind : kKinds) {
    const std::string kind_name = name_of(kind);
    CAPTURE(kind_name);
    const detail::FoldConstants constants = detail::fold_constants(kind);
    // For the 64-bit form G*x^(64-n) of an n-bit generator G, x^k mod (G*x^(64-n)), reflected, is
    // x^(k-64+n) mod G reflected in the low n bits: the register (no initial value) after a message
    // of k-63 bits whose first bit alone is set, that is the byte 0x01 and (k-71)/8 zero bytes.
    const auto power = [kind](int k) {
      std::vector<unsigned char> message(static_cast<std::size_t>((k - 63) / 8), 0);
      message[0] = 1;
      return bitwise_register(kind, 0, message.data(), message.size());
    };
    CHECK(constants.fold_1024_first == power(1024 + 63));
    CHECK(constants.fold_1024_second == power(1024 - 1));
    CHECK(constants.fold_128_first == power(128 + 63));
    CHECK(constants.fold_128_second == power(128 - 1));
    CHECK(constants.polynomial == detail::reflected_polynomial(kind));

    // floor(x^128 / G64) = x^64 + mu exactly when x^128 - (x^64 + mu)*G64 has degree below 64:
    // with G64 = x^64 + g, that is mu*x^64 + (x^64 + mu)*g = x^64*(mu + g) + mu*g, whose terms of
    // degree 64 and above must cancel. Carry-less products in natural bit order.
    const std::uint64_t mu = detail::reverse_bits(constants.barrett);
    const std::uint64_t g = detail::generator64(kind);
    std::uint64_t high = 0;  // coefficients x^64..x^127 of mu*g
    for (int i = 0; i < 64; ++i) {
      if ((mu >> i) & 1) high ^= i == 0 ? 0 : g >> (64 - i);
    }
    CHECK((high ^ mu ^ g) == 0);
  }
}

TEST_CASE("CRC: this processor's engine") {
  const detail::Engine engine = detail::chosen_engine();
  MESSAGE("CRC engine: " << std::string(detail::engine_name(engine)));
#if defined(__x86_64__)
  // Every x86-64 processor since 2010 has PCLMULQDQ: the accelerated path must be the one tested.
  CHECK(engine == detail::Engine::x86_pclmul);
#elif defined(__aarch64__)
  // PMULL is optional on ARMv8 (some boards lack it); the emulated processor of crc-aarch64.sh has it.
  if (std::getenv("CSHELVE_TEST_EXPECT_PMULL") != nullptr) CHECK(engine == detail::Engine::arm_pmull);
#endif
  CHECK(detail::engine_available(detail::Engine::portable));
  CHECK(detail::engine_available(engine));
}

TEST_CASE("CRC: the portable path agrees with the bitwise definition at every length to 600") {
  const std::vector<unsigned char> bytes = random_bytes(600, 1);
  for (CrcKind kind : kKinds) {
    const std::string kind_name = name_of(kind);
    CAPTURE(kind_name);
    std::uint64_t reg = all_ones(kind);
    for (std::size_t size = 0; size <= bytes.size(); ++size) {
      CAPTURE(size);
      // The previous length's register continues: a different start every time.
      const std::uint64_t expected = bitwise_register(kind, reg, bytes.data(), size);
      REQUIRE(detail::update_with(detail::Engine::portable, kind, reg, bytes.data(), size) == expected);
      reg = expected;
    }
  }
}

TEST_CASE("CRC: the accelerated path agrees with the portable one at every length, start and alignment") {
  const std::vector<unsigned char> bytes = random_bytes(600 + 16, 2);
  for (detail::Engine engine : accelerated_engines()) {
    const std::string engine_name = detail::engine_name(engine);
    CAPTURE(engine_name);
    for (CrcKind kind : kKinds) {
      const std::string kind_name = name_of(kind);
      CAPTURE(kind_name);
      for (std::size_t offset = 0; offset < 16; ++offset) {
        CAPTURE(offset);
        std::uint64_t reg = all_ones(kind);
        for (std::size_t size = 0; size <= 600; ++size) {
          CAPTURE(size);
          const unsigned char* data = bytes.data() + offset;
          const std::uint64_t expected = detail::update_with(detail::Engine::portable, kind, reg, data, size);
          REQUIRE(detail::update_with(engine, kind, reg, data, size) == expected);
          reg = expected;
        }
      }
    }
  }
}

TEST_CASE("CRC: large buffers, accelerated against portable") {
  const std::vector<unsigned char> bytes = random_bytes((1 << 20) + 300, 3);
  for (detail::Engine engine : accelerated_engines()) {
    const std::string engine_name = detail::engine_name(engine);
    CAPTURE(engine_name);
    for (CrcKind kind : kKinds) {
      const std::string kind_name = name_of(kind);
      CAPTURE(kind_name);
      for (std::size_t size :
           {std::size_t{1} << 16, (std::size_t{1} << 16) + 127, std::size_t{1} << 20, (std::size_t{1} << 20) + 299}) {
        CAPTURE(size);
        const std::uint64_t start = all_ones(kind);
        CHECK(detail::update_with(engine, kind, start, bytes.data() + 1, size) ==
              detail::update_with(detail::Engine::portable, kind, start, bytes.data() + 1, size));
      }
    }
  }
}

TEST_CASE("CRC: a body given in pieces cut anywhere has the CRC of one call") {
  const std::vector<unsigned char> bytes = random_bytes(5000, 4);
  std::mt19937 generator(5);
  for (CrcKind kind : kKinds) {
    const std::string kind_name = name_of(kind);
    CAPTURE(kind_name);
    const std::uint64_t whole = checksum(kind, bytes);
    Crc running(kind);
    for (int round = 0; round < 50; ++round) {
      running.start();
      std::size_t done = 0;
      while (done < bytes.size()) {
        // Mostly short pieces, some long enough for the folding loop.
        const std::size_t most = generator() % 4 == 0 ? 1500 : 40;
        const std::size_t piece = std::min<std::size_t>(generator() % (most + 1), bytes.size() - done);
        running.update(bytes.data() + done, piece);
        done += piece;
      }
      REQUIRE(running.value() == whole);
    }
  }
}
