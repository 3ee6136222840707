// The aws-s3 provider end to end, against the local S3 server behind the signature gate
// (tests/s3/with-server.sh starts both and exports CSHELVE_TEST_S3_*).
#include <cshelve/cshelve.hpp>

#include "config/ini.hpp"
#include "config/settings.hpp"
#include "providers/provider.hpp"
#include "s3/client.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <regex>
#include <set>

#include "../support/log_collector.hpp"
#include "../support/test_support.hpp"

using namespace cshelve;
using cshelve_test::LogCollector;
using cshelve_test::read_text;
using cshelve_test::ScopedEnv;
using cshelve_test::TempDir;
using cshelve_test::write_text;

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    FAIL("environment variable " << std::string(name) << " is not set: run through tests/s3/with-server.sh");
  }
  return value;
}

std::string endpoint() { return env("CSHELVE_TEST_S3_ENDPOINT"); }

std::string fresh_bucket() {
  static std::atomic<int> counter{0};
  return "shelf-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

// An INI naming the bucket, credentials in the file, endpoint in [provider_params].
std::string s3_ini(const TempDir& dir, const std::string& bucket, const std::string& extra_default = "",
                   const std::string& extra_sections = "") {
  const std::string path = dir / (bucket + ".ini");
  write_text(path, "[default]\nprovider = aws-s3\nbucket_name = " + bucket + "\nauth_type = access_key\nkey_id = " +
                       env("CSHELVE_TEST_S3_KEY_ID") + "\nkey_secret = " + env("CSHELVE_TEST_S3_KEY_SECRET") + "\n" +
                       extra_default + "\n[provider_params]\nendpoint_url = " + endpoint() + "\n" + extra_sections);
  return path;
}

s3::Client raw_client() {
  s3::ClientConfig config;
  config.endpoint = s3::parse_endpoint(endpoint());
  config.credentials.access_key_id = env("CSHELVE_TEST_S3_KEY_ID");
  config.credentials.secret_access_key = env("CSHELVE_TEST_S3_KEY_SECRET");
  return s3::Client(config);
}

struct LoggedRequest {
  std::string method;
  std::string path;
  std::string query;
  int status = 0;
};

// The requests the gate saw for this program's buckets from the moment of construction on.
class RequestWatch {
 public:
  RequestWatch() : path_(env("CSHELVE_TEST_S3_REQUEST_LOG")), start_(read_text(path_).size()) {}

  std::vector<LoggedRequest> since() const {
    const std::string text = read_text(path_).substr(start_);
    static const std::regex field_method("\"method\": *\"([A-Z]+)\"");
    static const std::regex field_path("\"path\": *\"([^\"]*)\"");
    static const std::regex field_query("\"query\": *\"([^\"]*)\"");
    static const std::regex field_status("\"status\": *([0-9]+)");
    std::vector<LoggedRequest> requests;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      std::smatch m;
      LoggedRequest request;
      if (std::regex_search(line, m, field_method)) request.method = m[1];
      if (std::regex_search(line, m, field_path)) request.path = m[1];
      if (std::regex_search(line, m, field_query)) request.query = m[1];
      if (std::regex_search(line, m, field_status)) request.status = std::stoi(m[1]);
      // Only this program's buckets (see fresh_bucket()): other test programs may use the stack
      // at the same time.
      if (request.path.rfind("/shelf-" + std::to_string(::getpid()) + "-", 0) != 0) continue;
      requests.push_back(request);
    }
    return requests;
  }

  std::set<std::string> methods() const {
    std::set<std::string> out;
    for (const auto& request : since()) out.insert(request.method);
    return out;
  }

 private:
  std::string path_;
  std::size_t start_;
};

std::set<std::string> keys_of(const Shelf& shelf) {
  std::set<std::string> keys;
  for (const std::string& key : shelf) CHECK(keys.insert(key).second);
  return keys;
}

std::string fixed_width_key(int i) {
  char key[16];
  std::snprintf(key, sizeof key, "k/%05d", i);
  return key;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

}  // namespace

