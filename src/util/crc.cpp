#include "util/crc.hpp"

#include "util/crc_internal.hpp"

#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CSHELVE_CRC_X86_PCLMUL 1
#include <cpuid.h>
#include <immintrin.h>
// Only these functions use the instructions: the rest of the build keeps the baseline x86-64.
#define CSHELVE_CRC_TARGET_PCLMUL __attribute__((target("pclmul,sse4.1")))
#endif

// Clang before 16 offers the polynomial multiply intrinsics only when the whole file is compiled
// for them; GCC's are usable under a function's target attribute.
#if defined(__aarch64__) && defined(__linux__) &&                                     \
    ((defined(__clang__) && (__clang_major__ >= 16 || defined(__ARM_FEATURE_AES))) || \
     (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 10))
#define CSHELVE_CRC_ARM_PMULL 1
#include <arm_neon.h>
#include <sys/auxv.h>
#ifndef HWCAP_PMULL
#define HWCAP_PMULL (1 << 4)  // Linux's AArch64 hardware capability bit for PMULL
#endif
#if defined(__clang__)
#define CSHELVE_CRC_TARGET_PMULL __attribute__((target("aes")))
#else
#define CSHELVE_CRC_TARGET_PMULL __attribute__((target("+crypto")))
#endif
#endif

