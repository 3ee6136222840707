// Secrets never reach a log line or an error message.
//
// A whole session on the aws-s3 provider through the signature-checking gate, with compression and
// encryption configured, a session token, a failed attempt with the wrong secret, corrupt records,
// a missing key and broken configurations, everything logged at the most verbose level. The known
// secrets (key_secret, the wrong secret, the session token, the encryption key) must not appear in
// any line or message: not as they are, nor in hex, base64 or percent-encoding.
#include <cshelve/cshelve.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "../s3/scripted_server.hpp"
#include "s3/client.hpp"
#include "support.hpp"

using namespace cshelve;
using namespace reliability;

namespace {

// Chosen to be findable: long enough not to occur by chance, with bytes that every encoding
// changes. The gate accepts only the stack's own secret, which is therefore the real key_secret.
const std::string kWrongSecret = "wRoNg/SeCrEt+for=the+leak+test~7Q2xV";
const std::string kSessionToken = "IQoJb3JpZ2luX2VjEHQaCXVzLWVhc3QtMSJGMEQCIB/leak+check==";
const std::string kEncryptionKey = "LeakTest-AES-key, 32 bytes long!";

std::string hex(std::string_view bytes, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    out += digits[byte >> 4];
    out += digits[byte & 0x0F];
  }
  return out;
}

std::string base64(std::string_view bytes, bool url_safe) {
  const char* alphabet = url_safe ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                                  : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += alphabet[(n >> shift) & 0x3F];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    unsigned n = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += alphabet[(n >> 18) & 0x3F];
    out += alphabet[(n >> 12) & 0x3F];
    if (rest == 2) out += alphabet[(n >> 6) & 0x3F];
  }
  return out;
}

std::string percent_encoded(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    const bool plain = (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') || (byte >= '0' && byte <= '9') ||
                       c == '-' || c == '_' || c == '.' || c == '~';
    if (plain) {
      out += c;
    } else {
      out += '%' + hex(std::string_view(&c, 1), true);
    }
  }
  return out;
}

// The forms in which `secret` could leak. For base64, the secret may start at any of three byte
// offsets within what was encoded: for each, only the characters that depend on the secret's bits
// alone are kept.
std::vector<std::string> leak_forms(const std::string& secret) {
  std::vector<std::string> forms = {secret, hex(secret, false), hex(secret, true), percent_encoded(secret)};
  for (bool url_safe : {false, true}) {
    for (std::size_t offset = 0; offset < 3; ++offset) {
      const std::string encoded = base64(std::string(offset, '\0') + secret, url_safe);
      const std::size_t first = (8 * offset + 5) / 6;
      const std::size_t last = 8 * (offset + secret.size()) / 6;  // one past the last full one
      forms.push_back(encoded.substr(first, last - first));
    }
  }
  return forms;
}

struct Secret {
  std::string name;
  std::string value;
};

// The first secret (and form) found in `text`, or an empty string.
std::string leaked(const std::vector<Secret>& secrets, const std::string& text) {
  for (const Secret& secret : secrets) {
    for (const std::string& form : leak_forms(secret.value)) {
      if (!form.empty() && text.find(form) != std::string::npos) return secret.name + " as '" + form + "'";
    }
  }
  return {};
}

// Each log line and error message is free of every secret, in every form.
void check_nothing_leaked(const std::vector<Secret>& secrets, const std::vector<std::string>& lines,
                          const std::vector<std::string>& messages) {
  for (const std::string& line : lines) {
    CAPTURE(line);
    CHECK(leaked(secrets, line).empty());
  }
  for (const std::string& message : messages) {
    CAPTURE(message);
    CHECK(leaked(secrets, message).empty());
  }
}