TEST_CASE("aws-s3: the documented INI with the endpoint passed from code") {
  TempDir dir;
  ScopedEnv id("AWS_KEY_ID", env("CSHELVE_TEST_S3_KEY_ID"));
  ScopedEnv secret("AWS_KEY_SECRET", env("CSHELVE_TEST_S3_KEY_SECRET"));
  const std::string bucket = fresh_bucket();
  const std::string ini = dir / "aws-s3.ini";
  write_text(ini,
             replace_all(read_text(CSHELVE_TEST_SOURCE_DIR "/../examples/aws-s3.ini"), "= cshelve", "= " + bucket));
  Options options;
  options.provider_params["endpoint_url"] = endpoint();
  auto db = open(ini, Flag::create, options);
  db.set("hello", "world");
  CHECK(db.get("hello") == "world");
  CHECK(db.size() == 1);
}

TEST_CASE("aws-s3: the documented INI with a quoted endpoint_url in [provider_params]") {
  TempDir dir;
  ScopedEnv id("AWS_KEY_ID", env("CSHELVE_TEST_S3_KEY_ID"));
  ScopedEnv secret("AWS_KEY_SECRET", env("CSHELVE_TEST_S3_KEY_SECRET"));
  const std::string documented = read_text(CSHELVE_TEST_SOURCE_DIR "/../examples/aws-s3-endpoint.ini");
  REQUIRE(documented.find("endpoint_url = \"http://localhost:9000\"") != std::string::npos);
  const std::string bucket = fresh_bucket();
  const std::string ini = dir / "aws-s3-endpoint.ini";
  write_text(ini,
             replace_all(replace_all(documented, "http://localhost:9000", endpoint()), "= cshelve", "= " + bucket));
  {
    auto db = open(ini);
    db.set("dir/ünï key", std::string("\0\1", 2));
  }
  auto db = open(ini, Flag::read);
  CHECK(db.get("dir/ünï key") == std::string("\0\1", 2));
  CHECK(keys_of(db) == std::set<std::string>{"dir/ünï key"});
}

TEST_CASE("aws-s3: the INI's provider_params win over those from code") {
  TempDir dir;
  const std::string ini = s3_ini(dir, fresh_bucket());
  Options options;
  options.provider_params["endpoint_url"] = "http://127.0.0.1:9";  // nothing listens there
  options.provider_params["region_name"] = "us-east-1";
  auto db = open(ini, Flag::create, options);
  db.set("k", "v");
  CHECK(db.get("k") == "v");
}

TEST_CASE("aws-s3: get, set, find, contains, erase, size") {
  TempDir dir;
  auto db = open(s3_ini(dir, fresh_bucket()));
  const std::vector<std::string> keys = {
      "plain",      "with space", "ünïcödé/漢字/🦀", "+ = & % ~ ! ' \" * ( )", "nested/path/key",
      "sémantique", "k~tilde"};
  for (const auto& key : keys) db.set(key, "value of " + key);
  for (const auto& key : keys) {
    CAPTURE(key);
    CHECK(db.get(key) == "value of " + key);
    CHECK(db.contains(key));
  }
  CHECK(db.size() == keys.size());
  CHECK(keys_of(db) == std::set<std::string>(keys.begin(), keys.end()));
  CHECK_FALSE(db.contains("nested/path"));  // a prefix of a key is not the key
  CHECK_FALSE(db.contains("absent"));
  CHECK_FALSE(db.find("absent").has_value());
  CHECK_THROWS_AS(db.get("absent"), KeyNotFoundError);
  db.set("empty", "");
  CHECK(db.get("empty").empty());
  db.erase("plain");
  CHECK_FALSE(db.contains("plain"));
  CHECK_NOTHROW(db.erase("plain"));  // S3 cannot tell a missing key: nothing is raised
  CHECK(db.size() == keys.size());
}

TEST_CASE("aws-s3: the logger gets a line per request at debug level") {
  TempDir dir;
  LogCollector log;
  Options options;
  options.logger = log.logger();
  options.log_level = LogLevel::debug;
  {
    auto db = open(s3_ini(dir, fresh_bucket()), Flag::create, options);
    db.set("logged", "v");
    CHECK(db.get("logged") == "v");
  }
  const auto lines = log.entries();
  const auto request_line = [](const std::pair<LogLevel, std::string>& line) {
    return line.first == LogLevel::debug && line.second.find("/logged -> 200 in ") != std::string::npos;
  };
  CHECK(std::count_if(lines.begin(), lines.end(), request_line) == 2);  // the PUT and the GET
}