namespace cshelve::util {
namespace crc_detail {
namespace {

constexpr std::uint64_t all_ones(CrcKind kind) { return kind == CrcKind::crc64nvme ? ~0ull : 0xFFFFFFFFull; }

// ---- Portable: slicing by 8 -------------------------------------------------------------------
// Table j holds the register change of one byte followed by j zero bytes, so eight bytes take eight
// independent lookups instead of 64 shifts.

template <class Word>
struct SliceTables {
  Word entry[8][256];
};

// Built at first use rather than at compile time: 32 KiB of tables for the three kinds would be a
// sizeable part of the size-optimized library, and building them takes microseconds.
template <class Word>
SliceTables<Word> make_tables(Word reflected) {
  SliceTables<Word> tables{};
  for (unsigned byte = 0; byte < 256; ++byte) {
    Word reg = static_cast<Word>(byte);
    for (int bit = 0; bit < 8; ++bit) reg = static_cast<Word>((reg >> 1) ^ (reflected & (Word{0} - (reg & 1))));
    tables.entry[0][byte] = reg;
  }
  for (int j = 1; j < 8; ++j) {
    for (unsigned byte = 0; byte < 256; ++byte) {
      const Word previous = tables.entry[j - 1][byte];
      tables.entry[j][byte] = static_cast<Word>((previous >> 8) ^ tables.entry[0][previous & 0xFF]);
    }
  }
  return tables;
}

// Function-local statics: built once, safely when threads race to the first CRC.
const SliceTables<std::uint32_t>& crc32_tables() {
  static const SliceTables<std::uint32_t> tables =
      make_tables(static_cast<std::uint32_t>(reflected_polynomial(CrcKind::crc32)));
  return tables;
}
const SliceTables<std::uint32_t>& crc32c_tables() {
  static const SliceTables<std::uint32_t> tables =
      make_tables(static_cast<std::uint32_t>(reflected_polynomial(CrcKind::crc32c)));
  return tables;
}
const SliceTables<std::uint64_t>& crc64nvme_tables() {
  static const SliceTables<std::uint64_t> tables = make_tables(reflected_polynomial(CrcKind::crc64nvme));
  return tables;
}

// Four message bytes as the little-endian word a reflected CRC consumes; memcpy because the data
// has no alignment.
inline std::uint32_t load_le32(const unsigned char* bytes) {
  std::uint32_t word;
  std::memcpy(&word, bytes, sizeof word);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  word = __builtin_bswap32(word);
#endif
  return word;
}

template <class Word>
Word update_sliced(const SliceTables<Word>& tables, Word state, const unsigned char* data, std::size_t size) {
  const auto& t = tables.entry;
  // 32-bit halves, so that 32-bit processors handle the 64-bit kind without 64-bit shifts.
  while (size >= 8) {
    const std::uint32_t first = load_le32(data) ^ static_cast<std::uint32_t>(state);
    const std::uint32_t second = load_le32(data + 4) ^ static_cast<std::uint32_t>(std::uint64_t{state} >> 32);
    state = t[7][first & 0xFF] ^ t[6][(first >> 8) & 0xFF] ^ t[5][(first >> 16) & 0xFF] ^ t[4][first >> 24] ^
            t[3][second & 0xFF] ^ t[2][(second >> 8) & 0xFF] ^ t[1][(second >> 16) & 0xFF] ^ t[0][second >> 24];
    data += 8;
    size -= 8;
  }
  for (; size != 0; --size, ++data) state = static_cast<Word>((state >> 8) ^ t[0][(state ^ *data) & 0xFF]);
  return state;
}

std::uint64_t update_portable(CrcKind kind, std::uint64_t state, const unsigned char* data, std::size_t size) {
  switch (kind) {
    case CrcKind::crc32: return update_sliced(crc32_tables(), static_cast<std::uint32_t>(state), data, size);
    case CrcKind::crc32c: return update_sliced(crc32c_tables(), static_cast<std::uint32_t>(state), data, size);
    case CrcKind::crc64nvme: return update_sliced(crc64nvme_tables(), state, data, size);
  }
  return state;
}

// ---- Carry-less multiplication folding ----------------------------------------------------------
// The message goes through eight 16-byte lanes at once (independent multiplications keep the
// multiplier busy), each lane folded onto the one 128 bytes further on; then the lanes are folded
// into one, one lane at a time; that lane is reduced to the 64-bit register (Barrett reduction),
// and the last 0..15 bytes go through the tables. The register enters by being added to the first
// bytes: a reflected CRC register is the same as its value XORed into the message's start.

// What the folding needs of a processor, one struct per instruction set: a 16-byte `Lane`; `load`
// of 16 bytes; `pair` of two 64-bit halves; `fold`, the lane carried over the distance a pair of
// constants stands for (each half times its constant) plus the lane it lands on; `half` 0 or 1 of
// a lane; `add`, two lanes XORed; and `multiply`, the 128-bit carry-less product of two 64-bit
// values, as {its first 64 bits, its last 64}.

#if defined(CSHELVE_CRC_X86_PCLMUL)
#define CSHELVE_CRC_TARGET_FOLD CSHELVE_CRC_TARGET_PCLMUL

struct PclmulLanes {
  using Lane = __m128i;
  CSHELVE_CRC_TARGET_PCLMUL static Lane load(const unsigned char* data) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(data));
  }
  CSHELVE_CRC_TARGET_PCLMUL static Lane pair(std::uint64_t first, std::uint64_t second) {
    return _mm_set_epi64x(static_cast<long long>(second), static_cast<long long>(first));
  }
  CSHELVE_CRC_TARGET_PCLMUL static Lane fold(Lane lane, Lane constants, Lane onto) {
    return _mm_xor_si128(
        _mm_xor_si128(_mm_clmulepi64_si128(lane, constants, 0x00), _mm_clmulepi64_si128(lane, constants, 0x11)), onto);
  }
  CSHELVE_CRC_TARGET_PCLMUL static Lane add(Lane a, Lane b) { return _mm_xor_si128(a, b); }
  CSHELVE_CRC_TARGET_PCLMUL static std::uint64_t half(Lane lane, int which) {
    return static_cast<std::uint64_t>(which == 0 ? _mm_cvtsi128_si64(lane) : _mm_extract_epi64(lane, 1));
  }
  CSHELVE_CRC_TARGET_PCLMUL static void multiply(std::uint64_t a, std::uint64_t b, std::uint64_t* product) {
    const Lane result = _mm_clmulepi64_si128(pair(a, 0), pair(b, 0), 0x00);
    product[0] = half(result, 0);
    product[1] = half(result, 1);
  }
};
using FoldLanes = PclmulLanes;
constexpr Engine kFoldEngine = Engine::x86_pclmul;

#elif defined(CSHELVE_CRC_ARM_PMULL)
#define CSHELVE_CRC_TARGET_FOLD CSHELVE_CRC_TARGET_PMULL

struct PmullLanes {
  using Lane = uint64x2_t;
  CSHELVE_CRC_TARGET_PMULL static Lane load(const unsigned char* data) { return vreinterpretq_u64_u8(vld1q_u8(data)); }
  CSHELVE_CRC_TARGET_PMULL static Lane pair(std::uint64_t first, std::uint64_t second) {
    return vcombine_u64(vcreate_u64(first), vcreate_u64(second));
  }
  CSHELVE_CRC_TARGET_PMULL static Lane fold(Lane lane, Lane constants, Lane onto) {
    const Lane first = vreinterpretq_u64_p128(
        vmull_p64(static_cast<poly64_t>(vgetq_lane_u64(lane, 0)), static_cast<poly64_t>(vgetq_lane_u64(constants, 0))));
    const Lane second =
        vreinterpretq_u64_p128(vmull_high_p64(vreinterpretq_p64_u64(lane), vreinterpretq_p64_u64(constants)));
    return veorq_u64(veorq_u64(first, second), onto);
  }
  CSHELVE_CRC_TARGET_PMULL static Lane add(Lane a, Lane b) { return veorq_u64(a, b); }
  CSHELVE_CRC_TARGET_PMULL static std::uint64_t half(Lane lane, int which) {
    return which == 0 ? vgetq_lane_u64(lane, 0) : vgetq_lane_u64(lane, 1);
  }
  CSHELVE_CRC_TARGET_PMULL static void multiply(std::uint64_t a, std::uint64_t b, std::uint64_t* product) {
    const Lane result = vreinterpretq_u64_p128(vmull_p64(static_cast<poly64_t>(a), static_cast<poly64_t>(b)));
    product[0] = half(result, 0);
    product[1] = half(result, 1);
  }
};
using FoldLanes = PmullLanes;
constexpr Engine kFoldEngine = Engine::arm_pmull;

#endif

#if defined(CSHELVE_CRC_TARGET_FOLD)

constexpr FoldConstants kFoldConstants[] = {fold_constants(CrcKind::crc32), fold_constants(CrcKind::crc32c),
                                            fold_constants(CrcKind::crc64nvme)};

constexpr const FoldConstants& fold_constants_of(CrcKind kind) {
  return kFoldConstants[kind == CrcKind::crc32 ? 0 : kind == CrcKind::crc32c ? 1 : 2];
}

// The register from a last lane whose first 8 bytes are `first` and last 8 `second`: the lane times
// x^64 mod G, that is first*x^128 + second*x^64. first*x^128 becomes first*(x^127 mod G)*x (see
// FoldConstants), which leaves a 128-bit Y = high*x^64 + low; then Barrett: quotient
// q = high + floor(high*barrett / x^64), remainder (q*polynomial mod x^64) + low. Each carry-less
// product is one bit short of its lane, hence the shifts by one.
template <class Lanes>
CSHELVE_CRC_TARGET_FOLD std::uint64_t reduce_lane(const FoldConstants& k, std::uint64_t first, std::uint64_t second) {
  std::uint64_t product[2];
  Lanes::multiply(first, k.fold_128_second, product);
  const std::uint64_t high = product[0] ^ second;
  const std::uint64_t low = product[1];
  Lanes::multiply(high, k.barrett, product);
  const std::uint64_t quotient = high ^ (product[0] << 1);
  Lanes::multiply(quotient, k.polynomial, product);
  return ((product[1] << 1) | (product[0] >> 63)) ^ low;
}

template <class Lanes>
CSHELVE_CRC_TARGET_FOLD std::uint64_t update_folding(CrcKind kind, std::uint64_t state, const unsigned char* data,
                                                     std::size_t size) {
  using Lane = typename Lanes::Lane;
  if (size < 16) return update_portable(kind, state, data, size);
  const FoldConstants& k = fold_constants_of(kind);
  const Lane one_lane = Lanes::pair(k.fold_128_first, k.fold_128_second);
  Lane lane = Lanes::add(Lanes::load(data), Lanes::pair(state, 0));
  if (size >= 128) {
    const Lane eight_lanes = Lanes::pair(k.fold_1024_first, k.fold_1024_second);
    Lane lanes[8] = {lane};
    for (int i = 1; i < 8; ++i) lanes[i] = Lanes::load(data + 16 * i);
    data += 128;
    size -= 128;
    for (; size >= 128; data += 128, size -= 128) {
      for (int i = 0; i < 8; ++i) lanes[i] = Lanes::fold(lanes[i], eight_lanes, Lanes::load(data + 16 * i));
    }
    lane = lanes[0];
    for (int i = 1; i < 8; ++i) lane = Lanes::fold(lane, one_lane, lanes[i]);
  } else {
    data += 16;
    size -= 16;
  }
  for (; size >= 16; data += 16, size -= 16) lane = Lanes::fold(lane, one_lane, Lanes::load(data));
  const std::uint64_t reg = reduce_lane<Lanes>(k, Lanes::half(lane, 0), Lanes::half(lane, 1));
  return update_portable(kind, reg, data, size);
}

#endif

Engine detect_engine() noexcept {
#if defined(CSHELVE_CRC_X86_PCLMUL)
  // CPUID leaf 1 directly: __builtin_cpu_supports would link libgcc's whole feature table (4 KB).
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_PCLMUL) != 0 && (ecx & bit_SSE4_1) != 0) {
    return Engine::x86_pclmul;
  }
