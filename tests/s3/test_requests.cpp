// What the S3 client puts on the wire and how it takes each kind of answer, against a scripted
// local server: addressing and encoding, signing headers, bodies, retries, typed errors.
#include <doctest/doctest.h>

#include <cshelve/errors.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "s3/client.hpp"
#include "s3/sigv4.hpp"
#include "scripted_server.hpp"

using namespace cshelve;
using namespace cshelve::s3;
using namespace cshelve::testing;

namespace {

const char* const kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

ClientConfig config_for(const ScriptedServer& server) {
  ClientConfig config;
  config.endpoint = parse_endpoint(server.url());
  config.credentials = Credentials{"AKIDEXAMPLE", kSecret, ""};
  config.connect_timeout_ms = 2000;
  config.read_timeout_ms = 1000;
  return config;
}

std::string digest(const EVP_MD* algorithm, std::string_view data) {
  unsigned char bytes[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  REQUIRE(EVP_Digest(data.data(), data.size(), bytes, &length, algorithm, nullptr) == 1);
  return std::string(reinterpret_cast<const char*>(bytes), length);
}

std::string md5_hex(std::string_view data) {
  static const char* digits = "0123456789abcdef";
  std::string text;
  for (unsigned char c : digest(EVP_md5(), data)) {
    text += digits[c >> 4];
    text += digits[c & 15];
  }
  return text;
}

std::string md5_base64(std::string_view data) {
  const std::string raw = digest(EVP_md5(), data);
  unsigned char encoded[64];
  const int length =
      EVP_EncodeBlock(encoded, reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(length));
}

std::string list_reply_body(const std::vector<std::string>& encoded_keys, bool truncated,
                            const std::string& token = "") {
  std::string body = "<ListBucketResult><EncodingType>url</EncodingType><KeyCount>" +
                     std::to_string(encoded_keys.size()) + "</KeyCount><IsTruncated>" + (truncated ? "true" : "false") +
                     "</IsTruncated>";
  for (const std::string& key : encoded_keys) body += "<Contents><Key>" + key + "</Key></Contents>";
  if (!token.empty()) body += "<NextContinuationToken>" + token + "</NextContinuationToken>";
  return body + "</ListBucketResult>";
}

int count_of(const std::string& text, const std::string& part) {
  int count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

}  // namespace

TEST_CASE("GetObject: path-style request, signed, body returned") {
  ScriptedServer server({http_reply(200, "hello", {{"ETag", "\"" + md5_hex("hello") + "\""}})});
  Client client(config_for(server));
  CHECK(client.get_object("shelf", "a b/c") == "hello");

  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  const ReceivedRequest& request = requests[0];
  CHECK(request.method == "GET");
  CHECK(request.target == "/shelf/a%20b/c");
  CHECK(request.header("host") == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(request.header("authorization").rfind("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", 0) == 0);
  CHECK(request.header("authorization").find("/us-east-1/s3/aws4_request") != std::string::npos);
  CHECK(request.header("x-amz-content-sha256") == sha256_hex(""));
  CHECK(request.header("x-amz-date").size() == 16);
}

TEST_CASE("the path goes out exactly as signed: dot segments and every special byte kept") {
  const std::string key = "a/./b/../c/+=&%~!'\"*() \xC3\xA9";
  ScriptedServer server({http_reply(200, "x")});
  Client client(config_for(server));
  client.get_object("shelf", key);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].target == "/shelf/a/./b/../c/%2B%3D%26%25~%21%27%22%2A%28%29%20%C3%A9");
}

TEST_CASE("PutObject sends the pieces as one body, with its SHA-256 and no Expect") {
  std::string big(3 * 1024 * 1024, 'x');
  for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + i % 26);
  const std::vector<std::string_view> pieces = {"header|", "", big, "|tail"};
  const std::string whole = "header|" + big + "|tail";

  ScriptedServer server({http_reply(200)});
  Client client(config_for(server));
  client.put_object("shelf", "k/1", pieces);

  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "PUT");
  CHECK(requests[0].target == "/shelf/k/1");
  CHECK(requests[0].body == whole);
  CHECK(requests[0].header("content-length") == std::to_string(whole.size()));
  CHECK(requests[0].header("x-amz-content-sha256") == sha256_hex(whole));
  bool expect = true;
  requests[0].header("expect", &expect);
  CHECK_FALSE(expect);
}

