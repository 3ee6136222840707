// Full-object checksums against a scripted server: the headers every PutObject and GetObject
// sends (and, with checksums off, does not), which checksum a reply body is checked against, and
// the replies real servers seldom produce on cue: a checksum that is wrong for a good body,
// composite checksums, CRC32C. moto covers what a real server stores (test_checksums_moto.cpp).
#include <doctest/doctest.h>

#include <cshelve/errors.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "s3/client.hpp"
#include "scripted_server.hpp"
#include "util/crc.hpp"
#include "util/digest.hpp"
#include "util/hex.hpp"

using namespace cshelve;
using namespace cshelve::s3;
using namespace cshelve::testing;

namespace {

ClientConfig checksum_config(const ScriptedServer& server, bool checksums = true) {
  ClientConfig config;
  config.endpoint = parse_endpoint(server.url());
  config.credentials = Credentials{"AKIDEXAMPLE", "checksum-test-secret", ""};
  config.connect_timeout_ms = 2000;
  config.read_timeout_ms = 1000;
  config.max_attempts = 1;
  config.object_checksums = checksums;
  return config;
}

std::string crc_base64(util::CrcKind kind, std::string_view data) {
  util::Crc crc(kind);
  crc.update(data.data(), data.size());
  return util::base64(crc.digest());
}

std::string quoted_md5(std::string_view data) { return "\"" + util::hex(util::md5(data)) + "\""; }

ScriptedReply object_reply(const std::string& body, std::vector<std::pair<std::string, std::string>> headers) {
  return http_reply(200, body, std::move(headers));
}

bool signed_header(const ReceivedRequest& request, const std::string& name) {
  const std::string authorization = request.header("authorization");
  const auto start = authorization.find("SignedHeaders=");
  if (start == std::string::npos) return false;
  const auto end = authorization.find(',', start);
  const std::string names = ";" + authorization.substr(start + 14, end - start - 14) + ";";
  return names.find(";" + name + ";") != std::string::npos;
}

struct GatheringSink final : util::ByteSink {
  std::string received;
  void restart() override { received.clear(); }
  void write(std::string_view bytes) override { received.append(bytes); }
};

struct Warnings {
  std::vector<std::string> lines;
  void attach(ClientConfig& config) {
    config.logger = [this](LogLevel level, std::string_view line) {
      if (level == LogLevel::warning) lines.emplace_back(line);
    };
  }
};

const std::string kValue = "the value";

}  // namespace

TEST_CASE("every PutObject sends its body's CRC64NVME and names the algorithm, both signed") {
  ScriptedServer server({http_reply(200), http_reply(200), http_reply(200), http_reply(200)});
  Client client(checksum_config(server));
  client.put_object("shelf", "plain", {"the ", "value"});
  CHECK(client.put_object_if("shelf", "conditional", {kValue}, PutCondition{PutCondition::Kind::if_absent, {}}));
  const std::string file = "file bytes";
  client.put_object_from("shelf", "from-file", "head|", file.size(),
                         [&](std::uint64_t offset, char* buffer, std::size_t room) {
                           const std::size_t n = std::min<std::size_t>(room, file.size() - offset);
                           std::memcpy(buffer, file.data() + offset, n);
                           return n;
                         });
  const BatchErrors errors = client.put_objects("shelf", {PutItem{"batch", {kValue}}});
  CHECK((errors.size() == 1 && !errors[0]));
  const auto requests = server.requests();
  REQUIRE(requests.size() == 4);
  for (const ReceivedRequest& request : requests) {
    CAPTURE(request.target);
    CHECK(request.header("x-amz-checksum-crc64nvme") == crc_base64(util::CrcKind::crc64nvme, request.body));
    CHECK(request.header("x-amz-sdk-checksum-algorithm") == "CRC64NVME");
    CHECK(signed_header(request, "x-amz-checksum-crc64nvme"));
    CHECK(signed_header(request, "x-amz-sdk-checksum-algorithm"));
  }
  CHECK(requests[2].body == "head|file bytes");
}

