// Where requests go: the endpoint (scheme, host, port) and, per bucket, the host and path that
// name it (path-style or virtual-hosted addressing).
#ifndef CSHELVE_S3_ENDPOINT_HPP
#define CSHELVE_S3_ENDPOINT_HPP

#include <string>
#include <string_view>

namespace cshelve::s3 {

struct Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower case; an IPv6 address keeps its brackets
  std::string port;    // empty when the scheme's default
};

// "http://127.0.0.1:4568" or "https://minio.example:9000" (a trailing '/' allowed). Throws
// ConfigurationError, quoting the URL, for anything else: another scheme, a path, a query, user
// information, a character no host name holds, a port that is not a number.
Endpoint parse_endpoint(const std::string& url);

// AWS's own endpoint for a region (https://s3.<region>.amazonaws.com, .com.cn in China).
Endpoint aws_endpoint(const std::string& region);

enum class Addressing {
  automatic,       // virtual-hosted on AWS's own endpoints when the bucket name allows it; else path
  path,            // https://host/bucket/key
  virtual_hosted,  // https://bucket.host/key
};

// A bucket name that can be the first label of a host name under a TLS wildcard certificate.
bool fits_in_host_name(std::string_view bucket);

// Where one bucket's requests go: the Host header (with the port when not the default) and the
// path before the key, unencoded.
struct BucketAddress {
  std::string host;
  std::string path;  // "/bucket" (path-style) or "/" (virtual-hosted)
  bool in_host = false;
};

// `on_aws`: the endpoint is AWS's own, where automatic addressing puts the bucket in the host
// name. Throws ConfigurationError for virtual-hosted addressing of a bucket no host name can hold.
BucketAddress address_bucket(const Endpoint& endpoint, Addressing addressing, bool on_aws, std::string_view bucket);

}  // namespace cshelve::s3

#endif
