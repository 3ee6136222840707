// AWS Signature Version 4 for S3 requests, over OpenSSL (SHA-256, HMAC: s3/sha256.hpp).
//
// S3 differs from the other AWS services in two ways that matter here: paths are never normalized
// (`.`, `..` and `//` are part of a key) and each path segment is percent-encoded exactly once.
// The signer therefore takes the path *unencoded* and produces the encoded form itself, and the
// caller sends exactly that encoded form on the wire, so what is signed is what is sent.
#ifndef CSHELVE_S3_SIGV4_HPP
#define CSHELVE_S3_SIGV4_HPP

#include <array>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "s3/sha256.hpp"

namespace cshelve::s3 {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty when none
};

// Percent-encodes every byte outside A-Z a-z 0-9 - _ . ~ as %XX (upper-case hex).
// With keep_slash, '/' is kept as it is (path segments); otherwise it becomes %2F.
std::string uri_encode(std::string_view raw, bool keep_slash);

// The hash S3 accepts in place of the payload's when the body is not signed (https only).
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// Header rules: names are compared without regard to case; every header is signed except
// `user-agent`, `expect` and `x-amzn-trace-id`, which proxies and HTTP stacks may rewrite (they are
// still sent). `authorization`, `x-amz-date`, `x-amz-content-sha256` (unless omitted, see Signer)
// and, with a session token, `x-amz-security-token` belong to the signer: copies found in
// `headers` are dropped and replaced, so a request can be signed again (a retry) as it is.
struct RequestToSign {
  std::string method;                                        // "GET", "PUT", ...
  std::string path;                                          // unencoded, starts with '/': "/bucket/a b/c"
  std::vector<std::pair<std::string, std::string>> query;    // unencoded; repeated keys allowed; "" = valueless
  std::vector<std::pair<std::string, std::string>> headers;  // as sent; must include "host"
  std::string payload_sha256;                                // hex SHA-256 of the body, or kUnsignedPayload
};

struct SignedRequest {
  std::string encoded_path;   // the path to put on the wire, encoded exactly as signed
  std::string encoded_query;  // canonical query string, without '?' (empty when none)
  // The headers to send: the request's own (less stale copies of the signer's headers), plus
  // x-amz-date, x-amz-content-sha256, x-amz-security-token (with a session token) and authorization.
  std::vector<std::pair<std::string, std::string>> headers;
  // Intermediate steps, for tests and debugging. They hold no secret key, but with a session token
  // the canonical request carries the token (S3 signs it): never log it as it is.
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;
};

// "20130524T000000Z" for a UNIX time.
std::string amz_date(std::time_t when);

// S3 requires the x-amz-content-sha256 header on every request; the other AWS services do not
// know it (the generic AWS test suite signs without it).
enum class ContentSha256Header { send, omit };

// Thread-safe: sign() may be called from several threads at once.
// Malformed input (a path without a leading '/', no host header, CR or LF in a header, an empty
// payload hash) throws cshelve::Error.
class Signer {
 public:
  Signer(Credentials credentials, std::string region, std::string service = "s3",
         ContentSha256Header content_sha256_header = ContentSha256Header::send);
  ~Signer();  // wipes the secret key, the session token and the cached signing key
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  // Signs the request as of `when` (UNIX time, UTC).
  SignedRequest sign(const RequestToSign& request, std::time_t when) const;

  // The derived signing key for a date ("20130524"), as raw bytes; cached per date.
  std::string signing_key(std::string_view yyyymmdd) const;

  const std::string& region() const noexcept { return region_; }

 private:
  struct DayKey;
  // The signing key of that date, derived when the date changes; the caller holds day_key_mutex_.
  DayKey& day_key(std::string_view yyyymmdd) const;

  Credentials credentials_;
  std::string region_;
  std::string service_;
  ContentSha256Header content_sha256_header_;
  mutable std::mutex day_key_mutex_;
  mutable std::unique_ptr<DayKey> day_key_;
};

}  // namespace cshelve::s3

#endif