TEST_CASE("an empty PutObject sends an empty body") {
  ScriptedServer server({http_reply(200)});
  Client client(config_for(server));
  client.put_object("shelf", "empty", {});
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].body.empty());
  CHECK(requests[0].header("content-length") == "0");
  CHECK(requests[0].header("x-amz-content-sha256") == sha256_hex(""));
}

TEST_CASE("bodies on either side of the inline limit arrive whole, with no Content-Type") {
  // Below 64 KiB a body goes out with the headers; from there on, from the read callback.
  const std::size_t sizes[] = {1, 3, 65535, 65536, 200000};
  std::vector<ScriptedReply> script(std::size(sizes) * 2, http_reply(200));
  ScriptedServer server(script);
  Client client(config_for(server));
  std::vector<std::string> bodies;
  for (std::size_t size : sizes) {
    std::string body(size, '\0');
    for (std::size_t i = 0; i < size; ++i) body[i] = static_cast<char>(i * 7 + size);
    bodies.push_back(body);
    const std::string_view view = bodies.back();
    client.put_object("shelf", "one piece", {view});
    client.put_object("shelf", "three pieces",
                      {view.substr(0, 1), view.substr(1, size / 2), view.substr(1 + size / 2)});
  }
  const auto requests = server.requests();
  REQUIRE(requests.size() == std::size(sizes) * 2);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    CAPTURE(i);
    CHECK(requests[i].method == "PUT");
    CHECK(requests[i].body == bodies[i / 2]);
    CHECK(requests[i].header("content-length") == std::to_string(bodies[i / 2].size()));
    CHECK(requests[i].header("x-amz-content-sha256") == sha256_hex(bodies[i / 2]));
    bool content_type = false;
    requests[i].header("content-type", &content_type);
    CHECK_FALSE(content_type);
  }
}

TEST_CASE("DeleteObject sends DELETE") {
  ScriptedServer server({http_reply(204)});
  Client client(config_for(server));
  client.delete_object("shelf", "k/1");
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "DELETE");
  CHECK(requests[0].target == "/shelf/k/1");
}

TEST_CASE("the connection is kept alive between requests") {
  ScriptedServer server({http_reply(200, "1"), http_reply(200, "2"), http_reply(204)});
  Client client(config_for(server));
  CHECK(client.get_object("shelf", "a") == "1");
  CHECK(client.get_object("shelf", "b") == "2");
  client.delete_object("shelf", "b");
  CHECK(server.requests().size() == 3);
  CHECK(server.connections() == 1);
}

TEST_CASE("ListObjectsV2 asks for url-encoded keys and decodes them") {
  ScriptedServer server({http_reply(200, list_reply_body({"a+b", "%2B%25"}, true, "tok/en="))});
  Client client(config_for(server));
  ListRequest request;
  request.prefix = "p q/";
  request.max_keys = 2;
  request.continuation_token = "prev/tok+en=";
  request.start_after = "p q/0";
  ListResult page = client.list_objects_v2("shelf", request);
  CHECK(page.keys == std::vector<std::string>{"a b", "+%"});
  CHECK(page.is_truncated);
  CHECK(page.next_continuation_token == "tok/en=");
  CHECK(page.key_count == 2);

  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  // Parameters in canonical (sorted) order, each value encoded once, '/' included.
  CHECK(requests[0].target ==
        "/shelf?continuation-token=prev%2Ftok%2Ben%3D&encoding-type=url&list-type=2&max-keys=2"
        "&prefix=p%20q%2F&start-after=p%20q%2F0");
}

TEST_CASE("ListObjectsV2 without options sends only what it must") {
  ScriptedServer server({http_reply(200, list_reply_body({}, false))});
  Client client(config_for(server));
  ListRequest request;
  request.max_keys = 0;
  ListResult page = client.list_objects_v2("shelf", request);
  CHECK(page.keys.empty());
  CHECK_FALSE(page.is_truncated);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].target == "/shelf?encoding-type=url&list-type=2");
}

TEST_CASE("an unreadable listing is MalformedResponseError, and not retried") {
  ScriptedServer server({http_reply(200, "<ListBucketResult><Contents>")});
  Client client(config_for(server));
  try {
    client.list_objects_v2("shelf", ListRequest{});
    FAIL("no exception");
  } catch (const MalformedResponseError& error) {
    CHECK(std::string(error.what()).find("ListObjectsV2") != std::string::npos);
    CHECK(std::string(error.what()).find("'shelf'") != std::string::npos);
  }
  CHECK(server.requests().size() == 1);
}

