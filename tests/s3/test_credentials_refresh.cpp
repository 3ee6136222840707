// A refresh under load: role credentials from moto's STS that expire every few seconds, while
// several threads run a few thousand S3 requests with them. None may fail. Runs under
// ThreadSanitizer too (scripts/test.sh).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "s3/client.hpp"
#include "s3/credential_sources.hpp"
#include "s3/credentials.hpp"
#include "../support/moto.hpp"

using namespace cshelve;
using namespace cshelve::s3;
using cshelve_test::moto_variable;

namespace {

// Counts the fetches of the source it wraps.
class Counted final : public CredentialSource {
 public:
  explicit Counted(std::unique_ptr<CredentialSource> inner) : inner_(std::move(inner)) {}
  std::string name() const override { return inner_->name(); }
  TemporaryCredentials fetch() override {
    ++fetches;
    return inner_->fetch();
  }
  std::atomic<int> fetches{0};

 private:
  std::unique_ptr<CredentialSource> inner_;
};

}  // namespace

TEST_CASE("credentials expiring every 4 seconds, 4 threads, 2,400 requests, no failure") {
  const std::string endpoint = moto_variable("CSHELVE_TEST_MOTO_ENDPOINT");
  const std::string bucket = moto_variable("CSHELVE_TEST_MOTO_BUCKET");
  sources::StsSettings sts;
  sts.endpoint = endpoint;
  sts.region = "us-east-1";
  sources::RoleRequest role{moto_variable("CSHELVE_TEST_MOTO_ROLE_ARN"), "load", "", "4"};
  class Base final : public CredentialSource {
   public:
    Base(std::string id, std::string secret) : id_(std::move(id)), secret_(std::move(secret)) {}
    std::string name() const override { return "user"; }
    TemporaryCredentials fetch() override { return {Credentials{id_, secret_, ""}, std::nullopt}; }
    std::string id_, secret_;
  };
  auto counted = std::make_unique<Counted>(sources::assume_role(
      std::make_unique<Base>(moto_variable("CSHELVE_TEST_MOTO_KEY_ID"), moto_variable("CSHELVE_TEST_MOTO_SECRET")),
      role, sts, "load test"));
  Counted& counter = *counted;
  // Refreshed 2 s ahead of their 4 s life: a new set about every 2 seconds.
  auto provider = std::make_shared<CredentialsProvider>(std::move(counted), std::chrono::seconds(2));

  ClientConfig config;
  config.endpoint = cshelve::s3::parse_endpoint(endpoint);
  config.addressing = Addressing::path;
  config.credentials_provider = provider;
  config.max_attempts = 1;  // a failure must show, not be retried away
  config.max_pool_connections = 4;
  Client client(std::move(config));

  constexpr int kThreads = 4;
  constexpr int kPerThread = 600;
  std::atomic<int> failures{0};
  std::atomic<int> done{0};
  std::vector<std::string> first_failure(kThreads);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string key = "load/" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) {
        try {
          if (i % 2 == 0) {
            client.put_object(bucket, key, {std::to_string(i)});
          } else if (client.get_object(bucket, key) != std::to_string(i - 1)) {
            throw std::runtime_error("wrong value read back");
          }
          ++done;
        } catch (const std::exception& error) {
          if (failures++ == 0) first_failure[t] = error.what();
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE(done.load() << " requests in " << seconds << " s with " << counter.fetches.load() << " AssumeRole calls");
  for (const auto& message : first_failure) CHECK_MESSAGE(message.empty(), message);
  CHECK(failures == 0);
  CHECK(done == kThreads * kPerThread);
  // Whatever the speed, the credentials changed during the run when it lasted long enough.
  if (seconds > 5) CHECK(counter.fetches >= 2);
}
