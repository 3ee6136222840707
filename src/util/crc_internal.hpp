// The machinery behind util/crc.hpp, open to its tests and benchmark: the portable update, the
// processor-specific one chosen at run time, and the folding constants, all derived from each
// kind's polynomial.
//
// Every update below takes and returns the CRC register in reflected (least significant bit
// first) form, as Crc keeps it: the initial all-ones value and the final inversion are Crc's.
#ifndef CSHELVE_UTIL_CRC_INTERNAL_HPP
#define CSHELVE_UTIL_CRC_INTERNAL_HPP

#include "util/crc.hpp"

#include <cstddef>
#include <cstdint>

namespace cshelve::util::crc_detail {

// Each kind's generator without its leading term, reflected: bit i holds the coefficient of
// x^(width-1-i).
constexpr std::uint64_t reflected_polynomial(CrcKind kind) noexcept {
  switch (kind) {
    case CrcKind::crc32: return 0xEDB88320u;
    case CrcKind::crc32c: return 0x82F63B78u;
    case CrcKind::crc64nvme: return 0x9A6C9329AC4BC9B5ull;
  }
  return 0;
}

constexpr int width(CrcKind kind) noexcept { return kind == CrcKind::crc64nvme ? 64 : 32; }

constexpr std::uint64_t reverse_bits(std::uint64_t value) noexcept {
  std::uint64_t reversed = 0;
  for (int i = 0; i < 64; ++i) reversed |= ((value >> i) & 1) << (63 - i);
  return reversed;
}

// Carry-less folding (Intel, "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ
// Instruction", 2009) works here on one 64-bit form of every kind: a 32-bit CRC with generator G
// is computed as a 64-bit CRC with generator G(x)*x^32, whose remainder is the 32-bit CRC times
// x^32 (A*x^32 mod G*x^32 = (A mod G)*x^32). Reflected, that 64-bit register holds the 32-bit
// register in its low half, so one folding routine with 64-bit constants serves all three kinds.
//
// The 64-bit generator, natural order (bit i = coefficient of x^i), its x^64 term implicit. The
// reflected n-bit polynomial sits in the low n bits, so reversing all 64 bits multiplies by x^(64-n).
constexpr std::uint64_t generator64(CrcKind kind) noexcept { return reverse_bits(reflected_polynomial(kind)); }

// x^power mod generator64, natural order.
constexpr std::uint64_t x_power_mod(CrcKind kind, int power) noexcept {
  const std::uint64_t generator = generator64(kind);
  std::uint64_t remainder = 1;
  for (int i = 0; i < power; ++i) {
    const bool overflows = (remainder >> 63) != 0;
    remainder <<= 1;
    if (overflows) remainder ^= generator;
  }
  return remainder;
}

// floor(x^128 / generator64) without its x^64 term, natural order: the Barrett reduction's
// multiplier. Long division as a CRC register does it, dividing x^64 (a 1 and 64 zeros) times x^64:
// the bit that leaves the register's top at each step is the quotient's next coefficient.
constexpr std::uint64_t barrett_quotient(CrcKind kind) noexcept {
  const std::uint64_t generator = generator64(kind);
  // The leading 1 gives the quotient its x^64 term and leaves the generator in the register.
  std::uint64_t remainder = generator;
  std::uint64_t quotient = 0;
  for (int degree = 63; degree >= 0; --degree) {
    const bool top = (remainder >> 63) != 0;
    remainder <<= 1;
    if (top) {
      quotient |= std::uint64_t{1} << degree;
      remainder ^= generator;
    }
  }
  return quotient;
}

// The constants of one folding routine, reflected for carry-less multiplication. A 16-byte lane
// of the message is A*x^64 + B, A its first 8 bytes (the low half of a register), B its last 8;
// carried D bits further on, it becomes A*x^(D+64) + B*x^D. A carry-less product of two reflected
// 64-bit values comes out as the reflected 128-bit product shifted one bit short (the top bit of a
// 128-bit lane stays empty), so each constant is taken one power lower: x^(D+63) and x^(D-1).
struct FoldConstants {
  std::uint64_t fold_1024_first;   // x^(1024+63) mod G: a lane carried past eight lanes
  std::uint64_t fold_1024_second;  // x^(1024-1) mod G
  std::uint64_t fold_128_first;    // x^(128+63) mod G: a lane carried past one lane
  std::uint64_t fold_128_second;   // x^(128-1) mod G; also A*x^128 -> A*(x^127 mod G)*x at the end
  std::uint64_t barrett;           // floor(x^128 / G) - x^64, for the final 128 -> 64 bit reduction
  std::uint64_t polynomial;        // G - x^64
};

constexpr FoldConstants fold_constants(CrcKind kind) noexcept {
  return {reverse_bits(x_power_mod(kind, 1024 + 63)), reverse_bits(x_power_mod(kind, 1024 - 1)),
          reverse_bits(x_power_mod(kind, 128 + 63)),  reverse_bits(x_power_mod(kind, 128 - 1)),
          reverse_bits(barrett_quotient(kind)),       reverse_bits(generator64(kind))};
}

enum class Engine {
  portable,    // slicing by 8, any processor
  x86_pclmul,  // PCLMULQDQ folding (x86-64)
  arm_pmull    // PMULL folding (AArch64)
};

const char* engine_name(Engine engine) noexcept;

// The engine this processor runs, chosen once.
Engine chosen_engine() noexcept;
// Whether `engine` can run on this processor.
bool engine_available(Engine engine) noexcept;

// The register after `size` more bytes, by `engine`, which must be available.
std::uint64_t update_with(Engine engine, CrcKind kind, std::uint64_t state, const unsigned char* data,
                          std::size_t size) noexcept;

}  // namespace cshelve::util::crc_detail

#endif
