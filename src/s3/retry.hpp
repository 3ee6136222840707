// The attempts of a call: one policy for the single calls and the batches alike. It counts a
// call's attempts, keeps why each failed, decides after a failure whether to try again and after
// what wait (exponential backoff with full jitter), and gives up with the call's typed error.
#ifndef CSHELVE_S3_RETRY_HPP
#define CSHELVE_S3_RETRY_HPP

#include <chrono>
#include <exception>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "s3/failure.hpp"
#include "s3/request.hpp"

namespace cshelve::s3 {

// One call's attempts so far.
class Attempts {
 public:
  void start() noexcept { ++number_; }
  int number() const noexcept { return number_; }  // the attempt under way, from 1
  // The one retry with fresh credentials a call gets, which is not one of max_attempts: false
  // when it was had already.
  bool take_credentials_retry() noexcept {
    if (credentials_retried_) return false;
    credentials_retried_ = true;
    --number_;
    return true;
  }

  // The second look at a body whose checksum disagreed (Failure::md5_would_tell), which is not
  // one of max_attempts either.
  void take_second_opinion() noexcept { --number_; }

  // The call has failed for good, `last` being its last failure: throws its typed error.
  [[noreturn]] void give_up(const Call& call, const Failure& last) const { throw_error(call, last, failures_); }
  // give_up()'s exception, caught for a batch.
  std::exception_ptr error(const Call& call, const Failure& last) const;

 private:
  friend class RetryPolicy;
  int number_ = 0;
  bool credentials_retried_ = false;
  std::vector<std::string> failures_;  // each failed attempt's summary
};

// Thread-safe: the calls of several threads share one.
class RetryPolicy {
 public:
  // `max_attempts`: attempts in all, the first one included (at least one). `log` must outlive it.
  RetryPolicy(int max_attempts, const ClientLog& log);

  // After the attempt under way failed: records why, and returns how long to wait before the next
  // attempt (saying so in the log), or nullopt when the call has failed for good: the failure is
  // not transient, the attempts are used up, or `may_retry` is false (a batch that stopped).
  std::optional<std::chrono::milliseconds> after_failure(const Call& call, Attempts& attempts, const Failure& failure,
                                                         bool may_retry = true);

 private:
  std::chrono::milliseconds backoff(int attempt);

  int max_attempts_;
  const ClientLog& log_;
  std::mutex random_mutex_;
  std::mt19937_64 random_;
};

}  // namespace cshelve::s3

#endif
