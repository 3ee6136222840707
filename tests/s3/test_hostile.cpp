// What a broken or hostile server, or a tampered folder or file, may cost a program that embeds
// the library: at most a clear typed error, in bounded memory and time. Servers misbehave on
// purpose on 127.0.0.1 (the scripted server); peak memory is measured in a child process.
#include <cshelve/cshelve.hpp>

#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "../support/s3_shelf.hpp"
#include "../support/test_support.hpp"
#include "scripted_server.hpp"

using namespace cshelve;
using namespace cshelve::testing;
using cshelve_test::kEmptyListing;
using cshelve_test::read_text;
using cshelve_test::TempDir;
using cshelve_test::write_text;

namespace {

std::string listing(const std::vector<std::string>& keys, bool truncated, const std::string& token) {
  std::string body = "<ListBucketResult><EncodingType>url</EncodingType><KeyCount>" + std::to_string(keys.size()) +
                     "</KeyCount><IsTruncated>" + (truncated ? "true" : "false") + "</IsTruncated>";
  for (const std::string& key : keys) body += "<Contents><Key>" + key + "</Key></Contents>";
  if (!token.empty()) body += "<NextContinuationToken>" + token + "</NextContinuationToken>";
  return body + "</ListBucketResult>";
}

std::string ini_for(const TempDir& folder, const ScriptedServer& server, const std::string& extra = "") {
  return cshelve_test::scripted_shelf_ini(folder, server.url(), "read_timeout = 2\nmax_attempts = 3\n" + extra);
}

// AddressSanitizer keeps freed memory aside (its quarantine, 256 MiB by default) and counts it in
// the peak: an allowance for that, far below what the unbounded code took (1.4 GB and more).
constexpr long kSanitizerSlackKib = cshelve_test::kAddressSanitizer ? 256 * 1024 : 0;

// What a child process did: how it ended and its peak resident memory.
struct ChildRun {
  std::string outcome;  // "ok", or the name of the exception type, then ": " and its message
  long peak_kib = 0;
  bool exited = false;
};

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

// A memory figure of this process, in KiB, from /proc/self/status ("VmHWM", "VmRSS"; 0 if unknown).
long memory_kib(const char* field) {
  std::FILE* status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) return 0;
  char line[256];
  long peak = 0;
  while (std::fgets(line, sizeof line, status) != nullptr) {
    const std::string text = line;
    if (text.rfind(std::string(field) + ":", 0) == 0) {
      peak = std::stol(text.substr(std::strlen(field) + 1));
      break;
    }
  }
  std::fclose(status);
  return peak;
}

// Runs `work` in a child process (the scripted server keeps serving from this one) and measures
// how much the child's resident memory grew at its peak while it worked: the peak inherited from
// this process is reset first (clear_refs) and the memory the child starts with taken off (else
// getrusage's figure, which includes all that, is used). `work` reports what it threw by
// returning a line.
ChildRun in_child(const std::function<std::string()>& work, int seconds_allowed = 60) {
  int pipe_ends[2];
  REQUIRE(::pipe(pipe_ends) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipe_ends[0]);
    ::alarm(static_cast<unsigned>(seconds_allowed));  // a hang ends the child, and the test fails
    bool reset = false;
    if (std::FILE* clear = std::fopen("/proc/self/clear_refs", "w")) {
      reset = std::fputs("5", clear) >= 0;
      reset = std::fclose(clear) == 0 && reset;
    }
    const long start = memory_kib("VmRSS");
    std::string outcome;
    try {
      outcome = work();
    } catch (const std::exception& error) {
      outcome = std::string("unexpected std::exception: ") + error.what();
    }
    if (reset) outcome = "peak " + std::to_string(memory_kib("VmHWM") - start) + "\n" + outcome;
    const ssize_t written = ::write(pipe_ends[1], outcome.data(), outcome.size());
    (void)written;
    ::_exit(0);
  }
  ::close(pipe_ends[1]);
  ChildRun run;
  char buffer[4096];
  for (;;) {
    const ssize_t got = ::read(pipe_ends[0], buffer, sizeof buffer);
    if (got <= 0) break;
    run.outcome.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(pipe_ends[0]);
  int status = 0;
  rusage usage{};
  REQUIRE(::wait4(child, &status, 0, &usage) == child);
  run.exited = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  run.peak_kib = usage.ru_maxrss;
  if (starts_with(run.outcome, "peak ")) {
    const std::size_t end = run.outcome.find('\n');
    run.peak_kib = std::stol(run.outcome.substr(5, end - 5));
    run.outcome.erase(0, end + 1);
  }
  return run;
}

