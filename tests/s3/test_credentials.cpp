// Credential sources without a real AWS: the strict JSON reader, the shared files, credential_process,
// the container endpoint and IMDSv2 against scripted servers on 127.0.0.1 following the published
// protocols, the default chain, refreshing, and the client's retry after ExpiredToken.
//
// Every test that builds a source sets the metadata variables to 127.0.0.1 or disables them, so
// nothing here can reach 169.254.169.254 or a real AWS host.
#include <doctest/doctest.h>

#include <cshelve/errors.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "s3/client.hpp"
#include "s3/credentials.hpp"
#include "../support/test_support.hpp"
#include "scripted_server.hpp"
#include "util/json.hpp"

using namespace cshelve;
using namespace cshelve::s3;
using namespace cshelve::testing;

namespace {

const char* const kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const char* const kToken = "SESSIONTOKENxyz";

const char* const kAllVariables[] = {"AWS_ACCESS_KEY_ID",
                                     "AWS_SECRET_ACCESS_KEY",
                                     "AWS_SESSION_TOKEN",
                                     "AWS_PROFILE",
                                     "AWS_SHARED_CREDENTIALS_FILE",
                                     "AWS_CONFIG_FILE",
                                     "AWS_ROLE_ARN",
                                     "AWS_WEB_IDENTITY_TOKEN_FILE",
                                     "AWS_ROLE_SESSION_NAME",
                                     "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                     "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                     "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                     "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                     "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                     "AWS_ENDPOINT_URL_STS"};

// A clean environment for one test: no AWS variable, files that do not exist, and instance
// metadata disabled (a test that wants it points it at its scripted server).
struct CleanEnvironment {
  cshelve_test::TempDir temporary;
  std::string folder = temporary.path().string();
  CleanEnvironment() {
    for (const char* variable : kAllVariables) ::unsetenv(variable);
    ::setenv("AWS_SHARED_CREDENTIALS_FILE", (folder + "/credentials").c_str(), 1);
    ::setenv("AWS_CONFIG_FILE", (folder + "/config").c_str(), 1);
    ::setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    ::setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9", 1);
  }
  ~CleanEnvironment() {
    for (const char* variable : kAllVariables) ::unsetenv(variable);
    ::unsetenv("AWS_EC2_METADATA_DISABLED");
  }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = folder + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
};

CredentialsSetup make(const std::string& auth_type, const std::string& profile = "", Logger logger = {}) {
  CredentialsSettings settings;
  settings.auth_type = auth_type;
  settings.origin = "test.ini";
  settings.profile = profile;
  settings.logger = std::move(logger);
  settings.log_level = LogLevel::debug;
  return make_credentials(settings);
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

std::string json_credentials(const std::string& expiration = "2030-01-01T00:00:00Z", const char* token = "Token") {
  return std::string("{\"Code\": \"Success\", \"AccessKeyId\": \"ASIAEXAMPLE\", \"SecretAccessKey\": \"") + kSecret +
         "\", \"" + token + "\": \"" + kToken + "\", \"Expiration\": \"" + expiration + "\"}";
}

}  // namespace

TEST_CASE("the JSON reader keeps top-level members and refuses anything not strict JSON") {
  const util::JsonValue object = detail::parse_reply_json(
      " {\"a\": \"x\\u00e9\\n\\ud83d\\ude00\", \"n\": -1.5e3, \"t\": true, \"z\": null, \"o\": {\"p\": [1, {}, "
      "[]]}}\n");
  CHECK(object.at("a").scalar_text() == "x\xc3\xa9\n\xf0\x9f\x98\x80");
  CHECK(object.at("n").kind() == util::JsonValue::Kind::number);
  CHECK(object.at("n").number_text() == "-1.5e3");
  CHECK(object.at("t").scalar_text() == "true");
  CHECK(object.at("z").kind() == util::JsonValue::Kind::null);
  CHECK(object.at("o").kind() == util::JsonValue::Kind::object);

  const std::pair<const char*, const char*> bad[] = {
      {"", "expected an object"},
      {"[]", "expected an object"},
      {"{\"a\": 1,}", "expected a member name"},
      {"{\"a\": 1} x", "unexpected text after the object"},
      {"{\"a\": 1, \"a\": 2}", "duplicate member"},
      {"{'a': 1}", "expected a member name"},
      {"{\"a\": 01}", "expected '}'"},
      {"{\"a\": tru}", "unknown literal"},
      {"{\"a\": \"\x01\"}", "control character in a string"},
      {"{\"a\": \"\xc0\xaf\"}", "invalid UTF-8"},
      {"{\"a\": \"\\ud800\"}", "lone surrogate"},
      {"{\"a\": \"\\x\"}", "unknown escape"},
      {"{\"a\": \"abc", "unterminated string"},
      {"{/*c*/}", "expected a member name"},
  };
  for (const auto& [text, why] : bad) {
    CAPTURE(text);
    const std::string message = error_of([&] { detail::parse_reply_json(text); });
    CHECK(message.find(why) != std::string::npos);
    CHECK(message.find("malformed JSON at byte") == 0);
  }
  std::string deep(40, '[');
  CHECK(error_of([&] { detail::parse_reply_json("{\"a\": " + deep + "}"); }).find("nested too deeply") !=
        std::string::npos);
  CHECK(error_of([&] { detail::parse_reply_json("{\"a\": \"" + std::string(70000, 'x') + "\"}"); }) ==
        "JSON of 70009 bytes, more than the 65536 allowed");
  // A secret in a broken reply never reaches the message.
  CHECK(error_of([&] {
          detail::parse_reply_json(std::string("{\"SecretAccessKey\": \"") + kSecret + "\",}");
        }).find(kSecret) == std::string::npos);
}

TEST_CASE("expiration times are ISO 8601 in UTC") {
  CHECK(detail::parse_iso8601("1970-01-01T00:00:00Z") == std::time_t(0));
  CHECK(detail::parse_iso8601("2026-12-04T17:00:00Z") == std::time_t(1796403600));
  CHECK(detail::parse_iso8601("2026-12-04T17:00:00.123Z") == std::time_t(1796403600));
  CHECK(detail::parse_iso8601("2026-12-04T17:00:00+00:00") == std::time_t(1796403600));
  CHECK_FALSE(detail::parse_iso8601("2026-12-04 17:00:00Z"));
  CHECK_FALSE(detail::parse_iso8601("2026-12-04T17:00:00+02:00"));
  CHECK_FALSE(detail::parse_iso8601("2026-13-04T17:00:00Z"));
  CHECK_FALSE(detail::parse_iso8601(""));
}

TEST_CASE("auth_type environment reads the three variables") {
  CleanEnvironment environment;
  CHECK(error_of([] { make("environment").provider->current(); }) ==
        "auth_type environment needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (both are unset or empty)");
  ::setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
  CHECK(error_of([] { make("environment").provider->current(); }) ==
        "auth_type environment needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (AWS_SECRET_ACCESS_KEY is unset or "
        "empty)");
  ::setenv("AWS_SECRET_ACCESS_KEY", kSecret, 1);
  ::setenv("AWS_SESSION_TOKEN", kToken, 1);
  const auto credentials = make("environment").provider->current();
  CHECK(credentials->access_key_id == "AKIDENV");
  CHECK(credentials->secret_access_key == kSecret);
  CHECK(credentials->session_token == kToken);
}

TEST_CASE("auth_type profile: static keys, the profile's region, and clear errors") {
  CleanEnvironment environment;
  CHECK(error_of([] { make("profile"); }) == "auth_type profile: neither '" + environment.folder +
                                                 "/credentials' or '" + environment.folder + "/config' exists");
  environment.write("credentials",
                    "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n\n"
                    "[dev]\naws_access_key_id=AKIDDEV\naws_secret_access_key=s2\naws_session_token=t2\n"
                    "[half]\naws_access_key_id=AKIDHALF\n");
  environment.write(
      "config",
      "[default]\nregion = eu-west-3\n[profile dev]\nregion = ap-south-1\ns3 =\n  addressing_style = path\n"
      "[profile sso]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n"
      "[profile empty]\noutput = json\n[profile lonely-role]\nrole_arn = arn:aws:iam::1:role/r\n"
      "[profile loop-a]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = loop-b\n"
      "[profile loop-b]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = loop-a\n");
  CredentialsSetup setup = make("profile");
  CHECK(setup.region == "eu-west-3");
  CHECK(setup.provider->current()->access_key_id == "AKIDDEFAULT");
  ::setenv("AWS_PROFILE", "dev", 1);
  setup = make("profile");
  CHECK(setup.region == "ap-south-1");
  CHECK(setup.provider->current()->session_token == "t2");
  // The INI's profile option comes before AWS_PROFILE.
  CHECK(make("profile", "default").provider->current()->access_key_id == "AKIDDEFAULT");

  CHECK(error_of([] { make("profile", "nope"); }) ==
        "profile 'nope' is in neither '" + environment.folder + "/credentials' or '" + environment.folder + "/config'");
  CHECK(error_of([] { make("profile", "sso"); })
            .find("profile 'sso' uses AWS IAM Identity Center (SSO), which cshelve "
                  "does not support") == 0);
  CHECK(error_of([] { make("profile", "empty"); }) ==
        "profile 'empty' has no credentials (aws_access_key_id, credential_process or role_arn)");
  CHECK(error_of([] { make("profile", "half"); }) ==
        "profile 'half' has aws_access_key_id but no aws_secret_access_key");
  CHECK(error_of([] { make("profile", "lonely-role"); }) ==
        "profile 'lonely-role' has role_arn but no source_profile, credential_source or web_identity_token_file");
  CHECK(error_of([] { make("profile", "loop-a"); }) == "profile 'loop-a': source_profile goes round in a loop");
  CHECK_THROWS_AS(make("profile", "sso"), AuthArgumentError);

  environment.write("config", "[profile broken\n");
  CHECK(error_of([] { make("profile"); }) ==
        "AWS file '" + environment.folder + "/config' line 1: unclosed section header");
}

TEST_CASE("credential_process: run, read its JSON, cache it until shortly before Expiration") {
  CleanEnvironment environment;
  const std::string counter = environment.folder + "/runs";
  const std::string later = "2099-01-01T00:00:00Z";
  environment.write("good.sh", "echo x >> '" + counter +
                                   "'\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", "
                                   "\"SecretAccessKey\": \"" +
                                   kSecret + "\", \"SessionToken\": \"tp\", \"Expiration\": \"" + later + "\"}'\n");
  environment.write("soon.sh", "echo x >> '" + counter +
                                   "'\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIDSOON\", "
                                   "\"SecretAccessKey\": \"s\", \"Expiration\": \"2001-01-01T00:00:00Z\"}'\n");
  environment.write(
      "config",
      "[profile good]\ncredential_process = sh " + environment.folder +
          "/good.sh\n"
          "[profile soon]\ncredential_process = sh " +
          environment.folder +
          "/soon.sh\n"
          "[profile fails]\ncredential_process = sh -c 'exit 3'\n"
          "[profile version]\ncredential_process = echo '{\"AccessKeyId\": \"a\", \"SecretAccessKey\": \"b\"}'\n"
          "[profile garbage]\ncredential_process = echo 'AccessKeyId=a'\n"
          "[profile noexpiry]\ncredential_process = echo '{\"Version\": 1, \"AccessKeyId\": \"a\", "
          "\"SecretAccessKey\": \"b\", \"Expiration\": \"soon\"}'\n");
  const auto runs = [&] {
    std::ifstream file(counter);
    std::string line;
    int count = 0;
    while (std::getline(file, line)) ++count;
    return count;
  };
  CredentialsSetup good = make("profile", "good");
  CHECK(good.provider->current()->access_key_id == "AKIDPROC");
  CHECK(good.provider->current()->session_token == "tp");
  CHECK(runs() == 1);  // cached
  CredentialsSetup soon = make("profile", "soon");
  CHECK(soon.provider->current()->access_key_id == "AKIDSOON");
  CHECK(soon.provider->current()->access_key_id == "AKIDSOON");
  CHECK(runs() == 3);  // within the refresh margin: run again each time

  CHECK(error_of([] { make("profile", "fails").provider->current(); }) ==
        "credential_process of profile 'fails' exited with status 3");
  CHECK(error_of([] { make("profile", "version").provider->current(); }) ==
        "credential_process of profile 'version' printed JSON without \"Version\": 1");
  CHECK(error_of([] { make("profile", "garbage").provider->current(); }) ==
        "credential_process of profile 'garbage' printed malformed JSON at byte 0: expected an object");
  CHECK(error_of([] { make("profile", "noexpiry").provider->current(); }) ==
        "credential_process of profile 'noexpiry' gave an Expiration that is not an ISO 8601 UTC time");
  CHECK_THROWS_AS(make("profile", "fails").provider->current(), CredentialsError);
}

TEST_CASE("container: the URL rules of the published protocol") {
  CHECK(detail::container_url("/v2/credentials/abc", nullptr) == "http://169.254.170.2/v2/credentials/abc");
  CHECK(detail::container_url(nullptr, "http://127.0.0.1:8080/creds") == "http://127.0.0.1:8080/creds");
  CHECK(detail::container_url(nullptr, "http://169.254.170.23/v1/credentials") ==
        "http://169.254.170.23/v1/credentials");
  CHECK(detail::container_url(nullptr, "http://[fd00:ec2::23]/v1/credentials") ==
        "http://[fd00:ec2::23]/v1/credentials");
  CHECK(detail::container_url(nullptr, "https://creds.example.com/x") == "https://creds.example.com/x");
  CHECK(detail::container_host_allowed("localhost:80"));
  CHECK(detail::container_host_allowed("127.1.2.3"));
  CHECK(detail::container_host_allowed("[::1]:8080"));
  CHECK_FALSE(detail::container_host_allowed("127.0.0.1.example.com"));
  CHECK_FALSE(detail::container_host_allowed("10.0.0.1"));
  CHECK(error_of([] { detail::container_url(nullptr, "http://10.0.0.1/creds"); }) ==
        "auth_type container: AWS_CONTAINER_CREDENTIALS_FULL_URI may use plain http only to a loopback address or "
        "169.254.170.2, 169.254.170.23, fd00:ec2::23 (not '10.0.0.1')");
  CHECK(error_of([] { detail::container_url(nullptr, "ftp://127.0.0.1/creds"); }) ==
        "auth_type container: AWS_CONTAINER_CREDENTIALS_FULL_URI must be an http:// or https:// URL");
  CHECK(error_of([] { detail::container_url("creds", nullptr); }) ==
        "auth_type container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path starting with '/'");
  CHECK(error_of([] { detail::container_url(nullptr, nullptr); }) ==
        "auth_type container needs AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or AWS_CONTAINER_CREDENTIALS_FULL_URI "
        "(both are unset or empty)");
}

TEST_CASE("container: GET with the authorization token, credentials from its JSON") {
  CleanEnvironment environment;
  ScriptedServer server({http_reply(200, json_credentials()), http_reply(200, json_credentials())});
  ::setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", (server.url() + "/v1/credentials").c_str(), 1);
  ::setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic abc", 1);
  const auto credentials = make("container").provider->current();
  CHECK(credentials->access_key_id == "ASIAEXAMPLE");
  CHECK(credentials->session_token == kToken);
  // The token file wins over the variable, and is read again at each fetch.
  ::setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", environment.write("token", "from-file\n").c_str(), 1);
  make("container").provider->current();
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].method == "GET");
  CHECK(requests[0].target == "/v1/credentials");
  CHECK(requests[0].header("authorization") == "Basic abc");
  CHECK(requests[1].header("authorization") == "from-file");
}

