// The batch path (libcurl's multi interface) against the local S3 stack: the client's
// put_objects/get_objects/delete_objects through the signature gate and through the fault
// injector, and the shelf's set_many/get_many/erase_many, writeback sync and flag n on top of
// them. Run through tests/s3/with-server.sh.
#include <doctest/doctest.h>

#include <cshelve/cshelve.hpp>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "integration_support.hpp"
#include "s3/client.hpp"
#include "util/json.hpp"

using namespace cshelve;
using namespace cshelve::s3;
using namespace cshelve::testing;

namespace {

std::string numbered_key(const char* prefix, int number) {
  char text[48];
  std::snprintf(text, sizeof text, "%s%05d", prefix, number);
  return text;
}

// Values from empty to a few hundred KiB, each telling its key.
std::string value_for(const std::string& key, int i) {
  std::string value = "value of " + key + " ";
  value.resize(value.size() + static_cast<std::size_t>((i * 7919) % 250000), static_cast<char>('a' + i % 26));
  return i % 50 == 0 ? std::string() : value;
}

long total_faults_injected() {
  const std::string stats = read_file(required_environment("CSHELVE_TEST_S3_FAULT_STATS"));
  return static_cast<long>(cshelve::util::parse_json(stats).at("total_faults").as_int64());
}

std::multiset<std::string> list_all(Client& client, const std::string& bucket) {
  std::multiset<std::string> keys;
  ListRequest request;
  for (int pages = 0; pages < 100; ++pages) {
    ListResult page = client.list_objects_v2(bucket, request);
    keys.insert(page.keys.begin(), page.keys.end());
    if (!page.is_truncated) break;
    request.continuation_token = page.next_continuation_token;
  }
  return keys;
}

// A configuration file for an aws-s3 shelf on `bucket`, removed with the object.
class ShelfIni {
 public:
  explicit ShelfIni(const std::string& bucket)
      : path_((std::filesystem::temp_directory_path() / (bucket + ".ini")).string()) {
    std::ofstream out(path_);
    out << "[default]\nprovider = aws-s3\nbucket_name = " << bucket
        << "\nauth_type = access_key\nkey_id = " << required_environment("CSHELVE_TEST_S3_KEY_ID")
        << "\nkey_secret = " << required_environment("CSHELVE_TEST_S3_KEY_SECRET") << "\n";
  }
  ~ShelfIni() { std::filesystem::remove(path_); }
  ShelfIni(const ShelfIni&) = delete;
  ShelfIni& operator=(const ShelfIni&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Options for a shelf reaching the stack through `endpoint_variable`, retrying hard enough to
// ride out the fault injector.
Options shelf_options(const char* endpoint_variable) {
  Options options;
  options.provider_params["endpoint_url"] = required_environment(endpoint_variable);
  options.provider_params["max_attempts"] = "8";
  options.provider_params["read_timeout"] = "1.5";  // well under the injector's stall
  options.provider_params["max_pool_connections"] = "6";
  return options;
}

}  // namespace

TEST_SUITE("s3 batch integration") {
  TEST_CASE("put_objects and get_objects through the gate: 300 objects, special keys, absent keys") {
    const std::string bucket = fresh_bucket_name("batch");
    Client client(stack_config());
    client.create_bucket(bucket);

    std::vector<std::string> keys;
    for (int i = 0; i < 300; ++i) {
      keys.push_back(numbered_key(i % 3 == 0 ? "b/a b+c&d=é~/" : "b/", i));
    }
    std::vector<std::string> values;
    for (std::size_t i = 0; i < keys.size(); ++i) values.push_back(value_for(keys[i], static_cast<int>(i)));
    std::vector<PutItem> items;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::string_view value = values[i];
      const std::size_t split = value.size() / 3;
      items.push_back(PutItem{keys[i], {value.substr(0, split), value.substr(split)}});
    }
    const BatchErrors put_errors = client.put_objects(bucket, items);
    REQUIRE(put_errors.size() == keys.size());
    CHECK_NOTHROW(rethrow_first_error(put_errors));
    for (const auto& error : put_errors) CHECK(!error);

    std::vector<std::string> wanted = keys;
    wanted.push_back("b/absent");
    wanted.insert(wanted.begin() + 10, "b/also absent");
    GetObjectsResult got = client.get_objects(bucket, wanted);
    REQUIRE(got.values.size() == wanted.size());
    CHECK_NOTHROW(rethrow_first_error(got.errors));
    for (std::size_t i = 0, k = 0; i < wanted.size(); ++i) {
      CAPTURE(wanted[i]);
      if (wanted[i].find("absent") != std::string::npos) {
        CHECK(got.values[i] == std::nullopt);
        continue;
      }
      REQUIRE(got.values[i].has_value());
      CHECK(*got.values[i] == values[k]);
      ++k;
    }
    CHECK(list_all(client, bucket) == std::multiset<std::string>(keys.begin(), keys.end()));

    // The gate accepted every signature.
    std::size_t puts_logged = 0;
    for (const std::string& line : request_log_lines()) {
      if (line.find("\"method\": \"PUT\"") != std::string::npos && line.find("/" + bucket + "/") != std::string::npos) {
        ++puts_logged;
        CHECK(line.find("\"status\": 200") != std::string::npos);
      }
    }
    CHECK(puts_logged == keys.size());
  }

