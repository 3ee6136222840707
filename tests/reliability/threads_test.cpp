// Thread safety as include/cshelve/shelf.hpp promises it: separate Shelf objects on the same
// storage, used from separate threads at once. Eight threads, each with its own shelf, run a
// thousand operations each on a key range of their own while all read some shared keys; at the
// end a fresh shelf must hold every thread's last writes, and nothing else.
//
// Run under ThreadSanitizer too (scripts/test.sh builds build-tsan for this program), where a data
// race fails the test even when the values come out right.
#include <cshelve/cshelve.hpp>

#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using namespace cshelve;
using namespace reliability;

namespace {

constexpr int kThreads = 8;
constexpr int kOperationsPerThread = 1000;
constexpr int kKeysPerThread = 24;
constexpr int kSharedKeys = 12;

std::string shared_key(int i) { return "shared/" + std::to_string(i); }
std::string shared_value(int i) { return "shared value " + std::to_string(i) + std::string(64 + i * 37, '#'); }

// A value that proves its own integrity: a reader can tell a whole value from a mixture of two.
std::string self_checking_value(int thread, int step) {
  const std::string head = "t" + std::to_string(thread) + "s" + std::to_string(step) + ":";
  std::string value = head;
  const std::size_t size = 16 + static_cast<std::size_t>((thread * 131 + step * 17) % 3000);
  for (std::size_t i = 0; value.size() < size; ++i) value += head[i % head.size()];
  return value + "|" + std::to_string(size);
}

bool is_whole(const std::string& value) {
  const auto bar = value.rfind('|');
  const auto colon = value.find(':');
  if (bar == std::string::npos || colon == std::string::npos) return false;
  const std::string head = value.substr(0, colon + 1);
  const std::size_t size = std::stoul(value.substr(bar + 1));
  if (bar != size) return false;
  for (std::size_t i = head.size(); i < bar; ++i) {
    if (value[i] != head[(i - head.size()) % head.size()]) return false;
  }
  return true;
}

struct ThreadResult {
  std::map<std::string, std::string> model;  // this thread's keys as it left them
  std::vector<std::string> problems;
  int operations = 0;
};

// One thread's work on its own shelf. Problems are collected, not asserted: the assertions run on
// the test's own thread once every worker has stopped.
void run_worker(int thread, const std::function<Shelf()>& open_shelf, bool contend, ThreadResult& result) {
  try {
    Shelf db = open_shelf();
    std::mt19937 random(static_cast<unsigned>(1000 + thread));
    std::uniform_int_distribution<int> pick_key(0, kKeysPerThread - 1);
    std::uniform_int_distribution<int> pick_shared(0, kSharedKeys - 1);
    std::uniform_int_distribution<int> roll(0, 99);
    const auto note = [&](int step, const std::string& what) {
      if (result.problems.size() < 20) {
        result.problems.push_back("thread " + std::to_string(thread) + " step " + std::to_string(step) + ": " + what);
      }
    };
    for (int step = 0; step < kOperationsPerThread; ++step, ++result.operations) {
      const std::string key = "t" + std::to_string(thread) + "/k" + std::to_string(pick_key(random));
      const int r = roll(random);
      if (r < 35) {
        const std::string value = self_checking_value(thread, step);
        db.set(key, value);
        result.model[key] = value;
      } else if (r < 55) {
        const std::optional<std::string> stored = db.find(key);
        const auto expected = result.model.find(key);
        if (stored.has_value() != (expected != result.model.end()) || (stored && *stored != expected->second)) {
          note(step, "get of " + key + " does not match what this thread wrote");
        }
      } else if (r < 65) {
        if (result.model.erase(key) == 1) db.erase(key);
      } else if (r < 75) {
        if (db.contains(key) != (result.model.count(key) == 1)) note(step, "contains(" + key + ") is wrong");
      } else if (r < 92 || !contend) {
        const int i = pick_shared(random);
        const std::optional<std::string> stored = db.find(shared_key(i));
        if (!stored || *stored != shared_value(i)) note(step, "shared key " + shared_key(i) + " is wrong");
      } else {
        // One key written and read by every thread: a reader sees one whole value, never a part.
        if (r < 96) {
          db.set("contended", self_checking_value(thread, step));
        } else if (const std::optional<std::string> stored = db.find("contended"); stored && !is_whole(*stored)) {
          note(step, "the contended key holds a damaged value");
        }
      }
    }
    db.close();
  } catch (const std::exception& error) {
    result.problems.push_back("thread " + std::to_string(thread) + " failed after " +
                              std::to_string(result.operations) + " operations: " + error.what());
  }
}

// Seeds the shared keys, runs the threads, then checks the storage through `open_check`.
void run_threads(const std::function<Shelf(Flag)>& open_shelf, bool contend) {
  {
    Shelf setup = open_shelf(Flag::create);
    for (int i = 0; i < kSharedKeys; ++i) setup.set(shared_key(i), shared_value(i));
  }
  std::vector<ThreadResult> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back(
        run_worker, t, [&] { return open_shelf(Flag::write); }, contend, std::ref(results[t]));
  }
  for (auto& thread : threads) thread.join();