TEST_CASE("container: refusals, silence and malformed JSON are typed errors naming the source") {
  CleanEnvironment environment;
  ScriptedServer server({http_reply(200, std::string(200000, ' ')), http_reply(403, "no"),
                         http_reply(200, "{\"AccessKeyId\": \"a\""), http_reply(200, "{\"AccessKeyId\": \"a\"}"),
                         stall_reply(5000)});
  ::setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", (server.url() + "/creds").c_str(), 1);
  const std::string host = "container endpoint 127.0.0.1:" + std::to_string(server.port());
  CHECK(error_of([] { make("container").provider->current(); }) ==
        "127.0.0.1:" + std::to_string(server.port()) + " sent a reply of more than 65536 bytes");
  CHECK(error_of([] { make("container").provider->current(); }) == host + " failed: HTTP 403");
  CHECK(error_of([] { make("container").provider->current(); }) ==
        host + " gave malformed JSON at byte 19: expected '}'");
  CHECK(error_of([] { make("container").provider->current(); }) == host + " gave JSON without 'SecretAccessKey'");
  const auto start = std::chrono::steady_clock::now();
  CHECK(error_of([] { make("container").provider->current(); }).find(host + " failed: timed out") == 0);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));
  ::setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", (environment.folder + "/missing").c_str(), 1);
  CHECK(error_of([] { make("container").provider->current(); }) ==
        "auth_type container (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE): cannot read token file '" + environment.folder +
            "/missing'");
}