TEST_CASE("every GetObject asks for the object's checksum, signed; with checksums off nothing is asked or sent") {
  for (const bool checksums : {true, false}) {
    CAPTURE(checksums);
    ScriptedServer server({http_reply(200), object_reply(kValue, {}), object_reply(kValue, {{"ETag", "\"e\""}}),
                           object_reply(kValue, {})});
    Client client(checksum_config(server, checksums));
    client.put_object("shelf", "k", {kValue});
    CHECK(client.get_object("shelf", "k") == kValue);
    CHECK(client.get_object_versioned("shelf", "k").body == kValue);
    GatheringSink sink;
    client.get_object_to("shelf", "k", sink);
    const auto requests = server.requests();
    REQUIRE(requests.size() == 4);
    bool present = false;
    requests[0].header("x-amz-checksum-crc64nvme", &present);
    CHECK(present == checksums);
    requests[0].header("x-amz-sdk-checksum-algorithm", &present);
    CHECK(present == checksums);
    for (std::size_t i = 1; i < requests.size(); ++i) {
      CHECK(requests[i].header("x-amz-checksum-mode", &present) == (checksums ? "ENABLED" : ""));
      CHECK(present == checksums);
      CHECK(signed_header(requests[i], "x-amz-checksum-mode") == checksums);
    }
  }
}

TEST_CASE("a body is checked against the reply's full-object checksum instead of its ETag") {
  struct Checksum {
    util::CrcKind kind;
    std::string name;
    std::string header;
  };
  const std::string wrong_etag = quoted_md5("other");
  for (const Checksum& checksum : {Checksum{util::CrcKind::crc64nvme, "CRC64NVME", "x-amz-checksum-crc64nvme"},
                                   Checksum{util::CrcKind::crc32c, "CRC32C", "x-amz-checksum-crc32c"},
                                   Checksum{util::CrcKind::crc32, "CRC32", "x-amz-checksum-crc32"}}) {
    CAPTURE(checksum.name);
    const std::string value = crc_base64(checksum.kind, kValue);
    // The checksum vouches for the body, so the ETag is not looked at (and its MD5 not computed).
    ScriptedServer good({object_reply(kValue, {{"ETag", wrong_etag}, {checksum.header, value}})});
    Client client(checksum_config(good));
    CHECK(client.get_object("shelf", "k") == kValue);

    // A damaged body: named by the checksum, and confirmed by the ETag.
    ScriptedServer damaged({object_reply("the valuE", {{"ETag", quoted_md5(kValue)}, {checksum.header, value}})});
    Client damaged_client(checksum_config(damaged));
    const std::string expected =
        "body whose " + checksum.name + " differs from " + checksum.header + ", and whose MD5 differs from its ETag";
    CHECK_THROWS_WITH_AS(damaged_client.get_object("shelf", "k"), doctest::Contains(expected.c_str()),
                         MalformedResponseError);
  }
}

TEST_CASE("a damaged body is caught by its checksum when the ETag cannot tell, and retried") {
  ScriptedServer server(
      {object_reply("the valuE", {{"ETag", "\"abc-2\""},
                                  {"x-amz-checksum-crc64nvme", crc_base64(util::CrcKind::crc64nvme, kValue)}}),
       object_reply(kValue, {{"ETag", "\"abc-2\""},
                             {"x-amz-checksum-crc64nvme", crc_base64(util::CrcKind::crc64nvme, kValue)}})});
  ClientConfig config = checksum_config(server);
  config.max_attempts = 2;
  Client client(config);
  CHECK(client.get_object("shelf", "k") == kValue);
  CHECK(server.requests().size() == 2);
}

