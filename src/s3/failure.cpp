#include "s3/failure.hpp"

#include <cshelve/errors.hpp>

#include <utility>

#include "s3/object_checksum.hpp"
#include "util/ascii.hpp"
#include "util/digest.hpp"
#include "util/hex.hpp"
#include "util/text.hpp"

namespace cshelve::s3 {
namespace {

Failure server_failure(long status, std::optional<ErrorReply> reply) {
  Failure failure;
  failure.kind = FailureKind::server;
  failure.status = status;
  if (reply) failure.reply = std::move(*reply);
  failure.retryable = is_retryable_reply(status, failure.reply.code);
  const std::string& code = failure.reply.code;
  const std::string& message = failure.reply.message;
  failure.summary = util::concat({"HTTP ", std::to_string(status), code.empty() ? "" : " ", code,
                                  message.empty() ? "" : ": ", message, reply ? "" : " without an S3 error document"});
  return failure;
}

// The ETag in lower-case hex when it is the body's MD5. Multipart ETags (with '-') are not, nor
// are those of objects encrypted with KMS or a customer key.
std::optional<std::string> md5_etag(const HttpResponse& response) {
  const std::string* etag_header = response.header("etag");
  if (etag_header == nullptr) return std::nullopt;
  std::string_view quoted = *etag_header;
  if (quoted.size() >= 2 && quoted.front() == '"' && quoted.back() == '"') quoted = quoted.substr(1, quoted.size() - 2);
  std::string etag = util::to_lower_ascii(quoted);
  const std::string* encryption = response.header("x-amz-server-side-encryption");
  const bool etag_not_md5 = (encryption != nullptr && encryption->rfind("aws:kms", 0) == 0) ||
                            response.header("x-amz-server-side-encryption-customer-algorithm") != nullptr;
  if (etag_not_md5 || etag.size() != 32 || etag.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return std::nullopt;
  }
  return etag;
}

}  // namespace

bool is_retryable_reply(long status, const std::string& code) {
  // A 4xx says the request itself is wrong and would fail the same way again, with two exceptions:
  // RequestTimeout comes with a 400, yet only says the connection was too slow; and a 409
  // ConditionalRequestConflict says another conditional write of the key was under way, which S3
  // asks the client to meet by trying again.
  if (status >= 400 && status < 500) return code == "RequestTimeout" || code == "ConditionalRequestConflict";
  if (status == 500 || status == 502 || status == 503 || status == 504) return true;
  // Otherwise (a 200 carrying an error document, another 5xx) S3's transient codes decide.
  return code == "InternalError" || code == "SlowDown" || code == "RequestTimeout";
}

std::optional<Failure> check_object_body(const Call& call, const HttpResponse& response, const ClientLog& log) {
  const auto malformed = [](std::string summary) {
    Failure failure;
    failure.kind = FailureKind::malformed;
    failure.retryable = true;  // a body damaged on the way may arrive whole next time
    failure.summary = std::move(summary);
    return failure;
  };
  if (const std::string* length = response.header("content-length")) {
    if (*length != std::to_string(response.body_size)) {
      return malformed(
          util::concat({"body of ", std::to_string(response.body_size), " bytes where Content-Length says ", *length}));
    }
  }
  const std::optional<std::string> etag = md5_etag(response);
  // The body's MD5: hashed as it arrived when that was chosen, else now if it is in memory.
  const bool body_in_memory = response.body.size() == response.body_size;
  const auto body_md5 = [&]() -> std::optional<std::string> {
    if (!response.body_md5.empty()) return util::hex(response.body_md5);
    if (body_in_memory) return util::hex(util::md5(response.body));
    return std::nullopt;
  };

  if (response.body_crc) {
    const std::optional<ReplyChecksum> checksum = reply_checksum(response);
    if (checksum && checksum->kind == response.body_crc->kind() &&
        util::base64(response.body_crc->digest()) == checksum->value) {
      return std::nullopt;
    }
    const std::string differs = util::concat({"body whose ", checksum_name(response.body_crc->kind()), " differs from ",
                                              checksum_header(response.body_crc->kind())});
    if (!etag) return malformed(differs);
    const std::optional<std::string> md5 = body_md5();
    if (!md5) {
      Failure failure = malformed(util::concat({differs, " (its MD5 is to be checked against the ETag)"}));
      failure.md5_would_tell = true;
      return failure;
    }
    if (*md5 != *etag) return malformed(util::concat({differs, ", and whose MD5 differs from its ETag"}));
    if (!log.told_wrong_checksum.exchange(true)) {
      log(LogLevel::warning, util::concat({describe(call), ": the reply's ", checksum_header(response.body_crc->kind()),
                                           " disagrees with a body whose MD5 matches its ETag; the body is accepted, "
                                           "and the server's checksums are taken for wrong (said once)"}));
    }
    return std::nullopt;
  }

  if (!etag) return std::nullopt;
  const std::optional<std::string> md5 = body_md5();
  if (!md5) return malformed("body whose MD5 could not be computed");
  if (*md5 != *etag) return malformed("body whose MD5 differs from its ETag");
  return std::nullopt;
}

std::variant<HttpResponse, Failure> judge(const Call& call, const std::string& where, HttpOutcome&& outcome,
                                          const ClientLog& log) {
  if (log.enabled(LogLevel::debug)) {
    log(LogLevel::debug, util::concat({call.method, " ", where, " -> ",
                                       (outcome.failure ? "failed" : std::to_string(outcome.response.status)), " in ",
                                       std::to_string(static_cast<long>(outcome.seconds * 1000)), " ms"}));
  }

  if (outcome.failure) {
    Failure failure;
    failure.kind = outcome.failure->malformed ? FailureKind::malformed : FailureKind::network;
    failure.retryable = outcome.failure->retryable;
    failure.summary = (outcome.failure->timed_out   ? "timed out: "
                       : outcome.failure->malformed ? "malformed reply: "
                                                    : "network error: ") +
                      outcome.failure->message;
    return failure;
  }
  HttpResponse& response = outcome.response;
  if (response.status < 200 || response.status >= 300) {
    return server_failure(response.status, parse_error(response.body));
  }
  if (call.expects_xml) {
    // S3 may answer 200 and still report an error in the body once it has started replying.
    if (auto reply = parse_error(response.body)) return server_failure(response.status, std::move(reply));
  }
  if (call.verify_object_body) {
    if (auto failure = check_object_body(call, response, log)) return std::move(*failure);
  }
  if (call.check_reply) {
    if (std::optional<std::string> why = call.check_reply(response)) {
      Failure failure;
      failure.kind = FailureKind::malformed;
      failure.retryable = true;  // a reply damaged on the way may arrive whole next time
      failure.summary = std::move(*why);
      return failure;
    }
  }
  return std::move(response);
}

void throw_error(const Call& call, const Failure& last, const std::vector<std::string>& failures) {
  std::string message = describe(call);
  if (failures.size() == 1 && !last.retryable) {
    message += util::concat({" failed: ", failures.front()});
  } else {
    // Retries ran out (max_attempts may be 1): say how many attempts were made, and each reason.
    message += util::concat(
        {" failed after ", std::to_string(failures.size()), failures.size() == 1 ? " attempt" : " attempts"});
    for (std::size_t i = 0; i < failures.size(); ++i) {
      message += util::concat({i == 0 ? ": " : "; ", "attempt ", std::to_string(i + 1), ": ", failures[i]});
    }
  }
  const ErrorReply& reply = last.reply;
  if (!reply.request_id.empty()) message += util::concat({" (request id ", reply.request_id, ")"});

  switch (last.kind) {
    case FailureKind::network: throw NetworkError(message);
    case FailureKind::malformed: throw MalformedResponseError(message);
    case FailureKind::server: break;
  }
  const std::string& code = reply.code;
  const auto status = static_cast<int>(last.status);
  if (code == "NoSuchKey") throw NoSuchKeyError(message, status, code, reply.message, reply.request_id);
  if (code == "NoSuchBucket") throw NoSuchBucketError(message, status, code, reply.message, reply.request_id);
  if (code == "AccessDenied") throw AccessDeniedError(message, status, code, reply.message, reply.request_id);
  if (code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId") {
    throw AuthenticationError(message, status, code, reply.message, reply.request_id);
  }
  throw S3Error(message, status, code, reply.message, reply.request_id);
}

}  // namespace cshelve::s3