TEST_CASE("an Error document in a 200 reply is an error, retried like any other") {
  ScriptedServer server(
      {http_reply(200, "<Error><Code>InternalError</Code></Error>"), http_reply(200, list_reply_body({"k"}, false))});
  Client client(config_for(server));
  CHECK(client.list_objects_v2("shelf", ListRequest{}).keys == std::vector<std::string>{"k"});
  CHECK(server.requests().size() == 2);
}

TEST_CASE("CreateBucket: us-east-1 sends no body, other regions a LocationConstraint") {
  SUBCASE("us-east-1") {
    ScriptedServer server({http_reply(200)});
    Client client(config_for(server));
    client.create_bucket("new-bucket");
    const auto requests = server.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].method == "PUT");
    CHECK(requests[0].target == "/new-bucket");
    CHECK(requests[0].body.empty());
  }
  SUBCASE("eu-west-3") {
    ScriptedServer server({http_reply(200)});
    ClientConfig config = config_for(server);
    config.region = "eu-west-3";
    Client client(config);
    client.create_bucket("new-bucket");
    const auto requests = server.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].body.find("<LocationConstraint>eu-west-3</LocationConstraint>") != std::string::npos);
    CHECK(requests[0].header("authorization").find("/eu-west-3/s3/aws4_request") != std::string::npos);
  }
}

TEST_CASE("CreateBucket of a bucket already ours succeeds; someone else's fails") {
  ScriptedServer server({s3_error_reply(409, "BucketAlreadyOwnedByYou", "yours already"),
                         s3_error_reply(409, "BucketAlreadyExists", "taken")});
  Client client(config_for(server));
  CHECK_NOTHROW(client.create_bucket("mine"));
  try {
    client.create_bucket("theirs");
    FAIL("no exception");
  } catch (const S3Error& error) {
    CHECK(error.code() == "BucketAlreadyExists");
    CHECK(error.http_status() == 409);
  }
}

TEST_CASE("DeleteObjects: quiet, Content-MD5, 1,000 keys a request, failures gathered") {
  std::vector<std::string> keys;
  for (int i = 0; i < 2500; ++i) keys.push_back("k/" + std::to_string(i) + (i == 7 ? " & <x>" : ""));
  ScriptedServer server({http_reply(200,
                                    "<DeleteResult><Error><Key>k/7 &amp; &lt;x&gt;</Key><Code>AccessDenied</Code>"
                                    "<Message>Access Denied</Message></Error></DeleteResult>"),
                         http_reply(200, "<DeleteResult/>"),
                         http_reply(200,
                                    "<DeleteResult><Error><Key>k/2499</Key><Code>InternalError</Code>"
                                    "<Message>later</Message></Error></DeleteResult>")});
  ClientConfig config = config_for(server);
  // One request at a time, so that each gets the scripted reply meant for it (batches of requests
  // run side by side, and the server answers in arrival order).
  config.max_pool_connections = 1;
  Client client(config);
  DeleteResult result = client.delete_objects("shelf", keys);
  REQUIRE(result.failures.size() == 2);
  CHECK(result.failures[0].key == "k/7 & <x>");
  CHECK(result.failures[0].code == "AccessDenied");
  CHECK(result.failures[0].message == "Access Denied");
  CHECK(result.failures[1].key == "k/2499");

  const auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  const int expected_keys[] = {1000, 1000, 500};
  for (std::size_t i = 0; i < requests.size(); ++i) {
    CAPTURE(i);
    CHECK(requests[i].method == "POST");
    CHECK(requests[i].target == "/shelf?delete=");
    CHECK(requests[i].header("content-md5") == md5_base64(requests[i].body));
    CHECK(requests[i].header("authorization").find("content-md5") != std::string::npos);
    CHECK(count_of(requests[i].body, "<Object>") == expected_keys[i]);
    CHECK(requests[i].body.find("<Quiet>true</Quiet>") != std::string::npos);
  }
  CHECK(requests[0].body.find("<Key>k/7 &amp; &lt;x&gt;</Key>") != std::string::npos);
}