TEST_CASE("aws-s3 provider: lines below the log level are not produced at all") {
  // The provider is built by hand with a logger that keeps every line it is given: the shelf's
  // own logger would drop those below the level and hide them.
  TempDir dir;
  const config::Ini ini = config::read_ini(s3_ini(dir, fresh_bucket()));
  std::vector<LogLevel> levels;
  const config::Settings settings = config::settings_from_ini(ini, {});
  providers::ProviderRuntime runtime;
  runtime.log = [&](LogLevel level, std::string_view) { levels.push_back(level); };
  for (const LogLevel threshold : {LogLevel::info, LogLevel::debug}) {
    CAPTURE(to_string(threshold));
    levels.clear();
    runtime.log_level = threshold;
    const auto provider = providers::make_provider(settings.storage, runtime);
    if (!provider->exists()) provider->create();
    provider->put("k", {"v"});
    CHECK(provider->get("k") == std::optional<std::string>("v"));
    const bool any_debug = std::count(levels.begin(), levels.end(), LogLevel::debug) > 0;
    CHECK(any_debug == (threshold == LogLevel::debug));
  }
}

TEST_CASE("aws-s3: objects hold the shelf key as their key and the record format as their body") {
  TempDir dir;
  const std::string bucket = fresh_bucket();
  open(s3_ini(dir, bucket)).set("dir/ünï key", "value");
  auto client = raw_client();
  CHECK(client.get_object(bucket, "dir/ünï key") == std::string("\0\0\5\0\0\0\0\0\0\0value", 15));
}

TEST_CASE("aws-s3: 2,500 keys for size, iteration and purge with flag n") {
  TempDir dir;
  const std::string ini = s3_ini(dir, fresh_bucket());
  std::set<std::string> expected;
  {
    auto db = open(ini);
    std::vector<std::pair<std::string, std::string>> items;
    for (int i = 0; i < 2500; ++i) {
      items.emplace_back(fixed_width_key(i), std::to_string(i));
      expected.insert(fixed_width_key(i));
    }
    db.set_many(items);
    CHECK(db.size() == 2500);
    CHECK(keys_of(db) == expected);
    const auto values = db.get_many({fixed_width_key(7), fixed_width_key(2499), "k/absent"});
    CHECK(values[0] == std::optional<std::string>("7"));
    CHECK(values[1] == std::optional<std::string>("2499"));
    CHECK_FALSE(values[2].has_value());
  }
  RequestWatch watch;
  auto db = open(ini, Flag::truncate);
  CHECK(db.size() == 0);
  int bulk_deletes = 0;
  std::string order;  // L: a listing, D: a bulk delete
  for (const auto& request : watch.since()) {
    CHECK(request.method != "DELETE");  // never one DELETE per key
    if (request.method == "GET" && request.query.find("list-type=2") != std::string::npos) order += 'L';
    if (request.method == "POST" && request.query.find("delete") != std::string::npos && request.status == 200) {
      ++bulk_deletes;
      order += 'D';
    }
  }
  // 1,000 + 1,000 + 500; the local server sometimes answers a batch with a 500, which is retried.
  CHECK(bulk_deletes == 3);
  // Each page is deleted before the next one is listed.
  CHECK(order.find("DD") == std::string::npos);
  CHECK(order.rfind('D') > order.find("LD"));
}

TEST_CASE("aws-s3: flag r opens an existing bucket and only ever sends GET") {
  TempDir dir;
  const std::string bucket = fresh_bucket();
  const std::string ini = s3_ini(dir, bucket);
  {
    RequestWatch watch;
    CHECK_THROWS_AS(open(ini, Flag::read), DBDoesNotExistError);
    CHECK(watch.methods() == std::set<std::string>{"GET"});
  }
  open(ini).set("k", "v");
  RequestWatch watch;
  auto db = open(ini, Flag::read);
  CHECK(db.get("k") == "v");
  CHECK(db.contains("k"));
  CHECK_FALSE(db.find("nope"));
  CHECK(db.size() == 1);
  CHECK(keys_of(db).size() == 1);
  CHECK_THROWS_AS(db.set("k", "w"), ReadOnlyError);
  CHECK_THROWS_AS(db.erase("k"), ReadOnlyError);
  db.close();
  CHECK(watch.methods() == std::set<std::string>{"GET"});
}

