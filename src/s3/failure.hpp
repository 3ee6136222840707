// Judging what an attempt brought back: the reply to keep, or why the attempt failed and whether
// another attempt may succeed; and, once a call has failed for good, the typed error it throws.
#ifndef CSHELVE_S3_FAILURE_HPP
#define CSHELVE_S3_FAILURE_HPP

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "s3/http.hpp"
#include "s3/request.hpp"
#include "s3/xml.hpp"

namespace cshelve::s3 {

enum class FailureKind { network, server, malformed };

// Why one attempt failed.
struct Failure {
  FailureKind kind = FailureKind::network;
  bool retryable = false;
  long status = 0;
  ErrorReply reply;     // for FailureKind::server
  std::string summary;  // one line, no secret
  // A body sent to a sink disagreed with the reply's checksum, and its MD5, which could tell a
  // wrong checksum from a damaged body, was not computed: another attempt computing it may pass.
  bool md5_would_tell = false;
};

// Whether an S3 error reply is transient: HTTP 500/502/503/504, InternalError, SlowDown,
// RequestTimeout, and 409 ConditionalRequestConflict.
bool is_retryable_reply(long status, const std::string& code);

// Checks a GetObject body against Content-Length and then against the full-object checksum the
// reply carries (when the body was hashed for it), else, when the ETag is the body's MD5, against
// the ETag. A body whose checksum disagrees is still good when the ETag is its MD5 and the MD5
// matches: the server's checksum is wrong (some S3-compatible servers compute another algorithm
// than the one they name), and `log` says so once. Damage the MD5 would not catch is then caught
// by neither, as before checksums; but no good object becomes unreadable.
std::optional<Failure> check_object_body(const Call& call, const HttpResponse& response, const ClientLog& log);

// The reply to keep, or why the attempt failed. Logs the attempt at debug level.
std::variant<HttpResponse, Failure> judge(const Call& call, const std::string& where, HttpOutcome&& outcome,
                                          const ClientLog& log);

// Throws the typed error of a call that failed for good: NetworkError, MalformedResponseError, or
// for an S3 error reply NoSuchKeyError, NoSuchBucketError, AccessDeniedError, AuthenticationError
// or S3Error. The message names the call and each attempt's failure.
[[noreturn]] void throw_error(const Call& call, const Failure& last, const std::vector<std::string>& failures);

}  // namespace cshelve::s3

#endif