TEST_CASE("DeleteObjects of no key sends nothing") {
  ScriptedServer server({});
  Client client(config_for(server));
  CHECK(client.delete_objects("shelf", {}).failures.empty());
  CHECK(server.requests().empty());
}

TEST_CASE("S3 error codes become typed exceptions, without retry") {
  struct Case {
    int status;
    const char* code;
  };
  const Case cases[] = {
      {404, "NoSuchKey"},          {404, "NoSuchBucket"},    {403, "AccessDenied"},    {403, "SignatureDoesNotMatch"},
      {403, "InvalidAccessKeyId"}, {400, "InvalidArgument"}, {409, "OperationAborted"}};
  for (const Case& c : cases) {
    CAPTURE(c.code);
    ScriptedServer server({s3_error_reply(c.status, c.code, "what the server said", "RID-42")});
    Client client(config_for(server));
    try {
      client.get_object("shelf", "some/key");
      FAIL("no exception");
    } catch (const S3Error& error) {
      const std::string code = c.code;
      const std::string what = error.what();
      CHECK(error.http_status() == c.status);
      CHECK(error.code() == code);
      CHECK(error.server_message() == "what the server said");
      CHECK(error.request_id() == "RID-42");
      CHECK(what.find("GetObject") != std::string::npos);
      CHECK(what.find("'some/key'") != std::string::npos);
      CHECK(what.find("'shelf'") != std::string::npos);
      CHECK(what.find(code) != std::string::npos);
      CHECK(what.find(kSecret) == std::string::npos);
      const bool typed_right =
          (code == "NoSuchKey") == (dynamic_cast<const NoSuchKeyError*>(&error) != nullptr) &&
          (code == "NoSuchBucket") == (dynamic_cast<const NoSuchBucketError*>(&error) != nullptr) &&
          (code == "AccessDenied") == (dynamic_cast<const AccessDeniedError*>(&error) != nullptr) &&
          (code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId") ==
              (dynamic_cast<const AuthenticationError*>(&error) != nullptr);
      CHECK(typed_right);
    }
    CHECK(server.requests().size() == 1);
  }
}

TEST_CASE("transient failures are retried, each attempt signed anew") {
  ScriptedServer server(
      {s3_error_reply(503, "SlowDown"), s3_error_reply(400, "RequestTimeout"), http_reply(200, "finally")});
  std::vector<std::string> lines;
  ClientConfig config = config_for(server);
  config.logger = [&](LogLevel, std::string_view line) { lines.emplace_back(line); };
  config.log_level = LogLevel::debug;
  Client client(config);
  CHECK(client.get_object("shelf", "k") == "finally");
  const auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  for (const auto& request : requests) CHECK_FALSE(request.header("authorization").empty());
  // Two retry warnings and three request lines; none shows a secret or a signature.
  int warnings = 0;
  for (const std::string& line : lines) {
    CAPTURE(line);
    if (line.find("retrying") != std::string::npos) ++warnings;
    CHECK(line.find(kSecret) == std::string::npos);
    CHECK(line.find("Signature=") == std::string::npos);
    CHECK(line.find(requests[0].header("authorization")) == std::string::npos);
  }
  CHECK(warnings == 2);
  CHECK(lines.size() == 5);
}

TEST_CASE("retries stop after max_attempts; the error tells every attempt") {
  ScriptedServer server({s3_error_reply(500, "InternalError", "oops"), s3_error_reply(502, ""),
                         s3_error_reply(503, "SlowDown", "slow", "LAST-ID")});
  Client client(config_for(server));
  try {
    client.put_object("shelf", "k", {"v"});
    FAIL("no exception");
  } catch (const S3Error& error) {
    const std::string what = error.what();
    CAPTURE(what);
    CHECK(error.code() == "SlowDown");
    CHECK(error.http_status() == 503);
    CHECK(error.request_id() == "LAST-ID");
    CHECK(what.find("after 3 attempts") != std::string::npos);
    CHECK(what.find("attempt 1: HTTP 500 InternalError: oops") != std::string::npos);
    CHECK(what.find("attempt 2: HTTP 502") != std::string::npos);
    CHECK(what.find("attempt 3: HTTP 503 SlowDown: slow") != std::string::npos);
  }
  CHECK(server.requests().size() == 3);
}

TEST_CASE("max_attempts = 1 means no retry") {
  ScriptedServer server({s3_error_reply(503, "SlowDown"), http_reply(200, "unused")});
  ClientConfig config = config_for(server);
  config.max_attempts = 1;
  Client client(config);
  CHECK_THROWS_AS(client.get_object("shelf", "k"), S3Error);
  CHECK(server.requests().size() == 1);
}

TEST_CASE("a closed connection or a cut body is retried") {
  ScriptedServer server({close_reply(), truncated_reply(200, "half", 8), http_reply(200, "complete")});
  Client client(config_for(server));
  CHECK(client.get_object("shelf", "k") == "complete");
  CHECK(server.requests().size() == 3);
}

TEST_CASE("a GetObject body that does not match its ETag is a failed attempt") {
  const std::string wrong_etag = "\"" + md5_hex("other") + "\"";
  SUBCASE("then right") {
    ScriptedServer server({http_reply(200, "value", {{"ETag", wrong_etag}}),
                           http_reply(200, "value", {{"ETag", "\"" + md5_hex("value") + "\""}})});
    Client client(config_for(server));
    CHECK(client.get_object("shelf", "k") == "value");
    CHECK(server.requests().size() == 2);
  }
  SUBCASE("always wrong") {
    ScriptedServer server({http_reply(200, "value", {{"ETag", wrong_etag}}),
                           http_reply(200, "value", {{"ETag", wrong_etag}}),
                           http_reply(200, "value", {{"ETag", wrong_etag}})});
    Client client(config_for(server));
    try {
      client.get_object("shelf", "k");
      FAIL("no exception");
    } catch (const MalformedResponseError& error) {
      CHECK(std::string(error.what()).find("after 3 attempts") != std::string::npos);
      CHECK(std::string(error.what()).find("MD5") != std::string::npos);
    }
  }
  SUBCASE("multipart and KMS ETags are not MD5s") {
    ScriptedServer server(
        {http_reply(200, "value", {{"ETag", "\"" + md5_hex("other") + "-2\""}}),
         http_reply(200, "value", {{"ETag", wrong_etag}, {"x-amz-server-side-encryption", "aws:kms"}})});
    Client client(config_for(server));
    CHECK(client.get_object("shelf", "k") == "value");
    CHECK(client.get_object("shelf", "k") == "value");
    CHECK(server.requests().size() == 2);
  }
}

TEST_CASE("a server that stops answering times out, as a NetworkError after every attempt") {
  ScriptedServer server({stall_reply(), stall_reply()});
  ClientConfig config = config_for(server);
  config.max_attempts = 2;
  Client client(config);
  const auto start = std::chrono::steady_clock::now();
  try {
    client.get_object("shelf", "k");
    FAIL("no exception");
  } catch (const NetworkError& error) {
    const std::string what = error.what();
    CAPTURE(what);
    CHECK(what.find("after 2 attempts") != std::string::npos);
    CHECK(what.find("timed out") != std::string::npos);
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  CHECK(server.requests().size() == 2);
}

TEST_CASE("an upload whose answer stalls on a kept-alive connection is abandoned at the read timeout") {
  // The stalled answer is held for 4 s, then the connection closes. libcurl's own low-speed check
  // averages over seconds, so the bytes just uploaded kept such a transfer alive until the server
  // closed, after which libcurl re-sent it on a fresh connection by itself: no timeout, no retry
  // the client knew of. The read timeout (1 s) must end the attempt first.
  ScriptedServer server({http_reply(200), stall_reply(4000), http_reply(200)});
  std::vector<std::string> retries;
  ClientConfig config = config_for(server);
  config.max_attempts = 2;
  config.logger = [&](LogLevel, std::string_view line) {
    if (line.find("retrying") != std::string_view::npos) retries.emplace_back(line);
  };
  Client client(config);
  const std::string body(2000, 'b');
  client.put_object("shelf", "first", {body});
  client.put_object("shelf", "second", {body});
  REQUIRE(retries.size() == 1);
  CHECK(retries.front().find("timed out") != std::string::npos);
  CHECK(retries.front().find("read timeout") != std::string::npos);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[1].connection == requests[0].connection);  // the stall came on the kept-alive one
  CHECK(requests[2].connection != requests[1].connection);
  CHECK(requests[2].body == body);
}

TEST_CASE("the largest timeouts a long holds neither overflow nor cut a slow answer short") {
  // Rounding the read timeout up to whole seconds for libcurl's low-speed check once overflowed at
  // the top of the range, into a negative number that libcurl refused.
  ScriptedServer server({stall_reply(3000), http_reply(200, "late")});
  ClientConfig config = config_for(server);
  config.connect_timeout_ms = std::numeric_limits<long>::max();
  config.read_timeout_ms = std::numeric_limits<long>::max();
  config.max_attempts = 2;
  Client client(config);
  const auto start = std::chrono::steady_clock::now();
  CHECK(client.get_object("shelf", "k") == "late");
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(2500));
  CHECK(server.requests().size() == 2);
}

