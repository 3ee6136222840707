// The credential sources behind make_credentials(), shared by credentials.cpp, sts.cpp,
// metadata.cpp and credential_profiles.cpp. Internal: the client and the provider see only credentials.hpp.
#ifndef CSHELVE_S3_CREDENTIAL_SOURCES_HPP
#define CSHELVE_S3_CREDENTIAL_SOURCES_HPP

#include <memory>
#include <optional>
#include <string>

#include "s3/credentials.hpp"
#include "s3/http.hpp"

namespace cshelve::s3::sources {

// The variable's value; nullopt when it is unset or empty.
std::optional<std::string> env(const char* name);

// The first line of a small file (a token), without its line end; AuthArgumentError naming
// `what` and the file when it cannot be read, is empty or is larger than 16 KiB.
std::string read_token_file(const std::string& path, const std::string& what);

// One request on a connection of its own: the single attempt a credential source makes.
HttpOutcome send_once(const HttpRequest& request, const HttpSettings& settings);

// "HTTP 404" or "timed out: ..." for a message; never the body.
std::string describe_outcome(const HttpOutcome& outcome);

struct StsSettings {
  std::string endpoint;  // the URL requests go to
  std::string region;    // the signing region
  bool verify_tls = true;
  std::string ca_bundle;
};

// STS settings for the settings' region and endpoint choice.
StsSettings sts_settings(const CredentialsSettings& settings);

struct RoleRequest {
  std::string role_arn;
  std::string session_name;      // empty: cshelve-<unix time>
  std::string external_id;       // AssumeRole only; empty: none
  std::string duration_seconds;  // empty: STS's default (one hour)
};

std::unique_ptr<CredentialSource> assume_role(std::unique_ptr<CredentialSource> base, RoleRequest role, StsSettings sts,
                                              std::string name);
std::unique_ptr<CredentialSource> web_identity(RoleRequest role, std::string token_file, StsSettings sts,
                                               std::string name);

// The sources credentials.cpp defines, for the profiles: AWS_ACCESS_KEY_ID and its kin, keys
// given once, and a credential_process command.
std::unique_ptr<CredentialSource> environment();
std::unique_ptr<CredentialSource> fixed(Credentials credentials, std::string name);
std::unique_ptr<CredentialSource> process(std::string command, std::string name);

std::unique_ptr<CredentialSource> container(const CredentialsSettings& settings);
std::unique_ptr<CredentialSource> instance(const CredentialsSettings& settings);

}  // namespace cshelve::s3::sources

#endif
