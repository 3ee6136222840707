// The aws-s3 provider's settings: [default]'s bucket and credentials, and the provider parameters.
#include <cshelve/errors.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "config/settings.hpp"
#include "config/values.hpp"
#include "util/text.hpp"

namespace cshelve::config {
namespace {

// About 115 days: longer than any transfer, and a number of milliseconds that fits 64 bits easily.
constexpr double kMaxTimeoutSeconds = 1e7;
constexpr long long kMaxCount = 1000;
constexpr long long kMaxTransferSpeed = 1LL << 30;  // bytes a second

const char* const kKnownParams[] = {
    "endpoint_url",       "region_name",      "addressing_style", "aws_session_token",    "verify",
    "connect_timeout",    "read_timeout",     "max_attempts",     "max_pool_connections", "attempt_timeout",
    "min_transfer_speed", "sts_endpoint_url", "checksum"};

std::string required(const Section& defaults, const std::string& origin, const std::string& option) {
  const auto it = defaults.find(option);
  if (it == defaults.end() || it->second.empty()) {
    throw ConfigurationError(util::concat({origin, ": provider aws-s3 needs '", option, "' in [default]"}));
  }
  return it->second;
}

// access_key takes the keys from [default]; the other auth_types name a credential source.
void read_credentials(const Section& defaults, const std::string& origin, S3Settings& settings) {
  const auto auth = defaults.find("auth_type");
  const bool from_source = auth != defaults.end() && s3::is_credentials_auth_type(auth->second);
  if (!from_source && (auth == defaults.end() || auth->second != "access_key")) {
    const bool missing = auth == defaults.end();
    throw AuthTypeError(
        util::concat({origin,
                      ": provider aws-s3 needs auth_type = access_key, environment, profile, "
                      "web_identity, container, instance or default",
                      missing ? " (auth_type is missing)" : " (not '",
                      missing ? std::string_view() : std::string_view(auth->second), missing ? "" : "')"}));
  }
  if (from_source) {
    s3::CredentialsSettings& source = settings.credentials_source.emplace();
    source.auth_type = auth->second;
    source.origin = origin;
    if (const auto profile = defaults.find("profile"); profile != defaults.end()) source.profile = profile->second;
    return;
  }
  for (const char* option : {"key_id", "key_secret"}) {
    const auto it = defaults.find(option);
    if (it == defaults.end() || it->second.empty()) {
      throw AuthArgumentError(util::concat({origin, ": auth_type access_key needs '", option, "' in [default]",
                                            it == defaults.end() ? "" : " (it is empty)"}));
    }
  }
  settings.client.credentials.access_key_id = defaults.at("key_id");
  settings.client.credentials.secret_access_key = defaults.at("key_secret");
}

// libcurl takes milliseconds as a long: with a 32-bit long, anything past 24.8 days is capped there.
long as_long_ms(std::int64_t milliseconds) {
  return static_cast<long>(std::min<std::int64_t>(milliseconds, std::numeric_limits<long>::max()));
}

}  // namespace

S3Settings s3_settings(const Section& defaults, const std::string& origin, const ProviderParams& params) {
  S3Settings settings;
  settings.bucket = required(defaults, origin, "bucket_name");
  s3::ClientConfig& config = settings.client;
  read_credentials(defaults, origin, settings);

  for (const auto& [name, value] : params) {
    bool found = false;
    for (const char* candidate : kKnownParams) found = found || name == candidate;
    if (found) continue;
    std::string known;
    for (const char* candidate : kKnownParams) {
      if (!known.empty()) known += ", ";
      known += candidate;
    }
    throw ConfigurationError(
        util::concat({origin, ": unknown provider parameter '", name, "' for aws-s3 (known: ", known, ")"}));
  }
  const auto param = [&](const char* name) -> const std::string* {
    const auto it = params.find(name);
    return it == params.end() ? nullptr : &it->second;
  };
  const auto name_of = [&](const char* name) { return OptionName{origin, "provider_params", name}; };

  if (auto value = param("endpoint_url"); value && !value->empty()) {
    try {
      config.endpoint = s3::parse_endpoint(*value);
    } catch (const ConfigurationError& error) {
      throw_bad_value(name_of("endpoint_url"), error.what());
    }
  }
  if (auto value = param("region_name"); value && !value->empty()) config.region = *value;
  if (auto value = param("addressing_style")) {
    constexpr s3::Addressing kStyles[] = {s3::Addressing::automatic, s3::Addressing::path,
                                          s3::Addressing::virtual_hosted};
    config.addressing = kStyles[parse_choice(*value, name_of("addressing_style"), {"auto", "path", "virtual"})];
  }
  if (auto value = param("aws_session_token")) config.credentials.session_token = *value;
  if (auto value = param("verify")) {
    // boto3's `verify`: a boolean, or the path of a CA bundle.
    if (is_bool_word(*value)) {
      config.verify_tls = parse_bool(*value, name_of("verify"));
    } else {
      config.ca_bundle = *value;  // as written: relative to the process, as boto3 reads it
    }
  }
  // The durations and counts, each into its field of the client's configuration.
  struct Duration {
    const char* name;
    long s3::ClientConfig::*field;
  };
  for (const Duration& duration : {Duration{"connect_timeout", &s3::ClientConfig::connect_timeout_ms},
                                   Duration{"read_timeout", &s3::ClientConfig::read_timeout_ms},
                                   Duration{"attempt_timeout", &s3::ClientConfig::attempt_timeout_ms}}) {
    if (auto value = param(duration.name)) {
      config.*duration.field = as_long_ms(parse_seconds_as_ms(*value, name_of(duration.name), kMaxTimeoutSeconds));
    }
  }
  if (auto value = param("min_transfer_speed")) {
    config.min_transfer_speed =
        static_cast<long>(parse_whole_number(*value, name_of("min_transfer_speed"), 1, kMaxTransferSpeed));
  }
  struct Count {
    const char* name;
    int s3::ClientConfig::*field;
  };
  for (const Count& count : {Count{"max_attempts", &s3::ClientConfig::max_attempts},
                             Count{"max_pool_connections", &s3::ClientConfig::max_pool_connections}}) {
    if (auto value = param(count.name)) {
      config.*count.field = static_cast<int>(parse_whole_number(*value, name_of(count.name), 1, kMaxCount));
    }
  }
  if (auto value = param("checksum")) {
    config.object_checksums = parse_choice(*value, name_of("checksum"), {"crc64nvme", "off"}) == 0;
  }
  if (settings.credentials_source) {
    s3::CredentialsSettings& source = *settings.credentials_source;
    if (auto value = param("region_name"); value && !value->empty()) source.region = *value;
    if (auto value = param("sts_endpoint_url")) source.sts_endpoint = *value;
    source.verify_tls = config.verify_tls;
    source.ca_bundle = config.ca_bundle;
  }
  return settings;
}

}  // namespace cshelve::config
