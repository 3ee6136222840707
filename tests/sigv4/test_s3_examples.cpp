// S3's own worked examples (s3-examples.json): the four published header-signing examples, the
// computed S3 variants, the derived signing key, and the seed signatures of the two published
// chunked-upload examples (their headers are signed like any other request's).
#include <doctest/doctest.h>

#include <string>

#include "s3/sigv4.hpp"
#include "support.hpp"

using cshelve::s3::Credentials;
using cshelve::s3::RequestToSign;
using cshelve::s3::SignedRequest;
using cshelve::s3::Signer;
using sigv4_test::Json;
using sigv4_test::Pairs;

namespace {

const Json& examples() {
  static const Json parsed =
      cshelve::util::parse_json(sigv4_test::read_text(sigv4_test::suite_dir() / "s3-examples.json"));
  return parsed;
}

std::time_t example_time() {
  // 20130524T000000Z
  return sigv4_test::parse_iso8601("2013-05-24T00:00:00Z");
}

Signer example_signer(const std::string& session_token) {
  const Json& common = examples().at("common");
  return Signer(
      Credentials{common.at("access_key_id").as_string(), common.at("secret_access_key").as_string(), session_token},
      common.at("region").as_string(), common.at("service").as_string());
}

RequestToSign example_request(const Json& example) {
  RequestToSign request;
  request.method = example.at("method").as_string();
  // The file gives the path as sent; the signer takes it unencoded and must encode it back.
  request.path = sigv4_test::percent_decode(example.at("path").as_string());
  request.query = sigv4_test::json_pairs(example.at("query_params"));
  request.headers = sigv4_test::json_pairs(example.at("headers"));
  request.payload_sha256 = example.at("payload_sha256").as_string();
  return request;
}

std::string signed_headers_of(const std::string& authorization) {
  const std::string start = "SignedHeaders=";
  const std::size_t from = authorization.find(start) + start.size();
  return authorization.substr(from, authorization.find(',', from) - from);
}

int check_header_examples(const char* group) {
  int count = 0;
  for (const Json& example : examples().at(group).items()) {
    ++count;
    CAPTURE(example.at("name").as_string());
    RequestToSign request = example_request(example);
    const std::string token = sigv4_test::header_value(request.headers, "x-amz-security-token");
    const Signer signer = example_signer(token);
    const SignedRequest signed_request = signer.sign(request, example_time());

    CHECK(signed_request.encoded_path == example.at("path").as_string());
    CHECK(signed_request.canonical_request == example.at("canonical_request").as_string());
    CHECK(signed_request.string_to_sign == example.at("string_to_sign").as_string());
    CHECK(signed_request.signature == example.at("signature").as_string());
    const std::string authorization = sigv4_test::header_value(signed_request.headers, "authorization");
    CHECK(authorization == example.at("authorization").as_string());
    CHECK(signed_headers_of(authorization) == example.at("signed_headers").as_string());

    // The body hash given by the caller is the SHA-256 of the body, in pieces or whole.
    const std::string& body = example.at("body").as_string();
    if (request.payload_sha256 != cshelve::s3::kUnsignedPayload) {
      CHECK(cshelve::s3::sha256_hex(body) == request.payload_sha256);
      const std::size_t half = body.size() / 2;
      CHECK(cshelve::s3::sha256_hex({std::string_view(body).substr(0, half), std::string_view(body).substr(half)}) ==
            request.payload_sha256);
    }

    // The file's headers carry x-amz-date and x-amz-content-sha256 already: the signer replaces
    // them with equal values, so what is sent is exactly the example's headers plus authorization.
    Pairs expected_sent = sigv4_test::json_pairs(example.at("headers"));
    expected_sent.emplace_back("Authorization", example.at("authorization").as_string());
    CHECK(sigv4_test::normalized_headers(signed_request.headers) == sigv4_test::normalized_headers(expected_sent));
  }
  return count;
}

}  // namespace

TEST_CASE("S3 examples: the derived signing key") {
  const Json& common = examples().at("common");
  const Signer signer = example_signer("");
  CHECK(cshelve::s3::amz_date(example_time()) == common.at("amz_date").as_string());
  CHECK(sigv4_test::hex_encode(signer.signing_key("20130524")) == common.at("signing_key_hex").as_string());
  CHECK(cshelve::s3::sha256_hex("") == common.at("empty_payload_sha256").as_string());
}

TEST_CASE("S3 examples: the published header-signing cases") { CHECK(check_header_examples("cases") == 4); }

TEST_CASE("S3 examples: the computed S3 cases") { CHECK(check_header_examples("computed_cases") == 8); }

TEST_CASE("S3 examples: seed signatures of the chunked uploads") {
  int count = 0;
  for (const Json& example : examples().at("streaming").items()) {
    ++count;
    CAPTURE(example.at("name").as_string());
    const SignedRequest signed_request = example_signer("").sign(example_request(example), example_time());
    CHECK(signed_request.canonical_request == example.at("canonical_request").as_string());
    CHECK(signed_request.string_to_sign == example.at("string_to_sign").as_string());
    CHECK(signed_request.signature == example.at("seed_signature").as_string());
    CHECK(sigv4_test::header_value(signed_request.headers, "authorization") == example.at("authorization").as_string());
  }
  CHECK(count == 2);
}