// Runs `action`, which must throw an Error; keeps its message.
template <class Expected>
void expect_error(std::vector<std::string>& messages, const char* what, const std::function<void()>& action) {
  CAPTURE(what);
  try {
    action();
    FAIL("no error was thrown");
  } catch (const Expected& error) {
    messages.push_back(std::string(what) + ": " + error.what());
  } catch (const Error& error) {
    FAIL("unexpected error type: " << error.what());
  }
}

}  // namespace

TEST_CASE("the leak detector finds each secret in every form it looks for") {
  // Without this, a detector that never matched would make the test below pass whatever happened.
  const std::vector<Secret> secrets = {{"session token", kSessionToken}};
  CHECK(leaked(secrets, "no secret here").empty());
  CHECK_FALSE(leaked(secrets, "x" + kSessionToken + "y").empty());
  CHECK_FALSE(leaked(secrets, "hex " + hex(kSessionToken, false)).empty());
  CHECK_FALSE(leaked(secrets, "HEX " + hex(kSessionToken, true)).empty());
  CHECK_FALSE(leaked(secrets, "url " + percent_encoded(kSessionToken)).empty());
  for (std::size_t offset = 0; offset < 3; ++offset) {
    CAPTURE(offset);
    CHECK_FALSE(leaked(secrets, base64(std::string(offset, 'p') + kSessionToken + "tail", false)).empty());
    CHECK_FALSE(leaked(secrets, base64(std::string(offset, 'p') + kSessionToken + "tail", true)).empty());
  }
}

