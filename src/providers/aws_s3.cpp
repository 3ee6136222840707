// The aws-s3 provider: a shelf in one S3 bucket, one object per key, over the six operations of
// the S3 client. Object keys are the shelf keys' UTF-8 bytes, as Python cshelve stores them.
#include "config/ini.hpp"
#include "providers/file.hpp"
#include "providers/provider.hpp"
#include "s3/client.hpp"
#include "s3/credentials.hpp"

#include <cshelve/errors.hpp>

#include <cmath>
#include <exception>

namespace cshelve::providers {
namespace {

const char* const kKnownParams[] = {"endpoint_url",     "region_name",  "addressing_style",
                                    "aws_session_token", "verify",       "connect_timeout",
                                    "read_timeout",      "max_attempts", "max_pool_connections",
                                    "sts_endpoint_url"};

std::string required(const config::Section& defaults, const std::string& origin, const std::string& option) {
  const auto it = defaults.find(option);
  if (it == defaults.end() || it->second.empty()) {
    throw ConfigurationError(origin + ": provider aws-s3 needs '" + option + "' in [default]");
  }
  return it->second;
}

long parse_seconds_as_ms(const std::string& value, const std::string& name) {
  try {
    std::size_t used = 0;
    const double seconds = std::stod(value, &used);
    if (used == value.size() && std::isfinite(seconds) && seconds > 0 && seconds < 1e7) {
      return static_cast<long>(std::ceil(seconds * 1000));
    }
  } catch (const std::exception&) {
  }
  throw ConfigurationError("provider parameter " + name + " must be a positive number of seconds, not '" + value + "'");
}

int parse_positive(const std::string& value, const std::string& name) {
  try {
    std::size_t used = 0;
    const long number = std::stol(value, &used);
    if (used == value.size() && number > 0 && number <= 1000) return static_cast<int>(number);
  } catch (const std::exception&) {
  }
  throw ConfigurationError("provider parameter " + name + " must be a whole number from 1 to 1000, not '" + value + "'");
}

s3::ClientConfig client_config(const config::Section& defaults, const std::string& origin,
                               const ProviderParams& params, const Logger& log, LogLevel log_level) {
  s3::ClientConfig config;
  const auto auth = defaults.find("auth_type");
  const bool from_source = auth != defaults.end() && s3::is_credentials_auth_type(auth->second);
  if (!from_source && (auth == defaults.end() || auth->second != "access_key")) {
    throw AuthTypeError(origin + ": provider aws-s3 needs auth_type = access_key, environment, profile, "
                        "web_identity, container, instance or default" +
                        (auth == defaults.end() ? std::string(" (auth_type is missing)")
                                                : " (not '" + auth->second + "')"));
  }
  for (const char* option : {"key_id", "key_secret"}) {
    const auto it = defaults.find(option);
    if (!from_source && (it == defaults.end() || it->second.empty())) {
      throw AuthArgumentError(origin + ": auth_type access_key needs '" + option + "' in [default]" +
                              (it == defaults.end() ? "" : " (it is empty)"));
    }
  }
  if (!from_source) {
    config.credentials.access_key_id = defaults.at("key_id");
    config.credentials.secret_access_key = defaults.at("key_secret");
  }

  for (const auto& [name, value] : params) {
    bool known = false;
    for (const char* candidate : kKnownParams) known = known || name == candidate;
    if (!known) {
      throw ConfigurationError("unknown provider parameter '" + name +
                               "' for aws-s3 (known: endpoint_url, region_name, addressing_style, "
                               "aws_session_token, verify, connect_timeout, read_timeout, max_attempts, "
                               "max_pool_connections, sts_endpoint_url)");
    }
  }
  auto param = [&](const char* name) -> const std::string* {
    const auto it = params.find(name);
    return it == params.end() ? nullptr : &it->second;
  };
  if (auto value = param("endpoint_url")) config.endpoint_url = *value;
  if (auto value = param("region_name"); value && !value->empty()) config.region = *value;
  if (auto value = param("addressing_style")) {
    if (*value == "auto") config.addressing = s3::Addressing::automatic;
    else if (*value == "path") config.addressing = s3::Addressing::path;
    else if (*value == "virtual") config.addressing = s3::Addressing::virtual_hosted;
    else throw ConfigurationError("provider parameter addressing_style must be auto, path or virtual, not '" + *value + "'");
  }
  if (auto value = param("aws_session_token")) config.credentials.session_token = *value;
  if (auto value = param("verify")) {
    // boto3's `verify`: true, false, or the path of a CA bundle.
    const std::string& text = *value;
    if (text == "true" || text == "True" || text == "1") config.verify_tls = true;
    else if (text == "false" || text == "False" || text == "0") config.verify_tls = false;
    else config.ca_bundle = text;
  }
  if (auto value = param("connect_timeout")) config.connect_timeout_ms = parse_seconds_as_ms(*value, "connect_timeout");
  if (auto value = param("read_timeout")) config.read_timeout_ms = parse_seconds_as_ms(*value, "read_timeout");
  if (auto value = param("max_attempts")) config.max_attempts = parse_positive(*value, "max_attempts");
  if (auto value = param("max_pool_connections")) {
    config.max_pool_connections = parse_positive(*value, "max_pool_connections");
  }
  config.logger = log;
  config.log_level = log_level;
  if (from_source) {
    // Credentials from the source auth_type names (environment, profile, role, metadata).
    s3::CredentialsSettings settings;
    settings.auth_type = auth->second;
    settings.origin = origin;
    if (const auto profile = defaults.find("profile"); profile != defaults.end()) settings.profile = profile->second;
    if (auto value = param("region_name"); value && !value->empty()) settings.region = *value;
    if (auto value = param("sts_endpoint_url")) settings.sts_endpoint = *value;
    settings.verify_tls = config.verify_tls;
    settings.ca_bundle = config.ca_bundle;
    settings.logger = log;
    settings.log_level = log_level;
    s3::CredentialsSetup setup = s3::make_credentials(settings);
    if (!setup.region.empty()) config.region = setup.region;
    config.credentials_provider = std::move(setup.provider);
  }
  return config;
}

class AwsS3Provider final : public Provider {
 public:
  AwsS3Provider(std::string bucket, s3::ClientConfig config, TransferProgress progress)
      : bucket_(std::move(bucket)), progress_(std::move(progress)), client_(std::move(config)) {}