TEST_CASE("instance: IMDSv2 token, then the role, then its credentials") {
  CleanEnvironment environment;
  ScriptedServer server({http_reply(200, "IMDSTOKEN"), http_reply(200, "my-role\n"),
                         http_reply(200, json_credentials("2030-01-01T00:00:00Z"))});
  ::unsetenv("AWS_EC2_METADATA_DISABLED");
  ::setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", (server.url() + "/").c_str(), 1);
  const auto credentials = make("instance").provider->current();
  CHECK(credentials->access_key_id == "ASIAEXAMPLE");
  CHECK(credentials->session_token == kToken);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].method == "PUT");
  CHECK(requests[0].target == "/latest/api/token");
  CHECK(requests[0].header("x-aws-ec2-metadata-token-ttl-seconds") == "21600");
  CHECK(requests[1].method == "GET");
  CHECK(requests[1].target == "/latest/meta-data/iam/security-credentials/");
  CHECK(requests[1].header("x-aws-ec2-metadata-token") == "IMDSTOKEN");
  CHECK(requests[2].target == "/latest/meta-data/iam/security-credentials/my-role");
  CHECK(requests[2].header("x-aws-ec2-metadata-token") == "IMDSTOKEN");
}

TEST_CASE("instance: token refused (no IMDSv1 fallback), no role, silence, malformed JSON, disabled") {
  CleanEnvironment environment;
  ::unsetenv("AWS_EC2_METADATA_DISABLED");
  ScriptedServer server({http_reply(403, "Forbidden"),                        // token refused
                         http_reply(200, "T"), http_reply(404, "Not Found"),  // no role
                         http_reply(200, "T"), http_reply(200, "r"), http_reply(200, "{\"Code\": \"Success\", }"),
                         http_reply(200, "T"), http_reply(200, "r"),
                         http_reply(200, "{\"Code\": \"AssumeRoleUnauthorizedAccess\"}"), http_reply(200, "T"),
                         http_reply(200, "bad role/"), stall_reply(5000)});
  ::setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url().c_str(), 1);
  const std::string what = "instance metadata (IMDSv2) at " + server.url();
  CHECK(error_of([] { make("instance").provider->current(); }) ==
        what + ": the session token request failed (HTTP 403); IMDSv1 is not used");
  CHECK(server.requests().size() == 1);  // nothing asked without a token
  CHECK(error_of([] { make("instance").provider->current(); }) == what + ": the instance has no IAM role (HTTP 404)");
  CHECK(error_of([] { make("instance").provider->current(); }) ==
        what + " gave malformed JSON at byte 20: expected a member name");
  CHECK(error_of([] { make("instance").provider->current(); }) ==
        what + ": the credentials of role 'r' are not available (Code 'AssumeRoleUnauthorizedAccess')");
  CHECK(error_of([] { make("instance").provider->current(); }) ==
        what + ": the role name it gave is not a valid IAM role name");
  const auto start = std::chrono::steady_clock::now();
  CHECK(error_of([] {
          make("instance").provider->current();
        }).find(what + ": the session token request failed (timed out") == 0);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));

  ::setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
  CHECK(error_of([] { make("instance"); }) ==
        "auth_type instance: instance metadata is disabled by AWS_EC2_METADATA_DISABLED");
}