TEST_CASE("aws-s3: flag w requires the bucket and never tries to create it") {
  TempDir dir;
  const std::string ini = s3_ini(dir, fresh_bucket());
  RequestWatch watch;
  try {
    open(ini, Flag::write);
    FAIL("no error");
  } catch (const DBDoesNotExistError& error) {
    CHECK(std::string(error.what()).find(ini) != std::string::npos);
  }
  CHECK(watch.methods() == std::set<std::string>{"GET"});
  open(ini, Flag::create).set("k", "v");
  auto db = open(ini, Flag::write);
  db.set("k2", "v2");
  CHECK(db.size() == 2);
}

TEST_CASE("aws-s3: flag c creates the bucket when missing, once") {
  TempDir dir;
  const std::string bucket = fresh_bucket();
  const std::string ini = s3_ini(dir, bucket);
  {
    RequestWatch watch;
    open(ini, Flag::create).set("k", "v");
    int creations = 0;
    for (const auto& request : watch.since()) creations += request.method == "PUT" && request.path == "/" + bucket;
    CHECK(creations == 1);
  }
  RequestWatch watch;
  CHECK(open(ini, Flag::create).get("k") == "v");  // existing: kept, not created again
  for (const auto& request : watch.since()) CHECK_FALSE((request.method == "PUT" && request.path == "/" + bucket));
}

TEST_CASE("aws-s3: a bucket that cannot be created is CanNotCreateDBError with the server's reason") {
  TempDir dir;
  const std::string ini = s3_ini(dir, "Invalid_Bucket_Name!");
  try {
    open(ini, Flag::create);
    FAIL("no error");
  } catch (const CanNotCreateDBError& error) {
    CHECK(std::string(error.what()).find("InvalidBucketName") != std::string::npos);
  }
}

TEST_CASE("aws-s3: writeback writes on sync and close") {
  TempDir dir;
  const std::string ini = s3_ini(dir, fresh_bucket());
  Options options;
  options.writeback = true;
  auto db = open(ini, Flag::create, options);
  for (int i = 0; i < 50; ++i) db.set(fixed_width_key(i), "v" + std::to_string(i));
  CHECK_FALSE(open(ini, Flag::read).contains(fixed_width_key(0)));
  db.sync();
  CHECK(open(ini, Flag::read).get(fixed_width_key(49)) == "v49");
  db.erase(fixed_width_key(0));
  db.set("late", "x");
  db.close();
  auto check = open(ini, Flag::read);
  CHECK_FALSE(check.contains(fixed_width_key(0)));
  CHECK(check.get("late") == "x");
  CHECK(check.size() == 50);
}

TEST_CASE("aws-s3: with writeback, erasing a key S3 may not have raises nothing") {
  TempDir dir;
  const std::string ini = s3_ini(dir, fresh_bucket());
  Options options;
  options.writeback = true;
  auto db = open(ini, Flag::create, options);
  CHECK_NOTHROW(db.erase("never-written"));
  db.set("a", "1");
  db.set("a b", "2");  // "a" is a prefix of this one
  db.sync();
  CHECK_NOTHROW(db.erase("a"));
  CHECK_NOTHROW(db.close());
  CHECK(keys_of(open(ini, Flag::read)) == std::set<std::string>{"a b"});
}