// The error a call throws, as "Type: message"; "ok" when it throws none.
std::string outcome_of(const std::function<void()>& call) {
  try {
    call();
    return "ok";
  } catch (const MalformedResponseError& error) {
    return std::string("MalformedResponseError: ") + error.what();
  } catch (const NetworkError& error) {
    return std::string("NetworkError: ") + error.what();
  } catch (const ConfigurationError& error) {
    return std::string("ConfigurationError: ") + error.what();
  } catch (const StorageError& error) {
    return std::string("StorageError: ") + error.what();
  } catch (const Error& error) {
    return std::string("Error: ") + error.what();
  } catch (const std::bad_alloc&) {
    return "std::bad_alloc";
  }
}

}  // namespace

// --- 1. A listing that never ends ---

TEST_CASE("listing: a truncated page that repeats its token ends in MalformedResponseError after the retries") {
  using Operation = std::function<void(Shelf&)>;
  const std::vector<std::pair<std::string, Operation>> operations = {
      {"len", [](Shelf& db) { (void)db.size(); }},
      {"iteration",
       [](Shelf& db) {
         for (const std::string& key : db) (void)key;
       }},
  };
  for (const auto& [name, operation] : operations) {
    CAPTURE(name);
    std::vector<ScriptedReply> script = {http_reply(200, kEmptyListing), http_reply(200, listing({"a"}, true, "T1"))};
    // The same page again and again: truncated, another key, the token it was asked with.
    for (int i = 0; i < 30; ++i) script.push_back(http_reply(200, listing({"b"}, true, "T1")));
    ScriptedServer server(script);
    TempDir folder;
    auto db = open(ini_for(folder, server), Flag::read);
    const std::string outcome = outcome_of([&] { operation(db); });
    CHECK_MESSAGE(starts_with(outcome, "MalformedResponseError"), outcome);
    CHECK(outcome.find("NextContinuationToken") != std::string::npos);
    CHECK(outcome.find("3 attempts") != std::string::npos);
    CHECK(server.requests().size() == 5);  // the bucket check, the first page, three attempts at the next
  }
}

TEST_CASE("listing: a page that is truncated but empty ends in MalformedResponseError after the retries") {
  std::vector<ScriptedReply> script = {http_reply(200, kEmptyListing)};
  for (int i = 0; i < 30; ++i) script.push_back(http_reply(200, listing({}, true, "T" + std::to_string(i))));
  ScriptedServer server(script);
  TempDir folder;
  auto db = open(ini_for(folder, server), Flag::read);
  const std::string outcome = outcome_of([&] { (void)db.begin(); });
  CHECK_MESSAGE(starts_with(outcome, "MalformedResponseError"), outcome);
  CHECK(outcome.find("without any key") != std::string::npos);
  CHECK(server.requests().size() == 4);
}

TEST_CASE("listing: flag n stops deleting once a page repeats its token") {
  std::vector<ScriptedReply> script = {http_reply(200, kEmptyListing), http_reply(200, listing({"a"}, true, "T1")),
                                       http_reply(200, "<DeleteResult></DeleteResult>")};
  for (int i = 0; i < 30; ++i) script.push_back(http_reply(200, listing({"b"}, true, "T1")));
  ScriptedServer server(script);
  TempDir folder;
  const std::string ini = ini_for(folder, server);
  const std::string outcome = outcome_of([&] { (void)open(ini, Flag::truncate); });
  CHECK_MESSAGE(starts_with(outcome, "MalformedResponseError"), outcome);
  std::size_t deletes = 0;
  for (const ReceivedRequest& request : server.requests()) deletes += request.method == "POST";
  CHECK(deletes == 1);
}

// --- 2. A reply body that never ends ---

