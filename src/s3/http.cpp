#include "s3/http.hpp"

#include <cshelve/errors.hpp>

#include <curl/curl.h>

#include <algorithm>
#include <limits>
#include <chrono>
#include <cstdint>
#include <exception>
#include <new>

#include "s3/http_transfer.hpp"
#include "util/ascii.hpp"
#include "util/digest.hpp"
#include "util/text.hpp"

namespace cshelve::s3 {
namespace {

void initialise_libcurl_once() {
  // curl_global_init is not thread-safe in every libcurl this may run with, and must run before
  // any easy handle exists: do it once, whoever gets here first.
  static std::once_flag once;
  static CURLcode status = CURLE_OK;
  std::call_once(once, [] { status = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (status != CURLE_OK) {
    throw StorageError(util::concat({"libcurl could not be initialised: ", curl_easy_strerror(status)}));
  }
}

// Bodies shorter than this go out with the request's headers (libcurl does so below 64 KiB).
constexpr curl_off_t kInlineBodyLimit = 64 * 1024;
constexpr long kTransferBufferSize = 512 * 1024;

struct SlistDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

void append_header(HeaderList& list, const std::string& line) {
  curl_slist* extended = curl_slist_append(list.get(), line.c_str());
  if (extended == nullptr) throw std::bad_alloc();
  list.release();  // curl_slist_append returned the same list, now one longer
  list.reset(extended);
}

bool is_retryable(CURLcode code) {
  switch (code) {
    // Mistakes in the request or the set-up, and TLS trust failures: the next attempt would
    // fail the same way.
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_WRITE_ERROR:
    case CURLE_READ_ERROR:
    case CURLE_SEND_FAIL_REWIND:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED: return false;
    default: return true;
  }
}

// Sets libcurl options and remembers the first one libcurl refused.
class OptionSetter {
 public:
  explicit OptionSetter(CURL* handle) : handle_(handle) {}

  template <typename Value>
  void operator()(CURLoption option, Value value) {
    const CURLcode code = curl_easy_setopt(handle_, option, value);
    if (code != CURLE_OK && first_error_ == CURLE_OK) first_error_ = code;
  }
  CURLcode first_error() const noexcept { return first_error_; }

 private:
  CURL* handle_;
  CURLcode first_error_ = CURLE_OK;
};

long whole_seconds_at_least_one(long milliseconds) {
  if (milliseconds <= 0) return 1;
  // Rounded up without adding first, which overflows for the largest timeouts; and no more than
  // libcurl can turn back into milliseconds in a long, or its low-speed check fires at once.
  constexpr long kLongest = std::numeric_limits<long>::max() / 1000;
  return std::clamp(milliseconds / 1000 + (milliseconds % 1000 != 0 ? 1 : 0), 1L, kLongest);
}

}  // namespace

const std::string* HttpResponse::header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return &value;
  }
  return nullptr;
}

void HttpConnection::EasyHandleDeleter::operator()(void* handle) const noexcept {
  curl_easy_cleanup(static_cast<CURL*>(handle));
}

HttpConnection::HttpConnection(const HttpSettings& settings) : settings_(settings) {
  initialise_libcurl_once();
  handle_.reset(curl_easy_init());
  if (!handle_) throw StorageError("libcurl could not create a connection handle");
}

HttpConnection::~HttpConnection() = default;

struct HttpConnection::Active {
  detail::Transfer transfer;
  HttpOutcome outcome;
  HeaderList headers;
  detail::DigestContexts digests;  // kept from one request to the next
  std::string inline_body;         // a small body in several pieces, joined
  char error_text[CURL_ERROR_SIZE] = {};
  CURLcode refused = CURLE_OK;  // the first option libcurl refused
};

void HttpConnection::ActiveDeleter::operator()(Active* active) const noexcept { delete active; }

HttpOutcome HttpConnection::perform(const HttpRequest& request) {
  if (!begin(request)) return finish(CURLE_OK);
  return finish(curl_easy_perform(static_cast<CURL*>(handle_.get())));
}

bool HttpConnection::begin(const HttpRequest& request) {
  CURL* curl = static_cast<CURL*>(handle_.get());
  // A reset clears every option of the previous request but keeps the handle's open
  // connections, which is what makes reuse cheap.
  curl_easy_reset(curl);

  // Options and callbacks point into this state, so it lives on the heap with the connection
  // rather than on a stack frame that a multi handle would outlive.
  if (!active_) active_.reset(new Active);
  Active& active = *active_;
  static const RequestBody kNoBody;
  const RequestBody& body = request.body != nullptr ? *request.body : kNoBody;
  active.transfer = detail::Transfer{};
  active.transfer.body = &body;
  active.transfer.request = &request;
  active.transfer.response = &active.outcome.response;
  active.transfer.handle = curl;
  // Compared in nanoseconds later on: past 1e7 s (the configuration's limit) it would overflow.
  active.transfer.read_timeout =
      std::chrono::milliseconds(std::clamp<long long>(settings_.read_timeout_ms, 1, 10'000'000'000LL));
  active.transfer.progress = request.progress;
  active.transfer.digest_contexts = &active.digests;
  active.outcome = HttpOutcome{};
  active.headers.reset();
  active.error_text[0] = '\0';
  active.refused = CURLE_OK;

  curl_off_t body_size = body.source ? static_cast<curl_off_t>(body.source_size) : 0;
  for (std::string_view piece : body.pieces) body_size += static_cast<curl_off_t>(piece.size());

  const bool with_body = request.method == "PUT" || request.method == "POST" || body_size > 0;
  // A small body goes out with the headers, in one send (libcurl's POSTFIELDS mode, the method
  // kept by CUSTOMREQUEST): the upload mode sends it apart, which costs a system call and a
  // wait for the socket on every small PUT. A body in several pieces is copied for it, a few KiB.
  const bool inline_body = with_body && body_size < kInlineBodyLimit && !body.source;

  bool has_content_type = false;
  std::string line;  // one buffer for every line: libcurl keeps its own copy
  for (const auto& [name, value] : request.headers) {
    line.assign(name).append(": ").append(value);
    append_header(active.headers, line);
    has_content_type = has_content_type || util::equals_lower_ascii(name, "content-type");
  }
  // libcurl would otherwise ask for 100-continue before larger bodies, a round trip for nothing
  // (and some S3-compatible servers handle it badly).
  append_header(active.headers, "Expect:");
  // POSTFIELDS would add a form Content-Type nobody asked for.
  if (inline_body && !has_content_type) append_header(active.headers, "Content-Type:");

  OptionSetter set(curl);
  set(CURLOPT_URL, request.url.c_str());
  // The path must reach the server byte for byte as it was signed: without this libcurl would
  // resolve "/./" and "/../" segments, which are ordinary parts of S3 keys.
  set(CURLOPT_PATH_AS_IS, 1L);
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  set(CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM, so other threads are undisturbed
  set(CURLOPT_TCP_KEEPALIVE, 1L);
  set(CURLOPT_ERRORBUFFER, active.error_text);
  set(CURLOPT_HTTPHEADER, active.headers.get());
  set(CURLOPT_CONNECTTIMEOUT_MS, std::max(0L, settings_.connect_timeout_ms));
  // The read timeout is enforced by on_transfer_info. libcurl's low-speed check (fewer than 1 byte
  // per second, averaged, for that many seconds) stays as a backstop, and because it makes libcurl
  // wake up every second even when nothing moves, which is what calls on_transfer_info then.
  // A trickle slower than min_speed for as long ends the transfer too (CURLE_OPERATION_TIMEDOUT).
  set(CURLOPT_LOW_SPEED_LIMIT, std::max(1L, settings_.min_speed));
  set(CURLOPT_LOW_SPEED_TIME, whole_seconds_at_least_one(settings_.read_timeout_ms));
  // The whole attempt's deadline: the two checks above each look at a window of time only.
  if (settings_.total_timeout_ms > 0) set(CURLOPT_TIMEOUT_MS, settings_.total_timeout_ms);
  set(CURLOPT_XFERINFOFUNCTION, &detail::on_transfer_info);
  set(CURLOPT_XFERINFODATA, static_cast<void*>(&active.transfer));
  set(CURLOPT_NOPROGRESS, 0L);
  if (settings_.verify_tls) {
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    if (!settings_.ca_bundle.empty()) set(CURLOPT_CAINFO, settings_.ca_bundle.c_str());
  } else {
    set(CURLOPT_SSL_VERIFYPEER, 0L);
    set(CURLOPT_SSL_VERIFYHOST, 0L);
  }

  set(CURLOPT_HEADERFUNCTION, &detail::receive_header);
  set(CURLOPT_HEADERDATA, &active.transfer);
  set(CURLOPT_WRITEFUNCTION, &detail::write_body);
  set(CURLOPT_WRITEDATA, &active.transfer);

  if (request.method == "GET") {
    set(CURLOPT_HTTPGET, 1L);
    // Large bodies then arrive in fewer, larger reads (libcurl's default is 16 KiB). libcurl
    // allocates the buffer once per connection, and a small reply touches only what it fills.
    set(CURLOPT_BUFFERSIZE, kTransferBufferSize);
  } else if (inline_body) {
    const char* inline_data = "";
    if (body.pieces.size() == 1) {
      inline_data = body.pieces.front().data();
    } else if (body_size > 0) {
      active.inline_body.clear();
      for (std::string_view piece : body.pieces) active.inline_body.append(piece);
      inline_data = active.inline_body.data();
    }
    set(CURLOPT_POSTFIELDSIZE_LARGE, body_size);
    set(CURLOPT_POSTFIELDS, inline_data);
    set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else if (with_body) {
    // The upload mode sends a large body from the read callback, piece after piece, with a
    // Content-Length, for any method.
    set(CURLOPT_UPLOAD, 1L);
    set(CURLOPT_INFILESIZE_LARGE, body_size);
    // Fewer, larger reads of the body, as for downloads (libcurl's default is 64 KiB).
    set(CURLOPT_UPLOAD_BUFFERSIZE, kTransferBufferSize);
    set(CURLOPT_READFUNCTION, &detail::read_body);
    set(CURLOPT_READDATA, &active.transfer);
    set(CURLOPT_SEEKFUNCTION, &detail::seek_body);
    set(CURLOPT_SEEKDATA, &active.transfer);
    if (request.method != "PUT") set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else {
    set(CURLOPT_HTTPGET, 1L);
    set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  active.refused = set.first_error();
  return active.refused == CURLE_OK;
}

HttpOutcome HttpConnection::finish(int curl_code) {
  CURL* curl = static_cast<CURL*>(handle_.get());
  Active& active = *active_;
  // libcurl must not keep pointing at the header list freed below.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  HttpOutcome outcome = std::move(active.outcome);
  if (active.refused != CURLE_OK) {
    outcome.failure = TransportFailure{
        util::concat({"libcurl refused an option: ", curl_easy_strerror(active.refused)}), false, false};
    active.headers.reset();
    return outcome;
  }

  const auto code = static_cast<CURLcode>(curl_code);
  double seconds = 0;
  if (curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &seconds) == CURLE_OK) outcome.seconds = seconds;
  active.headers.reset();

  if (active.transfer.out_of_memory) throw std::bad_alloc();
  if (active.transfer.progress_error) std::rethrow_exception(active.transfer.progress_error);
  if (active.transfer.io_error) std::rethrow_exception(active.transfer.io_error);
  if (active.transfer.too_large) {
    TransportFailure failure{util::concat({"reply body longer than the ", std::to_string(kMaxBufferedReplyBytes >> 20),
                                           " MiB a reply kept in memory may hold"}),
                             false, false};
    failure.malformed = true;
    outcome.failure = std::move(failure);
    return outcome;
  }
  if (code == CURLE_ABORTED_BY_CALLBACK && active.transfer.stalled) {
    outcome.failure =
        TransportFailure{util::concat({"no data moved for ", std::to_string(active.transfer.read_timeout.count()),
                                       " ms (read timeout)"}),
                         true, true};
    return outcome;
  }
  if (code != CURLE_OK) {
    std::string message = active.error_text[0] != '\0' ? std::string(active.error_text) : curl_easy_strerror(code);
    if (code == CURLE_OPERATION_TIMEDOUT) {
      // Which limit ended it, in the provider parameters' terms.
      message += util::concat({" (limits per attempt: ", std::to_string(settings_.total_timeout_ms / 1000),
                               " s in all, at least ", std::to_string(settings_.min_speed), " bytes/s over ",
                               std::to_string(whole_seconds_at_least_one(settings_.read_timeout_ms)), " s)"});
    }
    outcome.failure = TransportFailure{std::move(message), code == CURLE_OPERATION_TIMEDOUT, is_retryable(code)};
    return outcome;
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  outcome.response.status = status;
  if (active.transfer.md5 != nullptr && !active.transfer.md5_failed) {
    outcome.response.body_md5 = active.transfer.md5->finish();
  }
  if (active.transfer.crc != nullptr) outcome.response.body_crc = *active.transfer.crc;
  return outcome;
}

}  // namespace cshelve::s3