TEST_CASE("4xx errors are never retried, whatever their code, except RequestTimeout") {
  ScriptedServer server(
      {s3_error_reply(400, "RequestTimeout"), s3_error_reply(400, "SlowDown"), http_reply(200, "unused")});
  Client client(config_for(server));
  try {
    client.get_object("shelf", "k");
    FAIL("no exception");
  } catch (const S3Error& error) {
    CHECK(error.http_status() == 400);
    CHECK(error.code() == "SlowDown");
    CHECK(std::string(error.what()).find("attempt 1: HTTP 400 RequestTimeout") != std::string::npos);
  }
  CHECK(server.requests().size() == 2);
}

TEST_CASE("a transient failure on the only attempt allowed says that it was the only one") {
  ScriptedServer server({s3_error_reply(503, "SlowDown", "slow")});
  ClientConfig config = config_for(server);
  config.max_attempts = 1;
  Client client(config);
  try {
    client.get_object("shelf", "k");
    FAIL("no exception");
  } catch (const S3Error& error) {
    CHECK(std::string(error.what()).find("after 1 attempt: attempt 1: HTTP 503 SlowDown: slow") != std::string::npos);
  }
}

TEST_CASE("a GetObject body whose length is not its Content-Length is a failed attempt") {
  // A chunked body with a Content-Length header that disagrees: libcurl follows the chunks, so
  // only the client's own check can notice.
  ScriptedReply disagreeing{ScriptedReply::Kind::answer,
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n"
                            "5\r\nvalue\r\n0\r\n\r\n"};
  ScriptedServer server({disagreeing, http_reply(200, "value")});
  std::vector<std::string> retries;
  ClientConfig config = config_for(server);
  config.logger = [&](LogLevel, std::string_view line) {
    if (line.find("retrying") != std::string_view::npos) retries.emplace_back(line);
  };
  Client client(config);
  CHECK(client.get_object("shelf", "k") == "value");
  REQUIRE(retries.size() == 1);
  CHECK(retries.front().find("Content-Length") != std::string::npos);
  CHECK(server.requests().size() == 2);
}

