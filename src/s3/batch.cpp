// The batch request path: calls side by side over libcurl's multi interface, each signed, judged
// and retried by the same policy as a single call.
#include <cshelve/errors.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <utility>
#include <variant>

#include "s3/client_impl.hpp"
#include "s3/failure.hpp"

namespace cshelve::s3 {

// The sessions of execute_many: each is a multi handle whose connection cache keeps the
// connections alive from one batch to the next. A batch takes an idle one or makes a new one, so
// batches on several threads run side by side.
class Client::Impl::SessionLease {
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
      session_ = std::make_unique<HttpMulti>(impl_.http_settings, impl_.config.max_pool_connections);
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

void Client::Impl::execute_many(const std::vector<Call>& calls,
                                const std::function<void(std::size_t, HttpResponse&&)>& on_response,
                                std::vector<std::exception_ptr>& errors, bool stop_at_failure) {
  using Clock = std::chrono::steady_clock;
  struct Pending {
    Target target;
    HttpRequest request;  // the attempt in flight; libcurl reads it until the attempt ends
    std::string where;
    Attempts attempts;
    Failure last_failure;                     // while waiting to retry
    std::shared_ptr<const Credentials> used;  // a credentials provider's, that signed the attempt
  };
  errors.assign(calls.size(), nullptr);
  if (calls.empty()) return;
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
    std::variant<HttpResponse, Failure> result = judge(calls[i], item.where, std::move(outcome), log);
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
    if (!stopped && refresh_for(calls[i], failure, item.attempts, item.used)) {
      ready.push_back(i);
      return;
    }
    if (const auto delay = retry.after_failure(calls[i], item.attempts, failure, !stopped)) {
      item.last_failure = std::move(failure);
      waiting.emplace(Clock::now() + *delay, i);
      return;
    }
    const bool absent = failure.kind == FailureKind::server && failure.reply.code == "NoSuchKey";
    fail(i, item.attempts.error(calls[i], failure), !absent);
  };

  SessionLease session(*this);
  for (;;) {
    const Clock::time_point now = Clock::now();
    while (!waiting.empty() && (stopped || waiting.begin()->first <= now)) {
      const std::size_t i = waiting.begin()->second;
      waiting.erase(waiting.begin());
      if (stopped) {
        fail(i, pending[i].attempts.error(calls[i], pending[i].last_failure), false);
      } else {
        ready.push_back(i);
      }
    }
    if (stopped) {
      for (std::size_t i : ready) {
        fail(i,
             std::make_exception_ptr(
                 RequestNotSentError(describe(calls[i]) + " was not sent: another request of the batch failed")),
             false);
      }
      ready.clear();
    }
    while (!ready.empty() && session->running() < session->capacity()) {
      const std::size_t i = ready.front();
      ready.pop_front();
      Pending& item = pending[i];
      try {
        if (item.target.host.empty()) item.target = target_of(calls[i]);
        item.attempts.start();
        std::shared_ptr<const Signer> hold;
        item.request = signed_request(signer_for(hold, item.used), endpoint.scheme, calls[i], item.target, item.where);
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
      const auto until_retry =
          std::chrono::duration_cast<std::chrono::milliseconds>(waiting.begin()->first - Clock::now());
      timeout = std::max(std::chrono::milliseconds(0), std::min(timeout, until_retry));
    }
    session->run(timeout, finished);
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

}  // namespace cshelve::s3
