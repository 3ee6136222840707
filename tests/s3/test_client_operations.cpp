// The six operations against the local S3 stack (s3rver behind a gate that checks every
// signature with botocore). Run through tests/s3/with-server.sh.
#include <doctest/doctest.h>

#include <cshelve/errors.hpp>

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration_support.hpp"
#include "s3/client.hpp"

using namespace cshelve;
using namespace cshelve::s3;
using namespace cshelve::testing;

namespace {

std::string numbered_key(const char* prefix, int number) {
  char text[32];
  std::snprintf(text, sizeof text, "%s%05d", prefix, number);
  return text;
}

// Puts keys[i] with value "value of <key>" from `threads` threads at once.
void put_all(Client& client, const std::string& bucket, const std::vector<std::string>& keys, int threads) {
  std::vector<std::thread> workers;
  std::vector<std::string> problems(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      try {
        for (std::size_t i = static_cast<std::size_t>(t); i < keys.size(); i += static_cast<std::size_t>(threads)) {
          const std::string value = "value of " + keys[i];
          client.put_object(bucket, keys[i], {value});
        }
      } catch (const std::exception& error) {
        problems[static_cast<std::size_t>(t)] = error.what();
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  for (const std::string& problem : problems) CHECK_MESSAGE(problem.empty(), problem);
}

// Every key under `prefix`, page by page; checks each page against the listing's own counts.
std::vector<std::string> list_everything(Client& client, const std::string& bucket, const std::string& prefix,
                                         int page_size, std::vector<std::size_t>* page_sizes = nullptr) {
  std::vector<std::string> keys;
  ListRequest request;
  request.prefix = prefix;
  request.max_keys = page_size;
  for (int pages = 0; pages < 1000; ++pages) {
    ListResult page = client.list_objects_v2(bucket, request);
    CHECK(page.key_count == page.keys.size());
    CHECK(page.keys.size() <= static_cast<std::size_t>(page_size));
    if (page_sizes) page_sizes->push_back(page.keys.size());
    keys.insert(keys.end(), page.keys.begin(), page.keys.end());
    if (!page.is_truncated) return keys;
    REQUIRE_FALSE(page.next_continuation_token.empty());
    request.continuation_token = page.next_continuation_token;
  }
  FAIL("the listing never ended");
  return keys;
}

std::multiset<std::string> as_multiset(const std::vector<std::string>& keys) { return {keys.begin(), keys.end()}; }

}  // namespace

TEST_SUITE("s3 client integration") {
  TEST_CASE("put, get, delete, and a missing key") {
    Client client(stack_config());
    const std::string bucket = fresh_bucket_name("basic");
    client.create_bucket(bucket);

    client.put_object(bucket, "greeting", {"hello, ", "world"});
    CHECK(client.get_object(bucket, "greeting") == "hello, world");
    client.put_object(bucket, "greeting", {"replaced"});
    CHECK(client.get_object(bucket, "greeting") == "replaced");

    client.delete_object(bucket, "greeting");
    try {
      client.get_object(bucket, "greeting");
      FAIL("no exception");
    } catch (const NoSuchKeyError& error) {
      CHECK(error.http_status() == 404);
      CHECK(error.code() == "NoSuchKey");
      CHECK(std::string(error.what()).find("'greeting'") != std::string::npos);
      CHECK(std::string(error.what()).find(bucket) != std::string::npos);
    }
    CHECK_NOTHROW(client.delete_object(bucket, "greeting"));  // deleting twice is not an error
  }

  TEST_CASE("empty and 64 MiB objects") {
    Client client(stack_config());
    const std::string bucket = fresh_bucket_name("sizes");
    client.create_bucket(bucket);

    client.put_object(bucket, "empty/none", {});
    client.put_object(bucket, "empty/one", {""});
    CHECK(client.get_object(bucket, "empty/none").empty());
    CHECK(client.get_object(bucket, "empty/one").empty());

    std::string big(64u << 20, '\0');
    unsigned state = 12345;
    for (char& byte : big) {
      state = state * 1103515245u + 12345u;
      byte = static_cast<char>(state >> 24);
    }
    client.put_object(bucket, "big", {std::string_view(big).substr(0, 1000), std::string_view(big).substr(1000)});
    const std::string back = client.get_object(bucket, "big");
    CHECK(back.size() == big.size());
    CHECK(back == big);
  }

  // s3rver 3.7.1 takes "bytes=0-0" for "bytes=0-" and sends the whole object (206): the 1 MiB
  // value is cut off after its first bytes. It also announces one byte of an empty object and
  // sends none, so the empty object (416 InvalidRange on S3) is checked on moto.
  TEST_CASE("object_exists: a present, a 1 MiB and an absent key, and a prefix of a key") {
    Client client(stack_config());
    const std::string bucket = fresh_bucket_name("exists");
    client.create_bucket(bucket);
    client.put_object(bucket, "present", {"value"});
    const std::string large(1u << 20, 'v');
    client.put_object(bucket, "large/value", {large});

    CHECK(client.object_exists(bucket, "present"));
    CHECK(client.object_exists(bucket, "large/value"));
    CHECK(client.object_exists(bucket, "present"));  // on a fresh connection after the cut-off
    CHECK_FALSE(client.object_exists(bucket, "absent"));
    CHECK_FALSE(client.object_exists(bucket, "large"));  // a prefix of a key is not a key
    client.delete_object(bucket, "present");
    CHECK_FALSE(client.object_exists(bucket, "present"));
    CHECK_THROWS_AS(client.object_exists(fresh_bucket_name("absent"), "k"), NoSuchBucketError);
  }

  TEST_CASE("keys with spaces, unicode and every special character round-trip") {
    Client client(stack_config());
    const std::string bucket = fresh_bucket_name("keys");
    client.create_bucket(bucket);
    const std::vector<std::string> keys = {
        "with space",
        "  leading and trailing  ",
        "unicode \xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80",
        "plus+sign",
        "equals=and&ampersand",
        "percent%20not-an-escape%",
        "tilde~bang!quote'double\"star*parens()",
        "all + = & % ~ ! ' \" * ( ) /end",
        "deep/path/of/segments/leaf",
        "<angle>&amp;",
    };
    for (const std::string& key : keys) client.put_object(bucket, key, {"v:" + key});
    for (const std::string& key : keys) {
      CAPTURE(key);
      CHECK(client.get_object(bucket, key) == "v:" + key);
    }
    CHECK(as_multiset(list_everything(client, bucket, "", 1000)) == as_multiset(keys));

    // s3rver trims the text of the keys in a DeleteObjects body (real S3 keeps it), so the key
    // with outer spaces goes with DeleteObject instead.
    std::vector<std::string> untrimmed;
    for (const std::string& key : keys) {
      if (key.front() != ' ') untrimmed.push_back(key);
    }
    DeleteResult deleted = client.delete_objects(bucket, untrimmed);
    CHECK(deleted.failures.empty());
    CHECK(list_everything(client, bucket, "", 1000) == std::vector<std::string>{"  leading and trailing  "});
    client.delete_object(bucket, "  leading and trailing  ");
    CHECK(list_everything(client, bucket, "", 1000).empty());
  }

  TEST_CASE("dot segments reach the server signed as they were sent") {
    Client client(stack_config());
    const std::string bucket = fresh_bucket_name("dots");
    client.create_bucket(bucket);
    // s3rver resolves '.' and '..' itself, so what it stores is not the point: the point is that
    // the gate, which checks the signature against the path as received, let the request through.
    for (const std::string key : {"a/./b", "a/../b", "x/./y/../z"}) {
      CAPTURE(key);
      try {
        client.put_object(bucket, key, {"dots"});
        client.get_object(bucket, key);
      } catch (const AuthenticationError& error) {
        FAIL("the signature was refused: " << error.what());
      } catch (const S3Error&) {
        // whatever s3rver made of the path
      }
      const std::string path = "/" + bucket + "/" + key;
      for (const char* method : {"PUT", "GET"}) {
        CAPTURE(method);
        const auto lines = logged_requests(method, path);
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].find("\"forwarded\": true") != std::string::npos);
        CHECK(lines[0].find("\"error\": null") != std::string::npos);
      }
    }
  }

