#include "s3/retry.hpp"
#include "util/text.hpp"

#include <algorithm>

namespace cshelve::s3 {
namespace {

constexpr std::chrono::milliseconds kBackoffBase{100};
constexpr std::chrono::milliseconds kBackoffCap{20000};

}  // namespace

std::exception_ptr Attempts::error(const Call& call, const Failure& last) const {
  try {
    give_up(call, last);
  } catch (...) {
    return std::current_exception();
  }
}

RetryPolicy::RetryPolicy(int max_attempts, const ClientLog& log)
    : max_attempts_(std::max(1, max_attempts)), log_(log), random_(std::random_device{}()) {}

std::optional<std::chrono::milliseconds> RetryPolicy::after_failure(const Call& call, Attempts& attempts,
                                                                    const Failure& failure, bool may_retry) {
  attempts.failures_.push_back(failure.summary);
  if (!failure.retryable || attempts.number() >= max_attempts_ || !may_retry) return std::nullopt;
  const auto delay = backoff(attempts.number());
  log_(LogLevel::warning, util::concat({describe(call), ": attempt ", std::to_string(attempts.number()), " of ",
                                        std::to_string(max_attempts_), " failed (", failure.summary, "); retrying in ",
                                        std::to_string(delay.count()), " ms"}));
  return delay;
}

// Exponential backoff with full jitter: a random wait below a bound that doubles each attempt.
std::chrono::milliseconds RetryPolicy::backoff(int attempt) {
  const int doublings = std::min(attempt - 1, 20);
  const auto bound =
      std::min<std::chrono::milliseconds>(kBackoffCap, std::chrono::milliseconds(kBackoffBase.count() << doublings));
  std::lock_guard<std::mutex> lock(random_mutex_);
  std::uniform_int_distribution<long long> pick(0, bound.count());
  return std::chrono::milliseconds(pick(random_));
}

}  // namespace cshelve::s3
