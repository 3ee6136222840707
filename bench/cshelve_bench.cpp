// The cshelve side of the benchmark against boto3 (bench/boto3_bench.py runs the same workloads).
//
//   cshelve-bench small [--ops N] [--keys N] [--value-size BYTES]
//       sequential set and get, contains, then bulk set, size, iteration, bulk get, erasing the
//       known keys and emptying with flag n, on fresh buckets
//   cshelve-bench bulk-set [--keys N]                 bulk set alone, with BENCH_CONNECTIONS connections
//   cshelve-bench large-put BUCKET [--size BYTES]    one large value, set
//   cshelve-bench large-get BUCKET [--size BYTES]    the same value, read back and checked
//   cshelve-bench large-put-file BUCKET [--size BYTES]  the value from a file (set_file)
//   cshelve-bench large-get-file BUCKET [--size BYTES]  back into a file (get_file), checked
//
// The server comes from CSHELVE_BENCH_ENDPOINT, else CSHELVE_TEST_S3_DIRECT_ENDPOINT (s3rver
// itself, as tests/s3/with-server.sh exports it), with the stack's credentials. Each figure is
// printed as one JSON line: wall time, the process's CPU time (getrusage) and, for the large
// values, the peak resident set; bench/report.py turns runs of them into the table.
#include <cshelve/cshelve.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

std::string environment(const char* name, const char* fallback = nullptr) {
  const char* value = std::getenv(name);
  if ((value == nullptr || *value == '\0') && fallback != nullptr) value = std::getenv(fallback);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(std::string(name) + " is not set: run through bench/run.sh or tests/s3/with-server.sh");
  }
  return value;
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // KiB on Linux
}

// Times one workload: wall clock and the process's CPU time, and prints them as a JSON line.
class Measure {
 public:
  Measure(std::string workload, std::size_t ops)
      : workload_(std::move(workload)), ops_(ops), cpu_(cpu_seconds()), start_(std::chrono::steady_clock::now()) {}

  void done(const std::string& extra = "") const {
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double cpu = cpu_seconds() - cpu_;
    std::printf(
        "{\"impl\": \"cshelve\", \"workload\": \"%s\", \"ops\": %zu, \"seconds\": %.6f, "
        "\"cpu_seconds\": %.6f%s}\n",
        workload_.c_str(), ops_, wall, cpu, extra.c_str());
    std::fflush(stdout);
  }

 private:
  std::string workload_;
  std::size_t ops_;
  double cpu_;
  std::chrono::steady_clock::time_point start_;
};

