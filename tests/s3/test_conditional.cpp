// Conditional PutObject against a scripted server: the headers sent, 412 and 404 as "not stored",
// 409 ConditionalRequestConflict retried, and the ETag a versioned GetObject returns. The real
// servers' answers are tested on moto (tests/shelf/test_concurrency.cpp); these are the replies
// moto seldom produces on cue.
#include <doctest/doctest.h>

#include <cshelve/errors.hpp>

#include <string>
#include <vector>

#include "s3/client.hpp"
#include "scripted_server.hpp"

using namespace cshelve;
using namespace cshelve::s3;
using namespace cshelve::testing;

namespace {

ClientConfig conditional_config(const ScriptedServer& server) {
  ClientConfig config;
  config.endpoint = parse_endpoint(server.url());
  config.credentials = Credentials{"AKIDEXAMPLE", "conditional-test-secret", ""};
  config.connect_timeout_ms = 2000;
  config.read_timeout_ms = 1000;
  return config;
}

const PutCondition kIfAbsent{PutCondition::Kind::if_absent, {}};
const PutCondition kIfMatch{PutCondition::Kind::if_match, "\"abc123\""};

}  // namespace

TEST_CASE("conditional PutObject: If-None-Match: * or If-Match, signed; 200 stores") {
  ScriptedServer server({http_reply(200), http_reply(200)});
  Client client(conditional_config(server));
  CHECK(client.put_object_if("shelf", "k", {"v"}, kIfAbsent));
  CHECK(client.put_object_if("shelf", "k", {"v"}, kIfMatch));
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  bool present = false;
  CHECK(requests[0].header("if-none-match", &present) == "*");
  CHECK(present);
  CHECK(requests[0].header("if-match", &present).empty());
  CHECK_FALSE(present);
  CHECK(requests[1].header("if-match") == "\"abc123\"");
  // Both are among the signed headers, so no one on the way can drop them unnoticed.
  CHECK(requests[0].header("authorization").find("if-none-match") != std::string::npos);
  CHECK(requests[1].header("authorization").find("if-match") != std::string::npos);
}

TEST_CASE("conditional PutObject: 412 PreconditionFailed is 'not stored', without retry") {
  ScriptedServer server({s3_error_reply(412, "PreconditionFailed"), s3_error_reply(412, "PreconditionFailed")});
  Client client(conditional_config(server));
  CHECK_FALSE(client.put_object_if("shelf", "k", {"v"}, kIfAbsent));
  CHECK_FALSE(client.put_object_if("shelf", "k", {"v"}, kIfMatch));
  CHECK(server.requests().size() == 2);
}

TEST_CASE("conditional PutObject: NoSuchKey is 'not stored' for If-Match only") {
  ScriptedServer server({s3_error_reply(404, "NoSuchKey"), s3_error_reply(404, "NoSuchKey")});
  Client client(conditional_config(server));
  CHECK_FALSE(client.put_object_if("shelf", "k", {"v"}, kIfMatch));
  CHECK_THROWS_AS(client.put_object_if("shelf", "k", {"v"}, kIfAbsent), NoSuchKeyError);
}

TEST_CASE("conditional PutObject: 409 ConditionalRequestConflict is retried, within max_attempts") {
  ScriptedServer server({s3_error_reply(409, "ConditionalRequestConflict"), s3_error_reply(412, "PreconditionFailed"),
                         s3_error_reply(409, "ConditionalRequestConflict"),
                         s3_error_reply(409, "ConditionalRequestConflict")});
  ClientConfig config = conditional_config(server);
  config.max_attempts = 2;
  Client client(config);
  CHECK_FALSE(client.put_object_if("shelf", "k", {"v"}, kIfAbsent));
  CHECK(server.requests().size() == 2);
  try {
    client.put_object_if("shelf", "k", {"v"}, kIfAbsent);
    FAIL("two conflicts in a row with max_attempts = 2 should fail");
  } catch (const S3Error& error) {
    CHECK(error.code() == "ConditionalRequestConflict");
    CHECK(error.http_status() == 409);
  }
  CHECK(server.requests().size() == 4);
}

TEST_CASE("versioned GetObject returns the body and the ETag; a reply without ETag is malformed") {
  ScriptedServer server({http_reply(200, "body", {{"ETag", "\"e1\""}}), http_reply(200, "no tag"),
                         http_reply(200, "no tag"), http_reply(200, "no tag")});
  Client client(conditional_config(server));
  const VersionedObject object = client.get_object_versioned("shelf", "k");
  CHECK(object.body == "body");
  CHECK(object.etag == "\"e1\"");
  CHECK_THROWS_AS(client.get_object_versioned("shelf", "k"), MalformedResponseError);
}