TEST_CASE("aws-s3: configuration errors name the option, never the secret") {
  TempDir dir;
  const std::string secret = "Sup3rS3cretValue";
  auto expect_message = [&](const std::string& ini_text, auto error_type, const std::string& must_contain) {
    using Expected = decltype(error_type);
    const std::string path = dir / "bad.ini";
    write_text(path, ini_text);
    try {
      open(path);
      FAIL("no error for " << must_contain);
    } catch (const Expected& error) {
      const std::string message = error.what();
      CHECK(message.find(must_contain) != std::string::npos);
      CHECK(message.find(secret) == std::string::npos);
    }
  };
  const std::string head = "[default]\nprovider = aws-s3\n";
  const std::string creds = "key_id = id\nkey_secret = " + secret + "\n";
  expect_message(head + "auth_type = access_key\n" + creds, ConfigurationError{""}, "bucket_name");
  expect_message(head + "bucket_name = b\n" + creds, AuthTypeError{""}, "access_key");
  expect_message(head + "bucket_name = b\nauth_type = passport\n" + creds, AuthTypeError{""}, "access_key");
  expect_message(head + "bucket_name = b\nauth_type = access_key\nkey_secret = " + secret + "\n", AuthArgumentError{""},
                 "key_id");
  expect_message(head + "bucket_name = b\nauth_type = access_key\nkey_id = id\n", AuthArgumentError{""}, "key_secret");
  expect_message(head + "bucket_name = b\nauth_type = access_key\nkey_id = id\nkey_secret =\n", AuthArgumentError{""},
                 "key_secret");
  expect_message(head + "bucket_name = b\nauth_type = access_key\n" + creds + "[provider_params]\nbogus = 1\n",
                 ConfigurationError{""}, "bogus");
  expect_message(
      head + "bucket_name = b\nauth_type = access_key\n" + creds + "[provider_params]\naddressing_style = sideways\n",
      ConfigurationError{""}, "addressing_style");
  expect_message(head + "bucket_name = b\nauth_type = access_key\n" + creds + "[provider_params]\nmax_attempts = 0\n",
                 ConfigurationError{""}, "max_attempts");
  expect_message(
      head + "bucket_name = b\nauth_type = access_key\n" + creds + "[provider_params]\nread_timeout = soon\n",
      ConfigurationError{""}, "read_timeout");
  expect_message(head + "bucket_name = b\nauth_type = access_key\n" + creds + "[provider_params]\nchecksum = md5\n",
                 ConfigurationError{""}, "bad.ini: provider parameter 'checksum'");
}

TEST_CASE("aws-s3: a wrong secret is an authentication error, and the secret stays out of it") {
  TempDir dir;
  const std::string path = dir / "wrong.ini";
  write_text(path, "[default]\nprovider = aws-s3\nbucket_name = " + fresh_bucket() +
                       "\nauth_type = access_key\nkey_id = " + env("CSHELVE_TEST_S3_KEY_ID") +
                       "\nkey_secret = NotTheRightSecret\n[provider_params]\nendpoint_url = " + endpoint() + "\n");
  try {
    open(path);
    FAIL("no error");
  } catch (const AuthenticationError& error) {
    CHECK(error.http_status() == 403);
    CHECK(std::string(error.what()).find("NotTheRightSecret") == std::string::npos);
  }
}

TEST_CASE("aws-s3: nothing listening is a NetworkError") {
  TempDir dir;
  const std::string path = dir / "down.ini";
  write_text(path,
             "[default]\nprovider = aws-s3\nbucket_name = b\nauth_type = access_key\nkey_id = a\nkey_secret = "
             "b\n[provider_params]\nendpoint_url = http://127.0.0.1:9\nmax_attempts = 1\nconnect_timeout = 2\n");
  CHECK_THROWS_AS(open(path), NetworkError);
}

TEST_CASE("aws-s3: the command-line tool works on an aws-s3 INI as on a local shelf") {
  TempDir dir;
  const std::string bucket = fresh_bucket();
  const std::string ini = dir / "cli.ini";
  write_text(ini,
             replace_all(read_text(CSHELVE_TEST_SOURCE_DIR "/../examples/aws-s3.ini"), "= cshelve", "= " + bucket));
  ScopedEnv id("AWS_KEY_ID", env("CSHELVE_TEST_S3_KEY_ID"));
  ScopedEnv secret("AWS_KEY_SECRET", env("CSHELVE_TEST_S3_KEY_SECRET"));
  const std::string tool =
      std::string("${MESON_EXE_WRAPPER-} '") + CSHELVE_CLI_PATH + "' -p endpoint_url=" + endpoint() + " '" + ini + "' ";
  auto run = [&](const std::string& args) {
    const std::string out = dir / "out";
    const int raw = std::system((tool + args + " > '" + out + "' 2>&1").c_str());
    return std::make_pair(WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, read_text(out));
  };
  CHECK(run("set 'a key' 'a value'").first == 0);
  CHECK(run("set other x").first == 0);
  CHECK(run("get 'a key'") == std::make_pair(0, std::string("a value")));
  CHECK(run("has 'a key'").first == 0);
  CHECK(run("has nope").first == 1);
  CHECK(run("len") == std::make_pair(0, std::string("2\n")));
  const auto keys = run("keys");
  CHECK((keys.second == "a key\nother\n" || keys.second == "other\na key\n"));
  CHECK(run("del other").first == 0);
  CHECK(run("len").second == "1\n");
  std::filesystem::create_directories(dir / "tree/sub");
  write_text(dir / "tree/sub/f.txt", "file");
  CHECK(run("import '" + (dir / "tree") + "'").first == 0);
  CHECK(run("get sub/f.txt").second == "file");
  CHECK(run("export '" + (dir / "exported") + "'").first == 0);
  CHECK(read_text(dir / "exported/sub/f.txt") == "file");
}

