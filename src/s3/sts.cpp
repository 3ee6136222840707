// STS AssumeRole and AssumeRoleWithWebIdentity: a form POST signed with our SigV4 signer (service
// sts) or, for a web identity, unsigned, as AWS documents; the reply read with pugixml.
#include <pugixml.hpp>

#include <ctime>
#include <utility>

#include "s3/credential_sources.hpp"
#include "util/text.hpp"

namespace cshelve::s3::sources {
namespace {

struct Url {
  std::string scheme;
  std::string host;  // with its port, when one is given
  std::string path;  // unencoded; "/" when none
};

Url split_url(const std::string& url, const std::string& what) {
  Url parts;
  const auto separator = url.find("://");
  if (separator == std::string::npos) {
    throw AuthArgumentError(util::concat({what, ": STS endpoint '", url, "' has no scheme"}));
  }
  parts.scheme = url.substr(0, separator);
  if (parts.scheme != "http" && parts.scheme != "https") {
    throw AuthArgumentError(util::concat({what, ": STS endpoint '", url, "' is neither http:// nor https://"}));
  }
  const std::string rest = url.substr(separator + 3);
  const auto slash = rest.find('/');
  parts.host = rest.substr(0, slash);
  parts.path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (parts.host.empty() || parts.host.find_first_of("@?# ") != std::string::npos ||
      parts.path.find_first_of("?# ") != std::string::npos) {
    throw AuthArgumentError(util::concat({what, ": STS endpoint '", url, "' must be scheme://host[:port][/path]"}));
  }
  return parts;
}

pugi::xml_node child(const pugi::xml_node& parent, const char* local_name) {
  for (pugi::xml_node node : parent.children()) {
    std::string name = node.name();
    const auto colon = name.find(':');
    if (colon != std::string::npos) name = name.substr(colon + 1);
    if (name == local_name) return node;
  }
  return {};
}

// The first element of that local name at any depth: STS answers <ErrorResponse><Error>, some
// compatible servers <ErrorResponse><Errors><Error>.
// Only a few levels down, so that a hostile reply nested deeply costs no stack.
pugi::xml_node descendant(const pugi::xml_node& parent, const char* local_name, int levels = 3) {
  if (pugi::xml_node found = child(parent, local_name)) return found;
  if (levels <= 1) return {};
  for (pugi::xml_node node : parent.children()) {
    if (pugi::xml_node found = descendant(node, local_name, levels - 1)) return found;
  }
  return {};
}

std::string form_value(const std::string& raw) { return uri_encode(raw, false); }

TemporaryCredentials call_sts(const std::string& action, const std::vector<std::pair<std::string, std::string>>& form,
                              const Credentials* signing, const StsSettings& sts, const std::string& what,
                              const std::string& secret = {}) {
  const Url url = split_url(sts.endpoint, what);
  std::string body = util::concat({"Action=", action, "&Version=2011-06-15"});
  for (const auto& [name, value] : form) body += util::concat({"&", name, "=", form_value(value)});

  RequestToSign to_sign;
  to_sign.method = "POST";
  to_sign.path = url.path;
  to_sign.headers = {{"host", url.host}, {"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
  to_sign.payload_sha256 = sha256_hex(body);
  HttpRequest request;
  request.method = "POST";
  if (signing != nullptr) {
    const Signer signer(*signing, sts.region, "sts", ContentSha256Header::omit);
    SignedRequest signed_request = signer.sign(to_sign, std::time(nullptr));
    request.url = util::concat({url.scheme, "://", url.host, signed_request.encoded_path});
    request.headers = std::move(signed_request.headers);
  } else {
    request.url = util::concat({url.scheme, "://", url.host, uri_encode(url.path, true)});
    request.headers = to_sign.headers;
  }
  RequestBody request_body;
  request_body.pieces = {body};
  request.body = &request_body;
  const HttpSettings settings{sts.verify_tls, sts.ca_bundle, 10000, 10000};
  const HttpOutcome outcome = send_once(request, settings);
  const std::string where = util::concat({what, ": STS ", action, " at ", url.host});
  if (outcome.failure) throw CredentialsError(util::concat({where, " failed: ", describe_outcome(outcome)}));

  pugi::xml_document document;
  const bool parsed = document.load_buffer(outcome.response.body.data(), outcome.response.body.size());
  const pugi::xml_node root = document.document_element();
  if (outcome.response.status != 200) {
    std::string detail = describe_outcome(outcome);
    if (parsed) {
      const pugi::xml_node error = descendant(root, "Error");
      const std::string code = child(error, "Code").text().get();
      std::string message = child(error, "Message").text().get();
      // A server that quotes the web identity token back must not put it in our message.
      if (!secret.empty()) {
        for (auto at = message.find(secret); at != std::string::npos; at = message.find(secret)) {
          message.replace(at, secret.size(), "[token]");
        }
      }
      if (message.size() > 300) message = message.substr(0, 300) + "...";
      if (!code.empty()) detail += " " + code;
      if (!message.empty()) detail += ": " + message;
    }
    throw CredentialsError(util::concat({where, " was refused: ", detail}));
  }
  if (!parsed) throw CredentialsError(where + " gave a reply that is not XML");
  const pugi::xml_node credentials = child(child(root, (action + "Result").c_str()), "Credentials");
  TemporaryCredentials result;
  result.credentials.access_key_id = child(credentials, "AccessKeyId").text().get();
  result.credentials.secret_access_key = child(credentials, "SecretAccessKey").text().get();
  result.credentials.session_token = child(credentials, "SessionToken").text().get();
  const std::string expiration = child(credentials, "Expiration").text().get();
  if (result.credentials.access_key_id.empty() || result.credentials.secret_access_key.empty() ||
      result.credentials.session_token.empty()) {
    throw CredentialsError(where + " gave a reply without AccessKeyId, SecretAccessKey and SessionToken");
  }
  result.expiration = detail::parse_iso8601(expiration);
  if (!result.expiration) throw CredentialsError(where + " gave a reply without a valid Expiration");
  return result;
}

std::string session_name(const RoleRequest& role) {
  return role.session_name.empty() ? "cshelve-" + std::to_string(static_cast<long long>(std::time(nullptr)))
                                   : role.session_name;
}

class AssumeRoleSource final : public CredentialSource {
 public:
  AssumeRoleSource(std::unique_ptr<CredentialSource> base, RoleRequest role, StsSettings sts, std::string name)
      : base_(std::move(base)), role_(std::move(role)), sts_(std::move(sts)), name_(std::move(name)) {}
  std::string name() const override { return util::concat({name_, " (role ", role_.role_arn, ")"}); }

  TemporaryCredentials fetch() override {
    const TemporaryCredentials base = base_->fetch();
    std::vector<std::pair<std::string, std::string>> form{{"RoleArn", role_.role_arn},
                                                          {"RoleSessionName", session_name(role_)}};
    if (!role_.duration_seconds.empty()) form.emplace_back("DurationSeconds", role_.duration_seconds);
    if (!role_.external_id.empty()) form.emplace_back("ExternalId", role_.external_id);
    return call_sts("AssumeRole", form, &base.credentials, sts_, name_);
  }

 private:
  std::unique_ptr<CredentialSource> base_;
  RoleRequest role_;
  StsSettings sts_;
  std::string name_;
};

class WebIdentitySource final : public CredentialSource {
 public:
  WebIdentitySource(RoleRequest role, std::string token_file, StsSettings sts, std::string name)
      : role_(std::move(role)), token_file_(std::move(token_file)), sts_(std::move(sts)), name_(std::move(name)) {}
  std::string name() const override { return util::concat({name_, " (role ", role_.role_arn, ")"}); }

  TemporaryCredentials fetch() override {
    // Read again each time: the orchestrator rotates the token in place.
    const std::string token = read_token_file(token_file_, name_);
    std::vector<std::pair<std::string, std::string>> form{
        {"RoleArn", role_.role_arn}, {"RoleSessionName", session_name(role_)}, {"WebIdentityToken", token}};
    if (!role_.duration_seconds.empty()) form.emplace_back("DurationSeconds", role_.duration_seconds);
    return call_sts("AssumeRoleWithWebIdentity", form, nullptr, sts_, name_, token);
  }

 private:
  RoleRequest role_;
  std::string token_file_;
  StsSettings sts_;
  std::string name_;
};

}  // namespace

std::unique_ptr<CredentialSource> assume_role(std::unique_ptr<CredentialSource> base, RoleRequest role, StsSettings sts,
                                              std::string name) {
  return std::make_unique<AssumeRoleSource>(std::move(base), std::move(role), std::move(sts), std::move(name));
}

std::unique_ptr<CredentialSource> web_identity(RoleRequest role, std::string token_file, StsSettings sts,
                                               std::string name) {
  return std::make_unique<WebIdentitySource>(std::move(role), std::move(token_file), std::move(sts), std::move(name));
}

}  // namespace cshelve::s3::sources