  bool exists() override {
    try {
      s3::ListRequest request;
      request.max_keys = 1;
      client_.list_objects_v2(bucket_, request);
      return true;
    } catch (const NoSuchBucketError&) {
      return false;
    }
  }

  void create() override {
    try {
      client_.create_bucket(bucket_);
    } catch (const StorageError& error) {
      throw CanNotCreateDBError("cannot create bucket '" + bucket_ + "': " + error.what());
    }
  }

  std::optional<std::string> get(std::string_view key) override {
    try {
      return client_.get_object(bucket_, key, progress_);
    } catch (const NoSuchKeyError&) {
      return std::nullopt;
    }
  }

  void put(std::string_view key, const Pieces& body) override { client_.put_object(bucket_, key, body, progress_); }

  void put_file(std::string_view key, const FileBody& body) override {
    // The client asks for no more than the body holds, so a short read means the file shrank.
    const s3::ReadAt read = [&body](std::uint64_t offset, char* buffer, std::size_t room) {
      read_exactly_at(body.fd, body.path, offset, buffer, room);
      return room;
    };
    client_.put_object_from(bucket_, key, body.head, body.size, read, progress_);
  }

  bool get_to(std::string_view key, RecordSink& sink) override {
    s3::BodySink body;
    body.restart = [&sink] { sink.restart(); };
    body.write = [&sink](const char* data, std::size_t size) { sink.write(std::string_view(data, size)); };
    try {
      client_.get_object_to(bucket_, key, body, progress_);
      return true;
    } catch (const NoSuchKeyError&) {
      return false;
    }
  }

  Erased erase(std::string_view key) override {
    client_.delete_object(bucket_, key);
    return Erased::unknown;  // S3 answers the same whether the key was there or not
  }

  bool reports_absence() const override { return false; }

  bool contains(std::string_view key) override {
    // The key itself sorts first among the keys it prefixes, so one listed key tells.
    s3::ListRequest request;
    request.prefix = std::string(key);
    request.max_keys = 1;
    const s3::ListResult result = client_.list_objects_v2(bucket_, request);
    return !result.keys.empty() && result.keys.front() == key;
  }

  KeyPage list(const std::string& token) override {
    s3::ListRequest request;
    request.continuation_token = token;
    s3::ListResult result = client_.list_objects_v2(bucket_, request);
    KeyPage page;
    page.keys = std::move(result.keys);
    if (result.is_truncated) {
      if (result.next_continuation_token.empty()) {
        throw MalformedResponseError("listing bucket '" + bucket_ + "': truncated page without a continuation token");
      }
      page.next = std::move(result.next_continuation_token);
    }
    return page;
  }

  void erase_many(const std::vector<std::string>& keys) override {
    const s3::DeleteResult result = client_.delete_objects(bucket_, keys);
    if (!result.failures.empty()) {
      const auto& first = result.failures.front();
      throw StorageError("deleting from bucket '" + bucket_ + "': " + std::to_string(result.failures.size()) +
                         " keys could not be deleted, the first '" + first.key + "': " + first.code + " " +
                         first.message);
    }
  }

  // Each page is deleted before the next one is asked for. S3 goes on after the last key a page
  // returned, whatever became of the keys before it, so nothing is skipped; and a server that
  // walks its storage to answer a listing (s3rver does) has fewer keys to step over each time.
  void clear() override {
    std::string token;
    do {
      KeyPage page = list(token);
      if (!page.keys.empty()) erase_many(page.keys);
      token = std::move(page.next);
    } while (!token.empty());
  }

  // The batches run side by side over the client's multi interface (up to max_pool_connections
  // requests at once); the first request to fail for good stops the batch and is thrown.
  std::vector<std::optional<std::string>> get_many(const std::vector<std::string>& keys) override {
    s3::GetObjectsResult result = client_.get_objects(bucket_, keys);
    s3::rethrow_first_error(result.errors);
    return std::move(result.values);
  }

  void put_many(const std::vector<std::pair<std::string, Pieces>>& items) override {
    std::vector<s3::PutItem> puts;
    puts.reserve(items.size());
    for (const auto& [key, body] : items) puts.push_back(s3::PutItem{key, body});
    s3::rethrow_first_error(client_.put_objects(bucket_, puts));
  }

 private:
  std::string bucket_;
  TransferProgress progress_;
  s3::Client client_;
};

}  // namespace

std::unique_ptr<Provider> make_aws_s3_provider(const ProviderContext& context) {
  const config::Section& defaults = *context.ini->find("default");
  const std::string& origin = context.ini->origin;
  std::string bucket = required(defaults, origin, "bucket_name");
  s3::ClientConfig config = client_config(defaults, origin, context.params, context.log, context.log_level);
  return std::make_unique<AwsS3Provider>(std::move(bucket), std::move(config), context.progress);
}

}  // namespace cshelve::providers
