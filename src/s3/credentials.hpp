// Where the S3 client's credentials come from when they are not a fixed access key: the
// environment, the shared AWS files (static keys, credential_process, roles), STS web identity,
// the container endpoint (ECS, EKS Pod Identity) or EC2 instance metadata (IMDSv2), or the
// default chain of those. Each source is chosen explicitly by auth_type; see docs/credentials.md.
//
// A CredentialsProvider hands out the current credentials to every thread that signs, fetching
// them from its source when first needed and again ahead of their expiry (kRefreshAhead before
// it). While one thread refreshes, the others keep signing with the credentials still valid; only
// credentials already expired make them wait. A server that answers ExpiredToken makes the client
// call expired(), which forces the next current() to fetch anew.
#ifndef CSHELVE_S3_CREDENTIALS_HPP
#define CSHELVE_S3_CREDENTIALS_HPP

#include <cshelve/errors.hpp>
#include <cshelve/options.hpp>

#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "s3/sigv4.hpp"
#include "util/json.hpp"

namespace cshelve::s3 {

// How long before their expiry temporary credentials are replaced.
inline constexpr std::chrono::seconds kRefreshAhead{5 * 60};

struct TemporaryCredentials {
  Credentials credentials;
  std::optional<std::time_t> expiration;  // none: they do not expire
};

class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  // "environment", "profile 'dev'", "instance metadata": for log lines and messages.
  virtual std::string name() const = 0;
  // Fetches credentials; throws AuthArgumentError (or CredentialsError) naming what went wrong.
  virtual TemporaryCredentials fetch() = 0;
};

class CredentialsProvider {
 public:
  explicit CredentialsProvider(std::unique_ptr<CredentialSource> source,
                               std::chrono::seconds refresh_ahead = kRefreshAhead, Logger logger = {},
                               LogLevel log_level = LogLevel::info);
  CredentialsProvider(const CredentialsProvider&) = delete;
  CredentialsProvider& operator=(const CredentialsProvider&) = delete;

  // The credentials to sign with now; thread-safe.
  std::shared_ptr<const Credentials> current();
  // A server refused `used` as expired or invalid: the next current() fetches anew (unless
  // another thread already did).
  void expired(const std::shared_ptr<const Credentials>& used);
  std::string source_name() const;

 private:
  bool usable(std::time_t now, std::chrono::seconds margin) const;  // caller holds state_mutex_

  std::unique_ptr<CredentialSource> source_;
  std::chrono::seconds refresh_ahead_;
  Logger logger_;
  LogLevel log_level_;
  std::mutex fetch_mutex_;  // one fetch at a time
  mutable std::mutex state_mutex_;
  std::shared_ptr<const Credentials> credentials_;
  std::optional<std::time_t> expiration_;
  bool stale_ = false;
};

// What the aws-s3 provider knows when it builds a source.
struct CredentialsSettings {
  std::string auth_type;     // environment, profile, web_identity, container, instance, default
  std::string origin;        // the INI file, for messages
  std::string profile;       // the INI's `profile` option; empty: AWS_PROFILE, else "default"
  std::string region;        // region_name when set; empty otherwise
  std::string sts_endpoint;  // provider parameter sts_endpoint_url; empty: AWS_ENDPOINT_URL_STS or AWS's
  bool verify_tls = true;
  std::string ca_bundle;
  Logger logger;
  LogLevel log_level = LogLevel::info;
};

struct CredentialsSetup {
  std::shared_ptr<CredentialsProvider> provider;
  std::string region;  // from the profile, when the settings had none; else empty
};

// The auth_type values this file serves (besides access_key, which needs no source).
bool is_credentials_auth_type(const std::string& auth_type);

// Builds the source auth_type names. Throws AuthTypeError for another auth_type and
// AuthArgumentError for settings it cannot use (a profile that does not exist, SSO, ...).
CredentialsSetup make_credentials(const CredentialsSettings& settings);

// Parts exposed for tests.
// The most a credential source may print or answer.
inline constexpr std::size_t kMaxJsonSize = 64 * 1024;

namespace detail {
// "2026-12-04T17:00:00Z" (fractions of a second and a +00:00 offset allowed) as UNIX time.
std::optional<std::time_t> parse_iso8601(const std::string& text);
// The URL the container source asks, from the two variables; throws AuthArgumentError.
std::string container_url(const char* relative_uri, const char* full_uri);
// Whether plain http may go to this host: loopback, or the container endpoints' link-local ones.
bool container_host_allowed(const std::string& host);
// A credential reply read as JSON: one object, at most kMaxJsonSize bytes and 32 levels of nesting.
// Throws util::JsonError, whose message never quotes the text (it holds secrets).
util::JsonValue parse_reply_json(std::string_view text);
// Credentials from a credential_process, container or IMDS reply; `what` names it for errors.
TemporaryCredentials credentials_from_json(const std::string& json, const std::string& what, const char* token_member);
}  // namespace detail

}  // namespace cshelve::s3

#endif