TEST_CASE("an endless listing reply stops at the buffered-reply ceiling, in bounded memory") {
  // 256 MiB would come; the client must stop at 16 MiB and not retry.
  ScriptedServer server({endless_chunked_reply(200, "<ListBucketResult><Contents><Key>", 256u << 20)});
  TempDir folder;
  const std::string ini = ini_for(folder, server);
  const ChildRun run = in_child([&] { return outcome_of([&] { (void)open(ini, Flag::read); }); });
  INFO("outcome: " << run.outcome << ", peak " << run.peak_kib / 1024 << " MiB");
  MESSAGE("peak memory growth of the child: " << run.peak_kib / 1024 << " MiB");
  CHECK(run.exited);
  CHECK(starts_with(run.outcome, "MalformedResponseError"));
  CHECK(run.outcome.find("16 MiB") != std::string::npos);
  CHECK(run.peak_kib < 120 * 1024 + kSanitizerSlackKib);
  CHECK(server.requests().size() == 1);
}

// --- 3. A huge announced Content-Length ---

TEST_CASE("a reply announcing 1.5 GB but sending 100 bytes costs little memory, for a value and for a listing") {
  const long announced = 1500L * 1000 * 1000;
  std::vector<ScriptedReply> script = {http_reply(200, kEmptyListing)};
  for (int i = 0; i < 3; ++i) script.push_back(truncated_reply(200, std::string(100, 'v'), announced));
  for (int i = 0; i < 3; ++i) script.push_back(truncated_reply(200, "<ListBucketResult>", announced));
  ScriptedServer server(script);
  TempDir folder;
  const std::string ini = ini_for(folder, server);
  const ChildRun run = in_child([&] {
    auto db = open(ini, Flag::read);
    const std::string value = outcome_of([&] { (void)db.get("k"); });
    const std::string keys = outcome_of([&] { (void)db.size(); });
    return value + "\n" + keys;
  });
  INFO("outcome: " << run.outcome << ", peak " << run.peak_kib / 1024 << " MiB");
  MESSAGE("peak memory growth of the child: " << run.peak_kib / 1024 << " MiB");
  CHECK(run.exited);
  CHECK(starts_with(run.outcome, "NetworkError"));
  CHECK(run.outcome.find("\nNetworkError") != std::string::npos);
  CHECK(run.peak_kib < 200 * 1024 + kSanitizerSlackKib);
}

// A GetObject reply carrying a record of `value`, with the record's 10-byte header first.
std::string record_of(const std::string& value) {
  std::string record(10, '\0');
  for (int i = 0; i < 8; ++i) record[2 + i] = static_cast<char>((value.size() >> (8 * i)) & 0xff);
  return record + value;
}

std::string patterned_value(std::size_t size) {
  std::string value(size, '\0');
  for (std::size_t i = 0; i < size; ++i) value[i] = static_cast<char>('a' + i % 23);
  return value;
}

TEST_CASE("a value larger than the room reserved up front arrives whole, in a buffer of its own size") {
  // Past the 8 MiB reserved up front the room grows once, to the announced length, holding both
  // buffers for a moment: never a doubled capacity on top.
  const std::string value = patterned_value((80u << 20) + 12345);
  ScriptedServer server({http_reply(200, kEmptyListing), http_reply(200, record_of(value))});
  TempDir folder;
  const std::string ini = ini_for(folder, server);
  const ChildRun run = in_child([&] {
    auto db = open(ini, Flag::read);
    const std::string got = db.get("k");
    // The value keeps no room beyond what arrived: not a doubled capacity from a last step.
    return std::string(got == value ? "same" : "different") +
           (got.capacity() - got.size() < (1u << 20) ? " tight" : " loose");
  });
  INFO("outcome: " << run.outcome << ", peak " << run.peak_kib / 1024 << " MiB");
  MESSAGE("peak memory growth of the child: " << run.peak_kib / 1024 << " MiB");
  CHECK(run.exited);
  CHECK(run.outcome.find("same tight") != std::string::npos);
  CHECK(run.peak_kib < static_cast<long>(value.size() / 1024) * 13 / 10 + kSanitizerSlackKib);
}

