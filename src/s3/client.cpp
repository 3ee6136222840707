#include "s3/client.hpp"

#include <cshelve/errors.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <variant>

#include "s3/credentials.hpp"
#include "s3/http.hpp"
#include "s3/http_multi.hpp"
#include "s3/xml.hpp"

namespace cshelve::s3 {
namespace {

constexpr std::size_t kMaxKeysPerDelete = 1000;  // S3's limit for one DeleteObjects request
constexpr std::size_t kSourceReadSize = 1 << 20;   // hashing a body read from a source
constexpr std::chrono::milliseconds kBackoffBase{100};
constexpr std::chrono::milliseconds kBackoffCap{20000};

struct Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower case; an IPv6 address keeps its brackets
  std::string port;    // empty when the scheme's default
};

Endpoint parse_endpoint(const std::string& url) {
  const auto fail = [&](const std::string& why) -> Endpoint {
    throw ConfigurationError("S3 endpoint_url '" + url + "' " + why);
  };
  Endpoint endpoint;
  const auto separator = url.find("://");
  if (separator == std::string::npos) return fail("has no scheme (http:// or https://)");
  endpoint.scheme = url.substr(0, separator);
  std::transform(endpoint.scheme.begin(), endpoint.scheme.end(), endpoint.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (endpoint.scheme != "http" && endpoint.scheme != "https") {
    return fail("has a scheme other than http:// or https://");
  }
  const std::string rest = url.substr(separator + 3);
  const auto authority_end = rest.find_first_of("/?#");
  const std::string authority = rest.substr(0, authority_end);
  if (authority_end != std::string::npos && rest.substr(authority_end) != "/") {
    return fail("has a path, query or fragment; only scheme, host and port are used");
  }
  if (authority.find('@') != std::string::npos) return fail("has user information");

  std::string host;
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) return fail("has an unclosed IPv6 address");
    host = authority.substr(0, close + 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("has text after its IPv6 address");
      port = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (host.empty()) return fail("has no host");
  for (char c : host) {
    const auto byte = static_cast<unsigned char>(c);
    if (!std::isalnum(byte) && std::string_view("-._[]:").find(c) == std::string_view::npos) {
      return fail("has a character a host name cannot hold");
    }
  }
  if (port.size() > 5 || (!port.empty() && port.find_first_not_of("0123456789") != std::string::npos)) {
    return fail("has an invalid port");
  }
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  endpoint.host = host;
  const bool default_port = (endpoint.scheme == "http" && port == "80") ||
                            (endpoint.scheme == "https" && port == "443");
  // Servers compare the signed Host header with the one received, and HTTP clients leave the
  // default port out of it: so must the signature.
  if (!default_port) endpoint.port = port;
  return endpoint;
}

Endpoint aws_endpoint(const std::string& region) {
  const bool china = region.rfind("cn-", 0) == 0;
  return Endpoint{"https", "s3." + region + (china ? ".amazonaws.com.cn" : ".amazonaws.com"), ""};
}

// A bucket name that can be the first label of a host name under a TLS wildcard certificate:
// S3's DNS-compatible names, without dots (a dotted name would not match *.s3.region...).
bool fits_in_host_name(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return bucket.front() != '-' && bucket.back() != '-';
}

std::string base64(const unsigned char* data, std::size_t size) {
  std::string encoded(4 * ((size + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), data,
                                      static_cast<int>(size));
  encoded.resize(static_cast<std::size_t>(std::max(0, written)));
  return encoded;
}

struct MessageDigestContextDeleter {
  void operator()(EVP_MD_CTX* context) const noexcept { EVP_MD_CTX_free(context); }
};

std::string md5(std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, MessageDigestContextDeleter> context(EVP_MD_CTX_new());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!context || EVP_DigestInit_ex(context.get(), EVP_md5(), nullptr) != 1 ||
      EVP_DigestUpdate(context.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(context.get(), digest, &length) != 1) {
    throw StorageError("MD5 is not available from OpenSSL");
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    text += kDigits[byte >> 4];
    text += kDigits[byte & 0x0F];
  }
  return text;
}

// One S3 call, as the request path sees it.
struct Call {
  Call(std::string_view operation_name, std::string http_method, std::string_view bucket_name,
       std::optional<std::string_view> object_key)
      : operation(operation_name), method(std::move(http_method)), bucket(bucket_name),
        key(object_key) {}

  std::string_view operation;  // "GetObject": for messages
  std::string method;
  std::string_view bucket;
  std::optional<std::string_view> key;  // object operations
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;  // besides host and the signer's
  std::vector<std::string_view> body;
  std::uint64_t source_size = 0;     // more body, read from a source (HttpRequest::source)
  ReadAt source;
  std::function<void()> restart_sink;  // called before every attempt of a call with a sink
  std::function<void(const char*, std::size_t)> sink;
  TransferProgress progress;         // single transfers only
  bool expects_xml = false;          // a 2xx reply body is an XML document
  bool verify_object_body = false;   // GetObject: check the body against its headers
};

enum class FailureKind { network, server, malformed };

// Why one attempt failed.
struct Failure {
  FailureKind kind = FailureKind::network;
  bool retryable = false;
  long status = 0;
  ErrorReply reply;     // for FailureKind::server
  std::string summary;  // one line, no secret
};

bool is_retryable_reply(long status, const std::string& code) {
  // A 4xx says the request itself is wrong and would fail the same way again, with one exception:
  // RequestTimeout comes with a 400, yet only says the connection was too slow.
  if (status >= 400 && status < 500) return code == "RequestTimeout";
  if (status == 500 || status == 502 || status == 503 || status == 504) return true;
  // Otherwise (a 200 carrying an error document, another 5xx) S3's transient codes decide.
  return code == "InternalError" || code == "SlowDown" || code == "RequestTimeout";
}

Failure server_failure(long status, std::optional<ErrorReply> reply) {
  Failure failure;
  failure.kind = FailureKind::server;
  failure.status = status;
  if (reply) failure.reply = std::move(*reply);
  failure.retryable = is_retryable_reply(status, failure.reply.code);
  failure.summary = "HTTP " + std::to_string(status);
  if (!failure.reply.code.empty()) failure.summary += " " + failure.reply.code;
  if (!failure.reply.message.empty()) failure.summary += ": " + failure.reply.message;
  if (!reply) failure.summary += " without an S3 error document";
  return failure;
}

// Checks a GetObject body against Content-Length and, when the ETag is the body's MD5, the ETag.
std::optional<Failure> check_object_body(const HttpResponse& response) {
  const auto malformed = [](std::string summary) {
    Failure failure;
    failure.kind = FailureKind::malformed;
    failure.retryable = true;  // a body damaged on the way may arrive whole next time
    failure.summary = std::move(summary);
    return failure;
  };
  if (const std::string* length = response.header("content-length")) {
    if (*length != std::to_string(response.body_size)) {
      return malformed("body of " + std::to_string(response.body_size) +
                       " bytes where Content-Length says " + *length);
    }
  }
  const std::string* etag_header = response.header("etag");
  if (etag_header == nullptr) return std::nullopt;
  std::string etag = *etag_header;
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  std::transform(etag.begin(), etag.end(), etag.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // Multipart ETags (with '-') are not an MD5 of the body, nor are those of objects encrypted
  // with KMS or a customer key.
  const std::string* encryption = response.header("x-amz-server-side-encryption");
  const bool etag_not_md5 =
      (encryption != nullptr && encryption->rfind("aws:kms", 0) == 0) ||
      response.header("x-amz-server-side-encryption-customer-algorithm") != nullptr;
  if (etag_not_md5 || etag.size() != 32 ||
      etag.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return std::nullopt;
  }
  // Hashed as the body arrived when the request asked for it; otherwise now.
  const std::string digest = response.body_md5.empty() ? md5(response.body) : response.body_md5;
  if (hex(digest) != etag) {
    return malformed("body whose MD5 differs from its ETag");
  }
  return std::nullopt;
}

}  // namespace

struct Client::Impl {
  explicit Impl(ClientConfig configuration)
      : config(std::move(configuration)),
        endpoint(config.endpoint_url.empty() ? aws_endpoint(config.region)
                                             : parse_endpoint(config.endpoint_url)),
        signer(config.credentials, config.region),
        pool(HttpSettings{config.verify_tls, config.ca_bundle, config.connect_timeout_ms,
                          config.read_timeout_ms},
             config.max_pool_connections),
        random(std::random_device{}()) {
    // The secret now lives in the signer only.
    config.credentials = Credentials{};
  }

  ClientConfig config;
  Endpoint endpoint;
  Signer signer;  // unused with a credentials provider
  // With a credentials provider: the signer of its latest credentials, made anew when they change.
  mutable std::mutex provider_signer_mutex;
  mutable std::shared_ptr<const Credentials> provider_signer_credentials;
  mutable std::shared_ptr<const Signer> provider_signer;
  HttpConnectionPool pool;
  std::mutex random_mutex;
  std::mt19937_64 random;
  std::mutex sessions_mutex;
  std::vector<std::unique_ptr<HttpMulti>> idle_sessions;  // for execute_many

  bool logs(LogLevel level) const { return config.logger && level >= config.log_level; }

  void log(LogLevel level, const std::string& line) const {
    if (logs(level)) config.logger(level, line);
  }

  bool virtual_hosted(std::string_view bucket) const {
    switch (config.addressing) {
      case Addressing::path: return false;
      case Addressing::virtual_hosted: return true;
      case Addressing::automatic: break;
    }
    return config.endpoint_url.empty() && fits_in_host_name(bucket);
  }

  std::string describe(const Call& call) const {
    std::string text = "S3 " + std::string(call.operation);
    if (call.key) text += " of key '" + std::string(*call.key) + "'";
    text += (call.key ? " in" : " on");
    text += " bucket '" + std::string(call.bucket) + "'";
    return text;
  }

  // Where a call goes and what is signed: the same for every attempt.
  struct Target {
    std::string host;
    RequestToSign to_sign;
  };

  Target target_of(const Call& call) const {
    const bool in_host = virtual_hosted(call.bucket);
    if (in_host && !fits_in_host_name(call.bucket)) {
      throw ConfigurationError("bucket name '" + std::string(call.bucket) +
                               "' cannot be part of a host name (virtual-hosted addressing)");
    }
    Target target;
    target.host = (in_host ? std::string(call.bucket) + "." : std::string()) + endpoint.host;
    if (!endpoint.port.empty()) target.host += ":" + endpoint.port;

    RequestToSign& to_sign = target.to_sign;
    to_sign.method = call.method;
    to_sign.path = in_host ? "/" : "/" + std::string(call.bucket);
    if (call.key) to_sign.path += (in_host ? "" : "/") + std::string(*call.key);
    to_sign.query = call.query;
    to_sign.headers.emplace_back("host", target.host);
    for (const auto& header : call.headers) to_sign.headers.push_back(header);
    to_sign.payload_sha256 = call.source ? sha256_hex_with_source(call) : sha256_hex(call.body);
    return target;
  }

  // The body is read once to be signed, and again to be sent.
  static std::string sha256_hex_with_source(const Call& call) {
    Sha256 hash;
    for (std::string_view piece : call.body) hash.update(piece);
    std::vector<char> buffer(kSourceReadSize);
    for (std::uint64_t offset = 0; offset < call.source_size;) {
      const std::size_t got = read_source(call.source, call.source_size, offset, buffer.data(), buffer.size());
      hash.update(std::string_view(buffer.data(), got));
      offset += got;
    }
    return hash.hex_digest();
  }

  // One attempt's request. Signed anew for each attempt, so a retry after a long wait still
  // carries a fresh date. `where` receives host and path, for the debug line.
  // `used` receives the provider's credentials it was signed with.
  HttpRequest signed_request(const Call& call, const Target& target, std::string& where,
                             std::shared_ptr<const Credentials>* used = nullptr) const {
    SignedRequest signed_request = config.credentials_provider
                                       ? signer_of_provider(used)->sign(target.to_sign, std::time(nullptr))
                                       : signer.sign(target.to_sign, std::time(nullptr));
    HttpRequest request;
    request.method = call.method;
    where = target.host + signed_request.encoded_path;
    request.url = endpoint.scheme + "://" + where;
    if (!signed_request.encoded_query.empty()) request.url += "?" + signed_request.encoded_query;
    request.headers = std::move(signed_request.headers);
    request.body_pieces = call.body;
    request.source_size = call.source_size;
    request.source = call.source;
    request.sink = call.sink;
    request.md5_of_body = call.verify_object_body;
    request.progress = call.progress;
    return request;
  }

  std::shared_ptr<const Signer> signer_of_provider(std::shared_ptr<const Credentials>* used) const {
    std::shared_ptr<const Credentials> credentials = config.credentials_provider->current();
    std::lock_guard<std::mutex> lock(provider_signer_mutex);
    if (credentials != provider_signer_credentials) {
      provider_signer = std::make_shared<const Signer>(*credentials, config.region);
      provider_signer_credentials = credentials;
    }
    if (used != nullptr) *used = credentials;
    return provider_signer;
  }

  // A refusal of temporary credentials that fresh ones cure: the caller refreshes once and retries.
  bool refused_as_expired(const Failure& failure) const {
    const std::string& code = failure.reply.code;
    return config.credentials_provider && failure.kind == FailureKind::server &&
           (code == "ExpiredToken" || code == "InvalidToken" || code == "TokenRefreshRequired");
  }

  void refresh_after(const Call& call, const Failure& failure, const std::shared_ptr<const Credentials>& used) {
    log(LogLevel::info, describe(call) + ": " + failure.summary + "; retrying with fresh credentials");
    config.credentials_provider->expired(used);
  }

  // The whole request path: address, sign, send, read the reply, retry.
  HttpResponse execute(const Call& call) {
    const Target target = target_of(call);
    const int max_attempts = std::max(1, config.max_attempts);
    std::vector<std::string> failures;
    bool refreshed = false;
    for (int attempt = 1;; ++attempt) {
      std::string where;
      std::shared_ptr<const Credentials> used;
      const HttpRequest request = signed_request(call, target, where, &used);
      if (call.restart_sink) call.restart_sink();  // an attempt delivers the body from its first byte
      HttpOutcome outcome;
      {
        HttpConnectionPool::Lease connection = pool.acquire();
        outcome = connection->perform(request);
      }
      std::variant<HttpResponse, Failure> result = judge(call, where, std::move(outcome));
      if (auto* response = std::get_if<HttpResponse>(&result)) return std::move(*response);
      Failure& failure = std::get<Failure>(result);
      if (!refreshed && refused_as_expired(failure)) {
        refreshed = true;
        refresh_after(call, failure, used);
        --attempt;  // the retry with fresh credentials is not one of max_attempts
        continue;
      }
      failures.push_back(failure.summary);
      if (!failure.retryable || attempt >= max_attempts) throw_error(call, failure, failures);
      std::this_thread::sleep_for(retry_delay(call, attempt, failure));
    }
  }

  // Runs the calls side by side on the calling thread, over at most max_pool_connections kept-
  // alive connections of a multi session, each with execute()'s signing, checks and retries (a
  // retry waits for its backoff without holding up the others). Each reply goes to
  // on_response(i, reply); errors[i] receives what execute() would have thrown for call i, or
  // what on_response threw. With stop_at_failure, once a call fails for good no other starts:
  // those never sent get RequestNotSentError, those waiting to retry their last failure. NoSuchKey
  // is an answer, not a failure, and stops nothing.
  void execute_many(const std::vector<Call>& calls,
                    const std::function<void(std::size_t, HttpResponse&&)>& on_response,
                    std::vector<std::exception_ptr>& errors, bool stop_at_failure) {
    using Clock = std::chrono::steady_clock;
    struct Pending {
      Target target;
      HttpRequest request;  // the attempt in flight; libcurl reads it until the attempt ends
      std::string where;
      int attempt = 0;
      std::vector<std::string> failures;
      Failure last_failure;  // while waiting to retry
      std::shared_ptr<const Credentials> used;  // a provider's credentials it was signed with
      bool refreshed = false;
    };
    errors.assign(calls.size(), nullptr);
    if (calls.empty()) return;
    const int max_attempts = std::max(1, config.max_attempts);
    std::vector<Pending> pending(calls.size());
    std::deque<std::size_t> ready;
    for (std::size_t i = 0; i < calls.size(); ++i) ready.push_back(i);
    std::multimap<Clock::time_point, std::size_t> waiting;  // retries, by the time they are due
    bool stopped = false;

    const auto fail = [&](std::size_t i, std::exception_ptr error, bool counts) {
      errors[i] = std::move(error);
      pending[i] = Pending{};  // frees the signed headers now rather than at the end
      if (stop_at_failure && counts) stopped = true;
    };
    const auto finished = [&](std::size_t i, HttpOutcome outcome) {
      Pending& item = pending[i];
      std::variant<HttpResponse, Failure> result = judge(calls[i], item.where, std::move(outcome));
      if (auto* response = std::get_if<HttpResponse>(&result)) {
        pending[i] = Pending{};
        try {
          on_response(i, std::move(*response));
        } catch (...) {
          fail(i, std::current_exception(), true);
        }
        return;
      }
      Failure& failure = std::get<Failure>(result);
      if (!item.refreshed && !stopped && refused_as_expired(failure)) {
        item.refreshed = true;
        refresh_after(calls[i], failure, item.used);
        --item.attempt;  // the retry with fresh credentials is not one of max_attempts
        ready.push_back(i);
        return;
      }
      item.failures.push_back(failure.summary);
      if (failure.retryable && item.attempt < max_attempts && !stopped) {
        item.last_failure = std::move(failure);
        waiting.emplace(Clock::now() + retry_delay(calls[i], item.attempt, item.last_failure), i);
        return;
      }
      const bool absent = failure.kind == FailureKind::server && failure.reply.code == "NoSuchKey";
      fail(i, error_of(calls[i], failure, item.failures), !absent);
    };

    SessionLease session(*this);
    for (;;) {
      const Clock::time_point now = Clock::now();
      while (!waiting.empty() && (stopped || waiting.begin()->first <= now)) {
        const std::size_t i = waiting.begin()->second;
        waiting.erase(waiting.begin());
        if (stopped) {
          fail(i, error_of(calls[i], pending[i].last_failure, pending[i].failures), false);
        } else {
          ready.push_back(i);
        }
      }
      if (stopped) {
        for (std::size_t i : ready) {
          fail(i, std::make_exception_ptr(RequestNotSentError(
                      describe(calls[i]) + " was not sent: another request of the batch failed")),
               false);
        }
        ready.clear();
      }
      while (!ready.empty() && session->running() < session->capacity()) {
        const std::size_t i = ready.front();
        ready.pop_front();
        Pending& item = pending[i];
        try {
          if (item.attempt == 0) item.target = target_of(calls[i]);
          ++item.attempt;
          item.request = signed_request(calls[i], item.target, item.where, &item.used);
        } catch (const Error&) {
          fail(i, std::current_exception(), true);
          continue;
        }
        session->start(item.request, i);
      }
      if (session->running() == 0 && ready.empty() && waiting.empty()) break;

      // libcurl shortens the wait on its own when a transfer has a timeout coming sooner.
      auto timeout = std::chrono::milliseconds(1000);
      if (!waiting.empty()) {
        const auto until_retry = std::chrono::duration_cast<std::chrono::milliseconds>(
            waiting.begin()->first - Clock::now());
        timeout = std::max(std::chrono::milliseconds(0), std::min(timeout, until_retry));
      }
      session->run(timeout, finished);
    }
  }

  // The sessions of execute_many: each is a multi handle whose connection cache keeps the
  // connections alive from one batch to the next. A batch takes an idle one or makes a new one, so
  // batches on several threads run side by side.
  class SessionLease {
   public:
    explicit SessionLease(Impl& impl) : impl_(impl) {
      {
        std::lock_guard<std::mutex> lock(impl_.sessions_mutex);
        if (!impl_.idle_sessions.empty()) {
          session_ = std::move(impl_.idle_sessions.back());
          impl_.idle_sessions.pop_back();
        }
      }
      if (!session_) {
        session_ = std::make_unique<HttpMulti>(impl_.http_settings(), impl_.config.max_pool_connections);
      }
    }
    ~SessionLease() {
      // After an exception transfers may still run; they point at requests about to go away.
      session_->abandon_all();
      try {
        std::lock_guard<std::mutex> lock(impl_.sessions_mutex);
        impl_.idle_sessions.push_back(std::move(session_));
      } catch (...) {
        // No room to keep it: its connections close with it.
      }
    }
    SessionLease(const SessionLease&) = delete;
    SessionLease& operator=(const SessionLease&) = delete;
    HttpMulti* operator->() const noexcept { return session_.get(); }

   private:
    Impl& impl_;
    std::unique_ptr<HttpMulti> session_;
  };

  HttpSettings http_settings() const {
    return HttpSettings{config.verify_tls, config.ca_bundle, config.connect_timeout_ms,
                        config.read_timeout_ms};
  }

  // Judges what came back: the reply to keep, or why the attempt failed.
  std::variant<HttpResponse, Failure> judge(const Call& call, const std::string& where,
                                            HttpOutcome&& outcome) const {
    if (logs(LogLevel::debug)) {
      log(LogLevel::debug,
          call.method + " " + where + " -> " +
              (outcome.failure ? "failed" : std::to_string(outcome.response.status)) + " in " +
              std::to_string(static_cast<long>(outcome.seconds * 1000)) + " ms");
    }

    if (outcome.failure) {
      Failure failure;
      failure.kind = FailureKind::network;
      failure.retryable = outcome.failure->retryable;
      failure.summary = (outcome.failure->timed_out ? "timed out: " : "network error: ") +
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
      if (auto failure = check_object_body(response)) return std::move(*failure);
    }
    return std::move(response);
  }

  // How long to wait before retrying a failed attempt; says so in the log.
  std::chrono::milliseconds retry_delay(const Call& call, int attempt, const Failure& failure) {
    const auto delay = backoff(attempt);
    log(LogLevel::warning, describe(call) + ": attempt " + std::to_string(attempt) + " of " +
                               std::to_string(std::max(1, config.max_attempts)) + " failed (" +
                               failure.summary + "); retrying in " + std::to_string(delay.count()) +
                               " ms");
    return delay;
  }

  // throw_error()'s exception, caught for a batch.
  std::exception_ptr error_of(const Call& call, const Failure& last,
                              const std::vector<std::string>& failures) const {
    try {
      throw_error(call, last, failures);
    } catch (...) {
      return std::current_exception();
    }
  }

  // Exponential backoff with full jitter: a random wait below a bound that doubles each attempt.
  std::chrono::milliseconds backoff(int attempt) {
    const int doublings = std::min(attempt - 1, 20);
    const auto bound = std::min<std::chrono::milliseconds>(
        kBackoffCap, std::chrono::milliseconds(kBackoffBase.count() << doublings));
    std::lock_guard<std::mutex> lock(random_mutex);
    std::uniform_int_distribution<long long> pick(0, bound.count());
    return std::chrono::milliseconds(pick(random));
  }

  [[noreturn]] void throw_error(const Call& call, const Failure& last,
                                const std::vector<std::string>& failures) const {
    std::string message = describe(call) + " failed";
    if (failures.size() == 1 && !last.retryable) {
      message += ": " + failures.front();
    } else {
      // Retries ran out (max_attempts may be 1): say how many attempts were made, and each reason.
      message += " after " + std::to_string(failures.size()) + (failures.size() == 1 ? " attempt" : " attempts");
      for (std::size_t i = 0; i < failures.size(); ++i) {
        message += (i == 0 ? ": " : "; ");
        message += "attempt " + std::to_string(i + 1) + ": " + failures[i];
      }
    }
    const ErrorReply& reply = last.reply;
    if (!reply.request_id.empty()) message += " (request id " + reply.request_id + ")";

    switch (last.kind) {
      case FailureKind::network: throw NetworkError(message);
      case FailureKind::malformed: throw MalformedResponseError(message);
      case FailureKind::server: break;
    }
    const std::string& code = reply.code;
    const auto status = static_cast<int>(last.status);
    if (code == "NoSuchKey") throw NoSuchKeyError(message, status, code, reply.message, reply.request_id);
    if (code == "NoSuchBucket") {
      throw NoSuchBucketError(message, status, code, reply.message, reply.request_id);
    }
    if (code == "AccessDenied") {
      throw AccessDeniedError(message, status, code, reply.message, reply.request_id);
    }
    if (code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId") {
      throw AuthenticationError(message, status, code, reply.message, reply.request_id);
    }
    throw S3Error(message, status, code, reply.message, reply.request_id);
  }
};

Client::Client(ClientConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Client::~Client() = default;

Client::Impl& Client::impl() {
  if (!impl_) throw Error("S3 client used after it was moved from");
  return *impl_;
}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

void Client::put_object(std::string_view bucket, std::string_view key,
                        const std::vector<std::string_view>& body_pieces, const TransferProgress& progress) {
  Call call{"PutObject", "PUT", bucket, key};
  call.body = body_pieces;
  call.progress = progress;
  impl().execute(call);
}

void Client::put_object_from(std::string_view bucket, std::string_view key, std::string_view head,
                             std::uint64_t size, const ReadAt& source, const TransferProgress& progress) {
  Call call{"PutObject", "PUT", bucket, key};
  if (!head.empty()) call.body.push_back(head);
  call.source_size = size;
  call.source = source;
  call.progress = progress;
  impl().execute(call);
}

void Client::get_object_to(std::string_view bucket, std::string_view key, const BodySink& sink,
                           const TransferProgress& progress) {
  Call call{"GetObject", "GET", bucket, key};
  call.restart_sink = sink.restart;
  call.sink = sink.write;
  call.progress = progress;
  call.verify_object_body = true;
  impl().execute(call);
}

std::string Client::get_object(std::string_view bucket, std::string_view key, const TransferProgress& progress) {
  Call call{"GetObject", "GET", bucket, key};
  call.progress = progress;
  call.verify_object_body = true;
  return std::move(impl().execute(call).body);
}

void Client::delete_object(std::string_view bucket, std::string_view key) {
  impl().execute(Call{"DeleteObject", "DELETE", bucket, key});
}

ListResult Client::list_objects_v2(std::string_view bucket, const ListRequest& request) {
  Call call{"ListObjectsV2", "GET", bucket, std::nullopt};
  call.expects_xml = true;
  call.query.emplace_back("list-type", "2");
  // Raw keys could hold characters XML 1.0 cannot carry; encoded, every key comes back intact.
  call.query.emplace_back("encoding-type", "url");
  if (!request.prefix.empty()) call.query.emplace_back("prefix", request.prefix);
  if (request.max_keys > 0) call.query.emplace_back("max-keys", std::to_string(request.max_keys));
  if (!request.continuation_token.empty()) {
    call.query.emplace_back("continuation-token", request.continuation_token);
  }
  if (!request.start_after.empty()) call.query.emplace_back("start-after", request.start_after);
  HttpResponse response = impl().execute(call);
  try {
    return parse_list_objects_v2(response.body);
  } catch (const MalformedResponseError& error) {
    throw MalformedResponseError(impl().describe(call) + ": " + error.what());
  }
}

void Client::create_bucket(std::string_view bucket) {
  const std::string configuration = create_bucket_configuration(impl().config.region);
  Call call{"CreateBucket", "PUT", bucket, std::nullopt};
  if (!configuration.empty()) call.body.push_back(configuration);
  try {
    impl().execute(call);
  } catch (const S3Error& error) {
    if (error.code() != "BucketAlreadyOwnedByYou") throw;
  }
}

void rethrow_first_error(const BatchErrors& errors) {
  std::exception_ptr unsent;
  for (const std::exception_ptr& error : errors) {
    if (!error) continue;
    try {
      std::rethrow_exception(error);
    } catch (const RequestNotSentError&) {
      if (!unsent) unsent = error;
    } catch (...) {
      throw;
    }
  }
  if (unsent) std::rethrow_exception(unsent);
}

DeleteResult Client::delete_objects(std::string_view bucket, const std::vector<std::string>& keys) {
  Impl& impl = this->impl();
  std::vector<std::string> bodies;
  std::vector<std::string> checksums;
  for (std::size_t first = 0; first < keys.size(); first += kMaxKeysPerDelete) {
    const std::size_t count = std::min(kMaxKeysPerDelete, keys.size() - first);
    bodies.push_back(delete_request(keys, first, count, /*quiet=*/true));
    const std::string digest = md5(bodies.back());
    checksums.push_back(base64(reinterpret_cast<const unsigned char*>(digest.data()), digest.size()));
  }
  std::vector<Call> calls;
  calls.reserve(bodies.size());
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    Call& call = calls.emplace_back("DeleteObjects", "POST", bucket, std::nullopt);
    call.query.emplace_back("delete", "");
    // S3 refuses a DeleteObjects request without a checksum of its body.
    call.headers.emplace_back("content-md5", checksums[i]);
    call.body.push_back(bodies[i]);
    call.expects_xml = true;
  }
  // Kept per request, so that failures come out in the order of the keys.
  std::vector<std::vector<DeleteFailure>> failures(calls.size());
  BatchErrors errors;
  impl.execute_many(
      calls,
      [&](std::size_t i, HttpResponse&& response) {
        try {
          failures[i] = parse_delete_result(response.body);
        } catch (const MalformedResponseError& error) {
          throw MalformedResponseError(impl.describe(calls[i]) + ": " + error.what());
        }
      },
      errors, /*stop_at_failure=*/true);
  rethrow_first_error(errors);
  DeleteResult result;
  for (auto& some : failures) {
    for (DeleteFailure& failure : some) result.failures.push_back(std::move(failure));
  }
  return result;
}

BatchErrors Client::put_objects(std::string_view bucket, const std::vector<PutItem>& items) {
  std::vector<Call> calls;
  calls.reserve(items.size());
  for (const PutItem& item : items) {
    calls.emplace_back("PutObject", "PUT", bucket, item.key).body = item.body_pieces;
  }
  BatchErrors errors;
  impl().execute_many(calls, [](std::size_t, HttpResponse&&) {}, errors, /*stop_at_failure=*/true);
  return errors;
}

GetObjectsResult Client::get_objects(std::string_view bucket, const std::vector<std::string>& keys) {
  std::vector<Call> calls;
  calls.reserve(keys.size());
  for (const std::string& key : keys) {
    calls.emplace_back("GetObject", "GET", bucket, key).verify_object_body = true;
  }
  GetObjectsResult result;
  result.values.resize(keys.size());
  impl().execute_many(
      calls,
      [&](std::size_t i, HttpResponse&& response) { result.values[i] = std::move(response.body); },
      result.errors, /*stop_at_failure=*/true);
  for (std::exception_ptr& error : result.errors) {
    if (!error) continue;
    try {
      std::rethrow_exception(error);
    } catch (const NoSuchKeyError&) {
      error = nullptr;  // absent: values[i] stays nullopt
    } catch (...) {
    }
  }
  return result;
}

}  // namespace cshelve::s3
