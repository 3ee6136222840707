#include "s3/endpoint.hpp"

#include <cshelve/errors.hpp>

#include <cctype>

#include "util/ascii.hpp"
#include "util/text.hpp"

namespace cshelve::s3 {

Endpoint parse_endpoint(const std::string& url) {
  const auto fail = [&](const std::string& why) -> Endpoint {
    throw ConfigurationError(util::concat({"S3 endpoint_url '", url, "' ", why}));
  };
  Endpoint endpoint;
  const auto separator = url.find("://");
  if (separator == std::string::npos) return fail("has no scheme (http:// or https://)");
  endpoint.scheme = util::to_lower_ascii(std::string_view(url).substr(0, separator));
  if (endpoint.scheme != "http" && endpoint.scheme != "https") {
    return fail("has a scheme other than http:// or https://");
  }
  const std::string rest = url.substr(separator + 3);
  const auto authority_end = rest.find_first_of("/?#");
  const std::string authority = rest.substr(0, authority_end);
  if (authority_end != std::string::npos && rest.substr(authority_end) != "/") {
    return fail("has a path, query or fragment; only scheme, host and port are used");
  }
  if (authority.find('@') != std::string::npos) return fail("has user information");

  std::string host;
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) return fail("has an unclosed IPv6 address");
    host = authority.substr(0, close + 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("has text after its IPv6 address");
      port = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (host.empty()) return fail("has no host");
  for (char c : host) {
    const auto byte = static_cast<unsigned char>(c);
    if (!std::isalnum(byte) && std::string_view("-._[]:").find(c) == std::string_view::npos) {
      return fail("has a character a host name cannot hold");
    }
  }
  if (port.size() > 5 || (!port.empty() && port.find_first_not_of("0123456789") != std::string::npos)) {
    return fail("has an invalid port");
  }
  endpoint.host = util::to_lower_ascii(host);
  const bool default_port =
      (endpoint.scheme == "http" && port == "80") || (endpoint.scheme == "https" && port == "443");
  // Servers compare the signed Host header with the one received, and HTTP clients leave the
  // default port out of it: so must the signature.
  if (!default_port) endpoint.port = port;
  return endpoint;
}

Endpoint aws_endpoint(const std::string& region) {
  const bool china = region.rfind("cn-", 0) == 0;
  return Endpoint{"https", "s3." + region + (china ? ".amazonaws.com.cn" : ".amazonaws.com"), ""};
}

// S3's DNS-compatible names, without dots (a dotted name would not match *.s3.region...).
bool fits_in_host_name(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return bucket.front() != '-' && bucket.back() != '-';
}

BucketAddress address_bucket(const Endpoint& endpoint, Addressing addressing, bool on_aws, std::string_view bucket) {
  bool in_host = false;
  switch (addressing) {
    case Addressing::path: in_host = false; break;
    case Addressing::virtual_hosted: in_host = true; break;
    case Addressing::automatic: in_host = on_aws && fits_in_host_name(bucket); break;
  }
  if (in_host && !fits_in_host_name(bucket)) {
    throw ConfigurationError(
        util::concat({"bucket name '", bucket, "' cannot be part of a host name (virtual-hosted addressing)"}));
  }
  BucketAddress address;
  address.in_host = in_host;
  const bool has_port = !endpoint.port.empty();
  address.host =
      util::concat({in_host ? bucket : "", in_host ? "." : "", endpoint.host, has_port ? ":" : "", endpoint.port});
  address.path = util::concat({"/", in_host ? "" : bucket});
  return address;
}

}  // namespace cshelve::s3
