// One S3 call as the request path sees it, where it goes and what is signed, and the signed HTTP
// request of each attempt.
#ifndef CSHELVE_S3_REQUEST_HPP
#define CSHELVE_S3_REQUEST_HPP

#include <cshelve/options.hpp>

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "s3/endpoint.hpp"
#include "s3/http.hpp"
#include "s3/sigv4.hpp"
#include "util/stream.hpp"

namespace cshelve::s3 {

// The client's logger with its level: silent when the logger is empty.
struct ClientLog {
  Logger logger;
  LogLevel level = LogLevel::info;

  bool enabled(LogLevel at) const { return logger && at >= level; }
  void operator()(LogLevel at, const std::string& line) const {
    if (enabled(at)) logger(at, line);
  }

  // Whether the client has said that the server's checksums disagree with bodies its ETags vouch
  // for: said once, since every object's reply would repeat it.
  mutable std::atomic<bool> told_wrong_checksum{false};
};

struct Call {
  Call(std::string_view operation_name, std::string http_method, std::string_view bucket_name,
       std::optional<std::string_view> object_key)
      : operation(operation_name), method(std::move(http_method)), bucket(bucket_name), key(object_key) {}

  std::string_view operation;  // "GetObject": for messages
  std::string method;
  std::string_view bucket;
  std::optional<std::string_view> key;  // object operations
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;  // besides host and the signer's
  RequestBody body;
  util::ByteSink* sink = nullptr;              // GetObject into a sink; restarted before each attempt
  const TransferProgress* progress = nullptr;  // single transfers only
  bool expects_xml = false;                    // a 2xx reply body is an XML document
  // PutObject: the body's full-object checksum (kPutChecksum) goes with it, computed in the pass
  // that hashes the body for the signature.
  bool send_checksum = false;
  bool verify_object_body = false;  // GetObject: check the body against its headers
  // GetObject: ask for the object's full-object checksum (x-amz-checksum-mode) and, when the reply
  // carries one, check the body against it rather than against the ETag.
  bool ask_checksum = false;
  bool large_body = false;  // GetObject into memory: a 2xx body of any size
  // Judges a 2xx reply's content: a reason it cannot be used, which fails the attempt as a
  // malformed reply that is retried; nullopt when it is fine.
  std::function<std::optional<std::string>(const HttpResponse&)> check_reply;
};

// "S3 GetObject of key 'k' in bucket 'b'": how messages name a call.
std::string describe(const Call& call);

// Where a call goes and what is signed: the same for every attempt.
struct Target {
  std::string host;
  RequestToSign to_sign;
};

// Hashes the body for the signature, and for its checksum in the same pass (send_checksum): a body
// from a source is read once here, and again to be sent.
Target target_of(const Call& call, const BucketAddress& address);

// One attempt's request. Signed anew for each attempt, so a retry after a long wait still carries a
// fresh date. `where` receives host and path, for the debug line. The request points at the call's
// body, sink and progress: the call must outlive it. With `md5_alongside`, an object body is hashed
// with MD5 besides its checksum (see check_object_body).
HttpRequest signed_request(const Signer& signer, const std::string& scheme, const Call& call, const Target& target,
                           std::string& where, bool md5_alongside = false);

}  // namespace cshelve::s3

#endif
