// Full-object checksums against moto (tests/s3/with-moto.sh), a server that stores and returns
// them: what a PutObject stores, which checksum a GetObject is checked against, a body damaged on
// the way (moto behind the fault injector, which flips a byte of GET bodies whose key holds
// "flip-a-byte"), and the provider parameter that turns checksums off.
#include <doctest/doctest.h>

#include <cshelve/errors.hpp>

#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "s3/client.hpp"
#include "s3/credentials.hpp"
#include "s3/http.hpp"
#include "s3/sigv4.hpp"
#include "util/digest.hpp"
#include "../support/moto.hpp"

using namespace cshelve;
using namespace cshelve::s3;
using cshelve_test::moto_variable;

namespace {

// "123456789", the check input of every CRC catalogue, and its CRCs as S3 spells them: the
// catalogue's check values (CRC-64/NVME 0xAE8B14860A799888, CRC-32/ISO-HDLC 0xCBF43926) as
// big-endian bytes, in base64. Written out rather than computed, so that they check the client's
// CRCs rather than repeat them.
const std::string kCheckInput = "123456789";
const std::string kCheckCrc64Nvme = "rosUhgp5mIg=";
const std::string kCheckCrc32 = "y/Q5Jg==";

// The role's temporary credentials (moto's user may only assume the role), asked for once.
Credentials role_credentials() {
  static const Credentials credentials = [] {
    const std::string folder = (std::filesystem::temp_directory_path() /
                                ("cshelve-checksums-" + std::to_string(static_cast<long>(::getpid()))))
                                   .string();
    std::filesystem::create_directories(folder);
    std::ofstream(folder + "/credentials")
        << "[base]\naws_access_key_id = " << moto_variable("CSHELVE_TEST_MOTO_KEY_ID")
        << "\naws_secret_access_key = " << moto_variable("CSHELVE_TEST_MOTO_SECRET") << "\n";
    std::ofstream(folder + "/config") << "[profile shelf]\nrole_arn = " << moto_variable("CSHELVE_TEST_MOTO_ROLE_ARN")
                                      << "\nsource_profile = base\nregion = us-east-1\n";
    ::setenv("AWS_SHARED_CREDENTIALS_FILE", (folder + "/credentials").c_str(), 1);
    ::setenv("AWS_CONFIG_FILE", (folder + "/config").c_str(), 1);
    ::setenv("AWS_ENDPOINT_URL_STS", moto_variable("CSHELVE_TEST_MOTO_ENDPOINT").c_str(), 1);
    CredentialsSettings settings;
    settings.auth_type = "profile";
    settings.origin = "checksums test";
    settings.profile = "shelf";
    const Credentials role = *make_credentials(settings).provider->current();
    std::filesystem::remove_all(folder);
    return role;
  }();
  return credentials;
}

struct Moto {
  std::string endpoint = moto_variable("CSHELVE_TEST_MOTO_ENDPOINT");
  std::string faulty_endpoint = moto_variable("CSHELVE_TEST_MOTO_FAULTY_ENDPOINT");
  Credentials credentials = role_credentials();
  std::string bucket = moto_variable("CSHELVE_TEST_MOTO_BUCKET");

  ClientConfig client(const std::string& url, int max_attempts = 1) const {
    ClientConfig config;
    config.endpoint = parse_endpoint(url);
    config.addressing = Addressing::path;
    config.credentials = credentials;
    config.max_attempts = max_attempts;
    return config;
  }

  // One signed request straight to moto, headers as given: what a client other than this one
  // sends, and what moto answers to it.
  HttpResponse raw(const std::string& method, const std::string& key, std::vector<std::string_view> body = {},
                   std::vector<std::pair<std::string, std::string>> headers = {}) const {
    const Endpoint where = parse_endpoint(endpoint);
    RequestToSign to_sign;
    to_sign.method = method;
    to_sign.path = "/" + bucket + "/" + key;
    to_sign.headers.emplace_back("host", where.host);
    for (auto& header : headers) to_sign.headers.push_back(std::move(header));
    to_sign.payload_sha256 = sha256_hex(body);
    const Signer signer(credentials, "us-east-1");
    SignedRequest signed_request = signer.sign(to_sign, std::time(nullptr));
    RequestBody request_body;
    request_body.pieces = std::move(body);
    HttpRequest request;
    request.method = method;
    request.url = endpoint + signed_request.encoded_path;
    request.headers = std::move(signed_request.headers);
    request.body = &request_body;
    HttpConnection connection{HttpSettings{}};
    HttpOutcome outcome = connection.perform(request);
    REQUIRE_FALSE(outcome.failure);
    REQUIRE(outcome.response.status == 200);
    return std::move(outcome.response);
  }

  // The checksum moto keeps for the object, as a GetObject with checksum mode shows it.
  std::string stored(const std::string& key, const char* header) const {
    const HttpResponse response = raw("GET", key, {}, {{"x-amz-checksum-mode", "ENABLED"}});
    const std::string* value = response.header(header);
    return value != nullptr ? *value : std::string("(none)");
  }
};

std::string failure_of(const std::function<void()>& get) {
  try {
    get();
  } catch (const MalformedResponseError& error) {
    return error.what();
  }
  return "(no MalformedResponseError)";
}

}  // namespace