TEST_CASE("default: the first source with credentials wins, and a debug line says which") {
  CleanEnvironment environment;
  std::vector<std::string> lines;
  const Logger logger = [&](LogLevel, std::string_view line) { lines.emplace_back(line); };
  const std::string none = error_of([&] { make("default", "", logger).provider->current(); });
  CHECK(
      none ==
      "auth_type default found no credentials"
      "; environment: auth_type environment needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (both are unset or empty)"
      "; web identity: auth_type web_identity needs AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE (both are unset or "
      "empty)"
      "; shared profile: profile 'default' is in neither '" +
          environment.folder + "/credentials' or '" + environment.folder +
          "/config'"
          "; container: auth_type container needs AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or "
          "AWS_CONTAINER_CREDENTIALS_FULL_URI (both are unset or empty)"
          "; instance metadata: auth_type instance: instance metadata is disabled by AWS_EC2_METADATA_DISABLED");

  // Instance metadata that never answers: the chain gives up on it within its timeout.
  ScriptedServer silent({stall_reply(5000)});
  ::unsetenv("AWS_EC2_METADATA_DISABLED");
  ::setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", silent.url().c_str(), 1);
  const auto start = std::chrono::steady_clock::now();
  CHECK(error_of([&] {
          make("default", "", logger).provider->current();
        }).find("; instance metadata: instance metadata (IMDSv2)") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));

  // The container answers before instance metadata is asked.
  ScriptedServer container({http_reply(200, json_credentials())});
  ::setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", container.url().c_str(), 1);
  lines.clear();
  CHECK(make("default", "", logger).provider->current()->access_key_id == "ASIAEXAMPLE");
  CHECK(std::find(lines.begin(), lines.end(), "default credential chain: using container (container endpoint)") !=
        lines.end());

  // The shared profile comes before it, the environment before all.
  environment.write("credentials", "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\n");
  CHECK(make("default").provider->current()->access_key_id == "AKIDFILE");
  ::setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", kSecret, 1);
  lines.clear();
  CHECK(make("default", "", logger).provider->current()->access_key_id == "AKIDENV");
  CHECK(std::find(lines.begin(), lines.end(), "default credential chain: using environment (environment)") !=
        lines.end());
  for (const auto& line : lines) CHECK(line.find(kSecret) == std::string::npos);
}