  TEST_CASE("2,500 objects listed 1,000 at a time, then deleted in one call") {
    Client client(stack_config());
    const std::string bucket = fresh_bucket_name("many");
    client.create_bucket(bucket);
    std::vector<std::string> keys;
    for (int i = 0; i < 2500; ++i) keys.push_back(numbered_key("k/", i));
    put_all(client, bucket, keys, 4);
    client.put_object(bucket, "other/outside-the-prefix", {"x"});

    std::vector<std::size_t> page_sizes;
    const std::vector<std::string> listed = list_everything(client, bucket, "k/", 1000, &page_sizes);
    CHECK(page_sizes == std::vector<std::size_t>{1000, 1000, 500});
    CHECK(as_multiset(listed) == as_multiset(keys));  // each once, whatever the order

    DeleteResult deleted = client.delete_objects(bucket, keys);
    CHECK(deleted.failures.empty());
    CHECK(list_everything(client, bucket, "k/", 1000).empty());
    CHECK(list_everything(client, bucket, "", 1000) == std::vector<std::string>{"other/outside-the-prefix"});
  }

  TEST_CASE("listing by prefix and start-after") {
    Client client(stack_config());
    const std::string bucket = fresh_bucket_name("prefix");
    client.create_bucket(bucket);
    for (const char* key : {"p/a", "p/b", "p/c", "q/a"}) client.put_object(bucket, key, {key});

    CHECK(as_multiset(list_everything(client, bucket, "p/", 1000)) == std::multiset<std::string>{"p/a", "p/b", "p/c"});
    ListRequest request;
    request.prefix = "p/";
    request.start_after = "p/a";
    ListResult page = client.list_objects_v2(bucket, request);
    CHECK(as_multiset(page.keys) == std::multiset<std::string>{"p/b", "p/c"});
    CHECK_FALSE(page.is_truncated);
  }