TEST_CASE("no secret reaches a log line or an error message, at the debug level") {
  const std::string gate = stack_variable("CSHELVE_TEST_S3_ENDPOINT");
  const std::string key_secret = stack_variable("CSHELVE_TEST_S3_KEY_SECRET");
  // The stack's key id equals its secret ("S3RVER"), so this also holds the key id to the same
  // standard; the library has no reason to log either.
  const std::vector<Secret> secrets = {{"key_secret", key_secret},
                                       {"wrong key_secret", kWrongSecret},
                                       {"session token", kSessionToken},
                                       {"encryption key", kEncryptionKey}};
  TempDir dir;
  const std::string bucket = fresh_bucket("secrets");
  // key_secret and the encryption key come from the environment, as a deployment would have them.
  ScopedEnv secret_variable("CSHELVE_LEAK_TEST_SECRET", key_secret);
  ScopedEnv key_variable("CSHELVE_LEAK_TEST_KEY", kEncryptionKey);
  const std::string processing_sections =
      "[compression]\nalgorithm = zlib\n\n[encryption]\nalgorithm = aes256\nenvironment_key = CSHELVE_LEAK_TEST_KEY\n";
  const std::string ini =
      write_s3_ini(dir, "session", bucket, gate, "", processing_sections, "$CSHELVE_LEAK_TEST_SECRET");

  LogCollector log;
  Options options;
  options.logger = log.logger();
  options.log_level = LogLevel::debug;
  options.provider_params["aws_session_token"] = kSessionToken;
  std::vector<std::string> messages;

  {
    Shelf db = open(ini, Flag::create, options);
    db.set("victim", "a value worth protecting, long enough to be compressed: " + std::string(200, 'z'));
    db.set("plain key", "v");
    db.set_many({{"many/1", "one"}, {"many/2", "two"}});
    CHECK(db.get("plain key") == "v");
    CHECK(db.contains("many/1"));
    CHECK(db.size() == 4);
    std::size_t listed = 0;
    for (const std::string& key : db) listed += key.empty() ? 0 : 1;
    CHECK(listed == 4);
    CHECK(db.get_many({"many/1", "many/2", "absent"}).size() == 3);
    db.erase("many/2");
    db.erase_many({"many/1"});
    expect_error<KeyNotFoundError>(messages, "missing key", [&] { db.get("absent key"); });

    // Damaged records, written behind the shelf's back with the raw client.
    s3::ClientConfig raw_config;
    raw_config.endpoint = s3::parse_endpoint(gate);
    raw_config.credentials.access_key_id = stack_variable("CSHELVE_TEST_S3_KEY_ID");
    raw_config.credentials.secret_access_key = key_secret;
    s3::Client raw(raw_config);
    std::string record = raw.get_object(bucket, "victim");
    REQUIRE(record.size() > 40);
    std::string flipped = record;
    flipped[flipped.size() - 3] = static_cast<char>(flipped[flipped.size() - 3] ^ 0x20);
    raw.put_object(bucket, "flipped", {flipped});
    expect_error<EncryptedDataCorruptionError>(messages, "corrupt record", [&] { db.get("flipped"); });
    raw.put_object(bucket, "truncated", {std::string_view(record).substr(0, record.size() / 2)});
    expect_error<DataCorruptionError>(messages, "truncated record", [&] { db.get("truncated"); });
    raw.put_object(bucket, "unknown step", {std::string("\0\1\1\0\0\0\0\0\0\0xz", 12)});
    expect_error<DataProcessingSignatureError>(messages, "unknown step", [&] { db.get("unknown step"); });
    db.close();
  }
  {
    // Writeback: values go out on close, with their own log line.
    Options writeback = options;
    writeback.writeback = true;
    Shelf db = open(ini, Flag::write, writeback);
    db.set("cached", "later");
    db.sync();
    CHECK(db.get("victim").size() > 200);
  }

  {
    // Reads through the fault injector, so that retry warnings, which quote each failure, are
    // among the lines checked.
    const std::string faulty_ini =
        write_s3_ini(dir, "faulty", bucket, stack_variable("CSHELVE_TEST_S3_FAULTY_ENDPOINT"),
                     "read_timeout = 1\nmax_attempts = 10\n", processing_sections, "$CSHELVE_LEAK_TEST_SECRET");
    Shelf db = open(faulty_ini, Flag::read, options);
    for (int i = 0; i < 60; ++i) CHECK(db.get("plain key") == "v");
  }

  // The wrong secret: the gate answers SignatureDoesNotMatch, and the error says so, without it.
  const std::string wrong_ini =
      write_s3_ini(dir, "wrong", bucket, gate, "max_attempts = 2\n", processing_sections, kWrongSecret);
  expect_error<AuthenticationError>(messages, "wrong secret", [&] { open(wrong_ini, Flag::write, options); });

  // Broken configurations that hold a secret on the offending line or in the offending section
  // (the key has neither '=' nor ':', so its line is malformed).
  const std::string malformed = dir / "malformed.ini";
  write_text(malformed, "[default]\nprovider = aws-s3\n" + kEncryptionKey + "\n");
  expect_error<ConfigurationError>(messages, "malformed line", [&] { open(malformed, Flag::read, options); });
  const std::string bad_algorithm = dir / "bad-algorithm.ini";
  write_text(bad_algorithm,
             "[default]\nprovider = in-memory\n[encryption]\nalgorithm = rot13\nkey = " + kEncryptionKey + "\n");
  expect_error<UnknownEncryptionAlgorithmError>(messages, "unknown algorithm",
                                                [&] { open(bad_algorithm, Flag::create, options); });
  const std::string short_key = dir / "short-key.ini";
  write_text(short_key, "[default]\nprovider = in-memory\n[encryption]\nalgorithm = aes256\nkey = " +
                            kEncryptionKey.substr(0, 20) + "\n");
  expect_error<MissingEncryptionKeyError>(messages, "short key", [&] { open(short_key, Flag::create, options); });

  // The session must have been logged in detail, or there was nothing to check.
  const std::vector<std::string> lines = log.lines();
  MESSAGE(lines.size() << " log lines and " << messages.size() << " error messages checked");
  CHECK(lines.size() >= 20);
  CHECK(log.count("debug: ") >= 15);
  bool refused_by_the_gate = false;
  for (const std::string& message : messages) {
    refused_by_the_gate = refused_by_the_gate || message.find("SignatureDoesNotMatch") != std::string::npos;
  }
  CHECK(refused_by_the_gate);
  check_nothing_leaked(secrets, lines, messages);
  // The 20-byte prefix of the encryption key given as a (too short) key is a secret too.
  for (const std::string& text : messages) CHECK(text.find(kEncryptionKey.substr(0, 20)) == std::string::npos);
}