// A configuration file for an aws-s3 shelf on one bucket of the benchmark's server.
class Ini {
 public:
  explicit Ini(const std::string& bucket)
      : path_((std::filesystem::temp_directory_path() /
               ("cshelve-bench-" + std::to_string(::getpid()) + "-" + bucket + ".ini"))
                  .string()) {
    std::ofstream out(path_);
    out << "[default]\nprovider = aws-s3\nbucket_name = " << bucket
        << "\nauth_type = access_key\nkey_id = $CSHELVE_TEST_S3_KEY_ID\nkey_secret = $CSHELVE_TEST_S3_KEY_SECRET\n"
        << "\n[provider_params]\nendpoint_url = "
        << environment("CSHELVE_BENCH_ENDPOINT", "CSHELVE_TEST_S3_DIRECT_ENDPOINT") << "\n";
    // Connections of the batches; unset, the provider's default (10, as boto3's).
    if (const char* connections = std::getenv("BENCH_CONNECTIONS"); connections != nullptr && *connections != '\0') {
      out << "max_pool_connections = " << connections << "\n";
    }
    if (!out) throw std::runtime_error("cannot write " + path_);
  }
  ~Ini() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  Ini(const Ini&) = delete;
  Ini& operator=(const Ini&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Flat keys, as in a dbm-style shelf. (s3rver keeps a key's folders as directories and rescans
// the directory after every delete, so keys sharing one "folder/" would make deleting quadratic
// for any client.)
std::string key_for(std::size_t i) {
  char text[32];
  std::snprintf(text, sizeof text, "k%07zu", i);
  return text;
}

// Incompressible bytes from a fixed seed, so that both sides store the same kind of data. A value
// may be made a part at a time: parts of a multiple of 8 bytes, but the last, give the same bytes.
class Filler {
 public:
  explicit Filler(std::uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ULL + 1) {}
  void fill(char* data, std::size_t size) {
    std::size_t i = 0;
    for (; i + 8 <= size; i += 8) {
      state_ ^= state_ << 13;
      state_ ^= state_ >> 7;
      state_ ^= state_ << 17;
      std::memcpy(data + i, &state_, 8);
    }
    for (; i < size; ++i) data[i] = static_cast<char>(i);
  }

 private:
  std::uint64_t state_;
};

std::string value_of(std::size_t size, std::uint64_t seed) {
  std::string value(size, '\0');
  Filler(seed).fill(value.data(), size);
  return value;
}

constexpr std::size_t kFilePart = 1 << 20;

// The large value written to a file a part at a time, never whole in memory.
void write_value_file(const std::string& path, std::size_t size, std::uint64_t seed) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  Filler filler(seed);
  std::string part(kFilePart, '\0');
  for (std::size_t done = 0; done < size;) {
    const std::size_t n = std::min(kFilePart, size - done);
    filler.fill(part.data(), n);
    out.write(part.data(), static_cast<std::streamsize>(n));
    done += n;
  }
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

bool file_holds_value(const std::string& path, std::size_t size, std::uint64_t seed) {
  std::ifstream in(path, std::ios::binary);
  Filler filler(seed);
  std::string expected(kFilePart, '\0');
  std::string actual(kFilePart, '\0');
  for (std::size_t done = 0; done < size;) {
    const std::size_t n = std::min(kFilePart, size - done);
    filler.fill(expected.data(), n);
    if (!in.read(actual.data(), static_cast<std::streamsize>(n)) || actual.compare(0, n, expected, 0, n) != 0) {
      return false;
    }
    done += n;
  }
  return in.peek() == std::ifstream::traits_type::eof();
}

std::string scratch_file(const std::string& bucket) {
  return (std::filesystem::temp_directory_path() /
          ("cshelve-bench-" + std::to_string(::getpid()) + "-" + bucket + ".bin"))
      .string();
}

std::string unique_bucket(const char* purpose) {
  std::random_device seed;
  return std::string("bench-") + purpose + "-" + std::to_string(::getpid()) + "-" + std::to_string(seed() % 1000000);
}

struct Sizes {
  std::size_t ops = 1000;         // sequential operations
  std::size_t keys = 10000;       // keys of the bulk workloads
  std::size_t value_size = 1024;  // bytes per small value
  std::size_t large = 256u << 20;
};

void run_small(const Sizes& sizes) {
  {
    const Ini ini(unique_bucket("seq"));
    cshelve::Shelf db = cshelve::open(ini.path(), cshelve::Flag::create);
    std::vector<std::string> values;
    for (std::size_t i = 0; i < sizes.ops; ++i) values.push_back(value_of(sizes.value_size, i));

    Measure set("seq_set", sizes.ops);
    for (std::size_t i = 0; i < sizes.ops; ++i) db.set(key_for(i), values[i]);
    set.done();

    Measure get("seq_get", sizes.ops);
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < sizes.ops; ++i) bytes += db.get(key_for(i)).size();
    get.done();
    if (bytes != sizes.ops * sizes.value_size) throw std::runtime_error("seq_get read the wrong size");

    Measure contains("contains", sizes.ops);
    std::size_t found = 0;
    for (std::size_t i = 0; i < sizes.ops; ++i) found += db.contains(key_for(i)) ? 1 : 0;
    contains.done();
    if (found != sizes.ops) throw std::runtime_error("contains missed keys");
    db.close();
  }
  {
    const Ini ini(unique_bucket("bulk"));
    cshelve::Shelf db = cshelve::open(ini.path(), cshelve::Flag::create);
    std::vector<std::pair<std::string, std::string>> items;
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < sizes.keys; ++i) {
      keys.push_back(key_for(i));
      items.emplace_back(keys.back(), value_of(sizes.value_size, i));
    }

    Measure bulk_set("bulk_set", sizes.keys);
    db.set_many(items);
    bulk_set.done();

    Measure size("size", sizes.keys);
    const std::size_t counted = db.size();
    size.done();
    if (counted != sizes.keys) throw std::runtime_error("size counted " + std::to_string(counted));

    Measure iterate("iterate", sizes.keys);
    std::size_t listed = 0;
    for (const std::string& key : db) listed += key.empty() ? 0 : 1;
    iterate.done();
    if (listed != sizes.keys) throw std::runtime_error("iteration listed " + std::to_string(listed));

    Measure bulk_get("bulk_get", sizes.keys);
    const auto values = db.get_many(keys);
    bulk_get.done();
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (!values[i] || *values[i] != items[i].second) throw std::runtime_error("bulk_get read a wrong value");
    }

    // Deleting known keys, then (the keys put back, untimed) emptying with flag n: a listing of
    // every key and the deletes.
    Measure erase("erase_many", sizes.keys);
    db.erase_many(keys);
    erase.done();
    if (db.size() != 0) throw std::runtime_error("erase_many left keys behind");
    db.set_many(items);
    db.close();

    Measure empty("empty_flag_n", sizes.keys);
    cshelve::Shelf emptied = cshelve::open(ini.path(), cshelve::Flag::truncate);
    empty.done();
    if (emptied.size() != 0) throw std::runtime_error("flag n left keys behind");
    emptied.close();
  }
}