  TEST_CASE("a new bucket is empty; creating it again leaves it as it was") {
    Client client(stack_config());
    const std::string bucket = fresh_bucket_name("create");
    client.create_bucket(bucket);
    CHECK(list_everything(client, bucket, "", 1000).empty());
    client.put_object(bucket, "kept", {"still here"});
    try {
      client.create_bucket(bucket);  // AWS: success (ours already); s3rver: BucketAlreadyExists
    } catch (const S3Error& error) {
      CHECK(error.code() == "BucketAlreadyExists");
    }
    CHECK(client.get_object(bucket, "kept") == "still here");
  }

  TEST_CASE("a missing bucket is NoSuchBucketError") {
    Client client(stack_config());
    const std::string bucket = fresh_bucket_name("absent");
    CHECK_THROWS_AS(client.get_object(bucket, "k"), NoSuchBucketError);
    CHECK_THROWS_AS(client.put_object(bucket, "k", {"v"}), NoSuchBucketError);
    CHECK_THROWS_AS(client.list_objects_v2(bucket, ListRequest{}), NoSuchBucketError);
    try {
      client.list_objects_v2(bucket, ListRequest{});
    } catch (const NoSuchBucketError& error) {
      CHECK(error.http_status() == 404);
      CHECK(error.code() == "NoSuchBucket");
      CHECK(std::string(error.what()).find(bucket) != std::string::npos);
    }
  }

  TEST_CASE("a wrong secret or key id is AuthenticationError, and no secret is shown") {
    const std::string bucket = fresh_bucket_name("auth");
    Client(stack_config()).create_bucket(bucket);

    const std::string wrong_secret = "not-the-secret-Xq7uZ9";
    ClientConfig config = stack_config();
    config.credentials.secret_access_key = wrong_secret;
    std::vector<std::string> lines;
    config.logger = [&](LogLevel, std::string_view line) { lines.emplace_back(line); };
    config.log_level = LogLevel::debug;
    Client wrong(config);
    try {
      wrong.get_object(bucket, "k");
      FAIL("no exception");
    } catch (const AuthenticationError& error) {
      CHECK(error.code() == "SignatureDoesNotMatch");
      CHECK(error.http_status() == 403);
      CHECK(std::string(error.what()).find(wrong_secret) == std::string::npos);
    }
    CHECK_THROWS_AS(wrong.put_object(bucket, "k", {"v"}), AuthenticationError);
    CHECK_THROWS_AS(wrong.delete_objects(bucket, {"k"}), AuthenticationError);
    for (const std::string& line : lines) CHECK(line.find(wrong_secret) == std::string::npos);

    ClientConfig unknown = stack_config();
    unknown.credentials.access_key_id = "AKIDUNKNOWN";
    try {
      Client(unknown).list_objects_v2(bucket, ListRequest{});
      FAIL("no exception");
    } catch (const AuthenticationError& error) {
      CHECK(error.code() == "InvalidAccessKeyId");
    }
  }

  TEST_CASE("replies without a checksum (s3rver's): a body damaged on the way is caught by its MD5") {
    Client client(stack_config());
    const std::string bucket = fresh_bucket_name("md5");
    client.create_bucket(bucket);
    // The fault injector flips a byte of GET bodies whose key holds "flip-a-byte".
    client.put_object(bucket, "damaged/flip-a-byte", {"bytes that arrive damaged"});
    ClientConfig faulty = stack_config("CSHELVE_TEST_S3_FAULTY_ENDPOINT");
    faulty.max_attempts = 1;
    try {
      Client(faulty).get_object(bucket, "damaged/flip-a-byte");
      FAIL("no exception");
    } catch (const MalformedResponseError& error) {
      const std::string what = error.what();
      CAPTURE(what);
      CHECK(what.find("body whose MD5 differs from its ETag") != std::string::npos);
      CHECK(what.find("CRC") == std::string::npos);
    }
    CHECK(client.get_object(bucket, "damaged/flip-a-byte") == "bytes that arrive damaged");
  }
}  // TEST_SUITE