#if CSHELVE_CREDENTIALS  // a build with -Dcredentials=false has only auth_type access_key
TEST_CASE("no secret from a credential source reaches a log line or an error message, at the debug level") {
  // Every source chosen by auth_type, each giving the stack's key (and a session token) to a shelf
  // logged at the debug level, and each failing in the ways that quote the most: refusals, malformed
  // replies holding the secret, the default chain's list of reasons.
  const std::string gate = stack_variable("CSHELVE_TEST_S3_ENDPOINT");
  const std::string key_id = stack_variable("CSHELVE_TEST_S3_KEY_ID");
  const std::string key_secret = stack_variable("CSHELVE_TEST_S3_KEY_SECRET");
  const std::string container_token = "Container-Auth/Token+leak=check~91";
  const std::string imds_token = "IMDSv2-session-token/leak+check==42";
  const std::string web_token = "eyJhbGciOiJSUzI1NiJ9.leak-check-web-identity.c2lnbmF0dXJl";
  const std::vector<Secret> secrets = {{"key_secret", key_secret},       {"wrong key_secret", kWrongSecret},
                                       {"session token", kSessionToken}, {"container token", container_token},
                                       {"IMDS token", imds_token},       {"web identity token", web_token}};
  TempDir dir;
  const std::string bucket = fresh_bucket("sources");
  const std::string json = "{\"Version\": 1, \"AccessKeyId\": \"" + key_id + "\", \"SecretAccessKey\": \"" +
                           key_secret + "\", \"SessionToken\": \"" + kSessionToken + "\", \"Token\": \"" +
                           kSessionToken + "\", \"Expiration\": \"2099-01-01T00:00:00Z\"}";
  const std::string broken_json = "{\"AccessKeyId\": \"" + key_id + "\", \"SecretAccessKey\": \"" + key_secret + "\",}";

  // Nothing here may reach a real endpoint: metadata disabled unless a test points it at 127.0.0.1.
  ScopedEnv no_imds("AWS_EC2_METADATA_DISABLED", "true");
  ScopedEnv sts("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9");
  ScopedEnv credentials_file("AWS_SHARED_CREDENTIALS_FILE", dir / "credentials");
  ScopedEnv config_file("AWS_CONFIG_FILE", dir / "config");
  for (const char* name : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                           "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                           "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                           "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT"}) {
    ::unsetenv(name);
  }
  write_text(dir / "credentials",
             "[static]\naws_access_key_id = " + key_id + "\naws_secret_access_key = " + key_secret +
                 "\naws_session_token = " + kSessionToken + "\n[wrong]\naws_access_key_id = " + key_id +
                 "\naws_secret_access_key = " + kWrongSecret + "\n");
  write_text(dir / "good.json", json);
  write_text(dir / "broken.json", broken_json);
  write_text(dir / "web-token", web_token + "\n");
  write_text(dir / "config",
             "[profile process]\ncredential_process = cat " + (dir / "good.json") +
                 "\n[profile broken-process]\ncredential_process = cat " + (dir / "broken.json") +
                 "\n[profile role]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = wrong\n"
                 "[profile web]\nrole_arn = arn:aws:iam::123456789012:role/r\nweb_identity_token_file = " +
                 (dir / "web-token") + "\n");

  LogCollector log;
  Options options;
  options.logger = log.logger();
  options.log_level = LogLevel::debug;
  std::vector<std::string> messages;
  const auto ini = [&](const std::string& name, const std::string& auth, const std::string& params = "") {
    const std::string path = dir / (name + ".ini");
    write_text(path, "[default]\nprovider = aws-s3\nbucket_name = " + bucket + "\nauth_type = " + auth +
                         "\n[provider_params]\nendpoint_url = " + gate + "\nmax_attempts = 1\n" + params);
    return path;
  };
  const auto session = [&](const std::string& path, Flag flag = Flag::write) {
    Shelf db = open(path, flag, options);
    db.set("k", "v");
    CHECK(db.get("k") == "v");
  };

  {
    ScopedEnv id("AWS_ACCESS_KEY_ID", key_id);
    ScopedEnv secret("AWS_SECRET_ACCESS_KEY", key_secret);
    ScopedEnv token("AWS_SESSION_TOKEN", kSessionToken);
    session(ini("environment", "environment"), Flag::create);
    session(ini("default-env", "default"));
  }
  session(ini("static", "profile\nprofile = static"));
  session(ini("process", "profile\nprofile = process"));
  expect_error<CredentialsError>(messages, "broken credential_process", [&] {
    open(ini("broken-process", "profile\nprofile = broken-process"), Flag::read, options);
  });
  {
    // STS refuses the source profile's wrong secret, and the web identity token.
    cshelve::testing::ScriptedServer sts_server(
        {cshelve::testing::http_reply(
             403,
             "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error></ErrorResponse>"),
         cshelve::testing::http_reply(400, "<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>bad " +
                                               web_token + "</Message></Error></ErrorResponse>")});
    ScopedEnv endpoint("AWS_ENDPOINT_URL_STS", sts_server.url());
    expect_error<CredentialsError>(messages, "role refused",
                                   [&] { open(ini("role", "profile\nprofile = role"), Flag::read, options); });
    // A server quoting the token back in its message: the token stays out of ours.
    expect_error<CredentialsError>(messages, "web identity refused",
                                   [&] { open(ini("web", "profile\nprofile = web"), Flag::read, options); });
    CHECK(sts_server.requests().size() == 2);
  }
  {
    cshelve::testing::ScriptedServer container({cshelve::testing::http_reply(200, json),
                                                cshelve::testing::http_reply(200, broken_json),
                                                cshelve::testing::http_reply(403, container_token)});
    ScopedEnv uri("AWS_CONTAINER_CREDENTIALS_FULL_URI", container.url() + "/creds");
    ScopedEnv token("AWS_CONTAINER_AUTHORIZATION_TOKEN", container_token);
    session(ini("container", "container"));
    expect_error<CredentialsError>(messages, "container malformed",
                                   [&] { open(ini("container", "container"), Flag::read, options); });
    expect_error<CredentialsError>(messages, "container refused",
                                   [&] { open(ini("container", "container"), Flag::read, options); });
  }
  {
    cshelve::testing::ScriptedServer imds(
        {cshelve::testing::http_reply(200, imds_token), cshelve::testing::http_reply(200, "role"),
         cshelve::testing::http_reply(200, json), cshelve::testing::http_reply(200, imds_token),
         cshelve::testing::http_reply(404, imds_token)});
    ScopedEnv enabled("AWS_EC2_METADATA_DISABLED", "false");
    ScopedEnv endpoint("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url());
    session(ini("instance", "instance"));
    // The default chain fails through to instance metadata, which answers 404: all reasons listed.
    ScopedEnv id("AWS_ACCESS_KEY_ID", key_id);
    expect_error<AuthArgumentError>(messages, "default chain",
                                    [&] { open(ini("default", "default"), Flag::read, options); });
  }

  const std::vector<std::string> lines = log.lines();
  MESSAGE(lines.size() << " log lines and " << messages.size() << " error messages checked");
  CHECK(log.count("credentials from ") >= 6);
  CHECK(log.count("default credential chain: using environment") == 1);
  CHECK(messages.size() == 6);
  check_nothing_leaked(secrets, lines, messages);
}
#endif
