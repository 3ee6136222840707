// A shelf's set_file and get_file over the aws-s3 provider, against the scripted server: what a
// retry does to a file on its way up or down.
#include <cshelve/cshelve.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <string>

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

// The entries of a folder, so that a test can tell no temporary file was left behind.
std::size_t entries(const TempDir& folder) {
  return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(folder.path()), {}));
}

std::string record_of(const std::string& value) {
  std::string header(10, '\0');
  for (int i = 0; i < 8; ++i) header[2 + i] = static_cast<char>((value.size() >> (8 * i)) & 0xff);
  return header + value;
}

std::string ini_for(const TempDir& folder, const ScriptedServer& server) {
  return cshelve_test::scripted_shelf_ini(folder, server.url(), "read_timeout = 1\n");
}

}  // namespace

TEST_CASE("the longest timeouts the configuration takes reach libcurl intact, even with a 32-bit long") {
  // 9999999 s is 9999999000 ms: more than a 32-bit long holds. Converting it was undefined, and
  // rounding it up to seconds for libcurl's low-speed check then overflowed into a negative
  // number, which libcurl refused: every request failed before it was sent.
  const std::string record = record_of("late");
  ScriptedServer server({http_reply(200, kEmptyListing), stall_reply(4000), http_reply(200, record)});
  TempDir folder;
  const std::string ini = folder / "s3.ini";
  write_text(ini,
             "[default]\nprovider = aws-s3\nbucket_name = shelf\nauth_type = access_key\nkey_id = AKID\n"
             "key_secret = secret\n[provider_params]\nendpoint_url = " +
                 server.url() + "\nread_timeout = 9999999\nconnect_timeout = 9999999\nmax_attempts = 2\n");
  auto db = open(ini, Flag::read);
  const auto start = std::chrono::steady_clock::now();
  CHECK(db.get("k") == "late");  // the second attempt, after the server closed the stalled one
  // The client waited for the silent server until it hung up, 4 s later.
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(3500));
  CHECK(server.requests().size() == 3);
}

TEST_CASE("get_file: a body cut short is fetched again and the file holds the value once") {
  const std::string value(200000, 'v');
  const std::string record = record_of(value);
  ScriptedServer server({http_reply(200, kEmptyListing),  // the bucket exists
                         truncated_reply(200, record.substr(0, 150000), static_cast<long>(record.size())),
                         http_reply(200, record)});
  TempDir folder;
  auto db = open(ini_for(folder, server), Flag::read);
  write_text(folder / "target", "old");
  db.get_file("k", folder / "target");
  CHECK(read_text(folder / "target") == value);
  CHECK(server.requests().size() == 3);
  CHECK(entries(folder) == 2);  // the INI and the target: no temporary file left
}

TEST_CASE("get_file: when every attempt fails the old file stays and nothing else is left") {
  const std::string record = record_of("value");
  ScriptedServer server({http_reply(200, kEmptyListing), truncated_reply(200, "\0\0", 15),
                         truncated_reply(200, "\0\0", 15), truncated_reply(200, "\0\0", 15)});
  TempDir folder;
  auto db = open(ini_for(folder, server), Flag::read);
  write_text(folder / "target", "old");
  CHECK_THROWS_AS(db.get_file("k", folder / "target"), NetworkError);
  CHECK(read_text(folder / "target") == "old");
  CHECK(entries(folder) == 2);
}

TEST_CASE("set_file: the file goes up as the record, signed, and again whole on a retry") {
  const std::string value = std::string(300000, 'f') + "end";
  ScriptedServer server({http_reply(200, kEmptyListing), s3_error_reply(500, "InternalError"), http_reply(200)});
  TempDir folder;
  auto db = open(ini_for(folder, server), Flag::write);
  write_text(folder / "source", value);
  db.set_file("k", folder / "source");
  const auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  for (std::size_t i = 1; i < 3; ++i) {
    CHECK(requests[i].method == "PUT");
    CHECK(requests[i].body == record_of(value));
    CHECK(requests[i].header("x-amz-content-sha256") != "UNSIGNED-PAYLOAD");
  }
}

TEST_CASE("checksum = off in the INI: set_file and get_file send no checksum headers; by default they do") {
  for (const bool off : {false, true}) {
    CAPTURE(off);
    const std::string record = record_of("value");
    ScriptedServer server({http_reply(200, kEmptyListing), http_reply(200), http_reply(200, record)});
    TempDir folder;
    auto db = open(cshelve_test::scripted_shelf_ini(folder, server.url(), off ? "checksum = off\n" : ""), Flag::write);
    write_text(folder / "source", "value");
    db.set_file("k", folder / "source");
    db.get_file("k", folder / "target");
    CHECK(read_text(folder / "target") == "value");
    const auto requests = server.requests();
    REQUIRE(requests.size() == 3);
    bool present = false;
    requests[1].header("x-amz-checksum-crc64nvme", &present);
    CHECK(present == !off);
    requests[1].header("x-amz-sdk-checksum-algorithm", &present);
    CHECK(present == !off);
    requests[2].header("x-amz-checksum-mode", &present);
    CHECK(present == !off);
  }
}