TEST_CASE("a server that cannot be reached is a NetworkError") {
  int closed_port = 0;
  {
    ScriptedServer server({});
    closed_port = server.port();
  }
  ClientConfig config;
  config.endpoint = parse_endpoint("http://127.0.0.1:" + std::to_string(closed_port));
  config.credentials = Credentials{"AKIDEXAMPLE", kSecret, ""};
  config.max_attempts = 2;
  Client client(config);
  try {
    client.delete_object("shelf", "k");
    FAIL("no exception");
  } catch (const NetworkError& error) {
    const std::string what = error.what();
    CHECK(what.find("DeleteObject") != std::string::npos);
    CHECK(what.find("after 2 attempts") != std::string::npos);
  }
}

TEST_CASE("unusable endpoint URLs are ConfigurationError") {
  for (const char* url : {"localhost:9000", "ftp://host", "http://", "http://host/prefix", "http://user:pw@host",
                          "http://host:port", "http://ho st"}) {
    CAPTURE(url);
    CHECK_THROWS_AS(parse_endpoint(url), ConfigurationError);
  }
  for (const char* url :
       {"http://127.0.0.1:9000", "https://minio.example/", "http://[::1]:9000", "HTTP://Host.Example:80"}) {
    CAPTURE(url);
    ClientConfig config;
    CHECK_NOTHROW(config.endpoint = parse_endpoint(url));
    CHECK_NOTHROW(Client{config});
  }
}

