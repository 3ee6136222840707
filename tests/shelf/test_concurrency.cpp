// Many writers on one shelf: update() loses no increment where plain get/set does, set_if_absent
// stores exactly once, and a writeback shelf with conflict detection reports the key another shelf
// changed under it. On the local provider with processes, the in-memory one with threads, and S3
// on moto with its signature checks on (test suite "moto", run under tests/s3/with-moto.sh).
// Also: temporary names stay unique across fork(). CSHELVE_TEST_CONCURRENCY_ROUNDS sets the increments per writer (10
// unless set).
#include <doctest/doctest.h>

#include <cshelve/cshelve.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../support/test_support.hpp"
#include "io/temporary_file.hpp"

using namespace cshelve;

namespace {

constexpr int kWriters = 8;

int rounds() {
  const char* text = std::getenv("CSHELVE_TEST_CONCURRENCY_ROUNDS");
  return text != nullptr ? std::atoi(text) : 10;
}

std::string variable(const char* name) {
  const char* value = std::getenv(name);
  REQUIRE_MESSAGE(value != nullptr, name << " is unset: run under tests/s3/with-moto.sh");
  return value;
}

std::string unique_name(const std::string& stem) {
  std::random_device seed;
  return stem + "-" + std::to_string(seed()) + std::to_string(seed());
}

// Where the shelves of one test live, and how its writers run: processes, or threads for the
// in-memory store, which lives in one process.
struct Backend {
  std::string path;  // given to open()
  bool threads = false;

