// What a Client holds, shared by its two request paths: client.cpp (one call at a time, over the
// connection pool) and batch.cpp (calls side by side over a multi session). Private to the client.
#ifndef CSHELVE_S3_CLIENT_IMPL_HPP
#define CSHELVE_S3_CLIENT_IMPL_HPP

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "s3/client.hpp"
#include "s3/http.hpp"
#include "s3/http_multi.hpp"
#include "s3/request.hpp"
#include "s3/retry.hpp"

namespace cshelve::s3 {

struct Client::Impl {
  explicit Impl(ClientConfig configuration);

  // Where the call goes and what is signed.
  Target target_of(const Call& call) const;

  // The whole request path of one call: address, sign, send, read the reply, retry.
  HttpResponse execute(const Call& call);

  // Runs the calls side by side on the calling thread, over at most max_pool_connections kept-
  // alive connections of a multi session, each with execute()'s signing, checks and retries (a
  // retry waits for its backoff without holding up the others). Each reply goes to
  // on_response(i, reply); errors[i] receives what execute() would have thrown for call i, or
  // what on_response threw. With stop_at_failure, once a call fails for good no other starts:
  // those never sent get RequestNotSentError, those waiting to retry their last failure. NoSuchKey
  // is an answer, not a failure, and stops nothing.
  void execute_many(const std::vector<Call>& calls, const std::function<void(std::size_t, HttpResponse&&)>& on_response,
                    std::vector<std::exception_ptr>& errors, bool stop_at_failure);

  // The signer of the credentials to sign with now: the static one, or one made for the provider's
  // current credentials (kept while they last). `hold` keeps it alive; `used` receives the
  // provider's credentials, for refresh_for.
  const Signer& signer_for(std::shared_ptr<const Signer>& hold, std::shared_ptr<const Credentials>& used) const;

  // After a refusal of temporary credentials that fresh ones cure (ExpiredToken, InvalidToken,
  // TokenRefreshRequired): tells the provider `used` expired and returns true, once per call, for
  // the caller to send the attempt again at once.
  bool refresh_for(const Call& call, const Failure& failure, Attempts& attempts,
                   const std::shared_ptr<const Credentials>& used);

  class SessionLease;  // a multi session of execute_many, borrowed from idle_sessions

  ClientConfig config;  // without the credentials, which live in the signer only
  Endpoint endpoint;
  bool on_aws;  // AWS's own endpoint: automatic addressing puts the bucket in the host name
  ClientLog log;
  Signer signer;  // of the static credentials; unused with a credentials provider
  mutable std::mutex provider_signer_mutex;
  mutable std::shared_ptr<const Credentials> provider_signer_credentials;
  mutable std::shared_ptr<const Signer> provider_signer;
  HttpSettings http_settings;
  HttpConnectionPool pool;
  RetryPolicy retry;
  std::mutex sessions_mutex;
  std::vector<std::unique_ptr<HttpMulti>> idle_sessions;  // for execute_many
};

}  // namespace cshelve::s3

#endif