namespace {

// A source whose credentials last `lifetime` seconds, numbered by fetch.
class CountingSource final : public CredentialSource {
 public:
  explicit CountingSource(int lifetime) : lifetime_(lifetime) {}
  std::string name() const override { return "counting"; }
  TemporaryCredentials fetch() override {
    const int number = ++fetches;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return TemporaryCredentials{Credentials{"AKID" + std::to_string(number), kSecret, "t"},
                                std::time(nullptr) + lifetime_};
  }
  std::atomic<int> fetches{0};

 private:
  int lifetime_;
};

}  // namespace

TEST_CASE("the provider refreshes ahead of expiry, once for all threads, and after expired()") {
  auto source = std::make_unique<CountingSource>(3600);
  CountingSource& counting = *source;
  CredentialsProvider provider(std::move(source), std::chrono::seconds(60));
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) CHECK(provider.current()->access_key_id == "AKID1");
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(counting.fetches == 1);
  const auto used = provider.current();
  provider.expired(used);
  provider.expired(used);  // a second report of the same credentials changes nothing more
  CHECK(provider.current()->access_key_id == "AKID2");
  provider.expired(used);  // stale report: they were already replaced
  CHECK(provider.current()->access_key_id == "AKID2");
  CHECK(counting.fetches == 2);

  // Credentials inside the refresh margin are replaced at the next use.
  auto short_lived = std::make_unique<CountingSource>(30);
  CountingSource& short_counting = *short_lived;
  CredentialsProvider soon(std::move(short_lived), std::chrono::seconds(60));
  soon.current();
  soon.current();
  CHECK(short_counting.fetches == 2);
}

