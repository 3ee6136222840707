// The AWS shared files (~/.aws/credentials and ~/.aws/config) and the credential source a
// profile of them describes. Internal to the credential sources.
#ifndef CSHELVE_S3_CREDENTIAL_PROFILES_HPP
#define CSHELVE_S3_CREDENTIAL_PROFILES_HPP

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "s3/credentials.hpp"

namespace cshelve::s3::sources {

using AwsSection = std::map<std::string, std::string>;
using AwsFile = std::map<std::string, AwsSection>;

// Both files as they are when constructed (AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE name
// other places); a missing file is an empty one.
struct SharedFiles {
  std::string credentials_path;
  std::string config_path;
  bool credentials_exists = false;
  bool config_exists = false;
  AwsFile credentials;
  AwsFile config;

  SharedFiles();

  // The profile's settings, the credentials file's winning over the config file's; nullopt when
  // neither file has it.
  std::optional<AwsSection> profile(const std::string& name) const;

  std::string where() const;
};

// The setting's value; empty when the section does not have it.
std::string get(const AwsSection& section, const char* key);

// The profile the settings name: `profile`, else AWS_PROFILE, else "default".
std::string profile_name(const CredentialsSettings& settings);

// The source the profile `name` describes (keys, a role, a process...); `visited` holds the
// profiles already followed through source_profile, to refuse loops.
std::unique_ptr<CredentialSource> profile_source(const SharedFiles& files, const std::string& name,
                                                 const CredentialsSettings& settings, std::set<std::string>& visited);

}  // namespace cshelve::s3::sources

#endif