  // Runs `work(i)` for i in [0, kWriters) side by side, all starting together; returns each one's
  // result (0 for success; a writer that throws gives 99).
  template <class Work>
  std::vector<int> run(Work work) const {
    std::vector<int> results(kWriters, -1);
    auto guarded = [&work](int index) {
      try {
        return work(index);
      } catch (const std::exception& error) {
        std::cerr << "writer " << index << ": " << error.what() << "\n";
        return 99;
      }
    };
    if (threads) {
      std::atomic<bool> go{false};
      std::vector<std::thread> writers;
      for (int i = 0; i < kWriters; ++i) {
        writers.emplace_back([&, i] {
          while (!go.load()) std::this_thread::yield();
          results[i] = guarded(i);
        });
      }
      go.store(true);
      for (auto& writer : writers) writer.join();
      return results;
    }
    // A pipe as the starting gun: every child blocks reading it until the parent closes it.
    int gun[2];
    REQUIRE(::pipe(gun) == 0);
    std::vector<pid_t> children;
    for (int i = 0; i < kWriters; ++i) {
      const pid_t pid = ::fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        ::close(gun[1]);
        char byte;
        while (::read(gun[0], &byte, 1) < 0) {
        }
        std::_Exit(guarded(i));
      }
      children.push_back(pid);
    }
    ::close(gun[0]);
    ::close(gun[1]);
    for (int i = 0; i < kWriters; ++i) {
      int status = 0;
      REQUIRE(::waitpid(children[i], &status, 0) == children[i]);
      results[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return results;
  }
};

Backend local_backend(const cshelve_test::TempDir& dir) { return Backend{dir / "shelf", false}; }

Backend memory_backend(const cshelve_test::TempDir& dir) {
  const std::string ini = dir / "memory.ini";
  cshelve_test::write_text(ini, "[default]\nprovider = in-memory\npersist-key = " + unique_name("store") + "\n");
  return Backend{ini, true};
}

// moto's user may only assume the role, which may use S3: a profile that assumes it, read from
// shared files in `dir` that forked writers find through the environment they inherit.
Backend moto_backend(const cshelve_test::TempDir& dir) {
  const std::string endpoint = variable("CSHELVE_TEST_MOTO_ENDPOINT");
  cshelve_test::write_text(dir / "credentials",
                           "[base]\naws_access_key_id = " + variable("CSHELVE_TEST_MOTO_KEY_ID") +
                               "\naws_secret_access_key = " + variable("CSHELVE_TEST_MOTO_SECRET") + "\n");
  cshelve_test::write_text(dir / "config", "[profile shelf]\nrole_arn = " + variable("CSHELVE_TEST_MOTO_ROLE_ARN") +
                                               "\nsource_profile = base\nregion = us-east-1\n");
  for (const char* unset : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                            "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"}) {
    ::unsetenv(unset);
  }
  ::setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
  ::setenv("AWS_SHARED_CREDENTIALS_FILE", (dir / "credentials").c_str(), 1);
  ::setenv("AWS_CONFIG_FILE", (dir / "config").c_str(), 1);
  const std::string ini = dir / "moto.ini";
  cshelve_test::write_text(ini, "[default]\nprovider = aws-s3\nbucket_name = " + variable("CSHELVE_TEST_MOTO_BUCKET") +
                                    "\nauth_type = profile\nprofile = shelf\n[provider_params]\nendpoint_url = " +
                                    endpoint + "\naddressing_style = path\nsts_endpoint_url = " + endpoint + "\n");
  return Backend{ini, false};
}

int as_number(const std::optional<std::string>& value) { return value ? std::stoi(*value) : 0; }

void counts_every_update(const Backend& backend) {
  const std::string key = unique_name("counter");
  const int each = rounds();
  const std::vector<int> results = backend.run([&](int) {
    Shelf db = open(backend.path);
    int gave_up = 0;
    for (int n = 0; n < each;) {
      try {
        db.update(key, [](const std::optional<std::string>& value) {
          // Time between the read and the write, so that writers do meet.
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          return std::to_string(as_number(value) + 1);
        });
        ++n;
      } catch (const ConflictError&) {
        // Eight writers in a tight loop on one key can starve one of them for the policy's 20
        // rounds; the increment was then not made, and is simply tried again.
        if (++gave_up == 100) throw;
      }
    }
    if (gave_up > 0) std::cerr << "a writer's update() gave up " << gave_up << " times, and tried again\n";
    db.close();
    return 0;
  });
  for (int result : results) CHECK(result == 0);
  Shelf db = open(backend.path);
  CHECK(db.get(key) == std::to_string(kWriters * each));
}

void plain_get_set_loses_updates(const Backend& backend) {
  const int each = rounds();
  int final_count = 0;
  // A race may by chance lose nothing: a few tries, each on a key of its own.
  for (int attempt = 0; attempt < 5; ++attempt) {
    const std::string key = unique_name("racy");
    const std::vector<int> results = backend.run([&](int) {
      Shelf db = open(backend.path);
      for (int n = 0; n < each; ++n) {
        const int seen = as_number(db.find(key));
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        db.set(key, std::to_string(seen + 1));
      }
      db.close();
      return 0;
    });
    for (int result : results) REQUIRE(result == 0);
    Shelf db = open(backend.path);
    final_count = std::stoi(db.get(key));
    if (final_count < kWriters * each) break;
  }
  CHECK(final_count < kWriters * each);
}

void stores_absent_key_once(const Backend& backend) {
  const std::string key = unique_name("first");
  const std::vector<int> results = backend.run([&](int index) {
    Shelf db = open(backend.path);
    const bool stored = db.set_if_absent(key, "writer " + std::to_string(index));
    db.close();
    return stored ? 0 : 10;
  });
  int winner = -1;
  int winners = 0;
  for (int i = 0; i < kWriters; ++i) {
    CHECK((results[i] == 0 || results[i] == 10));
    if (results[i] == 0) {
      ++winners;
      winner = i;
    }
  }
  REQUIRE(winners == 1);
  Shelf db = open(backend.path);
  CHECK(db.get(key) == "writer " + std::to_string(winner));
  CHECK_FALSE(db.set_if_absent(key, "late"));
  CHECK(db.get(key) == "writer " + std::to_string(winner));
}

void writeback_reports_the_conflict(const Backend& backend) {
  const std::string key = unique_name("shared");
  const std::string only_second = unique_name("second-only");
  Options checked;
  checked.writeback = true;
  checked.detect_conflicts = true;
  {
    Shelf setup = open(backend.path);
    setup.set(key, "0");
  }
  Shelf first = open(backend.path, Flag::create, checked);
  Shelf second = open(backend.path, Flag::create, checked);
  CHECK(first.get(key) == "0");
  CHECK(second.get(key) == "0");
  first.set(key, "first");
  second.set(key, "second");
  second.set(only_second, "kept");
  first.sync();
  try {
    second.sync();
    FAIL("the second sync() should have reported the conflict");
  } catch (const ConflictError& error) {
    CHECK(error.keys() == std::vector<std::string>{key});
    CHECK(std::string(error.what()).find(key) != std::string::npos);
    CHECK(std::string(error.what()).find(": 1 key was changed by another writer") != std::string::npos);
  }
  // The loser's change is dropped: it reads the winner's value, and closes without complaint.
  CHECK(second.get(key) == "first");
  second.close();
  first.close();
  Shelf db = open(backend.path);
  CHECK(db.get(key) == "first");
  CHECK(db.get(only_second) == "kept");
}

void compare_and_swap(const Backend& backend) {
  const std::string key = unique_name("cas");
  Shelf db = open(backend.path);
  CHECK_FALSE(db.find_versioned(key).has_value());
  REQUIRE(db.set_if_absent(key, "one"));
  const std::optional<VersionedValue> one = db.find_versioned(key);
  REQUIRE(one.has_value());
  CHECK(one->value == "one");
  CHECK(db.set_if_version(key, "two", one->version));
  CHECK_FALSE(db.set_if_version(key, "stale", one->version));
  const std::optional<VersionedValue> two = db.find_versioned(key);
  REQUIRE(two.has_value());
  CHECK(two->value == "two");
  CHECK(two->version != one->version);
  db.erase(key);
  CHECK_FALSE(db.set_if_version(key, "gone", two->version));
  CHECK_FALSE(db.find(key).has_value());
  // update() gives up after its attempts with ConflictError naming the key.
  UpdatePolicy once;
  once.max_attempts = 2;
  once.base_delay = std::chrono::milliseconds(0);
  Shelf other = open(backend.path);
  try {
    db.update(
        key,
        [&](const std::optional<std::string>& value) {
          other.set(key, value ? *value + "+" : "x");  // always a step ahead
          return std::string("mine");
        },
        once);
    FAIL("update() should have given up");
  } catch (const ConflictError& error) {
    CHECK(error.keys() == std::vector<std::string>{key});
  }
  CHECK(db.get(key) == "x+");
}

}  // namespace