TEST_CASE("the client retries once with fresh credentials after ExpiredToken, InvalidToken, TokenRefreshRequired") {
  for (const char* code : {"ExpiredToken", "InvalidToken", "TokenRefreshRequired"}) {
    CAPTURE(code);
    ScriptedServer server(
        {s3_error_reply(400, code), http_reply(200, "value"), s3_error_reply(400, code), s3_error_reply(400, code)});
    auto source = std::make_unique<CountingSource>(3600);
    CountingSource& counting = *source;
    ClientConfig config;
    config.endpoint = cshelve::s3::parse_endpoint(server.url());
    config.credentials_provider = std::make_shared<CredentialsProvider>(std::move(source));
    config.max_attempts = 3;
    Client client(std::move(config));
    CHECK(client.get_object("bucket", "key") == "value");
    CHECK(counting.fetches == 2);
    auto requests = server.requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[0].header("authorization").find("Credential=AKID1/") != std::string::npos);
    CHECK(requests[1].header("authorization").find("Credential=AKID2/") != std::string::npos);
    CHECK(requests[1].header("x-amz-security-token") == "t");
    // Only once per request: a second refusal is the request's error.
    CHECK_THROWS_AS(client.get_object("bucket", "key"), S3Error);
    CHECK(server.requests().size() == 4);
    CHECK(counting.fetches == 3);
  }
}

TEST_CASE("the batch calls retry once with fresh credentials too") {
  ScriptedServer server({s3_error_reply(400, "ExpiredToken"), http_reply(200, "v")});
  auto source = std::make_unique<CountingSource>(3600);
  ClientConfig config;
  config.endpoint = cshelve::s3::parse_endpoint(server.url());
  config.credentials_provider = std::make_shared<CredentialsProvider>(std::move(source));
  config.max_attempts = 1;
  Client client(std::move(config));
  const GetObjectsResult result = client.get_objects("bucket", {"k"});
  CHECK_FALSE(result.errors[0]);
  REQUIRE(result.values[0]);
  CHECK(*result.values[0] == "v");
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[1].header("authorization").find("Credential=AKID2/") != std::string::npos);
}