// Bulk set alone, on a fresh bucket, with the connections BENCH_CONNECTIONS names.
void run_bulk_set(const Sizes& sizes) {
  const char* connections = std::getenv("BENCH_CONNECTIONS");
  if (connections == nullptr || *connections == '\0') throw std::runtime_error("bulk-set needs BENCH_CONNECTIONS");
  const Ini ini(unique_bucket("bulk-connections"));
  cshelve::Shelf db = cshelve::open(ini.path(), cshelve::Flag::create);
  std::vector<std::pair<std::string, std::string>> items;
  for (std::size_t i = 0; i < sizes.keys; ++i) items.emplace_back(key_for(i), value_of(sizes.value_size, i));
  Measure bulk_set(std::string("bulk_set_connections_") + connections, sizes.keys);
  db.set_many(items);
  bulk_set.done();
  if (db.size() != sizes.keys) throw std::runtime_error("bulk-set stored the wrong number of keys");
  db.close();
}

void run_large_put(const std::string& bucket, const Sizes& sizes) {
  const Ini ini(bucket);
  cshelve::Shelf db = cshelve::open(ini.path(), cshelve::Flag::create);
  const long rss_before = peak_rss_kib();
  const std::string value = value_of(sizes.large, 256);
  Measure put("large_put", 1);
  db.set("large", value);
  put.done(", \"bytes\": " + std::to_string(sizes.large) + ", \"peak_rss_kib\": " + std::to_string(peak_rss_kib()) +
           ", \"rss_before_value_kib\": " + std::to_string(rss_before));
  db.close();
}