TEST_CASE("a value sent without a length arrives whole, its room grown as the bytes come") {
  const std::string value = patterned_value((20u << 20) + 777);
  const std::string record = record_of(value);
  ScriptedReply chunked;
  chunked.raw = "HTTP/1.1 200 OK\r\nContent-Type: binary/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t at = 0; at < record.size(); at += 1u << 20) {
    const std::string piece = record.substr(at, 1u << 20);
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", piece.size());
    chunked.raw += size_line + piece + "\r\n";
  }
  chunked.raw += "0\r\n\r\n";
  ScriptedServer server({http_reply(200, kEmptyListing), chunked});
  TempDir folder;
  auto db = open(ini_for(folder, server), Flag::read);
  CHECK(db.get("k") == value);
}

// --- 4. A server that drips ---

TEST_CASE("a reply dripping 4 bytes a second ends in a timeout after the retries, not never") {
  std::vector<ScriptedReply> script = {http_reply(200, kEmptyListing)};
  for (int i = 0; i < 3; ++i) script.push_back(drip_reply(200, 1000, "abcd", 1000, 60));
  ScriptedServer server(script);
  TempDir folder;
  auto db = open(ini_for(folder, server), Flag::read);  // the default minimum speed: 1,024 bytes/s
  const auto start = std::chrono::steady_clock::now();
  const std::string outcome = outcome_of([&] { (void)db.get("k"); });
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(outcome << " after " << seconds << " s");
  CHECK(starts_with(outcome, "NetworkError"));
  CHECK(outcome.find("3 attempts") != std::string::npos);
  CHECK(seconds < 30);
  CHECK(server.requests().size() == 4);
}

TEST_CASE("contains on a server that ignores the range does not download the value") {
  // 256 MiB announced, 64 KiB every 100 ms: the whole value would take minutes to arrive.
  ScriptedServer server(
      {http_reply(200, kEmptyListing), drip_reply(200, 256L << 20, std::string(64 << 10, 'v'), 100, 4096)});
  TempDir folder;
  auto db = open(ini_for(folder, server), Flag::read);
  const auto start = std::chrono::steady_clock::now();
  bool found = false;
  const std::string outcome = outcome_of([&] { found = db.contains("large"); });
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(outcome << " after " << seconds << " s");
  CHECK(outcome == "ok");
  CHECK(found);
  CHECK(seconds < 5);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);  // the bucket's check, then the key's: one attempt, no listing
  CHECK(requests[1].method == "GET");
  CHECK(requests[1].target == "/shelf/large");
  CHECK(requests[1].header("range") == "bytes=0-0");
}

TEST_CASE("attempt_timeout ends an attempt that moves fast enough but never finishes") {
  std::vector<ScriptedReply> script = {http_reply(200, kEmptyListing)};
  // 2,000 bytes a second: above min_transfer_speed, so only the deadline can end it.
  for (int i = 0; i < 3; ++i) script.push_back(drip_reply(200, 1000000, std::string(200, 'x'), 100, 600));
  ScriptedServer server(script);
  TempDir folder;
  auto db = open(ini_for(folder, server, "attempt_timeout = 2\nmin_transfer_speed = 100\n"), Flag::read);
  const auto start = std::chrono::steady_clock::now();
  const std::string outcome = outcome_of([&] { (void)db.get("k"); });
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(outcome << " after " << seconds << " s");
  CHECK(starts_with(outcome, "NetworkError"));
  CHECK(outcome.find("timed out") != std::string::npos);
  CHECK(seconds < 20);
}

// --- 5. Links in a local shelf ---

