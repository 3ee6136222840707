// The S3 client's batch calls against a scripted local server: requests side by side over a
// bounded set of kept-alive connections, each signed, retried and typed on its own. Where a test
// needs to know which request gets which scripted reply, it runs one connection at a time, since
// the server hands out its replies in arrival order.
#include <doctest/doctest.h>

#include <cshelve/errors.hpp>

#include <openssl/evp.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "s3/client.hpp"
#include "scripted_server.hpp"

using namespace cshelve;
using namespace cshelve::s3;
using namespace cshelve::testing;

namespace {

ClientConfig config_for(const ScriptedServer& server, int connections) {
  ClientConfig config;
  config.endpoint = parse_endpoint(server.url());
  config.credentials = Credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  config.connect_timeout_ms = 2000;
  config.read_timeout_ms = 1000;
  config.max_pool_connections = connections;
  return config;
}

std::string md5_hex(std::string_view data) {
  unsigned char bytes[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  REQUIRE(EVP_Digest(data.data(), data.size(), bytes, &length, EVP_md5(), nullptr) == 1);
  static const char* digits = "0123456789abcdef";
  std::string text;
  for (unsigned int i = 0; i < length; ++i) {
    text += digits[bytes[i] >> 4];
    text += digits[bytes[i] & 15];
  }
  return text;
}

ScriptedReply object_reply(const std::string& body) {
  return http_reply(200, body, {{"ETag", "\"" + md5_hex(body) + "\""}});
}

std::vector<ScriptedReply> replies(std::size_t count, const ScriptedReply& reply) {
  return std::vector<ScriptedReply>(count, reply);
}

// What the exception of a batch entry is, as a word; "" for none.
std::string kind_of(const std::exception_ptr& error) {
  if (!error) return "";
  try {
    std::rethrow_exception(error);
  } catch (const NoSuchKeyError&) {
    return "NoSuchKey";
  } catch (const AccessDeniedError&) {
    return "AccessDenied";
  } catch (const RequestNotSentError&) {
    return "NotSent";
  } catch (const NetworkError&) {
    return "Network";
  } catch (const S3Error& error) {
    return "S3:" + error.code();
  } catch (const Error&) {
    return "Error";
  }
}

}  // namespace

TEST_CASE("put_objects sends every body, signed, over at most max_pool_connections connections") {
  constexpr int kItems = 40;
  ScriptedServer server(replies(2 * kItems, http_reply(200)));
  Client client(config_for(server, 4));
  std::vector<std::string> keys;
  std::vector<std::string> values;
  for (int i = 0; i < kItems; ++i) {
    keys.push_back("batch/" + std::to_string(i) + (i % 7 == 0 ? " with space" : ""));
    values.push_back(std::string(static_cast<std::size_t>(i * 37 % 500), static_cast<char>('a' + i % 26)));
  }
  std::vector<PutItem> items;
  for (int i = 0; i < kItems; ++i) {
    const std::string_view value = values[static_cast<std::size_t>(i)];
    // Two pieces, sent as one body.
    items.push_back(PutItem{keys[static_cast<std::size_t>(i)],
                            {value.substr(0, 3), value.substr(std::min<std::size_t>(3, value.size()))}});
  }
  BatchErrors errors = client.put_objects("shelf", items);
  REQUIRE(errors.size() == items.size());
  for (const auto& error : errors) CHECK(kind_of(error) == "");
  CHECK_NOTHROW(rethrow_first_error(errors));

  std::map<std::string, std::string> received;
  for (const ReceivedRequest& request : server.requests()) {
    CHECK(request.method == "PUT");
    CHECK(request.header("authorization").rfind("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", 0) == 0);
    CHECK(request.header("x-amz-content-sha256") == sha256_hex(request.body));
    CHECK(received.emplace(request.target, request.body).second);  // each key once
  }
  REQUIRE(received.size() == items.size());
  for (int i = 0; i < kItems; ++i) {
    const std::string target = "/shelf/" + uri_encode(keys[static_cast<std::size_t>(i)], true);
    CHECK(received[target] == values[static_cast<std::size_t>(i)]);
  }
  CHECK(server.connections() <= 4);
  CHECK(server.connections() >= 2);  // side by side, not one after another

  // A second batch finds the connections still open.
  const int before = server.connections();
  CHECK(client.put_objects("shelf", items) == BatchErrors(items.size()));
  CHECK(server.connections() == before);
}

TEST_CASE("get_objects returns every body in the order of the keys") {
  constexpr int kKeys = 25;
  ScriptedServer server(replies(kKeys, object_reply("same body")));
  Client client(config_for(server, 3));
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back("k" + std::to_string(i));
  GetObjectsResult result = client.get_objects("shelf", keys);
  REQUIRE(result.values.size() == keys.size());
  REQUIRE(result.errors.size() == keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    CHECK(kind_of(result.errors[i]) == "");
    CHECK(result.values[i] == std::optional<std::string>("same body"));
  }
  std::set<std::string> targets;
  for (const ReceivedRequest& request : server.requests()) {
    CHECK(request.method == "GET");
    targets.insert(request.target);
  }
  CHECK(targets.size() == keys.size());
  CHECK(server.connections() <= 3);
}

TEST_CASE("each request of a batch keeps its own typed error; a missing key is no error") {
  ScriptedServer server({object_reply("zero"), s3_error_reply(404, "NoSuchKey"), object_reply("two"),
                         s3_error_reply(403, "AccessDenied", "Access Denied")});
  Client client(config_for(server, 1));
  GetObjectsResult result = client.get_objects("shelf", {"a", "b", "c", "d", "e", "f"});
  CHECK(result.values[0] == std::optional<std::string>("zero"));
  CHECK(result.values[1] == std::nullopt);
  CHECK(kind_of(result.errors[1]) == "");
  CHECK(result.values[2] == std::optional<std::string>("two"));
  CHECK(kind_of(result.errors[3]) == "AccessDenied");
  // After a request failed for good, the others are not sent.
  CHECK(kind_of(result.errors[4]) == "NotSent");
  CHECK(kind_of(result.errors[5]) == "NotSent");
  CHECK(server.requests().size() == 4);
  try {
    rethrow_first_error(result.errors);
    FAIL("no exception");
  } catch (const AccessDeniedError& error) {
    CHECK(std::string(error.what()).find("GetObject of key 'd'") != std::string::npos);
    CHECK(error.http_status() == 403);
  }
}

TEST_CASE("a batch retries each request on its own, signed anew") {
  SUBCASE("one connection: a request waiting to retry does not hold up the others") {
    ScriptedServer server({s3_error_reply(503, "SlowDown"), http_reply(200), close_reply(), http_reply(200)});
    Client client(config_for(server, 1));
    const std::vector<PutItem> items{{"x", {"1"}}, {"y", {"2"}}};
    BatchErrors errors = client.put_objects("shelf", items);
    CHECK(kind_of(errors[0]) == "");
    CHECK(kind_of(errors[1]) == "");
    const auto requests = server.requests();
    REQUIRE(requests.size() == 4);
    CHECK(requests[0].target == "/shelf/x");
    CHECK(requests[1].target == "/shelf/y");  // while x waits out its backoff
    CHECK(requests[2].target == "/shelf/x");
    CHECK(requests[3].target == "/shelf/x");
    for (const auto& request : requests) {
      CHECK(!request.header("x-amz-date").empty());
      CHECK(request.header("x-amz-content-sha256") == sha256_hex(request.body));
    }
  }
  SUBCASE("side by side: every transient failure is ridden out") {
    std::vector<ScriptedReply> script;
    for (int i = 0; i < 6; ++i) {
      script.push_back(s3_error_reply(503, "SlowDown"));
      script.push_back(s3_error_reply(500, "InternalError"));
    }
    for (int i = 0; i < 20; ++i) script.push_back(object_reply("v"));
    ScriptedServer server(script);
    ClientConfig config = config_for(server, 4);
    config.max_attempts = 8;
    int retries_logged = 0;
    config.logger = [&](LogLevel level, std::string_view line) {
      if (level == LogLevel::warning && line.find("retrying") != std::string_view::npos) ++retries_logged;
    };
    Client client(config);
    std::vector<std::string> keys;
    for (int i = 0; i < 20; ++i) keys.push_back("k" + std::to_string(i));
    GetObjectsResult result = client.get_objects("shelf", keys);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      CHECK(kind_of(result.errors[i]) == "");
      CHECK(result.values[i] == std::optional<std::string>("v"));
    }
    CHECK(retries_logged == 12);
    CHECK(server.requests().size() == 32);
  }
}

