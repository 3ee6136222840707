// Several HTTP transfers at once on one thread, over a libcurl multi handle.
//
// Open connections live in the multi handle's connection cache rather than in the easy handles,
// so they stay open from one batch to the next for as long as the HttpMulti lives. At most
// `max_connections` transfers run at once, each on a connection of its own (HTTP/1.1).
//
// It drives libcurl through curl_multi_socket_action: libcurl says which sockets to watch, one
// poll() waits on all of them, and only the transfers whose sockets are ready are moved on.
// (curl_multi_perform would check every running transfer's socket on every wake-up: a cost per
// request that grows with the number of connections.)
//
// Not thread-safe: one thread at a time drives an HttpMulti.
#ifndef CSHELVE_S3_HTTP_MULTI_HPP
#define CSHELVE_S3_HTTP_MULTI_HPP

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "s3/http.hpp"

struct pollfd;

namespace cshelve::s3 {

class HttpMulti {
 public:
  HttpMulti(HttpSettings settings, int max_connections);
  ~HttpMulti();
  HttpMulti(const HttpMulti&) = delete;
  HttpMulti& operator=(const HttpMulti&) = delete;

  std::size_t capacity() const noexcept { return slots_.size(); }
  std::size_t running() const noexcept { return running_; }

  // Starts `request` on a free connection; `tag` comes back with its outcome. The request must
  // stay alive and unchanged until then (or until abandon_all()). Requires running() < capacity().
  void start(const HttpRequest& request, std::size_t tag);

  // Moves the transfers on, waiting up to `timeout` for the network when none has ended yet, and
  // hands each transfer that ended to `done`, which may start new ones. With nothing running it
  // just waits out `timeout`. Throws StorageError when libcurl's multi interface fails as a whole.
  void run(std::chrono::milliseconds timeout, const std::function<void(std::size_t tag, HttpOutcome outcome)>& done);

  // Stops every transfer still running, without reporting it; their connections are closed.
  void abandon_all() noexcept;

 private:
  struct Slot {
    std::unique_ptr<HttpConnection> connection;  // created when first needed
    bool busy = false;
    std::size_t tag = 0;
  };
  struct MultiHandleDeleter {
    void operator()(void* handle) const noexcept;
  };
  // A socket libcurl wants watched, and for what (CURL_POLL_IN, _OUT or _INOUT).
  struct Watched {
    int socket;
    int what;
  };

  // What libcurl's socket and timer callbacks ask for.
  int watch(int socket, int what) noexcept;
  void set_timer(long timeout_ms) noexcept;
  // curl_multi_socket_action for a ready socket, or for libcurl's timers (CURL_SOCKET_TIMEOUT).
  void act(int socket, int events);
  void fire_timer_if_due();
  void collect(std::vector<std::pair<std::size_t, HttpOutcome>>& ended);

  HttpSettings settings_;
  // Declared first, destroyed last: the easy handles are cleaned up before the multi handle.
  std::unique_ptr<void, MultiHandleDeleter> multi_;
  std::vector<Slot> slots_;
  std::vector<std::size_t> free_slots_;
  std::size_t running_ = 0;
  std::vector<Watched> watched_;
  std::vector<struct pollfd> polled_;  // reused by each wait
  // When libcurl wants to be called for its own timers (timeouts, connection set-up); none if empty.
  std::optional<std::chrono::steady_clock::time_point> timer_;
  bool callback_failed_ = false;  // a callback could not record what libcurl asked (no memory)
  // Transfers that ended before reaching libcurl (an option refused), reported by the next run().
  std::vector<std::pair<std::size_t, HttpOutcome>> ended_early_;
};

}  // namespace cshelve::s3

#endif