TEST_CASE("aws-s3: progress reports the bytes of a large value both ways") {
  TempDir dir;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> reports;
  Options options;
  options.progress = [&](std::uint64_t done, std::uint64_t total) { reports.emplace_back(done, total); };
  auto db = open(s3_ini(dir, fresh_bucket()), Flag::create, options);
  const std::string value = cshelve_test::random_bytes(8 << 20, 7);
  const std::uint64_t record_size = value.size() + 10;  // the record's header is 10 bytes
  db.set("big", value);
  REQUIRE_FALSE(reports.empty());
  CHECK(reports.back() == std::make_pair(record_size, record_size));
  for (std::size_t i = 1; i < reports.size(); ++i) CHECK(reports[i].first >= reports[i - 1].first);
  reports.clear();
  CHECK(db.get("big") == value);
  REQUIRE_FALSE(reports.empty());
  CHECK(reports.back() == std::make_pair(record_size, record_size));
}

TEST_CASE("aws-s3: the tool shows a progress line for a large value on a terminal") {
  TempDir dir;
  const std::string ini = s3_ini(dir, fresh_bucket());
  write_text(dir / "big", cshelve_test::random_bytes(5 << 20, 3));
  const std::string tool = std::string("${MESON_EXE_WRAPPER-} '") + CSHELVE_CLI_PATH + "' '" + ini + "' ";
  const std::string typescript = dir / "typescript";
  auto on_terminal = [&](const std::string& args) {
    const std::string command = "script -qec \"" + tool + args + "\" /dev/null > '" + typescript + "' 2>&1 < /dev/null";
    REQUIRE(std::system(command.c_str()) == 0);
    return read_text(typescript);
  };
  CHECK(on_terminal("set big < '" + (dir / "big") + "'").find("uploading [") != std::string::npos);
  CHECK(on_terminal("get big > '" + (dir / "copy") + "'").find("downloading [") != std::string::npos);
  CHECK(read_text(dir / "copy") == read_text(dir / "big"));
  CHECK(on_terminal("-q get big > '" + (dir / "copy") + "'").find("downloading") == std::string::npos);

  CHECK(on_terminal("set-file big-file '" + (dir / "big") + "'").find("uploading [") != std::string::npos);
  CHECK(on_terminal("get-file big-file '" + (dir / "copy") + "'").find("downloading [") != std::string::npos);
  CHECK(read_text(dir / "copy") == read_text(dir / "big"));

  // import draws its own line for all its files, even one large enough to be streamed alone.
  std::filesystem::create_directories(dir / "tree");
  write_text(dir / "tree/large", cshelve_test::random_bytes(64u << 20, 4));
  const std::string imported = on_terminal("import '" + (dir / "tree") + "'");
  CHECK(imported.find("importing [") != std::string::npos);
  CHECK(imported.find("uploading") == std::string::npos);
  CHECK(imported.find("downloading") == std::string::npos);
}