TEST_CASE("a request of a batch that fails every attempt says so, typed") {
  ScriptedServer server({s3_error_reply(503, "SlowDown"), s3_error_reply(503, "SlowDown")});
  ClientConfig config = config_for(server, 1);
  config.max_attempts = 2;
  Client client(config);
  BatchErrors errors = client.put_objects("shelf", {{"k", {"v"}}});
  CHECK(kind_of(errors[0]) == "S3:SlowDown");
  try {
    rethrow_first_error(errors);
    FAIL("no exception");
  } catch (const S3Error& error) {
    CHECK(std::string(error.what()).find("PutObject of key 'k'") != std::string::npos);
    CHECK(std::string(error.what()).find("after 2 attempts") != std::string::npos);
    CHECK(error.http_status() == 503);
  }
  CHECK(server.requests().size() == 2);
}

TEST_CASE("a stalled request of a batch times out as a NetworkError") {
  ScriptedServer server({stall_reply()});
  ClientConfig config = config_for(server, 2);
  config.max_attempts = 1;
  Client client(config);
  const auto start = std::chrono::steady_clock::now();
  GetObjectsResult result = client.get_objects("shelf", {"k"});
  CHECK(kind_of(result.errors[0]) == "Network");
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("DeleteObjects requests run side by side and cover every key once") {
  std::vector<std::string> keys;
  for (int i = 0; i < 4500; ++i) keys.push_back("k/" + std::to_string(i));
  ScriptedServer server(replies(5, http_reply(200, "<DeleteResult/>")));
  Client client(config_for(server, 3));
  CHECK(client.delete_objects("shelf", keys).failures.empty());
  const auto requests = server.requests();
  REQUIRE(requests.size() == 5);
  std::multiset<std::string> deleted;
  for (const ReceivedRequest& request : requests) {
    CHECK(request.target == "/shelf?delete=");
    for (auto at = request.body.find("<Key>"); at != std::string::npos; at = request.body.find("<Key>", at + 1)) {
      const auto end = request.body.find("</Key>", at);
      deleted.insert(request.body.substr(at + 5, end - at - 5));
    }
  }
  CHECK(deleted == std::multiset<std::string>(keys.begin(), keys.end()));
  CHECK(server.connections() <= 3);
}

TEST_CASE("a DeleteObjects request that fails throws its typed error") {
  std::vector<std::string> keys;
  for (int i = 0; i < 2500; ++i) keys.push_back("k/" + std::to_string(i));
  ScriptedServer server({http_reply(200, "<DeleteResult/>"), s3_error_reply(403, "AccessDenied")});
  Client client(config_for(server, 1));
  CHECK_THROWS_AS(client.delete_objects("shelf", keys), AccessDeniedError);
  CHECK(server.requests().size() == 2);  // the third was not sent
}

TEST_CASE("an empty batch sends nothing") {
  ScriptedServer server({});
  Client client(config_for(server, 4));
  CHECK(client.put_objects("shelf", {}).empty());
  CHECK(client.get_objects("shelf", {}).values.empty());
  CHECK(server.requests().empty());
}

TEST_CASE("batches from several threads on one client run side by side") {
  ScriptedServer server(replies(3 * 30, object_reply("v")));
  Client client(config_for(server, 2));
  std::vector<std::string> keys;
  for (int i = 0; i < 30; ++i) keys.push_back("k" + std::to_string(i));
  std::vector<std::thread> threads;
  std::vector<int> good(3, 0);
  for (std::size_t t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      const GetObjectsResult result = client.get_objects("shelf", keys);
      for (const auto& value : result.values) good[t] += value == std::optional<std::string>("v");
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(good == std::vector<int>{30, 30, 30});
}

TEST_CASE("a wide batch: 300 requests over 64 connections, one of them stalled") {
  // Only ready sockets are serviced; a stalled transfer must still time out while the others
  // finish around it.
  std::vector<ScriptedReply> script{stall_reply()};
  for (int i = 0; i < 400; ++i) script.push_back(object_reply("v"));
  ScriptedServer server(script);
  ClientConfig config = config_for(server, 64);
  config.max_attempts = 2;
  Client client(config);
  std::vector<std::string> keys;
  for (int i = 0; i < 300; ++i) keys.push_back("k" + std::to_string(i));
  const auto start = std::chrono::steady_clock::now();
  GetObjectsResult result = client.get_objects("shelf", keys);
  CHECK_NOTHROW(rethrow_first_error(result.errors));
  for (const auto& value : result.values) CHECK(value == std::optional<std::string>("v"));
  CHECK(server.connections() <= 64);
  CHECK(server.requests().size() == 301);  // the stalled one was sent again
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
}
