// A long mixed workload through a shelf on the aws-s3 provider, with the local S3 stack's fault
// injector between client and server (tests/s3/with-server.sh: 10 % of requests get a 503
// SlowDown, a connection reset, an answer cut halfway, or an answer that stalls).
//
// Every operation is checked against a model map as it happens, the whole shelf is compared with
// the model from time to time and at the end: nothing lost, nothing corrupted, no error surfacing
// through the retries. The operations are all idempotent (a faulted write may or may not have
// reached the server, and is sent again).
#include <cshelve/cshelve.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "support.hpp"
#include "util/json.hpp"

using namespace cshelve;
using namespace reliability;

namespace {

// A count in the fault injector's statistics (a JSON object of numbers).
long stats_count(const std::string& stats, const char* name) {
  return static_cast<long>(util::parse_json(stats).at(name).as_int64());
}

constexpr int kOperations = 2000;
constexpr int kKeys = 48;
constexpr int kSweepEvery = 500;  // operations between two comparisons of the whole shelf
constexpr std::uint32_t kSeed = 20240611;

// Keys with the characters that need encoding on the way to S3, and plain ones. (No empty path
// segments or '.' segments, which the local server handles differently from S3.)
std::vector<std::string> make_keys() {
  const std::vector<std::string> stems = {"plain",          "with space",  "ünïcödé/漢字", "a+b=c&d;e",
                                          "nested/path/to", "tilde~star*", "quote'\"q",    "100%"};
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back(stems[i % stems.size()] + "-" + std::to_string(i));
  return keys;
}

// Mostly small values; one in twenty large enough that a cut answer stops inside its body.
std::string make_value(std::mt19937& random, int step) {
  std::uniform_int_distribution<int> percent(0, 99);
  std::size_t size = 0;
  if (percent(random) < 5) {
    size = std::uniform_int_distribution<std::size_t>(20000, 200000)(random);
  } else {
    size = std::uniform_int_distribution<std::size_t>(0, 2000)(random);
  }
  std::string value(size, '\0');
  for (auto& c : value) c = static_cast<char>(random() & 0xFF);
  // The step number makes every value unique, so a stale value cannot pass for the current one.
  return "step " + std::to_string(step) + ":" + value;
}

void compare_whole_shelf(const Shelf& db, const std::map<std::string, std::string>& model, int step) {
  CAPTURE(step);
  REQUIRE(db.size() == model.size());
  std::set<std::string> listed;
  for (const std::string& key : db) REQUIRE(listed.insert(key).second);
  std::set<std::string> expected;
  for (const auto& entry : model) expected.insert(entry.first);
  REQUIRE(listed == expected);
  for (const auto& [key, value] : model) {
    CAPTURE(key);
    const std::optional<std::string> stored = db.find(key);
    REQUIRE(stored.has_value());
    REQUIRE(*stored == value);
  }
}

}  // namespace

TEST_CASE("a mixed workload through injected faults loses and corrupts nothing") {
  const std::string faulty = stack_variable("CSHELVE_TEST_S3_FAULTY_ENDPOINT");
  const std::string stats_path = stack_variable("CSHELVE_TEST_S3_FAULT_STATS");
  TempDir dir;
  const std::string bucket = fresh_bucket("workload");

  // The bucket is created through the reliable endpoint: a CreateBucket whose answer was lost
  // would be sent again and meet the local server's BucketAlreadyExists.
  open(write_s3_ini(dir, "create", bucket, stack_variable("CSHELVE_TEST_S3_ENDPOINT")), Flag::create).close();

  // A short read timeout cuts the injector's stalls (5 s) after about a second; with a 10 % fault
  // rate, ten failed attempts in a row are a one-in-ten-billion event.
  const std::string ini =
      write_s3_ini(dir, "faulty", bucket, faulty, "read_timeout = 1\nconnect_timeout = 5\nmax_attempts = 10\n");
  LogCollector log;
  Options options;
  options.logger = log.logger();
  options.log_level = LogLevel::warning;  // the client's retry lines are warnings
  const std::string stats_before = read_text(stats_path);

  Shelf db = open(ini, Flag::write, options);
  const std::vector<std::string> keys = make_keys();
  std::map<std::string, std::string> model;
  std::mt19937 random(kSeed);
  std::uniform_int_distribution<std::size_t> pick_key(0, keys.size() - 1);
  std::uniform_int_distribution<int> pick_operation(0, 99);
  int counts[5] = {};

  for (int step = 1; step <= kOperations; ++step) {
    const std::string& key = keys[pick_key(random)];
    const int roll = pick_operation(random);
    CAPTURE(step);
    CAPTURE(key);
    if (roll < 35) {
      ++counts[0];
      std::string value = make_value(random, step);
      db.set(key, value);
      model[key] = std::move(value);
    } else if (roll < 60) {
      ++counts[1];
      const std::optional<std::string> stored = db.find(key);
      const auto expected = model.find(key);
      REQUIRE(stored.has_value() == (expected != model.end()));
      if (stored) REQUIRE(*stored == expected->second);
    } else if (roll < 75) {
      ++counts[2];
      db.erase(key);  // S3 cannot tell an absent key: erasing one is not an error
      model.erase(key);
    } else if (roll < 92) {
      ++counts[3];
      REQUIRE(db.contains(key) == (model.count(key) == 1));
    } else {
      ++counts[4];
      REQUIRE(db.size() == model.size());
    }
    if (step % kSweepEvery == 0) compare_whole_shelf(db, model, step);
  }
  db.close();

  // At the end, through a fresh shelf on the reliable endpoint: what the server really holds.
  Shelf check = open(write_s3_ini(dir, "check", bucket, stack_variable("CSHELVE_TEST_S3_ENDPOINT")), Flag::read);
  compare_whole_shelf(check, model, kOperations);

  const std::size_t retries = log.count("retrying in");
  const std::size_t timed_out = log.count("timed out");
  const std::string stats_after = read_text(stats_path);
  MESSAGE("workload: " << kOperations << " operations (set " << counts[0] << ", get " << counts[1] << ", delete "
                       << counts[2] << ", contains " << counts[3] << ", size " << counts[4] << ") on " << keys.size()
                       << " keys, " << model.size() << " at the end; " << retries << " retries (" << timed_out
                       << " after a stalled answer was cut by the read timeout, " << log.count("SlowDown")
                       << " after 503 SlowDown, " << log.count("network error") << " after a reset or cut connection)");
  MESSAGE("fault injector, whole stack (other tests share it): "
          << stats_count(stats_after, "requests") - stats_count(stats_before, "requests") << " requests and "
          << stats_count(stats_after, "total_faults") - stats_count(stats_before, "total_faults")
          << " faults during this test; totals now: " << stats_after);
  // Faults must really have happened, or this test proved nothing about retries.
  CHECK(retries > 0);
  CHECK(timed_out > 0);
  CHECK(stats_count(stats_after, "total_faults") > stats_count(stats_before, "total_faults"));
}