TEST_CASE("a local shelf refuses a link in a piece folder or at a record file, and writes nothing outside") {
  TempDir root;
  const std::string shelf = root / "shelf";
  const std::string outside = root / "outside";
  std::filesystem::create_directories(outside);
  const std::string long_key(300, 'k');  // encoded, longer than one piece: it lives in a piece folder
  {
    auto db = open(shelf, Flag::create);
    db.set(long_key, "inside");
    db.set("short", "inside");
  }
  // The piece folder becomes a link to a folder outside the shelf.
  std::string piece;
  for (const auto& entry : std::filesystem::directory_iterator(shelf)) {
    if (entry.is_directory()) piece = entry.path().string();
  }
  REQUIRE(!piece.empty());
  std::filesystem::rename(piece, outside + "/moved");
  std::filesystem::create_directory_symlink(outside + "/moved", piece);
  // The short key's file becomes a link to a file outside.
  write_text(outside + "/secret", "outside");
  std::filesystem::remove(shelf + "/short");
  std::filesystem::create_symlink(outside + "/secret", shelf + "/short");

  auto db = open(shelf, Flag::write);
  const auto count_outside = [&] {
    std::size_t count = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(outside)) count += entry.is_regular_file();
    return count;
  };
  const std::size_t before = count_outside();
  std::string outcome = outcome_of([&] { db.set(long_key, "written"); });
  CHECK_MESSAGE(starts_with(outcome, "StorageError"), outcome);
  CHECK(outcome.find("symbolic link") != std::string::npos);
  outcome = outcome_of([&] { db.set(long_key + "x", "written"); });
  CHECK_MESSAGE(starts_with(outcome, "StorageError"), outcome);
  CHECK(count_outside() == before);
  outcome = outcome_of([&] { (void)db.get(long_key); });
  CHECK_MESSAGE(starts_with(outcome, "StorageError"), outcome);
  outcome = outcome_of([&] { (void)db.get("short"); });
  CHECK_MESSAGE(starts_with(outcome, "StorageError"), outcome);
  outcome = outcome_of([&] { (void)db.contains("short"); });
  CHECK_MESSAGE(starts_with(outcome, "StorageError"), outcome);
  outcome = outcome_of([&] { db.erase(long_key); });
  CHECK_MESSAGE(starts_with(outcome, "StorageError"), outcome);
  CHECK(read_text(outside + "/secret") == "outside");
  CHECK(count_outside() == before);
}

// --- 6. Configuration files ---

TEST_CASE("a configuration file that is a device, too large or not UTF-8 is a ConfigurationError") {
  TempDir folder;
  const std::string good = "[default]\nprovider = in-memory\npersist-key = hostile\n";

  const std::string device = folder / "zero.ini";
  std::filesystem::create_symlink("/dev/zero", device);
  const ChildRun run = in_child([&] { return outcome_of([&] { (void)open(device, Flag::create); }); }, 20);
  INFO("outcome: " << run.outcome << ", peak " << run.peak_kib / 1024 << " MiB");
  MESSAGE("peak memory growth of the child: " << run.peak_kib / 1024 << " MiB");
  CHECK(run.exited);
  CHECK(starts_with(run.outcome, "ConfigurationError"));
  CHECK(run.outcome.find("not a regular file") != std::string::npos);
  CHECK(run.peak_kib < 64 * 1024);

  const std::string large = folder / "large.ini";
  write_text(large, good + std::string(2u << 20, '#').insert(0, "\n") + "\n");
  std::string outcome = outcome_of([&] { (void)open(large, Flag::create); });
  CHECK_MESSAGE(starts_with(outcome, "ConfigurationError"), outcome);
  CHECK(outcome.find("1 MiB") != std::string::npos);

  const std::string latin1 = folder / "latin1.ini";
  write_text(latin1, good + "# caf\xe9\n");
  outcome = outcome_of([&] { (void)open(latin1, Flag::create); });
  CHECK_MESSAGE(starts_with(outcome, "ConfigurationError"), outcome);
  CHECK(outcome.find("UTF-8") != std::string::npos);

  const std::string fine = folder / "fine.ini";
  write_text(fine, good + "# caf\xc3\xa9\n");
  CHECK(outcome_of([&] { (void)open(fine, Flag::create); }) == "ok");
}

// --- Also: a missing bucket is named ---

TEST_CASE("opening a missing bucket with flag r names the bucket") {
  ScriptedServer server({s3_error_reply(404, "NoSuchBucket", "The specified bucket does not exist")});
  TempDir folder;
  const std::string ini = ini_for(folder, server);
  std::string message;
  try {
    (void)open(ini, Flag::read);
  } catch (const DBDoesNotExistError& error) {
    message = error.what();
  }
  CHECK(message.find("bucket 'shelf'") != std::string::npos);
}
