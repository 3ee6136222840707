#include "s3/request.hpp"

#include <ctime>
#include <vector>

namespace cshelve::s3 {
namespace {

constexpr std::size_t kSourceReadSize = 1 << 20;  // hashing a body read from a source

std::string payload_sha256(const RequestBody& body) {
  if (!body.source) return sha256_hex(body.pieces);
  Sha256 hash;
  for (std::string_view piece : body.pieces) hash.update(piece);
  std::vector<char> buffer(kSourceReadSize);
  for (std::uint64_t offset = 0; offset < body.source_size;) {
    const std::size_t got = util::read_source(body.source, body.source_size, offset, buffer.data(), buffer.size());
    hash.update(std::string_view(buffer.data(), got));
    offset += got;
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
  if (call.key) to_sign.path += (address.in_host ? "" : "/") + std::string(*call.key);
  to_sign.query = call.query;
  to_sign.headers.emplace_back("host", target.host);
  for (const auto& header : call.headers) to_sign.headers.push_back(header);
  to_sign.payload_sha256 = payload_sha256(call.body);
  return target;
}

HttpRequest signed_request(const Signer& signer, const std::string& scheme, const Call& call, const Target& target,
                           std::string& where) {
  SignedRequest signed_request = signer.sign(target.to_sign, std::time(nullptr));
  HttpRequest request;
  request.method = call.method;
  where = target.host + signed_request.encoded_path;
  request.url = scheme + "://" + where;
  if (!signed_request.encoded_query.empty()) request.url += "?" + signed_request.encoded_query;
  request.headers = std::move(signed_request.headers);
  request.body = &call.body;
  request.sink = call.sink;
  request.md5_of_body = call.verify_object_body;
  request.large_body = call.large_body;
  request.progress = call.progress;
  return request;
}

}  // namespace cshelve::s3
