// The AWS CLI's shared files and their profiles: static keys, credential_process, roles assumed
// from another profile or a named source, and web identity.
#include "s3/credential_profiles.hpp"

#include <fstream>

#include "s3/credential_sources.hpp"
#include "util/ascii.hpp"
#include "util/text.hpp"

namespace cshelve::s3::sources {

namespace {

// The AWS CLI's INI dialect: `[name]`, `key = value`, full-line # and ; comments; indented lines
// (the sub-settings of `s3 =`) belong to the setting above and are skipped. No interpolation.
// A missing file is an empty one; an unreadable or malformed one an AuthArgumentError.
AwsFile read_aws_file(const std::string& path, bool* exists) {
  AwsFile sections;
  std::ifstream file(path, std::ios::binary);
  *exists = static_cast<bool>(file);
  if (!file) return sections;
  std::string line;
  AwsSection* section = nullptr;
  int number = 0;
  const auto trim = [](std::string text) {
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string::npos) return std::string();
    const auto last = text.find_last_not_of(" \t\r");
    return text.substr(first, last - first + 1);
  };
  while (std::getline(file, line)) {
    ++number;
    if (number > 100000) throw AuthArgumentError(util::concat({"AWS file '", path, "' has more than 100000 lines"}));
    const std::string text = trim(line);
    if (text.empty() || text[0] == '#' || text[0] == ';') continue;
    if (line[0] == ' ' || line[0] == '\t') continue;  // a nested setting
    if (text.front() == '[') {
      if (text.back() != ']') {
        throw AuthArgumentError(
            util::concat({"AWS file '", path, "' line ", std::to_string(number), ": unclosed section header"}));
      }
      section = &sections[trim(text.substr(1, text.size() - 2))];
      continue;
    }
    const auto equals = text.find('=');
    if (equals == std::string::npos || section == nullptr) {
      throw AuthArgumentError(
          util::concat({"AWS file '", path, "' line ", std::to_string(number),
                        section == nullptr ? ": a setting before any [section]" : ": no '=' in the line"}));
    }
    (*section)[util::to_lower_ascii(trim(text.substr(0, equals)))] = trim(text.substr(equals + 1));
  }
  return sections;
}

std::string home_file(const char* variable, const char* relative) {
  if (auto path = env(variable)) {
    if (path->size() >= 2 && (*path)[0] == '~' && (*path)[1] == '/') {
      return env("HOME").value_or("") + path->substr(1);
    }
    return *path;
  }
  return util::concat({env("HOME").value_or(""), "/.aws/", relative});
}

}  // namespace

SharedFiles::SharedFiles()
    : credentials_path(home_file("AWS_SHARED_CREDENTIALS_FILE", "credentials")),
      config_path(home_file("AWS_CONFIG_FILE", "config")) {
  credentials = read_aws_file(credentials_path, &credentials_exists);
  config = read_aws_file(config_path, &config_exists);
}

std::optional<AwsSection> SharedFiles::profile(const std::string& name) const {
  std::optional<AwsSection> merged;
  const auto in_config = config.find(name == "default" ? "default" : "profile " + name);
  if (in_config != config.end()) merged = in_config->second;
  const auto in_credentials = credentials.find(name);
  if (in_credentials != credentials.end()) {
    if (!merged) merged.emplace();
    for (const auto& [key, value] : in_credentials->second) (*merged)[key] = value;
  }
  return merged;
}

std::string SharedFiles::where() const { return util::concat({"'", credentials_path, "' or '", config_path, "'"}); }

std::string get(const AwsSection& section, const char* key) {
  const auto it = section.find(key);
  return it == section.end() ? std::string() : it->second;
}

namespace {

// The source a role profile's credential_source names.
std::unique_ptr<CredentialSource> named_source(const std::string& value, const std::string& profile,
                                               const CredentialsSettings& settings) {
  if (value == "Environment") return environment();
  if (value == "EcsContainer") return container(settings);
  if (value == "Ec2InstanceMetadata") return instance(settings);
  throw AuthArgumentError(util::concat({"profile '", profile,
                                        "': credential_source must be Environment, EcsContainer or "
                                        "Ec2InstanceMetadata, not '",
                                        value, "'"}));
}

}  // namespace

