// The cyclic redundancy checks S3 offers as full-object checksums (x-amz-checksum-crc32,
// -crc32c, -crc64nvme): computed piece by piece as a body is sent or arrives. Carry-less
// multiplication (x86-64 PCLMULQDQ, AArch64 PMULL) when the processor has it, tables otherwise
// (src/util/crc_internal.hpp).
#ifndef CSHELVE_UTIL_CRC_HPP
#define CSHELVE_UTIL_CRC_HPP

#include <cstddef>
#include <cstdint>
#include <string>

namespace cshelve::util {

enum class CrcKind {
  crc32,     // ISO-HDLC, zlib's and boto3's default (check value 0xCBF43926)
  crc32c,    // Castagnoli (check value 0xE3069283)
  crc64nvme  // NVMe, S3's default for new objects (check value 0xAE8B14860A799888)
};

// A running CRC of one kind. start() begins the next body, so one object serves body after body.
class Crc {
 public:
  explicit Crc(CrcKind kind = CrcKind::crc64nvme) noexcept : kind_(kind) { start(); }

  void start() noexcept;
  void start(CrcKind kind) noexcept {
    kind_ = kind;
    start();
  }
  void update(const void* data, std::size_t size) noexcept;

  CrcKind kind() const noexcept { return kind_; }
  // The CRC of everything given since start().
  std::uint64_t value() const noexcept;
  // value() as S3 spells it before base64: big-endian, 4 bytes (CRC-32s) or 8 (CRC-64).
  std::string digest() const;

 private:
  CrcKind kind_;
  std::uint64_t state_ = 0;  // the register, inverted, as the update functions keep it
};

// The CRC of `size` bytes in one call.
std::uint64_t crc(CrcKind kind, const void* data, std::size_t size) noexcept;

}  // namespace cshelve::util

#endif