void run_large_get(const std::string& bucket, const Sizes& sizes) {
  const Ini ini(bucket);
  cshelve::Shelf db = cshelve::open(ini.path(), cshelve::Flag::read);
  const long rss_before = peak_rss_kib();
  Measure get("large_get", 1);
  const std::string value = db.get("large");
  get.done(", \"bytes\": " + std::to_string(value.size()) + ", \"peak_rss_kib\": " + std::to_string(peak_rss_kib()) +
           ", \"rss_before_value_kib\": " + std::to_string(rss_before));
  // Checked once the figures are out, so the expected copy does not count in the peak.
  if (value.size() != sizes.large) throw std::runtime_error("large_get read the wrong size");
  const std::string expected = value_of(sizes.large, 256);
  if (value != expected) throw std::runtime_error("large_get read a wrong value");
}

// The same value through set_file: from a file, a part at a time.
void run_large_put_file(const std::string& bucket, const Sizes& sizes) {
  const Ini ini(bucket);
  const std::string path = scratch_file(bucket);
  write_value_file(path, sizes.large, 256);
  cshelve::Shelf db = cshelve::open(ini.path(), cshelve::Flag::create);
  const long rss_before = peak_rss_kib();
  Measure put("large_put_file", 1);
  db.set_file("large", path);
  put.done(", \"bytes\": " + std::to_string(sizes.large) + ", \"peak_rss_kib\": " + std::to_string(peak_rss_kib()) +
           ", \"rss_before_value_kib\": " + std::to_string(rss_before));
  db.close();
  std::filesystem::remove(path);
}

// ... and back through get_file, into a file, a part at a time.
void run_large_get_file(const std::string& bucket, const Sizes& sizes) {
  const Ini ini(bucket);
  const std::string path = scratch_file(bucket);
  cshelve::Shelf db = cshelve::open(ini.path(), cshelve::Flag::read);
  const long rss_before = peak_rss_kib();
  Measure get("large_get_file", 1);
  db.get_file("large", path);
  get.done(", \"bytes\": " + std::to_string(std::filesystem::file_size(path)) + ", \"peak_rss_kib\": " +
           std::to_string(peak_rss_kib()) + ", \"rss_before_value_kib\": " + std::to_string(rss_before));
  const bool right = file_holds_value(path, sizes.large, 256);
  std::filesystem::remove(path);
  if (!right) throw std::runtime_error("large_get_file wrote a wrong value");
}

std::size_t number(const char* text) {
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0') throw std::runtime_error(std::string("not a number: ") + text);
  return static_cast<std::size_t>(value);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) {
      std::cerr << "usage: cshelve-bench small|bulk-set|large-put|large-get|large-put-file|large-get-file BUCKET "
                   "[--ops N] [--keys N] "
                   "[--value-size BYTES] [--size BYTES]\n";
      return 2;
    }
    const std::string command = argv[1];
    std::vector<std::string> positional;
    Sizes sizes;
    for (int i = 2; i < argc; ++i) {
      const std::string arg = argv[i];
      const auto next = [&]() -> const char* {
        if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
        return argv[++i];
      };
      if (arg == "--ops")
        sizes.ops = number(next());
      else if (arg == "--keys")
        sizes.keys = number(next());
      else if (arg == "--value-size")
        sizes.value_size = number(next());
      else if (arg == "--size")
        sizes.large = number(next());
      else
        positional.push_back(arg);
    }
    if (command == "small" && positional.empty()) {
      run_small(sizes);
    } else if (command == "bulk-set" && positional.empty()) {
      run_bulk_set(sizes);
    } else if (command == "large-put" && positional.size() == 1) {
      run_large_put(positional[0], sizes);
    } else if (command == "large-get" && positional.size() == 1) {
      run_large_get(positional[0], sizes);
    } else if (command == "large-put-file" && positional.size() == 1) {
      run_large_put_file(positional[0], sizes);
    } else if (command == "large-get-file" && positional.size() == 1) {
      run_large_get_file(positional[0], sizes);
    } else {
      std::cerr << "cshelve-bench: unknown command or wrong arguments\n";
      return 2;
    }
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "cshelve-bench: " << error.what() << "\n";
    return 1;
  }
}