std::unique_ptr<CredentialSource> profile_source(const SharedFiles& files, const std::string& name,
                                                 const CredentialsSettings& settings, std::set<std::string>& visited) {
  const std::string label = util::concat({"profile '", name, "'"});
  const auto section = files.profile(name);
  if (!section) throw AuthArgumentError(util::concat({label, " is in neither ", files.where()}));
  if (!visited.insert(name).second) throw AuthArgumentError(label + ": source_profile goes round in a loop");

  const std::string role_arn = get(*section, "role_arn");
  if (!role_arn.empty()) {
    RoleRequest role{role_arn, get(*section, "role_session_name"), get(*section, "external_id"),
                     get(*section, "duration_seconds")};
    if (!role.duration_seconds.empty() &&
        (role.duration_seconds.size() > 5 ||
         role.duration_seconds.find_first_not_of("0123456789") != std::string::npos)) {
      throw AuthArgumentError(label + ": duration_seconds must be a whole number of seconds");
    }
    StsSettings sts = sts_settings(settings);
    if (settings.region.empty() && !get(*section, "region").empty() && settings.sts_endpoint.empty() &&
        !env("AWS_ENDPOINT_URL_STS")) {
      CredentialsSettings regional = settings;
      regional.region = get(*section, "region");
      sts = sts_settings(regional);
    }
    const std::string token_file = get(*section, "web_identity_token_file");
    const std::string source_profile = get(*section, "source_profile");
    const std::string credential_source = get(*section, "credential_source");
    if (!token_file.empty()) return web_identity(std::move(role), token_file, std::move(sts), label);
    if (!source_profile.empty() && !credential_source.empty()) {
      throw AuthArgumentError(label + " has both source_profile and credential_source; keep one");
    }
    std::unique_ptr<CredentialSource> base;
    if (source_profile == name) {
      // A profile that is its own source signs the AssumeRole call with its own keys.
      if (get(*section, "aws_access_key_id").empty() || get(*section, "aws_secret_access_key").empty()) {
        throw AuthArgumentError(label +
                                " is its own source_profile but has no aws_access_key_id and aws_secret_access_key");
      }
      base = fixed(Credentials{get(*section, "aws_access_key_id"), get(*section, "aws_secret_access_key"),
                               get(*section, "aws_session_token")},
                   label);
    } else if (!source_profile.empty()) {
      base = profile_source(files, source_profile, settings, visited);
    } else if (!credential_source.empty()) {
      base = named_source(credential_source, name, settings);
    } else {
      throw AuthArgumentError(label +
                              " has role_arn but no source_profile, credential_source or web_identity_token_file");
    }
    return assume_role(std::move(base), std::move(role), std::move(sts), label);
  }
  if (!get(*section, "sso_start_url").empty() || !get(*section, "sso_session").empty() ||
      !get(*section, "sso_account_id").empty()) {
    throw AuthArgumentError(label +
                            " uses AWS IAM Identity Center (SSO), which cshelve does not support; "
                            "use `aws configure export-credentials` with credential_process, or a role");
  }
  const std::string key_id = get(*section, "aws_access_key_id");
  if (!key_id.empty()) {
    const std::string secret = get(*section, "aws_secret_access_key");
    if (secret.empty()) throw AuthArgumentError(label + " has aws_access_key_id but no aws_secret_access_key");
    return fixed(Credentials{key_id, secret, get(*section, "aws_session_token")}, label);
  }
  const std::string command = get(*section, "credential_process");
  if (!command.empty()) return process(command, label);
  throw AuthArgumentError(label + " has no credentials (aws_access_key_id, credential_process or role_arn)");
}

std::string profile_name(const CredentialsSettings& settings) {
  if (!settings.profile.empty()) return settings.profile;
  return env("AWS_PROFILE").value_or("default");
}

}  // namespace cshelve::s3::sources
