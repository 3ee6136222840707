#include "s3/request.hpp"

#include <ctime>
#include <vector>

#include "s3/object_checksum.hpp"
#include "util/crc.hpp"
#include "util/text.hpp"

namespace cshelve::s3 {
namespace {

constexpr std::size_t kSourceReadSize = 1 << 20;  // hashing a body read from a source
// A body in memory is hashed for the signature and its checksum this many bytes at a time, each
// slice by both while it is still in the cache.
constexpr std::size_t kSliceSize = 64 << 10;

// The payload's hex SHA-256 and, when `crc` is given, its CRC: one pass over the bytes.
std::string hash_payload(const RequestBody& body, util::Crc* crc) {
  if (!body.source && crc == nullptr) return sha256_hex(body.pieces);
  Sha256 hash;
  const auto take = [&](std::string_view bytes) {
    while (!bytes.empty()) {
      const std::string_view slice = bytes.substr(0, kSliceSize);
      hash.update(slice);
      if (crc != nullptr) crc->update(slice.data(), slice.size());
      bytes.remove_prefix(slice.size());
    }
  };
  for (std::string_view piece : body.pieces) take(piece);
  if (body.source) {
    std::vector<char> buffer(kSourceReadSize);
    for (std::uint64_t offset = 0; offset < body.source_size;) {
      const std::size_t got = util::read_source(body.source, body.source_size, offset, buffer.data(), buffer.size());
      take(std::string_view(buffer.data(), got));
      offset += got;
    }
  }
  return hash.hex_digest();
}

}  // namespace

std::string describe(const Call& call) {
  std::string text = "S3 " + std::string(call.operation);
  if (call.key) text += " of key '" + std::string(*call.key) + "'";
  text += (call.key ? " in" : " on");
  text += " bucket '" + std::string(call.bucket) + "'";
  return text;
}

Target target_of(const Call& call, const BucketAddress& address) {
  Target target;
  target.host = address.host;
  RequestToSign& to_sign = target.to_sign;
  to_sign.method = call.method;
  to_sign.path = address.path;
  if (call.key) {
    if (!address.in_host) to_sign.path += '/';
    to_sign.path += *call.key;
  }
  to_sign.query = call.query;
  to_sign.headers.emplace_back("host", target.host);
  for (const auto& header : call.headers) to_sign.headers.push_back(header);
  if (call.ask_checksum) to_sign.headers.emplace_back("x-amz-checksum-mode", "ENABLED");
  if (call.send_checksum) {
    util::Crc crc(kPutChecksum);
    to_sign.payload_sha256 = hash_payload(call.body, &crc);
    add_checksum_headers(to_sign.headers, crc);
  } else {
    to_sign.payload_sha256 = hash_payload(call.body, nullptr);
  }
  return target;
}

HttpRequest signed_request(const Signer& signer, const std::string& scheme, const Call& call, const Target& target,
                           std::string& where, bool md5_alongside) {
  SignedRequest signed_request = signer.sign(target.to_sign, std::time(nullptr));
  HttpRequest request;
  request.method = call.method;
  where = util::concat({target.host, signed_request.encoded_path});
  const std::string_view query = signed_request.encoded_query;
  request.url = util::concat({scheme, "://", where, query.empty() ? "" : "?", query});
  request.headers = std::move(signed_request.headers);
  request.body = &call.body;
  request.sink = call.sink;
  if (call.verify_object_body) {
    request.choose_body_digests = [use_checksums = call.ask_checksum, md5_alongside](const HttpResponse& head) {
      return object_body_digests(head, use_checksums, md5_alongside);
    };
  }
  request.large_body = call.large_body;
  request.progress = call.progress;
  return request;
}

}  // namespace cshelve::s3
