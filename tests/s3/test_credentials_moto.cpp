// Role credentials from a real STS: moto (tests/s3/with-moto.sh) answers AssumeRole and
// AssumeRoleWithWebIdentity, and the temporary credentials it returns must then work for S3
// requests on it with its signature checks on. Through the shelf too, from an INI file.
#include <doctest/doctest.h>

#include <cshelve/cshelve.hpp>
#include <cshelve/errors.hpp>

#include <cstdlib>
#include <fstream>
#include <string>

#include "s3/client.hpp"
#include "s3/credentials.hpp"
#include "../support/moto.hpp"
#include "../support/test_support.hpp"

using namespace cshelve;
using namespace cshelve::s3;
using cshelve_test::moto_variable;

namespace {

struct MotoEnvironment {
  std::string endpoint = moto_variable("CSHELVE_TEST_MOTO_ENDPOINT");
  std::string key_id = moto_variable("CSHELVE_TEST_MOTO_KEY_ID");
  std::string secret = moto_variable("CSHELVE_TEST_MOTO_SECRET");
  std::string role_arn = moto_variable("CSHELVE_TEST_MOTO_ROLE_ARN");
  std::string bucket = moto_variable("CSHELVE_TEST_MOTO_BUCKET");
  cshelve_test::TempDir temporary;
  std::string folder = temporary.path().string();

  MotoEnvironment() {
    for (const char* unset : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                              "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                              "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"}) {
      ::unsetenv(unset);
    }
    ::setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    ::setenv("AWS_ENDPOINT_URL_STS", endpoint.c_str(), 1);
    ::setenv("AWS_SHARED_CREDENTIALS_FILE", (folder + "/credentials").c_str(), 1);
    ::setenv("AWS_CONFIG_FILE", (folder + "/config").c_str(), 1);
  }

  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = folder + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  ClientConfig client(std::shared_ptr<CredentialsProvider> provider) const {
    ClientConfig config;
    config.endpoint = cshelve::s3::parse_endpoint(endpoint);
    config.addressing = Addressing::path;
    config.credentials_provider = std::move(provider);
    config.max_attempts = 1;
    return config;
  }
};

CredentialsSetup make(const std::string& auth_type, const std::string& profile = "") {
  CredentialsSettings settings;
  settings.auth_type = auth_type;
  settings.origin = "test.ini";
  settings.profile = profile;
  return make_credentials(settings);
}

}  // namespace

TEST_CASE("profile with role_arn and source_profile: STS AssumeRole, then S3 with the role's credentials") {
  MotoEnvironment moto;
  moto.write("credentials",
             "[base]\naws_access_key_id = " + moto.key_id + "\naws_secret_access_key = " + moto.secret + "\n");
  moto.write("config", "[profile shelf]\nrole_arn = " + moto.role_arn +
                           "\nsource_profile = base\nexternal_id = ext-1\nrole_session_name = shelf-test\n"
                           "duration_seconds = 900\nregion = us-east-1\n");
  CredentialsSetup setup = make("profile", "shelf");
  const auto credentials = setup.provider->current();
  CHECK(credentials->access_key_id.rfind("ASIA", 0) == 0);
  CHECK_FALSE(credentials->session_token.empty());
  Client client(moto.client(setup.provider));
  client.put_object(moto.bucket, "role/key", {"from the role"});
  CHECK(client.get_object(moto.bucket, "role/key") == "from the role");
  ListRequest list;
  list.prefix = "role/";
  CHECK(client.list_objects_v2(moto.bucket, list).keys == std::vector<std::string>{"role/key"});
}

TEST_CASE("object_exists on moto: present, empty (416), absent, and AccessDenied for a user without S3 rights") {
  MotoEnvironment moto;
  moto.write("credentials",
             "[base]\naws_access_key_id = " + moto.key_id + "\naws_secret_access_key = " + moto.secret + "\n");
  moto.write("config", "[profile shelf]\nrole_arn = " + moto.role_arn + "\nsource_profile = base\n");
  Client client(moto.client(make("profile", "shelf").provider));
  client.put_object(moto.bucket, "exists/value", {"a value"});
  client.put_object(moto.bucket, "exists/empty", {});
  CHECK(client.object_exists(moto.bucket, "exists/value"));
  CHECK(client.object_exists(moto.bucket, "exists/empty"));
  CHECK_FALSE(client.object_exists(moto.bucket, "exists/absent"));

  // The user itself may only assume the role.
  ClientConfig user_config = moto.client(nullptr);
  user_config.credentials = Credentials{moto.key_id, moto.secret, ""};
  Client user(std::move(user_config));
  CHECK_THROWS_AS(user.object_exists(moto.bucket, "exists/value"), AccessDeniedError);
}

