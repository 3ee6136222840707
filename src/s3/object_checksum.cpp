#include "s3/object_checksum.hpp"

#include "util/ascii.hpp"
#include "util/digest.hpp"

namespace cshelve::s3 {
namespace {

// How S3 names each CRC, in algorithm headers and in its own header. Most trusted first, the order
// a reply's checksums are tried in: CRC64NVME is what S3 computes itself for new objects.
struct ChecksumNames {
  util::CrcKind kind;
  std::string_view name;
  std::string_view header;
};
constexpr ChecksumNames kChecksums[] = {
    {util::CrcKind::crc64nvme, "CRC64NVME", "x-amz-checksum-crc64nvme"},
    {util::CrcKind::crc32c, "CRC32C", "x-amz-checksum-crc32c"},
    {util::CrcKind::crc32, "CRC32", "x-amz-checksum-crc32"},
};

const ChecksumNames& names_of(util::CrcKind kind) noexcept {
  for (const ChecksumNames& names : kChecksums) {
    if (names.kind == kind) return names;
  }
  return kChecksums[0];  // unreachable: every kind has a row
}

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

std::string_view checksum_name(util::CrcKind kind) noexcept { return names_of(kind).name; }

std::string_view checksum_header(util::CrcKind kind) noexcept { return names_of(kind).header; }

void add_checksum_headers(std::vector<std::pair<std::string, std::string>>& headers, const util::Crc& body_crc) {
  headers.emplace_back(checksum_header(body_crc.kind()), util::base64(body_crc.digest()));
  headers.emplace_back("x-amz-sdk-checksum-algorithm", checksum_name(body_crc.kind()));
}

std::optional<ReplyChecksum> reply_checksum(const HttpResponse& head) {
  if (const std::string* type = head.header("x-amz-checksum-type")) {
    if (util::equals_lower_ascii(*type, "composite")) return std::nullopt;
  }
  for (const ChecksumNames& names : kChecksums) {
    const std::string* value = head.header(names.header);
    // A composite value ("...==-3") fails the shape check too.
    if (value != nullptr && looks_like_crc(names.kind, *value)) return ReplyChecksum{names.kind, *value};
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
