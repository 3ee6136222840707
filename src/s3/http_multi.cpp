#include "s3/http_multi.hpp"
#include "util/text.hpp"

#include <cshelve/errors.hpp>

#include <curl/curl.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <new>
#include <string>
#include <thread>

namespace cshelve::s3 {
namespace {

[[noreturn]] void throw_multi_error(const char* what, CURLMcode code) {
  throw StorageError(util::concat({"libcurl's multi interface failed to ", what, ": ", curl_multi_strerror(code)}));
}

short poll_events(int what) {
  short events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= POLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= POLLOUT;
  return events;
}

int curl_events(short revents) {
  int events = 0;
  if ((revents & (POLLIN | POLLHUP)) != 0) events |= CURL_CSELECT_IN;
  if ((revents & POLLOUT) != 0) events |= CURL_CSELECT_OUT;
  if ((revents & (POLLERR | POLLNVAL)) != 0) events |= CURL_CSELECT_ERR;
  return events;
}

}  // namespace

void HttpMulti::MultiHandleDeleter::operator()(void* handle) const noexcept {
  curl_multi_cleanup(static_cast<CURLM*>(handle));
}

HttpMulti::HttpMulti(HttpSettings settings, int max_connections)
    : settings_(std::move(settings)), slots_(static_cast<std::size_t>(std::max(1, max_connections))) {
  // The first connection is made now: creating it sets libcurl up, which the multi handle needs.
  slots_[0].connection = std::make_unique<HttpConnection>(settings_);
  multi_.reset(curl_multi_init());
  if (!multi_) throw StorageError("libcurl could not create a multi handle");
  CURLM* multi = static_cast<CURLM*>(multi_.get());
  const long limit = static_cast<long>(slots_.size());
  // As many connections as transfers, and as many kept open for the next batch. One host
  // normally, but a client may address several buckets by host name.
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, limit);
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, limit);
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, limit);
  // The callbacks are captureless lambdas: function pointers of exactly libcurl's types, with
  // access to this class.
  const curl_socket_callback socket_callback = [](CURL*, curl_socket_t socket, int what, void* self, void*) -> int {
    return static_cast<HttpMulti*>(self)->watch(static_cast<int>(socket), what);
  };
  const curl_multi_timer_callback timer_callback = [](CURLM*, long timeout_ms, void* self) -> int {
    static_cast<HttpMulti*>(self)->set_timer(timeout_ms);
    return 0;
  };
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_callback);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, static_cast<void*>(this));
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_callback);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, static_cast<void*>(this));

  free_slots_.reserve(slots_.size());
  // Slot 0 on top: its connection exists already.
  for (std::size_t i = slots_.size(); i-- > 0;) free_slots_.push_back(i);
  ended_early_.reserve(slots_.size());
  // Room for every socket up front, so that the socket callback does not allocate (a transfer
  // may briefly hold two sockets while connecting, one per address family).
  watched_.reserve(2 * slots_.size());
  polled_.reserve(2 * slots_.size());
}

HttpMulti::~HttpMulti() { abandon_all(); }

int HttpMulti::watch(int socket, int what) noexcept {
  const auto found =
      std::find_if(watched_.begin(), watched_.end(), [socket](const Watched& entry) { return entry.socket == socket; });
  if (what == CURL_POLL_REMOVE) {
    if (found != watched_.end()) {
      *found = watched_.back();
      watched_.pop_back();
    }
    return 0;
  }
  if (found != watched_.end()) {
    found->what = what;
    return 0;
  }
  try {
    watched_.push_back(Watched{socket, what});
  } catch (...) {
    callback_failed_ = true;
    return -1;  // libcurl fails the transfers of this multi handle
  }
  return 0;
}

void HttpMulti::set_timer(long timeout_ms) noexcept {
  if (timeout_ms < 0) {
    timer_.reset();
  } else {
    timer_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  }
}

void HttpMulti::act(int socket, int events) {
  int running_handles = 0;
  const CURLMcode code = curl_multi_socket_action(static_cast<CURLM*>(multi_.get()), static_cast<curl_socket_t>(socket),
                                                  events, &running_handles);
  if (callback_failed_) {
    callback_failed_ = false;
    throw std::bad_alloc();
  }
  if (code != CURLM_OK) throw_multi_error("move transfers on", code);
}

void HttpMulti::fire_timer_if_due() {
  if (timer_ && *timer_ <= std::chrono::steady_clock::now()) {
    // One-shot: libcurl sets the next timer itself while handling this one.
    timer_.reset();
    act(CURL_SOCKET_TIMEOUT, 0);
  }
}

