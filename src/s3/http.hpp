// HTTP over libcurl, just what the S3 client needs: one request at a time per connection, the
// body sent from pieces and the reply written straight into a string, connections kept alive
// between requests, and a pool of connections shared by the threads of one client.
#ifndef CSHELVE_S3_HTTP_HPP
#define CSHELVE_S3_HTTP_HPP

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/crc.hpp"
#include "util/stream.hpp"

namespace cshelve::s3 {

struct HttpSettings {
  bool verify_tls = true;
  std::string ca_bundle;  // empty: the system's CAs
  long connect_timeout_ms = 60000;
  long read_timeout_ms = 60000;  // no byte moved for this long ends the transfer
  // A whole attempt, connection to last byte, ends after this long (0: never), however steadily
  // bytes trickle in; and one moving slower than `min_speed` bytes a second for read_timeout_ms
  // ends sooner. Both end in a timed-out TransportFailure.
  long total_timeout_ms = 0;
  long min_speed = 1;
};

// The most a reply body kept in memory may hold (listings, error documents, other XML replies):
// far above any real S3 reply (a 1,000-key listing of 1,024-byte keys, each escaped three bytes a
// byte, stays under 4 MiB), so that an endless or huge reply costs a clear error, not the host's
// memory. A GetObject body kept in memory (HttpRequest::large_body) has no such ceiling.
constexpr std::size_t kMaxBufferedReplyBytes = 16u << 20;

// A request's body: the pieces, sent one after another, then `source_size` more bytes read from
// `source` (a file) rather than from memory. libcurl may read a range again when it has to resend.
struct RequestBody {
  std::vector<std::string_view> pieces;
  std::uint64_t source_size = 0;
  util::ReadAt source;  // read only when source_size > 0 and set
};

// The digests a reply body may be hashed with as it arrives (HttpResponse::body_md5, body_crc).
struct BodyDigests {
  bool md5 = false;
  std::optional<util::CrcKind> crc;
};

struct HttpResponse;

struct HttpRequest {
  std::string method;  // GET, PUT, POST, DELETE
  // The full URL, path and query already encoded: it is sent exactly as given.
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // sent as given, Host included
  // Where the body comes from; none when null. Pointed at, not copied: a retry sends the same one.
  const RequestBody* body = nullptr;
  // Takes the body of a 2xx reply as it arrives, instead of HttpResponse::body (an error document
  // still lands in `body`). What it throws ends the transfer and comes out of finish(). Restarting
  // it before an attempt is the caller's business.
  util::ByteSink* sink = nullptr;
  // Called as bytes move: (done, total) of the body sent, or else of the reply received. May be
  // null or empty.
  const std::function<void(std::uint64_t done, std::uint64_t total)>* progress = nullptr;
  // Chooses the digests of a 2xx reply body, once its headers are in and before its first byte:
  // the body is then hashed as it arrives, so that a large one is checked while the network
  // delivers it, in one pass, against whatever its headers offer. Empty: no digest. What it
  // throws ends the transfer and comes out of finish().
  std::function<BodyDigests(const HttpResponse& head)> choose_body_digests;
  // A 2xx reply body kept in memory may be larger than kMaxBufferedReplyBytes (GetObject). Room
  // for it grows as its bytes arrive, whatever length the reply announced.
  bool large_body = false;
};

struct HttpResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;
  std::uint64_t body_size = 0;        // bytes of body received, whether kept in `body` or given to the sink
  std::string body_md5;               // the body's MD5 (16 bytes) when chosen (choose_body_digests)
  std::optional<util::Crc> body_crc;  // the body's CRC when chosen, of the kind chosen

  // The first header of that (lower-case) name; nullptr when absent.
  const std::string* header(std::string_view lower_case_name) const;
};

// Why a request got no complete reply.
struct TransportFailure {
  std::string message;  // libcurl's description; names host and port, never a header
  bool timed_out = false;
  bool retryable = false;  // transient (refused, reset, timed out...), not a TLS or usage error
  bool malformed = false;  // the reply broke a limit (kMaxBufferedReplyBytes): not the network's fault
};

struct HttpOutcome {
  HttpResponse response;  // complete when `failure` is empty
  std::optional<TransportFailure> failure;
  double seconds = 0;  // time the request took
};

// One libcurl easy handle. Reusing it for the next request reuses its open connection.
class HttpConnection {
 public:
  explicit HttpConnection(const HttpSettings& settings);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  HttpOutcome perform(const HttpRequest& request);

  // perform() in two halves, so that a multi handle (HttpMulti) can drive several connections at
  // once: begin() sets the transfer up and finish() collects it once libcurl reports it done with
  // `curl_code`. The request must stay alive and unchanged in between. When begin() returns false
  // libcurl refused an option: the transfer must not be run, and finish() reports why.
  bool begin(const HttpRequest& request);
  HttpOutcome finish(int curl_code);
  // The libcurl easy handle (CURL*), for the multi handle that runs it.
  void* native_handle() const noexcept { return handle_.get(); }

 private:
  struct EasyHandleDeleter {
    void operator()(void* handle) const noexcept;
  };
  struct Active;  // what libcurl's callbacks and options point at while a transfer runs
  struct ActiveDeleter {
    void operator()(Active* active) const noexcept;
  };
  HttpSettings settings_;
  // Declared first so that it is destroyed last: the easy handle may point into it until then.
  std::unique_ptr<Active, ActiveDeleter> active_;
  std::unique_ptr<void, EasyHandleDeleter> handle_;
};

// Up to `max_connections` connections, created when first needed and kept for reuse.
class HttpConnectionPool {
 public:
  HttpConnectionPool(HttpSettings settings, int max_connections);
  HttpConnectionPool(const HttpConnectionPool&) = delete;
  HttpConnectionPool& operator=(const HttpConnectionPool&) = delete;

  // A connection borrowed from the pool, given back when the lease ends.
  class Lease {
   public:
    Lease(HttpConnectionPool& pool, std::unique_ptr<HttpConnection> connection);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    HttpConnection& operator*() const noexcept { return *connection_; }
    HttpConnection* operator->() const noexcept { return connection_.get(); }

   private:
    HttpConnectionPool& pool_;
    std::unique_ptr<HttpConnection> connection_;
  };

  // Waits while every connection is in use.
  Lease acquire();

 private:
  void give_back(std::unique_ptr<HttpConnection> connection) noexcept;

  HttpSettings settings_;
  std::size_t max_connections_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<HttpConnection>> idle_;
  std::size_t created_ = 0;
};

}  // namespace cshelve::s3

#endif
