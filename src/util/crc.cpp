#include "util/crc.hpp"

namespace cshelve::util {
namespace {

// Reflected polynomials.
constexpr std::uint64_t polynomial(CrcKind kind) {
  switch (kind) {
    case CrcKind::crc32: return 0xEDB88320u;
    case CrcKind::crc32c: return 0x82F63B78u;
    case CrcKind::crc64nvme: return 0x9A6C9329AC4BC9B5ull;
  }
  return 0;
}

constexpr std::uint64_t all_ones(CrcKind kind) { return kind == CrcKind::crc64nvme ? ~0ull : 0xFFFFFFFFull; }

}  // namespace

void Crc::start() noexcept { state_ = all_ones(kind_); }

void Crc::update(const void* data, std::size_t size) noexcept {
  const std::uint64_t poly = polynomial(kind_);
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::uint64_t state = state_;
  for (std::size_t i = 0; i < size; ++i) {
    state ^= bytes[i];
    for (int bit = 0; bit < 8; ++bit) state = (state >> 1) ^ (poly & (0 - (state & 1)));
  }
  state_ = state;
}

std::uint64_t Crc::value() const noexcept { return state_ ^ all_ones(kind_); }

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
