// The signer's rules one by one: encoding, hashing, dates, header handling, errors, the
// signing-key cache and concurrent use.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "cshelve/errors.hpp"
#include "s3/sigv4.hpp"
#include "support.hpp"

using cshelve::s3::ContentSha256Header;
using cshelve::s3::Credentials;
using cshelve::s3::RequestToSign;
using cshelve::s3::SignedRequest;
using cshelve::s3::Signer;
using sigv4_test::Pairs;

namespace {

const Credentials kKeys{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
const std::time_t kTime = 1369353600;  // 20130524T000000Z
const std::string kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

RequestToSign simple_request() {
  RequestToSign request;
  request.method = "GET";
  request.path = "/test.txt";
  request.headers = {{"Host", "examplebucket.s3.amazonaws.com"}};
  request.payload_sha256 = kEmptySha256;
  return request;
}

std::string line_of(const std::string& canonical_request, int index) {
  std::size_t start = 0;
  for (int i = 0; i < index; ++i) start = canonical_request.find('\n', start) + 1;
  return canonical_request.substr(start, canonical_request.find('\n', start) - start);
}

std::string signed_headers_of(const SignedRequest& signed_request) {
  const std::string& canonical = signed_request.canonical_request;
  const std::size_t end = canonical.rfind('\n');
  const std::size_t start = canonical.rfind('\n', end - 1) + 1;
  return canonical.substr(start, end - start);
}

int count_named(const Pairs& headers, const std::string& lower_name) {
  int count = 0;
  for (const auto& [name, value] : headers) count += sigv4_test::lower_ascii(name) == lower_name ? 1 : 0;
  return count;
}

}  // namespace

TEST_CASE("uri_encode keeps only the unreserved characters, with upper-case hex") {
  using cshelve::s3::uri_encode;
  CHECK(uri_encode("", true).empty());
  CHECK(uri_encode("AZaz09-_.~", false) == "AZaz09-_.~");
  CHECK(uri_encode("a b+c=d&e/f", false) == "a%20b%2Bc%3Dd%26e%2Ff");
  CHECK(uri_encode("a b+c=d&e/f", true) == "a%20b%2Bc%3Dd%26e/f");
  CHECK(uri_encode("%41", true) == "%2541");  // encoded once: a '%' in a key is a '%'
  CHECK(uri_encode("\xC3\xA9\xE6\xBC\xA2\xF0\x9F\x98\x80", true) == "%C3%A9%E6%BC%A2%F0%9F%98%80");
  CHECK(uri_encode(std::string("\0\x7F\xFF", 3), false) == "%00%7F%FF");
  // Every byte value: unreserved ones as they are, all others as %XX.
  for (int byte = 0; byte < 256; ++byte) {
    const std::string one(1, static_cast<char>(byte));
    const bool unreserved = std::isalnum(byte) != 0 || one == "-" || one == "_" || one == "." || one == "~";
    const char* digits = "0123456789ABCDEF";
    const std::string escaped = std::string("%") + digits[byte >> 4] + digits[byte & 15];
    CAPTURE(byte);
    CHECK(uri_encode(one, false) == (unreserved ? one : escaped));
    CHECK(uri_encode(one, true) == (unreserved || byte == '/' ? one : escaped));
  }
}

TEST_CASE("sha256_hex hashes the concatenation of its pieces") {
  using cshelve::s3::sha256_hex;
  CHECK(sha256_hex("") == kEmptySha256);
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex({"a", "", "bc"}) == sha256_hex("abc"));
  CHECK(sha256_hex(std::vector<std::string_view>{}) == kEmptySha256);
  CHECK(sha256_hex({"", ""}) == kEmptySha256);
  CHECK(cshelve::s3::Sha256().hex_digest() == kEmptySha256);  // OpenSSL's own hash of nothing
  const std::string million(1000000, 'a');
  CHECK(sha256_hex(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  CHECK(sha256_hex({std::string_view(million).substr(0, 1), std::string_view(million).substr(1)}) ==
        sha256_hex(million));
}

TEST_CASE("amz_date formats UTC in the basic ISO 8601 form") {
  using cshelve::s3::amz_date;
  CHECK(amz_date(0) == "19700101T000000Z");
  CHECK(amz_date(kTime) == "20130524T000000Z");
  CHECK(amz_date(1440938160) == "20150830T123600Z");
  CHECK(amz_date(1709210096) == "20240229T123456Z");
  CHECK(amz_date(-1) == "19691231T235959Z");
  CHECK(amz_date(-30610224000) == "10000101T000000Z");
  CHECK_THROWS_AS(amz_date(-30610224001), cshelve::Error);  // year 999
  CHECK(amz_date(253402300799) == "99991231T235959Z");
  CHECK_THROWS_AS(amz_date(253402300800), cshelve::Error);  // year 10000
}

TEST_CASE("dates past 2038 sign as themselves, also on targets whose C library once had a 32-bit time_t") {
  using cshelve::s3::amz_date;
  // The build asks for a 64-bit time_t everywhere (meson.build): with a 32-bit one, these seconds
  // would wrap to 1901 and every request signed after 2038-01-19 would be refused.
  const auto at = [](long long seconds) { return static_cast<std::time_t>(seconds); };
  CHECK(amz_date(at(2147483647)) == "20380119T031407Z");
  CHECK(amz_date(at(2147483648)) == "20380119T031408Z");
  CHECK(amz_date(at(4102444799)) == "20991231T235959Z");
  const SignedRequest late = Signer(kKeys, "us-east-1").sign(simple_request(), at(4102444799));
  CHECK(late.string_to_sign.find("\n20991231T235959Z\n20991231/us-east-1/s3/aws4_request\n") != std::string::npos);
}

TEST_CASE("the path is encoded once and never normalized") {
  const Signer signer(kKeys, "us-east-1");
  RequestToSign request = simple_request();
  request.path = "/bucket/./a/../b//c d/%41/\xC3\xA9/";
  const SignedRequest signed_request = signer.sign(request, kTime);
  CHECK(signed_request.encoded_path == "/bucket/./a/../b//c%20d/%2541/%C3%A9/");
  CHECK(line_of(signed_request.canonical_request, 1) == signed_request.encoded_path);
}

TEST_CASE("the query is encoded, sorted by key then value, and valueless parameters sign as key=") {
  const Signer signer(kKeys, "us-east-1");
  RequestToSign request = simple_request();
  request.query = {{"prefix", "photos/2024 a+b=c"}, {"b", "2"}, {"b", "1"}, {"delete", ""}, {"B", "x"},
                   {"\xE1\x88\xB4", "v"},           {"a-", "y"}};
  const SignedRequest signed_request = signer.sign(request, kTime);
  CHECK(signed_request.encoded_query == "%E1%88%B4=v&B=x&a-=y&b=1&b=2&delete=&prefix=photos%2F2024%20a%2Bb%3Dc");
  CHECK(line_of(signed_request.canonical_request, 2) == signed_request.encoded_query);

  request.query = {{"delete", ""}};
  CHECK(signer.sign(request, kTime).encoded_query == "delete=");
  request.query.clear();
  CHECK(signer.sign(request, kTime).encoded_query.empty());
}

TEST_CASE("header names are lower-cased and sorted, values trimmed, repeated headers joined in order") {
  const Signer signer(kKeys, "us-east-1");
  RequestToSign request = simple_request();
  request.headers = {{"X-B", "\t two  \t words "},
                     {"Host", " examplebucket.s3.amazonaws.com "},
                     {"x-a", "second"},
                     {"X-A", "  first "},
                     {"X-Empty", "   "},
                     {"x-quoted", "\"a   b\""}};
  const SignedRequest signed_request = signer.sign(request, kTime);
  const std::string& canonical = signed_request.canonical_request;
  CHECK(canonical.find("\nhost:examplebucket.s3.amazonaws.com\nx-a:second,first\nx-amz-content-sha256:" + kEmptySha256 +
                       "\nx-amz-date:20130524T000000Z\nx-b:two words\nx-empty:\nx-quoted:\"a b\"\n\n") !=
        std::string::npos);
  CHECK(signed_headers_of(signed_request) == "host;x-a;x-amz-content-sha256;x-amz-date;x-b;x-empty;x-quoted");
  // Sent as given (the server trims the same way), in the given order, before the signer's own.
  CHECK(signed_request.headers.at(0) == std::make_pair(std::string("X-B"), std::string("\t two  \t words ")));
  CHECK(signed_request.headers.at(3).second == "  first ");
  CHECK(signed_request.headers.size() == request.headers.size() + 3);
  CHECK(signed_request.headers.back().first == "authorization");
}

TEST_CASE("the values of a header repeated many times keep their order") {
  // Enough headers that a sort which is not stable would reorder equal names.
  RequestToSign request = simple_request();
  std::string joined;
  for (int i = 0; i < 40; ++i) {
    request.headers.emplace_back(i % 2 == 0 ? "X-Repeated" : "x-other-" + std::to_string(i), std::to_string(i));
    if (i % 2 == 0) joined += (joined.empty() ? "" : ",") + std::to_string(i);
  }
  const SignedRequest signed_request = Signer(kKeys, "us-east-1").sign(request, kTime);
  CHECK(signed_request.canonical_request.find("\nx-repeated:" + joined + "\n") != std::string::npos);
}

TEST_CASE("the signer's own headers replace stale copies; unsigned headers are sent but not signed") {
  const Signer signer({kKeys.access_key_id, kKeys.secret_access_key, "TOKEN/+="}, "us-east-1");
  RequestToSign request = simple_request();
  request.headers = {{"Host", "h"},
                     {"X-Amz-Date", "20000101T000000Z"},
                     {"Authorization", "AWS4-HMAC-SHA256 stale"},
                     {"X-Amz-Content-SHA256", "stale"},
                     {"x-amz-security-token", "stale"},
                     {"User-Agent", "cshelve"},
                     {"Expect", "100-continue"},
                     {"X-Amzn-Trace-Id", "Root=1"}};
  const SignedRequest signed_request = signer.sign(request, kTime);
  CHECK(signed_headers_of(signed_request) == "host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
  for (const char* name : {"x-amz-date", "authorization", "x-amz-content-sha256", "x-amz-security-token", "user-agent",
                           "expect", "x-amzn-trace-id"}) {
    CAPTURE(name);
    CHECK(count_named(signed_request.headers, name) == 1);
  }
  CHECK(sigv4_test::header_value(signed_request.headers, "x-amz-date") == "20130524T000000Z");
  CHECK(sigv4_test::header_value(signed_request.headers, "x-amz-content-sha256") == kEmptySha256);
  CHECK(sigv4_test::header_value(signed_request.headers, "x-amz-security-token") == "TOKEN/+=");
  CHECK(sigv4_test::header_value(signed_request.headers, "user-agent") == "cshelve");

  // Signing the signed request's headers again (a retry) gives the same result.
  RequestToSign again = request;
  again.headers = signed_request.headers;
  const SignedRequest resigned = signer.sign(again, kTime);
  CHECK(resigned.signature == signed_request.signature);
  CHECK(sigv4_test::normalized_headers(resigned.headers) == sigv4_test::normalized_headers(signed_request.headers));

  // Without a session token, an x-amz-security-token header is the caller's: sent and signed as is.
  const Signer no_token(kKeys, "us-east-1");
  RequestToSign with_header = simple_request();
  with_header.headers.emplace_back("X-Amz-Security-Token", "caller's");
  const SignedRequest plain = no_token.sign(with_header, kTime);
  CHECK(signed_headers_of(plain) == "host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
  CHECK(sigv4_test::header_value(plain.headers, "x-amz-security-token") == "caller's");
}

TEST_CASE("UNSIGNED-PAYLOAD and the omitted x-amz-content-sha256 header") {
  RequestToSign request = simple_request();
  request.payload_sha256 = std::string(cshelve::s3::kUnsignedPayload);
  const SignedRequest unsigned_body = Signer(kKeys, "us-east-1").sign(request, kTime);
  CHECK(sigv4_test::header_value(unsigned_body.headers, "x-amz-content-sha256") == "UNSIGNED-PAYLOAD");
  CHECK(unsigned_body.canonical_request.substr(unsigned_body.canonical_request.rfind('\n') + 1) == "UNSIGNED-PAYLOAD");

  const SignedRequest omitted =
      Signer(kKeys, "us-east-1", "service", ContentSha256Header::omit).sign(simple_request(), kTime);
  CHECK(signed_headers_of(omitted) == "host;x-amz-date");
  CHECK(count_named(omitted.headers, "x-amz-content-sha256") == 0);
  CHECK(omitted.string_to_sign.find("\n20130524/us-east-1/service/aws4_request\n") != std::string::npos);
}

TEST_CASE("malformed requests are refused") {
  const Signer signer(kKeys, "us-east-1");
  auto refused = [&](const RequestToSign& request) { CHECK_THROWS_AS(signer.sign(request, kTime), cshelve::Error); };
  RequestToSign request = simple_request();
  request.path = "relative";
  refused(request);
  request.path = "";
  refused(request);

  request = simple_request();
  request.headers = {{"Range", "bytes=0-9"}};
  refused(request);  // no host

  for (const char* bad_name : {"", "Bad Name", "Colon:", "Tab\t", "\xC3\xA9"}) {
    request = simple_request();
    request.headers.emplace_back(bad_name, "v");
    refused(request);
  }
  for (const std::string& bad_value :
       {std::string("a\r\nX-Injected: 1"), std::string("a\nb"), std::string("a\0b", 3)}) {
    request = simple_request();
    request.headers.emplace_back("X-Value", bad_value);
    refused(request);
  }
  for (const char* bad_hash : {"", "abc def", "abc\n"}) {
    request = simple_request();
    request.payload_sha256 = bad_hash;
    refused(request);
  }
}

TEST_CASE("error messages never carry the secret key or the session token") {
  const Signer signer({kKeys.access_key_id, kKeys.secret_access_key, "SECRET-TOKEN"}, "us-east-1");
  RequestToSign request = simple_request();
  request.headers.emplace_back("X-Amz-Security-Token", "SECRET-TOKEN\r\n");
  try {
    signer.sign(request, kTime);
    FAIL("a value with a line break must be refused");
  } catch (const cshelve::Error& error) {
    const std::string message = error.what();
    CHECK(message.find("SECRET-TOKEN") == std::string::npos);
    CHECK(message.find(kKeys.secret_access_key) == std::string::npos);
  }
}

TEST_CASE("signing keys from secrets around SHA-256's block size, where HMAC starts hashing its key") {
  // Expected keys from Python's hmac module. "AWS4" and 60 characters fill the 64-byte block
  // exactly; one more, and the key is hashed first.
  const auto key_for = [](const std::string& secret) {
    return sigv4_test::hex_encode(Signer({"AKIDEXAMPLE", secret, ""}, "us-east-1").signing_key("20130524"));
  };
  CHECK(key_for(std::string(60, 'x')) == "af02d4450b3ab99d0b3e2bb2295bafa981b69fd0e2665771ddd48823369f7867");
  CHECK(key_for(std::string(61, 'x')) == "10c4ef4a03c001035befe61d1abe5c18a8166bb6b58459780ea68fbbfdea9779");
  CHECK(
      key_for("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEYwJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY0123456789ABCDEFGHIJ") ==
      "fcfc5aef8361a299663a3b03b07736f2b645b38253a8d0bc4ebbc00b3a53b465");
}

TEST_CASE("the signing key is derived per date and per region, and cached") {
  const Signer signer(kKeys, "us-east-1");
  const std::string may24 = signer.signing_key("20130524");
  CHECK(may24.size() == 32);
  CHECK(sigv4_test::hex_encode(may24) == "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378");
  const std::string may25 = signer.signing_key("20130525");
  CHECK(may25 != may24);
  CHECK(signer.signing_key("20130524") == may24);
  CHECK(Signer(kKeys, "eu-west-1").signing_key("20130524") != may24);
  CHECK(Signer(kKeys, "us-east-1", "sts").signing_key("20130524") != may24);

  // A signer that crossed midnight signs like a fresh one: the cached key follows the date.
  const RequestToSign request = simple_request();
  const std::time_t before_midnight = kTime + 86399;
  const std::time_t after_midnight = kTime + 86400;
  const std::string first = signer.sign(request, before_midnight).signature;
  const std::string second = signer.sign(request, after_midnight).signature;
  CHECK(first != second);
  CHECK(second == Signer(kKeys, "us-east-1").sign(request, after_midnight).signature);
  CHECK(signer.sign(request, before_midnight).signature == first);
}

TEST_CASE("one signer may sign from several threads at once") {
  const Signer signer(kKeys, "us-east-1");
  const RequestToSign request = simple_request();
  const std::vector<std::time_t> times = {kTime, kTime + 86400, kTime + 2 * 86400};
  std::vector<std::string> expected;
  for (const std::time_t when : times) expected.push_back(Signer(kKeys, "us-east-1").sign(request, when).signature);

  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < wrong.size(); ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = 0; i < 300; ++i) {
        const std::size_t which = (i + t) % times.size();  // dates alternate: the cache keeps changing
        if (signer.sign(request, times[which]).signature != expected[which]) ++wrong[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const int count : wrong) CHECK(count == 0);
}
