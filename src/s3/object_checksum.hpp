// S3's full-object checksums: the one a PutObject sends with its body, the one a GetObject reply
// carries, and which digests a GetObject body is hashed with as it arrives to be checked.
#ifndef CSHELVE_S3_OBJECT_CHECKSUM_HPP
#define CSHELVE_S3_OBJECT_CHECKSUM_HPP

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "s3/http.hpp"
#include "util/crc.hpp"

namespace cshelve::s3 {

// The checksum a PutObject sends: CRC64NVME, S3's own default full-object checksum, so the value
// S3 already holds for objects that any client uploads, and S3 checks it against the body it
// receives. It is also among the cheapest to compute: carry-less multiplication (PCLMULQDQ on
// x86-64, PMULL on ARMv8) folds it at memory speed.
inline constexpr util::CrcKind kPutChecksum = util::CrcKind::crc64nvme;

// "CRC64NVME": the algorithm as S3 names it (x-amz-sdk-checksum-algorithm).
std::string_view checksum_name(util::CrcKind kind) noexcept;
// "x-amz-checksum-crc64nvme": the header that carries it.
std::string_view checksum_header(util::CrcKind kind) noexcept;

// The two headers a PutObject sends with its body's checksum, both signed: the value, and the
// algorithm's name, which tells S3 (and servers like it) to keep this value as the object's.
void add_checksum_headers(std::vector<std::pair<std::string, std::string>>& headers, const util::Crc& body_crc);

// A full-object checksum a GetObject reply carries, one that can check the body.
struct ReplyChecksum {
  util::CrcKind kind;
  std::string_view value;  // base64 of the big-endian bytes, as sent
};

// The reply's full-object CRC (CRC64NVME, else CRC32C, else CRC32), when it carries one: not a
// composite checksum (x-amz-checksum-type: COMPOSITE, or a value with a "-N" part count), which is
// a checksum of the parts' checksums, and nothing that is not the base64 of a CRC.
std::optional<ReplyChecksum> reply_checksum(const HttpResponse& head);

// The digests a GetObject body is hashed with as it arrives: the CRC of the reply's checksum when
// `use_checksums` and it carries one; the MD5 (checked against an ETag) when it does not, or when
// `md5_too`.
BodyDigests object_body_digests(const HttpResponse& head, bool use_checksums, bool md5_too);

}  // namespace cshelve::s3

#endif
