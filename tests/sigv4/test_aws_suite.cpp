// The AWS Signature V4 test suite, in its classic layout (aws-sig-v4-test-suite/) and in the CRT
// layout (v4/). The suite is written for a generic service, so the signer runs with service
// "service" and without the S3-only x-amz-content-sha256 header, except where a v4 case asks for it.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>

#include "s3/sigv4.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using cshelve::s3::ContentSha256Header;
using cshelve::s3::Credentials;
using cshelve::s3::RequestToSign;
using cshelve::s3::SignedRequest;
using cshelve::s3::Signer;
using sigv4_test::HttpRequest;
using sigv4_test::Pairs;

namespace {

const char* const kAccessKey = "AKIDEXAMPLE";
const char* const kSecretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const std::time_t kSuiteTime = 1440938160;  // 20150830T123600Z

// Cases whose expected canonical path has `.`/`..` resolved and `//` merged: S3 does neither.
const std::set<std::string> kNormalizingCases = {"get-relative", "get-relative-relative", "get-slash",
                                                 "get-slashes",  "get-slash-dot-slash",   "get-slash-pointless-dot"};

RequestToSign to_sign(const HttpRequest& http) {
  RequestToSign request;
  request.method = http.method;
  request.path = http.path;
  request.query = http.query;
  request.headers = http.headers;
  request.payload_sha256 = cshelve::s3::sha256_hex(http.body);
  return request;
}

// The value of `name` in a canonical request ("name:value" line), or "".
std::string canonical_header(const std::string& canonical_request, const std::string& name) {
  const std::string prefix = "\n" + name + ":";
  const std::size_t at = canonical_request.find(prefix);
  if (at == std::string::npos) return {};
  const std::size_t start = at + prefix.size();
  return canonical_request.substr(start, canonical_request.find('\n', start) - start);
}

std::string sent_authorization(const SignedRequest& signed_request) {
  return sigv4_test::header_value(signed_request.headers, "authorization");
}

// What was sent must be what the suite's signed request shows (names compared without case).
void check_sent_headers(const SignedRequest& signed_request, const HttpRequest& expected) {
  CHECK(sigv4_test::normalized_headers(signed_request.headers) == sigv4_test::normalized_headers(expected.headers));
}

}  // namespace

TEST_CASE("AWS SigV4 suite, classic layout: every case that applies to S3") {
  const fs::path root = sigv4_test::suite_dir() / "aws-sig-v4-test-suite";
  REQUIRE(fs::is_directory(root));
  REQUIRE(cshelve::s3::amz_date(kSuiteTime) == "20150830T123600Z");
  int applied = 0;
  int not_for_s3 = 0;
  int negative = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.path().extension() != ".req") continue;
    const std::string name = entry.path().stem().string();
    const fs::path base = entry.path().parent_path() / name;
    auto expected = [&](const char* extension) { return sigv4_test::read_text(base.string() + extension); };
    CAPTURE(name);
    if (kNormalizingCases.count(name) != 0) {
      ++not_for_s3;
      continue;
    }
    const HttpRequest http = sigv4_test::parse_http_request(expected(".req"));
    const std::string expected_authorization = expected(".authz");

    if (name == "post-sts-header-after") {
      // The token is added after signing and left unsigned; S3 signs it, so signing with the token
      // must give another signature, while the same request without a token gives the suite's.
      ++negative;
      const HttpRequest sent = sigv4_test::parse_http_request(expected(".sreq"));
      const std::string token = sigv4_test::header_value(sent.headers, "x-amz-security-token");
      REQUIRE(!token.empty());
      const Signer with_token({kAccessKey, kSecretKey, token}, "us-east-1", "service", ContentSha256Header::omit);
      const Signer without_token({kAccessKey, kSecretKey, ""}, "us-east-1", "service", ContentSha256Header::omit);
      const SignedRequest signed_with = with_token.sign(to_sign(http), kSuiteTime);
      const SignedRequest signed_without = without_token.sign(to_sign(http), kSuiteTime);
      CHECK(signed_without.canonical_request == expected(".creq"));
      CHECK(sent_authorization(signed_without) == expected_authorization);
      CHECK(signed_with.canonical_request.find("x-amz-security-token:" + token) != std::string::npos);
      CHECK(sent_authorization(signed_with) != expected_authorization);
      continue;
    }

    ++applied;
    const std::string canonical_request = expected(".creq");
    // A token is signed where the expected canonical request shows one. For
    // get-vanilla-with-session-token the .req lacks the header: the signer adds it.
    const std::string token = canonical_header(canonical_request, "x-amz-security-token");
    const Signer signer({kAccessKey, kSecretKey, token}, "us-east-1", "service", ContentSha256Header::omit);
    const SignedRequest signed_request = signer.sign(to_sign(http), kSuiteTime);
    CHECK(signed_request.canonical_request == canonical_request);
    CHECK(signed_request.string_to_sign == expected(".sts"));
    CHECK(sent_authorization(signed_request) == expected_authorization);
    CHECK(expected_authorization.size() > 64);
    CHECK(expected_authorization.substr(expected_authorization.size() - 64) == signed_request.signature);
    // What is sent is what was signed: the path and query lines of the canonical request.
    CHECK(canonical_request.rfind(
              http.method + "\n" + signed_request.encoded_path + "\n" + signed_request.encoded_query + "\n", 0) == 0);

    HttpRequest sent = sigv4_test::parse_http_request(expected(".sreq"));
    if (name == "get-vanilla-with-session-token") {
      // Known defect of this file: its Authorization line carries get-vanilla's signature.
      for (auto& [header_name, value] : sent.headers) {
        if (sigv4_test::lower_ascii(header_name) == "authorization") value = expected_authorization;
      }
    }
    check_sent_headers(signed_request, sent);
  }
  CHECK(applied == 27);
  CHECK(not_for_s3 == 6);
  CHECK(negative == 1);
}