TEST_CASE("a wrong checksum for a good body: accepted when the ETag is the body's MD5, with one warning") {
  const std::string wrong = crc_base64(util::CrcKind::crc64nvme, "other");
  const std::vector<std::pair<std::string, std::string>> headers = {{"ETag", quoted_md5(kValue)},
                                                                    {"x-amz-checksum-crc64nvme", wrong}};
  SUBCASE("in memory: the MD5 is computed then") {
    ScriptedServer server({object_reply(kValue, headers), object_reply(kValue, headers)});
    ClientConfig config = checksum_config(server);
    Warnings warnings;
    warnings.attach(config);
    Client client(config);
    CHECK(client.get_object("shelf", "k") == kValue);
    CHECK(client.get_object_versioned("shelf", "k").body == kValue);
    CHECK(server.requests().size() == 2);
    REQUIRE(warnings.lines.size() == 1);
    CHECK(warnings.lines[0].find("x-amz-checksum-crc64nvme disagrees with a body whose MD5 matches its ETag") !=
          std::string::npos);
  }
  SUBCASE("to a sink: fetched again with its MD5, even with one attempt allowed") {
    ScriptedServer server({object_reply(kValue, headers), object_reply(kValue, headers)});
    ClientConfig config = checksum_config(server);
    Warnings warnings;
    warnings.attach(config);
    Client client(config);
    GatheringSink sink;
    client.get_object_to("shelf", "k", sink);
    CHECK(sink.received == kValue);
    CHECK(server.requests().size() == 2);
    CHECK(warnings.lines.size() == 1);
  }
  SUBCASE("to a sink, damaged as well: a failure naming both checks") {
    ScriptedServer server({object_reply("the valuE", headers), object_reply("the valuE", headers)});
    Client client(checksum_config(server));
    GatheringSink sink;
    CHECK_THROWS_WITH_AS(client.get_object_to("shelf", "k", sink),
                         doctest::Contains("body whose CRC64NVME differs from x-amz-checksum-crc64nvme, and whose MD5 "
                                           "differs from its ETag"),
                         MalformedResponseError);
    CHECK(server.requests().size() == 2);
  }
  SUBCASE("without an MD5 ETag nothing vouches for the body: a failure") {
    ScriptedServer server({object_reply(kValue, {{"ETag", "\"abc-2\""}, {"x-amz-checksum-crc64nvme", wrong}})});
    Client client(checksum_config(server));
    CHECK_THROWS_WITH_AS(client.get_object("shelf", "k"),
                         doctest::Contains("body whose CRC64NVME differs from x-amz-checksum-crc64nvme"),
                         MalformedResponseError);
  }
}

TEST_CASE("composite checksums and checksums with checksums off are not used: the MD5 decides") {
  const std::string wrong = crc_base64(util::CrcKind::crc64nvme, "other");
  ScriptedServer server(
      {object_reply(kValue, {{"ETag", quoted_md5(kValue)}, {"x-amz-checksum-crc32c", "AAAAAA==-3"}}),
       object_reply(
           kValue,
           {{"ETag", quoted_md5(kValue)}, {"x-amz-checksum-type", "COMPOSITE"}, {"x-amz-checksum-crc32", "AAAAAA=="}}),
       object_reply(kValue, {{"ETag", quoted_md5("other")}, {"x-amz-checksum-crc32c", "AAAAAA==-3"}})});
  ClientConfig config = checksum_config(server);
  Warnings warnings;
  warnings.attach(config);
  Client client(config);
  CHECK(client.get_object("shelf", "k") == kValue);
  CHECK(client.get_object("shelf", "k") == kValue);
  CHECK_THROWS_WITH_AS(client.get_object("shelf", "k"), doctest::Contains("body whose MD5 differs from its ETag"),
                       MalformedResponseError);
  CHECK(warnings.lines.empty());

  ScriptedServer off(
      {object_reply(kValue, {{"ETag", quoted_md5(kValue)}, {"x-amz-checksum-crc64nvme", wrong}}),
       object_reply(kValue, {{"ETag", quoted_md5("other")},
                             {"x-amz-checksum-crc64nvme", crc_base64(util::CrcKind::crc64nvme, kValue)}})});
  Client off_client(checksum_config(off, false));
  CHECK(off_client.get_object("shelf", "k") == kValue);
  CHECK_THROWS_WITH_AS(off_client.get_object("shelf", "k"), doctest::Contains("body whose MD5 differs from its ETag"),
                       MalformedResponseError);
}