TEST_CASE("the Host header leaves out the scheme's default port") {
  std::vector<std::string> lines;
  ClientConfig config;
  config.endpoint = parse_endpoint("http://127.0.0.1:80");
  config.credentials = Credentials{"AKIDEXAMPLE", kSecret, ""};
  config.max_attempts = 1;
  config.connect_timeout_ms = 1000;
  config.read_timeout_ms = 1000;
  config.logger = [&](LogLevel, std::string_view line) { lines.emplace_back(line); };
  config.log_level = LogLevel::debug;
  Client client(config);
  try {
    client.get_object("b", "k");
  } catch (const cshelve::Error&) {
    // Whether something listens on port 80 does not matter: only the request line counts.
  }
  REQUIRE_FALSE(lines.empty());
  CHECK(lines[0].rfind("GET 127.0.0.1/b/k -> ", 0) == 0);
}

TEST_CASE("virtual-hosted addressing puts the bucket in the host name") {
  ScriptedServer server({http_reply(200, "x"), http_reply(200, list_reply_body({}, false))});
  ClientConfig config = config_for(server);
  config.endpoint = parse_endpoint("http://localhost:" + std::to_string(server.port()));
  config.addressing = Addressing::virtual_hosted;
  Client client(config);
  CHECK(client.get_object("my-bucket", "a/b") == "x");
  client.list_objects_v2("my-bucket", ListRequest{});
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].header("host") == "my-bucket.localhost:" + std::to_string(server.port()));
  CHECK(requests[0].target == "/a/b");
  CHECK(requests[1].target.rfind("/?", 0) == 0);
  // A name that cannot be a host label is refused rather than sent to a wrong host.
  CHECK_THROWS_AS(client.get_object("My_Bucket", "k"), ConfigurationError);
}

TEST_CASE("a moved-from client's successor works") {
  ScriptedServer server({http_reply(200, "x")});
  Client first(config_for(server));
  Client second(std::move(first));
  CHECK(second.get_object("b", "k") == "x");
  CHECK_THROWS_AS(first.get_object("b", "k"), cshelve::Error);  // NOLINT(bugprone-use-after-move)
}

namespace {

// A body source over a string, counting how often it is read from the start.
struct StringSource {
  std::string data;
  int starts = 0;
  util::ReadAt reader() {
    return [this](std::uint64_t offset, char* buffer, std::size_t room) {
      if (offset == 0) ++starts;
      const std::size_t n = std::min<std::size_t>(room, data.size() - static_cast<std::size_t>(offset));
      std::memcpy(buffer, data.data() + offset, n);
      return n;
    };
  }
};

// A sink gathering what a GetObject delivers, counting restarts.
struct GatheringSink final : util::ByteSink {
  std::string received;
  int restarts = 0;
  void restart() override {
    ++restarts;
    received.clear();
  }
  void write(std::string_view bytes) override { received.append(bytes); }
  util::ByteSink& sink() { return *this; }
};

}  // namespace

TEST_CASE("PutObject from a source sends head and source as one body, hashed in a first reading") {
  StringSource source{std::string(3 * 1024 * 1024 + 5, 'x')};
  for (std::size_t i = 0; i < source.data.size(); i += 777) source.data[i] = static_cast<char>(i % 251);
  const std::string whole = "head|" + source.data;

  ScriptedServer server({s3_error_reply(503, "SlowDown"), http_reply(200)});
  Client client(config_for(server));
  client.put_object_from("shelf", "big", "head|", source.data.size(), source.reader());

  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  for (const auto& request : requests) {
    CHECK(request.method == "PUT");
    CHECK(request.body == whole);
    CHECK(request.header("content-length") == std::to_string(whole.size()));
    CHECK(request.header("x-amz-content-sha256") == sha256_hex(whole));
  }
  // Hashed once, then sent by each of the two attempts.
  CHECK(source.starts == 3);
}

TEST_CASE("PutObject from a source that ends early fails without sending a short body") {
  StringSource source{"short"};
  ScriptedServer server({http_reply(200)});
  Client client(config_for(server));
  CHECK_THROWS_WITH_AS(client.put_object_from("shelf", "k", "", 100, source.reader()),
                       doctest::Contains("before its announced length"), StorageError);
  CHECK(server.requests().empty());
}

