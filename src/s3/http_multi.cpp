#include "s3/http_multi.hpp"

#include <cshelve/errors.hpp>

#include <curl/curl.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <thread>

namespace cshelve::s3 {
namespace {

[[noreturn]] void throw_multi_error(const char* what, CURLMcode code) {
  throw StorageError(std::string("libcurl's multi interface failed to ") + what + ": " +
                     curl_multi_strerror(code));
}

}  // namespace

void HttpMulti::MultiHandleDeleter::operator()(void* handle) const noexcept {
  curl_multi_cleanup(static_cast<CURLM*>(handle));
}

HttpMulti::HttpMulti(HttpSettings settings, int max_connections)
    : settings_(std::move(settings)),
      slots_(static_cast<std::size_t>(std::max(1, max_connections))) {
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
  free_slots_.reserve(slots_.size());
  // Slot 0 on top: its connection exists already.
  for (std::size_t i = slots_.size(); i-- > 0;) free_slots_.push_back(i);
  ended_early_.reserve(slots_.size());
}

HttpMulti::~HttpMulti() { abandon_all(); }

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
  const CURLMcode added = curl_multi_add_handle(static_cast<CURLM*>(multi_.get()), easy);
  if (added != CURLM_OK) {
    HttpOutcome outcome = slot.connection->finish(CURLE_FAILED_INIT);
    outcome.failure = TransportFailure{
        std::string("libcurl could not start the transfer: ") + curl_multi_strerror(added), false,
        false};
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
  int still_running = 0;
  const CURLMcode performed = curl_multi_perform(multi, &still_running);
  if (performed != CURLM_OK) throw_multi_error("move transfers on", performed);
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

void HttpMulti::run(std::chrono::milliseconds timeout,
                    const std::function<void(std::size_t, HttpOutcome)>& done) {
  std::vector<std::pair<std::size_t, HttpOutcome>> ended;
  ended.swap(ended_early_);
  ended_early_.reserve(slots_.size());
  if (ended.empty()) {
    if (running_ == 0) {
      std::this_thread::sleep_for(timeout);
      return;
    }
    collect(ended);
    if (ended.empty()) {
      // Returns at once when a socket is ready, and sooner than `timeout` when one of libcurl's
      // own timers (connect, low-speed limit) is due.
      const CURLMcode polled = curl_multi_poll(static_cast<CURLM*>(multi_.get()), nullptr, 0,
                                               static_cast<int>(timeout.count()), nullptr);
      if (polled != CURLM_OK) throw_multi_error("wait for the network", polled);
      collect(ended);
    }
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