TEST_CASE("moto checks signatures: a wrong source secret is refused by STS, and forged role credentials by S3") {
  MotoEnvironment moto;
  const std::string wrong = "0000000000000000000000000000000000000000";
  moto.write("credentials", "[base]\naws_access_key_id = " + moto.key_id + "\naws_secret_access_key = " + wrong + "\n");
  moto.write("config", "[profile shelf]\nrole_arn = " + moto.role_arn + "\nsource_profile = base\n");
  std::string message;
  try {
    make("profile", "shelf").provider->current();
  } catch (const CredentialsError& error) {
    message = error.what();
  }
  CAPTURE(message);
  const std::string host = moto.endpoint.substr(std::string("http://").size());
  CHECK(message.rfind("profile 'shelf': STS AssumeRole at " + host + " was refused: HTTP 403 SignatureDoesNotMatch",
                      0) == 0);
  CHECK(message.find(wrong) == std::string::npos);

  // Temporary credentials whose secret is wrong do not pass S3's check either.
  moto.write("credentials",
             "[base]\naws_access_key_id = " + moto.key_id + "\naws_secret_access_key = " + moto.secret + "\n");
  const auto good = make("profile", "shelf").provider->current();
  class Forged final : public CredentialSource {
   public:
    explicit Forged(Credentials credentials) : credentials_(std::move(credentials)) {}
    std::string name() const override { return "forged"; }
    TemporaryCredentials fetch() override { return {credentials_, std::nullopt}; }
    Credentials credentials_;
  };
  Credentials forged = *good;
  forged.secret_access_key = wrong;
  Client client(moto.client(std::make_shared<CredentialsProvider>(std::make_unique<Forged>(forged))));
  CHECK_THROWS_AS(client.get_object(moto.bucket, "role/key"), AuthenticationError);
}

TEST_CASE("web_identity: STS AssumeRoleWithWebIdentity from the EKS variables, then S3") {
  MotoEnvironment moto;
  ::setenv("AWS_ROLE_ARN", moto.role_arn.c_str(), 1);
  ::setenv("AWS_WEB_IDENTITY_TOKEN_FILE", moto.write("token", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n").c_str(), 1);
  ::setenv("AWS_ROLE_SESSION_NAME", "pod-1", 1);
  CredentialsSetup setup = make("web_identity");
  CHECK(setup.provider->current()->access_key_id.rfind("ASIA", 0) == 0);
  Client client(moto.client(setup.provider));
  client.put_object(moto.bucket, "web/key", {"from the pod"});
  CHECK(client.get_object(moto.bucket, "web/key") == "from the pod");
  ::unsetenv("AWS_ROLE_ARN");
  ::unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
  ::unsetenv("AWS_ROLE_SESSION_NAME");
}

TEST_CASE("a shelf from an INI file with auth_type = profile, the STS endpoint as a provider parameter") {
  MotoEnvironment moto;
  ::unsetenv("AWS_ENDPOINT_URL_STS");
  moto.write("credentials",
             "[base]\naws_access_key_id = " + moto.key_id + "\naws_secret_access_key = " + moto.secret + "\n");
  moto.write("config",
             "[profile shelf]\nrole_arn = " + moto.role_arn + "\nsource_profile = base\nregion = us-east-1\n");
  const std::string ini = moto.write(
      "shelf.ini", "[default]\nprovider = aws-s3\nbucket_name = " + moto.bucket +
                       "\nauth_type = profile\nprofile = shelf\n"
                       "[provider_params]\nendpoint_url = " +
                       moto.endpoint + "\naddressing_style = path\nsts_endpoint_url = " + moto.endpoint + "\n");
  {
    Shelf db = open(ini);
    db.set("answer", std::string_view("42"));
    CHECK(db.get("answer") == "42");
  }
  Shelf again = open(ini, Flag::read);
  CHECK(again.get("answer") == "42");
}