TEST_CASE("GetObject into a sink: each attempt starts it over, and only a 2xx body reaches it") {
  const std::string value = "the whole value";
  const std::string etag = "\"" + md5_hex(value) + "\"";
  ScriptedServer server({truncated_reply(200, "the who", static_cast<long>(value.size()), {{"ETag", etag}}),
                         http_reply(200, value, {{"ETag", "\"" + md5_hex("other") + "\""}}),
                         http_reply(200, value, {{"ETag", etag}}),
                         s3_error_reply(404, "NoSuchKey", "The specified key does not exist.")});
  Client client(config_for(server));
  GatheringSink gathered;
  client.get_object_to("shelf", "k", gathered.sink());
  CHECK(gathered.received == value);
  CHECK(gathered.restarts == 3);

  GatheringSink missing;
  CHECK_THROWS_AS(client.get_object_to("shelf", "absent", missing.sink()), NoSuchKeyError);
  CHECK(missing.received.empty());  // the error document went to the client, not to the sink
}

TEST_CASE("GetObject into a sink that throws ends the transfer with that error, not retried") {
  ScriptedServer server({http_reply(200, std::string(100000, 'v')), http_reply(200, "v")});
  Client client(config_for(server));
  struct FullDisk final : util::ByteSink {
    void restart() override {}
    void write(std::string_view) override { throw StorageError("disk full"); }
  } sink;
  CHECK_THROWS_WITH_AS(client.get_object_to("shelf", "k", sink), "disk full", StorageError);
  CHECK(server.requests().size() == 1);
}

TEST_CASE("object_exists: a signed GetObject of the first byte, with no listing") {
  ScriptedServer server({http_reply(206, "v", {{"Content-Range", "bytes 0-0/100000"}}),
                         s3_error_reply(404, "NoSuchKey", "The specified key does not exist."),
                         s3_error_reply(416, "InvalidRange", "The requested range is not satisfiable"),
                         s3_error_reply(503, "SlowDown"), http_reply(206, "v")});
  Client client(config_for(server));
  CHECK(client.object_exists("shelf", "some key"));
  CHECK_FALSE(client.object_exists("shelf", "absent"));
  CHECK(client.object_exists("shelf", "empty"));  // 416: an empty object has no first byte
  CHECK(client.object_exists("shelf", "busy"));   // SlowDown is retried as for any GetObject
  const auto requests = server.requests();
  REQUIRE(requests.size() == 5);
  CHECK(requests[0].method == "GET");
  CHECK(requests[0].target == "/shelf/some%20key");
  CHECK(requests[0].header("range") == "bytes=0-0");
  // The range is signed, so no one on the way can widen it unnoticed.
  CHECK(requests[0].header("authorization").find(";range;") != std::string::npos);
  CHECK(requests[0].header("x-amz-checksum-mode").empty());  // nothing to check a part against
}

TEST_CASE("object_exists: other errors are typed as for GetObject") {
  ScriptedServer server({s3_error_reply(403, "AccessDenied", "Access Denied"),
                         s3_error_reply(404, "NoSuchBucket", "The specified bucket does not exist")});
  Client client(config_for(server));
  CHECK_THROWS_AS(client.object_exists("shelf", "k"), AccessDeniedError);
  CHECK_THROWS_AS(client.object_exists("shelf", "k"), NoSuchBucketError);
  CHECK(server.requests().size() == 2);
}

TEST_CASE("object_exists: a server that ignores the range is cut off, and the key exists, without a retry") {
  // 256 MiB announced, 64 KiB every 100 ms: the whole object would take minutes to arrive.
  ScriptedServer server({drip_reply(200, 256L << 20, std::string(64 << 10, 'v'), 100, 4096), http_reply(206, "v")});
  Client client(config_for(server));
  const auto start = std::chrono::steady_clock::now();
  CHECK(client.object_exists("shelf", "large"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  CHECK(server.requests().size() == 1);
  // The connection cut off is replaced for the next request.
  CHECK(client.object_exists("shelf", "next"));
  CHECK(server.requests().size() == 2);
}

TEST_CASE("object_exists: a small object sent whole, as by a server ignoring the range, is read to its end") {
  ScriptedServer server({http_reply(200, std::string(10000, 'v')), http_reply(206, "v")});
  Client client(config_for(server));
  CHECK(client.object_exists("shelf", "small"));
  CHECK(client.object_exists("shelf", "next"));
  CHECK(server.connections() == 1);  // kept: cutting it off would cost a new one
}