  TEST_CASE("each request of a batch keeps its typed error") {
    SUBCASE("a missing bucket") {
      Client client(stack_config());
      const std::string bucket = fresh_bucket_name("nobucket");
      GetObjectsResult got = client.get_objects(bucket, {"a", "b", "c"});
      CHECK_THROWS_AS(rethrow_first_error(got.errors), NoSuchBucketError);
      CHECK_THROWS_AS(rethrow_first_error(client.put_objects(bucket, {{"a", {"v"}}})), NoSuchBucketError);
    }
    SUBCASE("a wrong secret") {
      const std::string bucket = fresh_bucket_name("badauth");
      Client(stack_config()).create_bucket(bucket);
      ClientConfig config = stack_config();
      config.credentials.secret_access_key = "not-the-secret";
      Client client(config);
      const BatchErrors errors = client.put_objects(bucket, {{"a", {"v"}}, {"b", {"w"}}});
      try {
        rethrow_first_error(errors);
        FAIL("no exception");
      } catch (const AuthenticationError& error) {
        CHECK(error.code() == "SignatureDoesNotMatch");
        CHECK(std::string(error.what()).find("not-the-secret") == std::string::npos);
      }
    }
  }

  TEST_CASE("batches ride out injected faults: 200 puts, 200 gets, deletes") {
    const std::string bucket = fresh_bucket_name("batchfaults");
    Client(stack_config()).create_bucket(bucket);

    std::atomic<int> retries_logged{0};
    ClientConfig config = faulty_config(8, &retries_logged);
    config.max_pool_connections = 8;
    Client client(config);
    const long faults_before = total_faults_injected();

    std::vector<std::string> keys;
    std::vector<std::string> values;
    for (int i = 0; i < 200; ++i) {
      keys.push_back(numbered_key("f/", i));
      values.push_back(value_for(keys.back(), i));
    }
    std::vector<PutItem> items;
    for (std::size_t i = 0; i < keys.size(); ++i) items.push_back(PutItem{keys[i], {values[i]}});
    CHECK_NOTHROW(rethrow_first_error(client.put_objects(bucket, items)));

    GetObjectsResult got = client.get_objects(bucket, keys);
    CHECK_NOTHROW(rethrow_first_error(got.errors));
    for (std::size_t i = 0; i < keys.size(); ++i) {
      CAPTURE(keys[i]);
      REQUIRE(got.values[i].has_value());
      CHECK(*got.values[i] == values[i]);
    }

    CHECK(client.delete_objects(bucket, keys).failures.empty());
    CHECK(list_all(client, bucket).empty());

    const long faults = total_faults_injected() - faults_before;
    MESSAGE("faults injected during this test (and any running beside it): " << faults
                                                                             << ", retries: " << retries_logged.load());
    CHECK(faults > 0);
    CHECK(retries_logged > 0);
  }

  TEST_CASE("shelf batches through injected faults: set_many, get_many, erase_many, writeback, flag n") {
    const std::string bucket = fresh_bucket_name("shelfbatch");
    const ShelfIni ini(bucket);
    const Options faulty = shelf_options("CSHELVE_TEST_S3_FAULTY_ENDPOINT");
    // Made beforehand, without faults: when a CreateBucket that reached the local server is retried,
    // the server answers BucketAlreadyExists where S3 would answer BucketAlreadyOwnedByYou.
    Client(stack_config()).create_bucket(bucket);

    std::vector<std::pair<std::string, std::string>> items;
    for (int i = 0; i < 150; ++i) {
      const std::string key = numbered_key("s/", i);
      items.emplace_back(key, value_for(key, i));
    }
    {
      Shelf db = open(ini.path(), Flag::create, faulty);
      db.set_many(items);
      std::vector<std::string> keys;
      for (const auto& item : items) keys.push_back(item.first);
      keys.push_back("s/absent");
      const auto values = db.get_many(keys);
      REQUIRE(values.size() == keys.size());
      for (std::size_t i = 0; i < items.size(); ++i) {
        CAPTURE(keys[i]);
        REQUIRE(values[i].has_value());
        CHECK(*values[i] == items[i].second);
      }
      CHECK(values.back() == std::nullopt);
      db.erase_many({items[0].first, items[1].first, "s/absent"});
      CHECK(db.size() == items.size() - 2);
      db.close();
    }
    {
      Options writeback = faulty;
      writeback.writeback = true;
      Shelf db = open(ini.path(), Flag::write, writeback);
      for (int i = 0; i < 120; ++i) db.set(numbered_key("w/", i), "written back " + std::to_string(i));
      db.erase(items[2].first);
      db.close();  // one batch of PUTs, one of deletes
    }
    {
      Shelf db = open(ini.path(), Flag::read, faulty);
      CHECK(db.size() == items.size() - 3 + 120);
      CHECK(db.get(numbered_key("w/", 119)) == "written back 119");
      CHECK_FALSE(db.contains(items[2].first));
      db.close();
    }
    {
      Shelf db = open(ini.path(), Flag::truncate, faulty);  // empties the bucket with batched deletes
      CHECK(db.size() == 0);
      db.close();
    }
  }

}  // TEST_SUITE
