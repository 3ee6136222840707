#include "s3/object_checksum.hpp"

#include "util/ascii.hpp"
#include "util/digest.hpp"

namespace cshelve::s3 {
namespace {

// Most trusted first: CRC64NVME is what S3 computes itself for new objects.
constexpr util::CrcKind kReplyChecksums[] = {util::CrcKind::crc64nvme, util::CrcKind::crc32c, util::CrcKind::crc32};

// The base64 of a 4- or 8-byte CRC: 6 characters and "==", or 11 and "=".
bool looks_like_crc(util::CrcKind kind, std::string_view value) {
  const std::string_view padding = kind == util::CrcKind::crc64nvme ? "=" : "==";
  const std::size_t digits = kind == util::CrcKind::crc64nvme ? 11 : 6;
  if (value.size() != digits + padding.size() || value.substr(digits) != padding) return false;
  for (char c : value.substr(0, digits)) {
    const bool base64 =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!base64) return false;
  }
  return true;
}

}  // namespace

std::string_view checksum_name(util::CrcKind kind) noexcept {
  switch (kind) {
    case util::CrcKind::crc32: return "CRC32";
    case util::CrcKind::crc32c: return "CRC32C";
    case util::CrcKind::crc64nvme: return "CRC64NVME";
  }
  return "CRC";
}

std::string_view checksum_header(util::CrcKind kind) noexcept {
  switch (kind) {
    case util::CrcKind::crc32: return "x-amz-checksum-crc32";
    case util::CrcKind::crc32c: return "x-amz-checksum-crc32c";
    case util::CrcKind::crc64nvme: return "x-amz-checksum-crc64nvme";
  }
  return "x-amz-checksum";
}

void add_checksum_headers(std::vector<std::pair<std::string, std::string>>& headers, const util::Crc& body_crc) {
  headers.emplace_back(checksum_header(body_crc.kind()), util::base64(body_crc.digest()));
  headers.emplace_back("x-amz-sdk-checksum-algorithm", checksum_name(body_crc.kind()));
}

std::optional<ReplyChecksum> reply_checksum(const HttpResponse& head) {
  if (const std::string* type = head.header("x-amz-checksum-type")) {
    if (util::equals_lower_ascii(*type, "composite")) return std::nullopt;
  }
  for (util::CrcKind kind : kReplyChecksums) {
    const std::string* value = head.header(checksum_header(kind));
    // A composite value ("...==-3") fails the shape check too.
    if (value != nullptr && looks_like_crc(kind, *value)) return ReplyChecksum{kind, *value};
  }
  return std::nullopt;
}

BodyDigests object_body_digests(const HttpResponse& head, bool use_checksums, bool md5_too) {
  BodyDigests digests;
  if (use_checksums) {
    if (const std::optional<ReplyChecksum> checksum = reply_checksum(head)) digests.crc = checksum->kind;
  }
  digests.md5 = md5_too || !digests.crc;
  return digests;
}

}  // namespace cshelve::s3