void HttpMulti::start(const HttpRequest& request, std::size_t tag) {
  if (free_slots_.empty()) throw Error("HttpMulti::start with every connection busy");
  const std::size_t index = free_slots_.back();
  Slot& slot = slots_[index];
  if (!slot.connection) slot.connection = std::make_unique<HttpConnection>(settings_);
  CURL* easy = static_cast<CURL*>(slot.connection->native_handle());

  if (!slot.connection->begin(request)) {
    // Reported by the next run(), like any transfer that ended.
    ended_early_.emplace_back(tag, slot.connection->finish(CURLE_OK));
    return;
  }
  // begin() reset the handle, so the slot is recorded after it.
  curl_easy_setopt(easy, CURLOPT_PRIVATE, reinterpret_cast<char*>(index + 1));
  // Adding sets a timer of 0 ms: the next run() starts the transfer.
  const CURLMcode added = curl_multi_add_handle(static_cast<CURLM*>(multi_.get()), easy);
  if (added != CURLM_OK) {
    HttpOutcome outcome = slot.connection->finish(CURLE_FAILED_INIT);
    outcome.failure = TransportFailure{
        std::string("libcurl could not start the transfer: ") + curl_multi_strerror(added), false, false};
    ended_early_.emplace_back(tag, std::move(outcome));
    return;
  }
  free_slots_.pop_back();
  slot.busy = true;
  slot.tag = tag;
  ++running_;
}

void HttpMulti::collect(std::vector<std::pair<std::size_t, HttpOutcome>>& ended) {
  CURLM* multi = static_cast<CURLM*>(multi_.get());
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    CURL* easy = message->easy_handle;
    const CURLcode result = message->data.result;  // the message dies with the removal below
    char* slot_mark = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &slot_mark);
    const std::size_t index = static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(slot_mark)) - 1;
    curl_multi_remove_handle(multi, easy);
    Slot& slot = slots_[index];
    slot.busy = false;
    --running_;
    free_slots_.push_back(index);
    ended.emplace_back(slot.tag, slot.connection->finish(result));
  }
}

void HttpMulti::run(std::chrono::milliseconds timeout, const std::function<void(std::size_t, HttpOutcome)>& done) {
  std::vector<std::pair<std::size_t, HttpOutcome>> ended;
  ended.swap(ended_early_);
  ended_early_.reserve(slots_.size());
  if (ended.empty()) {
    if (running_ == 0) {
      std::this_thread::sleep_for(timeout);
      return;
    }
    fire_timer_if_due();
    collect(ended);
  }
  if (ended.empty()) {
    auto wait = timeout;
    if (timer_) {
      const auto until_timer =
          std::chrono::duration_cast<std::chrono::milliseconds>(*timer_ - std::chrono::steady_clock::now());
      // Rounded up, so that a timer due in under a millisecond is not polled for in a busy loop.
      wait = std::max(std::chrono::milliseconds(0), std::min(wait, until_timer + std::chrono::milliseconds(1)));
    }
    polled_.clear();
    for (const Watched& entry : watched_) polled_.push_back(pollfd{entry.socket, poll_events(entry.what), 0});
    const int ready = ::poll(polled_.data(), static_cast<nfds_t>(polled_.size()), static_cast<int>(wait.count()));
    if (ready < 0 && errno != EINTR) throw StorageError("poll() failed while waiting for the network");
    // Only the ready sockets: this is what spares the transfers that have nothing to do. The
    // socket callback may change watched_ meanwhile; polled_ is a copy.
    for (std::size_t i = 0; ready > 0 && i < polled_.size(); ++i) {
      if (polled_[i].revents != 0) act(polled_[i].fd, curl_events(polled_[i].revents));
    }
    if (ready == 0) {
      // Nothing moved for the whole wait: let libcurl check its timeouts even if it set no timer.
      timer_.reset();
      act(CURL_SOCKET_TIMEOUT, 0);
    } else {
      fire_timer_if_due();
    }
    collect(ended);
  }
  for (auto& [tag, outcome] : ended) done(tag, std::move(outcome));
}

void HttpMulti::abandon_all() noexcept {
  CURLM* multi = static_cast<CURLM*>(multi_.get());
  for (std::size_t index = 0; index < slots_.size(); ++index) {
    Slot& slot = slots_[index];
    if (!slot.busy) continue;
    if (multi != nullptr) curl_multi_remove_handle(multi, slot.connection->native_handle());
    slot.busy = false;
    free_slots_.push_back(index);  // within the capacity reserved up front
  }
  running_ = 0;
  ended_early_.clear();
}

}  // namespace cshelve::s3