TEST_CASE("AWS SigV4 suite, CRT layout (v4/): every case that applies to S3") {
  const fs::path root = sigv4_test::suite_dir() / "v4";
  REQUIRE(fs::is_directory(root));
  int applied = 0;
  int unnormalized = 0;
  int not_for_s3 = 0;
  int negative = 0;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    auto expected = [&](const char* file) { return sigv4_test::read_text(entry.path() / file); };
    CAPTURE(name);
    const auto context = cshelve::util::parse_json(expected("context.json"));
    const std::string suffix = "-normalized";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      REQUIRE(context.at("normalize").as_bool());
      ++not_for_s3;
      continue;
    }
    const auto& credentials = context.at("credentials");
    const Credentials keys{credentials.at("access_key_id").as_string(), credentials.at("secret_access_key").as_string(),
                           sigv4_test::string_or(credentials, "token", "")};
    const std::time_t when = sigv4_test::parse_iso8601(context.at("timestamp").as_string());
    const auto content_header =
        sigv4_test::bool_or(context, "sign_body", false) ? ContentSha256Header::send : ContentSha256Header::omit;
    const HttpRequest http = sigv4_test::parse_http_request(expected("request.txt"));
    const std::string expected_signature = expected("header-signature.txt");

    if (sigv4_test::bool_or(context, "omit_session_token", false)) {
      // The token is sent unsigned here; S3 signs it (see the classic post-sts-header-after).
      ++negative;
      REQUIRE(!keys.session_token.empty());
      const Signer with_token(keys, context.at("region").as_string(), context.at("service").as_string(),
                              content_header);
      const Signer without_token({keys.access_key_id, keys.secret_access_key, ""}, context.at("region").as_string(),
                                 context.at("service").as_string(), content_header);
      CHECK(without_token.sign(to_sign(http), when).signature == expected_signature);
      CHECK(with_token.sign(to_sign(http), when).signature != expected_signature);
      continue;
    }

    ++applied;
    if (!context.at("normalize").as_bool()) ++unnormalized;
    const Signer signer(keys, context.at("region").as_string(), context.at("service").as_string(), content_header);
    const SignedRequest signed_request = signer.sign(to_sign(http), when);
    CHECK(signed_request.canonical_request == expected("header-canonical-request.txt"));
    CHECK(signed_request.string_to_sign == expected("header-string-to-sign.txt"));
    CHECK(signed_request.signature == expected_signature);
    const HttpRequest sent = sigv4_test::parse_http_request(expected("header-signed-request.txt"));
    CHECK(sent_authorization(signed_request) == sigv4_test::header_value(sent.headers, "authorization"));
    check_sent_headers(signed_request, sent);
  }
  CHECK(applied == 30);
  CHECK(unnormalized == 7);
  CHECK(not_for_s3 == 7);
  CHECK(negative == 1);
}
