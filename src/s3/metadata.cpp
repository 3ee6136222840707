// The two metadata endpoints: the container credentials endpoint (ECS tasks, EKS Pod Identity)
// and EC2 instance metadata, IMDSv2 only. One attempt each, with short timeouts, so that the
// default chain moves on quickly where they do not exist.
#include <algorithm>
#include <cctype>
#include <utility>

#include "s3/credential_sources.hpp"
#include "util/text.hpp"

namespace cshelve::s3 {

namespace {
constexpr long kMetadataTimeoutMs = 1000;
constexpr const char* kContainerHost = "http://169.254.170.2";
constexpr const char* kInstanceEndpoint = "http://169.254.169.254";

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

HttpSettings metadata_settings(const CredentialsSettings& settings) {
  return HttpSettings{settings.verify_tls, settings.ca_bundle, kMetadataTimeoutMs, kMetadataTimeoutMs};
}

bool has_line_break(const std::string& text) { return text.find_first_of("\r\n") != std::string::npos; }
}  // namespace

namespace detail {

bool container_host_allowed(const std::string& host_and_port) {
  std::string host = lower(host_and_port);
  if (!host.empty() && host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (host == "localhost" || host == "[::1]" || host == "169.254.170.2" || host == "169.254.170.23" ||
      host == "[fd00:ec2::23]") {
    return true;
  }
  // 127.0.0.0/8, written as a dotted quad.
  unsigned a = 0, b = 0, c = 0, d = 0;
  char tail = 0;
  return std::sscanf(host.c_str(), "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 && c < 256 &&
         d < 256 && host.find_first_not_of("0123456789.") == std::string::npos;
}

std::string container_url(const char* relative_uri, const char* full_uri) {
  if (relative_uri != nullptr && *relative_uri != '\0') {
    const std::string relative = relative_uri;
    if (relative.front() != '/' || has_line_break(relative) || relative.find(' ') != std::string::npos) {
      throw AuthArgumentError(
          "auth_type container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path starting with '/'");
    }
    return kContainerHost + relative;
  }
  if (full_uri == nullptr || *full_uri == '\0') {
    throw AuthArgumentError(
        "auth_type container needs AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or "
        "AWS_CONTAINER_CREDENTIALS_FULL_URI (both are unset or empty)");
  }
  const std::string full = full_uri;
  const auto separator = full.find("://");
  const std::string scheme = separator == std::string::npos ? "" : lower(full.substr(0, separator));
  if (has_line_break(full) || full.find(' ') != std::string::npos || (scheme != "http" && scheme != "https")) {
    throw AuthArgumentError(
        "auth_type container: AWS_CONTAINER_CREDENTIALS_FULL_URI must be an http:// or https:// URL");
  }
  const std::string rest = full.substr(separator + 3);
  const std::string host = rest.substr(0, rest.find_first_of("/?#"));
  if (host.empty() || host.find('@') != std::string::npos) {
    throw AuthArgumentError("auth_type container: AWS_CONTAINER_CREDENTIALS_FULL_URI has no usable host");
  }
  if (scheme == "http" && !container_host_allowed(host)) {
    throw AuthArgumentError(
        util::concat({"auth_type container: AWS_CONTAINER_CREDENTIALS_FULL_URI may use plain http only to a "
                      "loopback address or 169.254.170.2, 169.254.170.23, fd00:ec2::23 (not '",
                      host, "')"}));
  }
  return full;
}

}  // namespace detail

namespace sources {
namespace {

class ContainerSource final : public CredentialSource {
 public:
  explicit ContainerSource(const CredentialsSettings& settings)
      : url_(detail::container_url(std::getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
                                   std::getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"))),
        settings_(metadata_settings(settings)) {}
  std::string name() const override { return "container endpoint"; }

  TemporaryCredentials fetch() override {
    HttpRequest request;
    request.method = "GET";
    request.url = url_;
    // Read again each time: EKS Pod Identity rotates the token file.
    std::optional<std::string> token;
    if (auto file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
      token = read_token_file(*file, "auth_type container (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)");
    } else {
      token = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    }
    if (token) {
      if (has_line_break(*token)) {
        throw AuthArgumentError("auth_type container: the authorization token holds a line break");
      }
      request.headers.emplace_back("Authorization", *token);
    }
    request.headers.emplace_back("Accept", "application/json");
    const HttpOutcome outcome = send_once(request, settings_);
    if (outcome.failure || outcome.response.status != 200) {
      throw CredentialsError(util::concat({"container endpoint ", host(), " failed: ", describe_outcome(outcome)}));
    }
    return detail::credentials_from_json(outcome.response.body, "container endpoint " + host(), "Token");
  }

 private:
  std::string host() const {
    const std::string rest = url_.substr(url_.find("://") + 3);
    return rest.substr(0, rest.find('/'));
  }

  std::string url_;
  HttpSettings settings_;
};

class InstanceSource final : public CredentialSource {
 public:
  explicit InstanceSource(const CredentialsSettings& settings) : settings_(metadata_settings(settings)) {
    if (auto disabled = env("AWS_EC2_METADATA_DISABLED"); disabled && lower(*disabled) == "true") {
      throw AuthArgumentError("auth_type instance: instance metadata is disabled by AWS_EC2_METADATA_DISABLED");
    }
    endpoint_ = env("AWS_EC2_METADATA_SERVICE_ENDPOINT").value_or(kInstanceEndpoint);
    while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
    const auto separator = endpoint_.find("://");
    if (separator == std::string::npos || has_line_break(endpoint_) ||
        (lower(endpoint_.substr(0, separator)) != "http" && lower(endpoint_.substr(0, separator)) != "https")) {
      throw AuthArgumentError(
          "auth_type instance: AWS_EC2_METADATA_SERVICE_ENDPOINT must be an http:// or https:// URL");
    }
  }
  std::string name() const override { return "instance metadata"; }

  TemporaryCredentials fetch() override {
    const std::string what = "instance metadata (IMDSv2) at " + endpoint_;
    HttpRequest token_request;
    token_request.method = "PUT";
    token_request.url = endpoint_ + "/latest/api/token";
    token_request.headers = {{"x-aws-ec2-metadata-token-ttl-seconds", "21600"}};
    const HttpOutcome token_reply = send_once(token_request, settings_);
    if (token_reply.failure || token_reply.response.status != 200 || token_reply.response.body.empty() ||
        token_reply.response.body.size() > 4096 || has_line_break(token_reply.response.body)) {
      throw CredentialsError(util::concat(
          {what, ": the session token request failed (", describe_outcome(token_reply), "); IMDSv1 is not used"}));
    }
    const std::string& token = token_reply.response.body;

    const std::string base = endpoint_ + "/latest/meta-data/iam/security-credentials/";
    const HttpOutcome role_reply = get(base, token);
    if (!role_reply.failure && role_reply.response.status == 404) {
      throw CredentialsError(what + ": the instance has no IAM role (HTTP 404)");
    }
    if (role_reply.failure || role_reply.response.status != 200) {
      throw CredentialsError(
          util::concat({what, ": reading the role name failed (", describe_outcome(role_reply), ")"}));
    }
    std::string role = role_reply.response.body.substr(0, role_reply.response.body.find_first_of("\r\n"));
    if (role.empty() || role.size() > 128 ||
        role.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+=,.@_-") !=
            std::string::npos) {
      throw CredentialsError(what + ": the role name it gave is not a valid IAM role name");
    }
    const HttpOutcome reply = get(base + role, token);
    if (reply.failure || reply.response.status != 200) {
      throw CredentialsError(util::concat(
          {what, ": reading the credentials of role '", role, "' failed (", describe_outcome(reply), ")"}));
    }
    const util::JsonValue object = [&] {
      try {
        return detail::parse_reply_json(reply.response.body);
      } catch (const util::JsonError& error) {
        throw CredentialsError(util::concat({what, " gave ", error.what()}));
      }
    }();
    const util::JsonValue* code = object.find("Code");
    if (code != nullptr && code->scalar_text() != "Success") {
      throw CredentialsError(util::concat({what, ": the credentials of role '", role, "' are not available (Code '",
                                           code->scalar_text().substr(0, 64), "')"}));
    }
    return detail::credentials_from_json(reply.response.body, what, "Token");
  }

 private:
  HttpOutcome get(const std::string& url, const std::string& token) const {
    HttpRequest request;
    request.method = "GET";
    request.url = url;
    request.headers = {{"x-aws-ec2-metadata-token", token}};
    return send_once(request, settings_);
  }

  std::string endpoint_;
  HttpSettings settings_;
};

}  // namespace

std::unique_ptr<CredentialSource> container(const CredentialsSettings& settings) {
  return std::make_unique<ContainerSource>(settings);
}

std::unique_ptr<CredentialSource> instance(const CredentialsSettings& settings) {
  return std::make_unique<InstanceSource>(settings);
}

}  // namespace sources
}  // namespace cshelve::s3