#elif defined(CSHELVE_CRC_ARM_PMULL)
  if ((getauxval(AT_HWCAP) & HWCAP_PMULL) != 0) return Engine::arm_pmull;
#endif
  return Engine::portable;
}

}  // namespace

const char* engine_name(Engine engine) noexcept {
  switch (engine) {
    case Engine::portable: return "portable (slicing by 8)";
    case Engine::x86_pclmul: return "x86-64 PCLMULQDQ folding";
    case Engine::arm_pmull: return "AArch64 PMULL folding";
  }
  return "?";
}

Engine chosen_engine() noexcept {
  static const Engine engine = detect_engine();
  return engine;
}

bool engine_available(Engine engine) noexcept { return engine == Engine::portable || engine == chosen_engine(); }

std::uint64_t update_with(Engine engine, CrcKind kind, std::uint64_t state, const unsigned char* data,
                          std::size_t size) noexcept {
#if defined(CSHELVE_CRC_TARGET_FOLD)
  if (engine == kFoldEngine) return update_folding<FoldLanes>(kind, state, data, size);
#else
  (void)engine;
#endif
  return update_portable(kind, state, data, size);
}

}  // namespace crc_detail

void Crc::start() noexcept { state_ = crc_detail::all_ones(kind_); }

void Crc::update(const void* data, std::size_t size) noexcept {
  state_ = crc_detail::update_with(crc_detail::chosen_engine(), kind_, state_, static_cast<const unsigned char*>(data),
                                   size);
}

std::uint64_t Crc::value() const noexcept { return state_ ^ crc_detail::all_ones(kind_); }

std::string Crc::digest() const {
  const std::uint64_t crc = value();
  const int bytes = kind_ == CrcKind::crc64nvme ? 8 : 4;
  std::string out(static_cast<std::size_t>(bytes), '\0');
  for (int i = 0; i < bytes; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>(crc >> (8 * (bytes - 1 - i)));
  return out;
}

std::uint64_t crc(CrcKind kind, const void* data, std::size_t size) noexcept {
  Crc running(kind);
  running.update(data, size);
  return running.value();
}

}  // namespace cshelve::util