TEST_CASE("aws-s3: the tool reads and writes a compressed and encrypted shelf") {
  TempDir dir;
  const std::string bucket = fresh_bucket();
  const std::string ini = s3_ini(dir, bucket, "",
                                 "[compression]\nalgorithm = zlib\n[encryption]\nalgorithm = aes256\n"
                                 "key = 0123456789abcdef0123456789ABCDEF\n");
  const std::string tool = std::string("${MESON_EXE_WRAPPER-} '") + CSHELVE_CLI_PATH + "' '" + ini + "' ";
  const std::string out = dir / "out";
  CHECK(std::system((tool + "set k 'a value worth hiding' > '" + out + "' 2>&1").c_str()) == 0);
  CHECK(std::system((tool + "get k > '" + out + "' 2>&1").c_str()) == 0);
  CHECK(read_text(out) == "a value worth hiding");
  const std::string record = raw_client().get_object(bucket, "k");
  CHECK(record.substr(10, 2) == "ec");
  CHECK(record.find("worth hiding") == std::string::npos);
}

TEST_CASE("aws-s3: set_file and get_file move a large value through the gate, signed and checked") {
  TempDir dir;
  const std::string bucket = fresh_bucket();
  auto db = open(s3_ini(dir, bucket));
  const std::string value = cshelve_test::random_bytes((24u << 20) + 5, 24);
  write_text(dir / "source", value);
  RequestWatch watch;
  db.set_file("big/file", dir / "source");
  db.get_file("big/file", dir / "target");
  CHECK(read_text(dir / "target") == value);
  CHECK(db.get("big/file") == value);
  std::string header(10, '\0');
  for (int i = 0; i < 8; ++i) header[2 + i] = static_cast<char>((value.size() >> (8 * i)) & 0xff);
  CHECK(raw_client().get_object(bucket, "big/file") == header + value);
  const auto requests = watch.since();
  REQUIRE(requests.size() == 4);                                      // set_file, get_file, get, and the raw read
  for (const auto& request : requests) CHECK(request.status == 200);  // the gate checked the body's hash
  CHECK(requests[0].method == "PUT");
}

TEST_CASE("aws-s3: file transfers through injected faults come out whole") {
  TempDir dir;
  const std::string bucket = fresh_bucket();
  open(s3_ini(dir, bucket)).close();  // created through the reliable endpoint
  const std::string ini = dir / "faulty.ini";
  write_text(ini, "[default]\nprovider = aws-s3\nbucket_name = " + bucket + "\nauth_type = access_key\nkey_id = " +
                      env("CSHELVE_TEST_S3_KEY_ID") + "\nkey_secret = " + env("CSHELVE_TEST_S3_KEY_SECRET") +
                      "\n[provider_params]\nendpoint_url = " + env("CSHELVE_TEST_S3_FAULTY_ENDPOINT") +
                      "\nread_timeout = 1\nconnect_timeout = 5\nmax_attempts = 10\n");
  auto db = open(ini, Flag::write);
  for (int i = 0; i < 30; ++i) {
    CAPTURE(i);
    const std::string value =
        cshelve_test::random_bytes(200000 + static_cast<std::size_t>(i) * 1000, static_cast<unsigned>(i));
    write_text(dir / "source", value);
    const std::string key = "file/" + std::to_string(i);
    db.set_file(key, dir / "source");
    db.get_file(key, dir / "target");
    REQUIRE(read_text(dir / "target") == value);
  }
}

TEST_CASE("aws-s3: set_file and get_file on a compressed and encrypted shelf") {
  TempDir dir;
  const std::string bucket = fresh_bucket();
  const std::string ini = s3_ini(
      dir, bucket, "", "[compression]\nalgorithm = zlib\n[encryption]\nalgorithm = aes256\nkey = 0123456789abcdef\n");
  auto db = open(ini);
  std::string value = cshelve_test::random_bytes(3u << 20, 9);
  value += std::string(2u << 20, 'z');  // some of it compresses
  write_text(dir / "source", value);
  db.set_file("k", dir / "source");
  CHECK(db.get("k") == value);
  db.get_file("k", dir / "target");
  CHECK(read_text(dir / "target") == value);
  db.set("small", "set, then read into a file");
  db.get_file("small", dir / "target");
  CHECK(read_text(dir / "target") == "set, then read into a file");
  // Stored compressed, then encrypted: signature "ec".
  const std::string stored = raw_client().get_object(bucket, "k");
  CHECK(stored.substr(0, 2) == std::string("\0\2", 2));
  CHECK(stored.substr(10, 2) == "ec");
  CHECK(stored.size() < value.size());
}