  int operations = 0;
  std::map<std::string, std::string> expected;
  for (int i = 0; i < kSharedKeys; ++i) expected[shared_key(i)] = shared_value(i);
  for (const ThreadResult& result : results) {
    operations += result.operations;
    for (const std::string& problem : result.problems) FAIL_CHECK(problem);
    expected.insert(result.model.begin(), result.model.end());
  }
  CHECK(operations == kThreads * kOperationsPerThread);

  Shelf check = open_shelf(Flag::read);
  std::set<std::string> listed;
  for (const std::string& key : check) listed.insert(key);
  if (contend) {
    CHECK(listed.erase("contended") == 1);
    const std::optional<std::string> last = check.find("contended");
    REQUIRE(last.has_value());
    CHECK(is_whole(*last));
  }
  std::set<std::string> expected_keys;
  for (const auto& entry : expected) expected_keys.insert(entry.first);
  CHECK(listed == expected_keys);
  for (const auto& [key, value] : expected) {
    CAPTURE(key);
    const std::optional<std::string> stored = check.find(key);
    REQUIRE(stored.has_value());
    CHECK(*stored == value);
  }
  MESSAGE(kThreads << " threads, " << operations << " operations, " << expected.size() << " keys checked at the end");
}

}  // namespace

TEST_CASE("self-checking values tell a whole value from a damaged one") {
  const std::string value = self_checking_value(3, 77);
  CHECK(is_whole(value));
  std::string damaged = value;
  damaged[damaged.size() / 2] = '?';
  CHECK_FALSE(is_whole(damaged));
  CHECK_FALSE(is_whole(value.substr(0, value.size() / 2) + self_checking_value(4, 78).substr(value.size() / 2)));
}

TEST_CASE("threads with their own shelves on one in-memory store (persist-key)") {
  TempDir dir;
  const std::string ini = dir / "memory.ini";
  write_text(ini, "[default]\nprovider = in-memory\npersist-key = threads-test\n");
  run_threads([&](Flag flag) { return open(ini, flag); }, /*contend=*/true);
}

TEST_CASE("threads with their own shelves on one local folder") {
  TempDir dir;
  const std::string folder = dir / "shelf";
  run_threads([&](Flag flag) { return open(folder, flag); }, /*contend=*/true);
}

TEST_CASE("threads with their own shelves on one S3 bucket, through the signature gate") {
  TempDir dir;
  const std::string ini =
      write_s3_ini(dir, "threads", fresh_bucket("threads"), stack_variable("CSHELVE_TEST_S3_ENDPOINT"));
  // No contended key here: the local S3 server is not meant to show atomic replacement of an
  // object being read (S3 itself is); the own-range and shared-read checks are what matters.
  run_threads([&](Flag flag) { return open(ini, flag); }, /*contend=*/false);
}