TEST_CASE("PutObject stores the body's CRC64NVME, which the next GetObject is checked against") {
  const Moto moto;
  Client client(moto.client(moto.endpoint));
  client.put_object(moto.bucket, "checksum/put", {"1234", "56789"});
  CHECK(moto.stored("checksum/put", "x-amz-checksum-crc64nvme") == kCheckCrc64Nvme);
  CHECK(client.get_object(moto.bucket, "checksum/put") == kCheckInput);

  // The same bytes damaged on the way: caught by the checksum, before any MD5.
  client.put_object(moto.bucket, "checksum/flip-a-byte", {kCheckInput});
  Client through_faults(moto.client(moto.faulty_endpoint));
  const std::string what = failure_of([&] { through_faults.get_object(moto.bucket, "checksum/flip-a-byte"); });
  CAPTURE(what);
  CHECK(what.find("body whose CRC64NVME differs from x-amz-checksum-crc64nvme") != std::string::npos);
  CHECK(what.find("whose MD5 differs from its ETag") != std::string::npos);  // the ETag confirms the damage
  CHECK(failure_of([&] {
          through_faults.get_object_versioned(moto.bucket, "checksum/flip-a-byte");
        }).find("CRC64NVME") != std::string::npos);
}

TEST_CASE("an object whose CRC32 the server computed is checked by CRC32") {
  const Moto moto;
  // A PUT naming the algorithm without a value: moto computes the CRC32 itself, and computes it
  // right.
  moto.raw("PUT", "checksum/crc32-flip-a-byte", {kCheckInput}, {{"x-amz-sdk-checksum-algorithm", "CRC32"}});
  REQUIRE(moto.stored("checksum/crc32-flip-a-byte", "x-amz-checksum-crc32") == kCheckCrc32);
  Client client(moto.client(moto.endpoint));
  CHECK(client.get_object(moto.bucket, "checksum/crc32-flip-a-byte") == kCheckInput);
  Client through_faults(moto.client(moto.faulty_endpoint));
  const std::string what = failure_of([&] { through_faults.get_object(moto.bucket, "checksum/crc32-flip-a-byte"); });
  CAPTURE(what);
  CHECK(what.find("body whose CRC32 differs from x-amz-checksum-crc32") != std::string::npos);
}

TEST_CASE("with checksum = off no checksum is sent, and a damaged body is caught by its MD5") {
  const Moto moto;
  ClientConfig config = moto.client(moto.endpoint);
  config.object_checksums = false;
  Client client(config);
  client.put_object(moto.bucket, "checksum/off-flip-a-byte", {kCheckInput});
  // moto keeps a checksum only when the PUT names its algorithm.
  CHECK(moto.stored("checksum/off-flip-a-byte", "x-amz-checksum-crc64nvme") == "(none)");
  CHECK(client.get_object(moto.bucket, "checksum/off-flip-a-byte") == kCheckInput);

  ClientConfig faulty = moto.client(moto.faulty_endpoint);
  faulty.object_checksums = false;
  Client through_faults(faulty);
  const std::string what = failure_of([&] { through_faults.get_object(moto.bucket, "checksum/off-flip-a-byte"); });
  CAPTURE(what);
  CHECK(what.find("body whose MD5 differs from its ETag") != std::string::npos);
  CHECK(what.find("CRC") == std::string::npos);
}

TEST_CASE("objects whose stored checksum is wrong stay readable") {
  const Moto moto;
  std::vector<std::string> warnings;
  ClientConfig config = moto.client(moto.endpoint);
  config.logger = [&](LogLevel level, std::string_view line) {
    if (level == LogLevel::warning) warnings.emplace_back(line);
  };
  Client client(config);

  // Asked to compute a CRC64NVME, moto (without its CRC64 library) stores a CRC32 under that name:
  // not the shape of a CRC64NVME, so not used; the MD5 checks the body.
  moto.raw("PUT", "checksum/moto-crc64", {kCheckInput}, {{"x-amz-sdk-checksum-algorithm", "CRC64NVME"}});
  REQUIRE(moto.stored("checksum/moto-crc64", "x-amz-checksum-crc64nvme") == kCheckCrc32);
  CHECK(client.get_object(moto.bucket, "checksum/moto-crc64") == kCheckInput);
  CHECK(warnings.empty());

  // A checksum of the right shape that is wrong (moto keeps what a client sends, unchecked): the
  // body's MD5 matches its ETag, so it is accepted, in memory and through a sink, with one warning.
  const std::string wrong = "AAAAAAAAAAA=";
  moto.raw("PUT", "checksum/wrong", {kCheckInput},
           {{"x-amz-sdk-checksum-algorithm", "CRC64NVME"}, {"x-amz-checksum-crc64nvme", wrong}});
  REQUIRE(moto.stored("checksum/wrong", "x-amz-checksum-crc64nvme") == wrong);
  CHECK(client.get_object(moto.bucket, "checksum/wrong") == kCheckInput);
  struct Gathered final : util::ByteSink {
    std::string bytes;
    void restart() override { bytes.clear(); }
    void write(std::string_view more) override { bytes.append(more); }
  } sink;
  client.get_object_to(moto.bucket, "checksum/wrong", sink);
  CHECK(sink.bytes == kCheckInput);
  REQUIRE(warnings.size() == 1);  // said once
  CHECK(warnings[0].find("x-amz-checksum-crc64nvme disagrees with a body whose MD5 matches its ETag") !=
        std::string::npos);
}
