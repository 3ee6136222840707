#include "s3/http.hpp"

#include <cshelve/errors.hpp>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <new>

namespace cshelve::s3 {
namespace {

void initialise_libcurl_once() {
  // curl_global_init is not thread-safe in every libcurl this may run with, and must run before
  // any easy handle exists: do it once, whoever gets here first.
  static std::once_flag once;
  static CURLcode status = CURLE_OK;
  std::call_once(once, [] { status = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (status != CURLE_OK) {
    throw StorageError(std::string("libcurl could not be initialised: ") +
                       curl_easy_strerror(status));
  }
}

// Bodies shorter than this go out with the request's headers (libcurl does so below 64 KiB).
constexpr curl_off_t kInlineBodyLimit = 64 * 1024;
constexpr long kTransferBufferSize = 512 * 1024;

// Fetched once: looking the algorithm up in OpenSSL's provider store on every request would cost
// more than hashing a small body.
const EVP_MD* md5_algorithm() {
  struct Deleter {
    void operator()(EVP_MD* md) const noexcept { EVP_MD_free(md); }
  };
  static const std::unique_ptr<EVP_MD, Deleter> algorithm(EVP_MD_fetch(nullptr, "MD5", nullptr));
  if (!algorithm) throw StorageError("MD5 is not available from OpenSSL");
  return algorithm.get();
}

struct DigestContextDeleter {
  void operator()(EVP_MD_CTX* context) const noexcept { EVP_MD_CTX_free(context); }
};

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

// State shared with libcurl's callbacks for one transfer. The callbacks are called from C, so
// they never let an exception out: they note what went wrong and tell libcurl to stop.
struct Transfer {
  const std::vector<std::string_view>* body_pieces = nullptr;
  std::size_t piece = 0;   // the piece being sent
  std::size_t offset = 0;  // bytes of it already sent
  const HttpRequest* request = nullptr;  // for its source and sink
  std::uint64_t source_offset = 0;       // bytes of the source already sent
  int to_sink = -1;  // whether the reply body goes to the request's sink (-1: not known yet)
  std::exception_ptr io_error;  // what the source or the sink threw
  HttpResponse* response = nullptr;
  bool out_of_memory = false;
  EVP_MD_CTX* md5 = nullptr;  // hashes the body as it arrives, when asked to
  bool md5_failed = false;

  // The read timeout: the transfer is abandoned once no byte has moved, either way, for this
  // long after the connection was ready.
  void* handle = nullptr;  // the CURL* running this transfer
  std::chrono::milliseconds read_timeout{0};
  bool started = false;  // connected, the request on its way
  curl_off_t moved = 0;  // bytes sent and received so far
  std::chrono::steady_clock::time_point last_moved;
  bool stalled = false;  // abandoned for the read timeout

  const std::function<void(std::uint64_t, std::uint64_t)>* progress = nullptr;  // the caller's
  std::exception_ptr progress_error;  // what the caller's progress callback threw
};

std::size_t read_body(char* buffer, std::size_t size, std::size_t count, void* user) noexcept {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::size_t room = size * count;
  std::size_t written = 0;
  const auto& pieces = *transfer.body_pieces;
  while (written < room && transfer.piece < pieces.size()) {
    std::string_view piece = pieces[transfer.piece];
    const std::size_t n = std::min(room - written, piece.size() - transfer.offset);
    if (n > 0) std::memcpy(buffer + written, piece.data() + transfer.offset, n);
    written += n;
    transfer.offset += n;
    if (transfer.offset == piece.size()) {
      ++transfer.piece;
      transfer.offset = 0;
    }
  }
  const HttpRequest& request = *transfer.request;
  if (written < room && request.source && transfer.source_offset < request.source_size) {
    try {
      const std::size_t got =
          read_source(request.source, request.source_size, transfer.source_offset, buffer + written, room - written);
      transfer.source_offset += got;
      written += got;
    } catch (...) {
      transfer.io_error = std::current_exception();
      return CURL_READFUNC_ABORT;
    }
  }
  return written;
}

// libcurl rewinds the body when it must send the request again on a fresh connection (a kept-
// alive one that the server had closed); without this, that case fails the request.
int seek_body(void* user, curl_off_t position, int origin) noexcept {
  auto& transfer = *static_cast<Transfer*>(user);
  if (origin != SEEK_SET || position < 0) return CURL_SEEKFUNC_CANTSEEK;
  auto remaining = static_cast<std::uint64_t>(position);
  const auto& pieces = *transfer.body_pieces;
  std::size_t piece = 0;
  while (piece < pieces.size() && remaining >= pieces[piece].size()) {
    remaining -= pieces[piece].size();
    ++piece;
  }
  transfer.source_offset = 0;
  if (piece == pieces.size() && remaining > 0) {
    if (remaining > transfer.request->source_size) return CURL_SEEKFUNC_FAIL;
    transfer.source_offset = remaining;
    remaining = 0;
  }
  transfer.piece = piece;
  transfer.offset = static_cast<std::size_t>(remaining);
  return CURL_SEEKFUNC_OK;
}

std::size_t write_body(char* data, std::size_t size, std::size_t count, void* user) noexcept {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  if (transfer.to_sink < 0) {
    // The first byte of a body is that of the final reply (interim replies carry none).
    long status = 0;
    curl_easy_getinfo(static_cast<CURL*>(transfer.handle), CURLINFO_RESPONSE_CODE, &status);
    transfer.to_sink = transfer.request->sink && status >= 200 && status < 300 ? 1 : 0;
  }
  try {
    if (transfer.to_sink == 1) {
      transfer.request->sink(data, n);
    } else {
      transfer.response->body.append(data, n);
    }
  } catch (const std::bad_alloc&) {
    transfer.out_of_memory = true;
    return 0;  // anything but n aborts the transfer
  } catch (...) {
    transfer.io_error = std::current_exception();
    return 0;
  }
  transfer.response->body_size += n;
  if (transfer.md5 != nullptr && EVP_DigestUpdate(transfer.md5, data, n) != 1) transfer.md5_failed = true;
  return n;
}

// ASCII only, without the locale: header names are ASCII, and std::tolower is a call per byte.
constexpr char lower_ascii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ignoring_case(std::string_view text, std::string_view lower_case_word) {
  if (text.size() != lower_case_word.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (lower_ascii(text[i]) != lower_case_word[i]) return false;
  }
  return true;
}

constexpr bool is_header_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_header_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_header_space(text.back())) text.remove_suffix(1);
  return text;
}

// A large body fills fresh memory front to back, a page fault every 4 KiB: for 256 MiB a tenth of
// the client's CPU time. Asking the kernel for all the pages at once (Linux 5.14 and later; a
// no-op elsewhere) spares the faults; the memory is the same, since the body will fill it.
void prefault(char* data, std::size_t size) noexcept {
#ifdef MADV_POPULATE_WRITE
  constexpr std::size_t kWorthIt = 8u << 20;
  constexpr std::uintptr_t kPage = 4096;
  if (size < kWorthIt) return;
  const auto start = (reinterpret_cast<std::uintptr_t>(data) + kPage - 1) & ~(kPage - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + size) & ~(kPage - 1);
  if (end > start) ::madvise(reinterpret_cast<void*>(start), end - start, MADV_POPULATE_WRITE);
#else
  (void)data;
  (void)size;
#endif
}

void reserve_for_content_length(std::string& body, std::string_view value) noexcept {
  if (value.empty() || value.find_first_not_of("0123456789") != std::string_view::npos) return;
  if (value.size() > 18) return;  // beyond any length this process could hold
  unsigned long long length = 0;
  for (char digit : value) length = length * 10 + static_cast<unsigned>(digit - '0');
  if (length > body.max_size()) return;
  try {
    body.reserve(static_cast<std::size_t>(length));
  } catch (...) {
    // A length too large to reserve is left to grow as the bytes arrive, and fail there if it must.
    return;
  }
  prefault(body.data(), body.capacity());
}

std::size_t receive_header(char* data, std::size_t size, std::size_t count, void* user) noexcept {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  std::string_view line(data, n);
  try {
    HttpResponse& response = *transfer.response;
    if (line.rfind("HTTP/", 0) == 0) {
      // A new status line: whatever came before belonged to an interim (1xx) reply.
      response.headers.clear();
      return n;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return n;  // the blank line that ends the headers
    const std::string_view raw_name = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    auto& [name, stored_value] = response.headers.emplace_back(raw_name, value);
    for (char& c : name) c = lower_ascii(c);
    // A body bound for the sink needs no room here (an error document is small).
    if (name == "content-length" && !transfer.request->sink) reserve_for_content_length(response.body, stored_value);
  } catch (...) {
    transfer.out_of_memory = true;
    return 0;
  }
  return n;
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
    case CURLE_SSL_ENGINE_INITFAILED:
      return false;
    default:
      return true;
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

// libcurl calls this as bytes move and, while nothing moves, about once a second (the low-speed
// check below keeps such a wake-up scheduled even inside a multi handle). It enforces the read
// timeout and passes progress on to the caller's callback.
int on_transfer_info(void* user, curl_off_t download_total, curl_off_t download_now,
                     curl_off_t upload_total, curl_off_t upload_now) noexcept {
  auto& transfer = *static_cast<Transfer*>(user);
  const auto now = std::chrono::steady_clock::now();
  const curl_off_t moved = download_now + upload_now;
  if (!transfer.started) {
    // Until the connection is ready the connect timeout is the one that applies.
    curl_off_t ready_after = 0;
    if (curl_easy_getinfo(static_cast<CURL*>(transfer.handle), CURLINFO_PRETRANSFER_TIME_T, &ready_after) ==
            CURLE_OK &&
        ready_after > 0) {
      transfer.started = true;
      transfer.moved = moved;
      transfer.last_moved = now;
    }
  } else if (moved != transfer.moved) {
    transfer.moved = moved;
    transfer.last_moved = now;
  } else if (now - transfer.last_moved >= transfer.read_timeout) {
    // libcurl's own low-speed check averages over several seconds, so an upload followed by
    // silence kept a transfer alive long after the read timeout; this counts the silence itself.
    transfer.stalled = true;
    return 1;  // abort: CURLE_ABORTED_BY_CALLBACK
  }
  if (transfer.progress != nullptr && *transfer.progress) {
    try {
      if (upload_total > 0) {
        (*transfer.progress)(static_cast<std::uint64_t>(upload_now), static_cast<std::uint64_t>(upload_total));
      } else if (download_now > 0 || download_total > 0) {
        (*transfer.progress)(static_cast<std::uint64_t>(download_now), static_cast<std::uint64_t>(download_total));
      }
    } catch (...) {
      // An exception must not cross libcurl's C frames: it is rethrown once the transfer ends.
      transfer.progress_error = std::current_exception();
      return 1;
    }
  }
  return 0;
}

long whole_seconds_at_least_one(long milliseconds) {
  if (milliseconds <= 0) return 1;
  // Rounded up without adding first, which overflows for the largest timeouts; and no more than
  // libcurl can turn back into milliseconds in a long, or its low-speed check fires at once.
  constexpr long kLongest = std::numeric_limits<long>::max() / 1000;
  return std::clamp(milliseconds / 1000 + (milliseconds % 1000 != 0 ? 1 : 0), 1L, kLongest);
}

}  // namespace

std::size_t read_source(const HttpRequest::Source& source, std::uint64_t size, std::uint64_t offset,
                        char* buffer, std::size_t room) {
  const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(room, size - offset));
  const std::size_t got = source(offset, buffer, wanted);
  if (got == 0 && wanted > 0) {
    throw StorageError("the body ended " + std::to_string(size - offset) + " bytes before its announced length");
  }
  return got;
}

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
  Transfer transfer;
  HttpOutcome outcome;
  HeaderList headers;
  std::unique_ptr<EVP_MD_CTX, DigestContextDeleter> md5;  // kept from one request to the next
  std::string inline_body;  // a small body in several pieces, joined
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
  active.transfer = Transfer{};
  active.transfer.body_pieces = &request.body_pieces;
  active.transfer.request = &request;
  active.transfer.response = &active.outcome.response;
  active.transfer.handle = curl;
  // Compared in nanoseconds later on: past 1e7 s (the configuration's limit) it would overflow.
  active.transfer.read_timeout =
      std::chrono::milliseconds(std::clamp<long long>(settings_.read_timeout_ms, 1, 10'000'000'000LL));
  active.transfer.progress = &request.progress;
  if (request.md5_of_body) {
    if (!active.md5) active.md5.reset(EVP_MD_CTX_new());
    if (!active.md5 || EVP_DigestInit_ex(active.md5.get(), md5_algorithm(), nullptr) != 1) {
      throw StorageError("MD5 is not available from OpenSSL");
    }
    active.transfer.md5 = active.md5.get();
  }
  active.outcome = HttpOutcome{};
  active.headers.reset();
  active.error_text[0] = '\0';
  active.refused = CURLE_OK;

  curl_off_t body_size = request.source ? static_cast<curl_off_t>(request.source_size) : 0;
  for (std::string_view piece : request.body_pieces) body_size += static_cast<curl_off_t>(piece.size());

  const bool with_body = request.method == "PUT" || request.method == "POST" || body_size > 0;
  // A small body goes out with the headers, in one send (libcurl's POSTFIELDS mode, the method
  // kept by CUSTOMREQUEST): the upload mode sends it apart, which costs a system call and a
  // wait for the socket on every small PUT. A body in several pieces is copied for it, a few KiB.
  const bool inline_body = with_body && body_size < kInlineBodyLimit && !request.source;

  bool has_content_type = false;
  std::string line;  // one buffer for every line: libcurl keeps its own copy
  for (const auto& [name, value] : request.headers) {
    line.assign(name).append(": ").append(value);
    append_header(active.headers, line);
    has_content_type = has_content_type || equals_ignoring_case(name, "content-type");
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
  set(CURLOPT_LOW_SPEED_LIMIT, 1L);
  set(CURLOPT_LOW_SPEED_TIME, whole_seconds_at_least_one(settings_.read_timeout_ms));
  set(CURLOPT_XFERINFOFUNCTION, &on_transfer_info);
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

  set(CURLOPT_HEADERFUNCTION, &receive_header);
  set(CURLOPT_HEADERDATA, &active.transfer);
  set(CURLOPT_WRITEFUNCTION, &write_body);
  set(CURLOPT_WRITEDATA, &active.transfer);

  if (request.method == "GET") {
    set(CURLOPT_HTTPGET, 1L);
    // Large bodies then arrive in fewer, larger reads (libcurl's default is 16 KiB). libcurl
    // allocates the buffer once per connection, and a small reply touches only what it fills.
    set(CURLOPT_BUFFERSIZE, kTransferBufferSize);
  } else if (inline_body) {
    const char* body = "";
    if (request.body_pieces.size() == 1) {
      body = request.body_pieces.front().data();
    } else if (body_size > 0) {
      active.inline_body.clear();
      for (std::string_view piece : request.body_pieces) active.inline_body.append(piece);
      body = active.inline_body.data();
    }
    set(CURLOPT_POSTFIELDSIZE_LARGE, body_size);
    set(CURLOPT_POSTFIELDS, body);
    set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else if (with_body) {
    // The upload mode sends a large body from the read callback, piece after piece, with a
    // Content-Length, for any method.
    set(CURLOPT_UPLOAD, 1L);
    set(CURLOPT_INFILESIZE_LARGE, body_size);
    // Fewer, larger reads of the body, as for downloads (libcurl's default is 64 KiB).
    set(CURLOPT_UPLOAD_BUFFERSIZE, kTransferBufferSize);
    set(CURLOPT_READFUNCTION, &read_body);
    set(CURLOPT_READDATA, &active.transfer);
    set(CURLOPT_SEEKFUNCTION, &seek_body);
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
        std::string("libcurl refused an option: ") + curl_easy_strerror(active.refused), false,
        false};
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
  if (code == CURLE_ABORTED_BY_CALLBACK && active.transfer.stalled) {
    outcome.failure = TransportFailure{"no data moved for " + std::to_string(active.transfer.read_timeout.count()) +
                                           " ms (read timeout)",
                                       true, true};
    return outcome;
  }
  if (code != CURLE_OK) {
    std::string message =
        active.error_text[0] != '\0' ? std::string(active.error_text) : curl_easy_strerror(code);
    outcome.failure = TransportFailure{std::move(message), code == CURLE_OPERATION_TIMEDOUT,
                                       is_retryable(code)};
    return outcome;
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  outcome.response.status = status;
  if (active.transfer.md5 != nullptr && !active.transfer.md5_failed) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(active.transfer.md5, digest, &length) == 1) {
      outcome.response.body_md5.assign(reinterpret_cast<const char*>(digest), length);
    }
  }
  return outcome;
}

HttpConnectionPool::HttpConnectionPool(HttpSettings settings, int max_connections)
    : settings_(std::move(settings)),
      max_connections_(static_cast<std::size_t>(std::max(1, max_connections))) {
  // give_back() must not allocate: it runs in destructors.
  idle_.reserve(max_connections_);
}

HttpConnectionPool::Lease::Lease(HttpConnectionPool& pool,
                                 std::unique_ptr<HttpConnection> connection)
    : pool_(pool), connection_(std::move(connection)) {}

HttpConnectionPool::Lease::~Lease() { pool_.give_back(std::move(connection_)); }

HttpConnectionPool::Lease HttpConnectionPool::acquire() {
  std::unique_lock<std::mutex> lock(mutex_);
  returned_.wait(lock, [this] { return !idle_.empty() || created_ < max_connections_; });
  if (!idle_.empty()) {
    std::unique_ptr<HttpConnection> connection = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(connection));
  }
  ++created_;
  lock.unlock();
  try {
    return Lease(*this, std::make_unique<HttpConnection>(settings_));
  } catch (...) {
    lock.lock();
    --created_;
    returned_.notify_one();
    throw;
  }
}

void HttpConnectionPool::give_back(std::unique_ptr<HttpConnection> connection) noexcept {
  if (!connection) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(std::move(connection));  // within the capacity reserved up front
  }
  returned_.notify_one();
}

}  // namespace cshelve::s3
