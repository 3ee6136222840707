// The client through the fault injector of the local S3 stack: 503 SlowDown, connection resets,
// answers cut halfway and stalled answers. With retries every operation must still succeed and
// every value come back intact. Run through tests/s3/with-server.sh.
#include <doctest/doctest.h>

#include <cshelve/errors.hpp>

#include <atomic>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration_support.hpp"
#include "s3/client.hpp"
#include "util/json.hpp"

using namespace cshelve;
using namespace cshelve::s3;
using namespace cshelve::testing;

namespace {

long total_faults_injected() {
  const std::string stats = read_file(required_environment("CSHELVE_TEST_S3_FAULT_STATS"));
  return static_cast<long>(cshelve::util::parse_json(stats).at("total_faults").as_int64());
}

std::string value_for(int i) {
  // Sizes from a few bytes to a few hundred KiB, so cut answers land in headers and in bodies.
  std::string value = "value " + std::to_string(i) + " ";
  value.resize(static_cast<std::size_t>((i * 7919) % 300000 + 8), static_cast<char>('a' + i % 26));
  return value;
}

}  // namespace

TEST_SUITE("s3 client integration") {
  TEST_CASE("every operation succeeds through injected faults") {
    const std::string bucket = fresh_bucket_name("faults");
    // Created through the reliable endpoint: a CreateBucket whose answer was lost would be retried
    // and then get s3rver's BucketAlreadyExists (S3 itself answers BucketAlreadyOwnedByYou).
    Client(stack_config()).create_bucket(bucket);

    // Faults are drawn independently per request: with a 10 % rate, eight failures in a row are
    // a one-in-a-hundred-million event.
    std::atomic<int> retries_logged{0};
    Client client(faulty_config(8, &retries_logged));
    const long faults_before = total_faults_injected();

    constexpr int kObjects = 120;
    std::vector<std::string> keys;
    for (int i = 0; i < kObjects; ++i) {
      char key[32];
      std::snprintf(key, sizeof key, "r/%05d", i);
      keys.push_back(key);
    }

    std::vector<std::string> problems(4);
    std::vector<std::thread> workers;
    for (std::size_t t = 0; t < problems.size(); ++t) {
      workers.emplace_back([&, t] {
        try {
          for (std::size_t i = t; i < keys.size(); i += problems.size()) {
            const std::string value = value_for(static_cast<int>(i));
            client.put_object(bucket, keys[i],
                              {std::string_view(value).substr(0, 3), std::string_view(value).substr(3)});
            if (client.get_object(bucket, keys[i]) != value) {
              problems[t] += "wrong value for " + keys[i] + "; ";
            }
          }
        } catch (const std::exception& error) {
          problems[t] += error.what();
        }
      });
    }
    for (std::thread& worker : workers) worker.join();
    for (const std::string& problem : problems) CHECK_MESSAGE(problem.empty(), problem);

    std::multiset<std::string> listed;
    ListRequest request;
    request.prefix = "r/";
    request.max_keys = 25;
    for (int pages = 0; pages < 100; ++pages) {
      ListResult page = client.list_objects_v2(bucket, request);
      listed.insert(page.keys.begin(), page.keys.end());
      if (!page.is_truncated) break;
      request.continuation_token = page.next_continuation_token;
    }
    CHECK(listed == std::multiset<std::string>(keys.begin(), keys.end()));

    DeleteResult deleted = client.delete_objects(bucket, std::vector<std::string>(keys.begin(), keys.end() - 10));
    CHECK(deleted.failures.empty());
    for (auto key = keys.end() - 10; key != keys.end(); ++key) client.delete_object(bucket, *key);
    CHECK(client.list_objects_v2(bucket, ListRequest{}).keys.empty());

    // The faults did happen, and were ridden out by retries.
    const long faults = total_faults_injected() - faults_before;
    MESSAGE("faults injected during this test (and any running beside it): " << faults
                                                                             << ", retries: " << retries_logged.load());
    CHECK(faults > 0);
    CHECK(retries_logged > 0);
  }

  TEST_CASE("without retries the injected faults surface as typed errors") {
    const std::string bucket = fresh_bucket_name("noretry");
    Client(stack_config()).create_bucket(bucket);
    Client client(faulty_config(1));

    int failures = 0;
    for (int i = 0; i < 200 && failures < 5; ++i) {
      try {
        client.put_object(bucket, "k", {"v"});
      } catch (const NetworkError& error) {  // reset, cut or stalled answer
        ++failures;
        CHECK(std::string(error.what()).find("PutObject of key 'k'") != std::string::npos);
      } catch (const S3Error& error) {  // 503 SlowDown
        ++failures;
        CHECK(error.code() == "SlowDown");
        CHECK(error.http_status() == 503);
      }
    }
    CHECK(failures > 0);
  }

}  // TEST_SUITE