TEST_SUITE("local") {
  TEST_CASE("a forked child picks temporary names of its own, not its parent's next ones") {
    (void)io::temporary_name("warm-up-");  // whatever state the generator keeps, it exists now
    int channel[2];
    REQUIRE(::pipe(channel) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      std::string names;
      for (int i = 0; i < 4; ++i) names += io::temporary_name("t-");
      const ssize_t wrote = ::write(channel[1], names.data(), names.size());
      std::_Exit(wrote == static_cast<ssize_t>(names.size()) ? 0 : 1);
    }
    ::close(channel[1]);
    std::string parent_names;
    for (int i = 0; i < 4; ++i) parent_names += io::temporary_name("t-");
    std::string child_names(parent_names.size(), '\0');
    std::size_t got = 0;
    while (got < child_names.size()) {
      const ssize_t n = ::read(channel[0], &child_names[got], child_names.size() - got);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    ::close(channel[0]);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(got == child_names.size());
    CHECK(child_names != parent_names);
  }
  TEST_CASE("local: compare-and-swap and update() giving up") {
    cshelve_test::TempDir dir;
    compare_and_swap(local_backend(dir));
  }
  TEST_CASE("local: 8 processes counting with update() lose nothing") {
    cshelve_test::TempDir dir;
    counts_every_update(local_backend(dir));
  }
  TEST_CASE("local: 8 processes counting with get and set lose updates") {
    cshelve_test::TempDir dir;
    plain_get_set_loses_updates(local_backend(dir));
  }
  TEST_CASE("local: set_if_absent raced by 8 processes stores once") {
    cshelve_test::TempDir dir;
    stores_absent_key_once(local_backend(dir));
  }
  TEST_CASE("local: writeback with conflict detection reports the key changed under it") {
    cshelve_test::TempDir dir;
    writeback_reports_the_conflict(local_backend(dir));
  }
}

TEST_SUITE("memory") {
  TEST_CASE("in-memory: compare-and-swap and update() giving up") {
    cshelve_test::TempDir dir;
    compare_and_swap(memory_backend(dir));
  }
  TEST_CASE("in-memory: 8 threads counting with update() lose nothing") {
    cshelve_test::TempDir dir;
    counts_every_update(memory_backend(dir));
  }
  TEST_CASE("in-memory: 8 threads counting with get and set lose updates") {
    cshelve_test::TempDir dir;
    plain_get_set_loses_updates(memory_backend(dir));
  }
  TEST_CASE("in-memory: set_if_absent raced by 8 threads stores once") {
    cshelve_test::TempDir dir;
    stores_absent_key_once(memory_backend(dir));
  }
  TEST_CASE("in-memory: writeback with conflict detection reports the key changed under it") {
    cshelve_test::TempDir dir;
    writeback_reports_the_conflict(memory_backend(dir));
  }
  TEST_CASE("detect_conflicts without writeback is a configuration error") {
    cshelve_test::TempDir dir;
    Options options;
    options.detect_conflicts = true;
    CHECK_THROWS_AS(open(dir / "shelf", Flag::create, options), ConfigurationError);
  }
}

TEST_SUITE("moto") {
  TEST_CASE("moto: compare-and-swap and update() giving up") {
    cshelve_test::TempDir dir;
    compare_and_swap(moto_backend(dir));
  }
  TEST_CASE("moto: 8 processes counting with update() lose nothing") {
    cshelve_test::TempDir dir;
    counts_every_update(moto_backend(dir));
  }
  TEST_CASE("moto: 8 processes counting with get and set lose updates") {
    cshelve_test::TempDir dir;
    plain_get_set_loses_updates(moto_backend(dir));
  }
  TEST_CASE("moto: set_if_absent raced by 8 processes stores once") {
    cshelve_test::TempDir dir;
    stores_absent_key_once(moto_backend(dir));
  }
  TEST_CASE("moto: writeback with conflict detection reports the key changed under it") {
    cshelve_test::TempDir dir;
    writeback_reports_the_conflict(moto_backend(dir));
  }
}
