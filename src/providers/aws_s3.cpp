// The aws-s3 provider: a shelf in one S3 bucket, one object per key, over the six operations of
// the S3 client. Object keys are the shelf keys' UTF-8 bytes, as Python cshelve stores them.
#include "io/file.hpp"
#include "providers/provider.hpp"
#include "s3/client.hpp"
#include "s3/credentials.hpp"
#include "util/text.hpp"

#include <cshelve/errors.hpp>

namespace cshelve::providers {
namespace {

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
      throw CanNotCreateDBError(util::concat({"cannot create bucket '", bucket_, "': ", error.what()}));
    }
  }

  std::optional<std::string> get(std::string_view key) override {
    try {
      return client_.get_object(bucket_, key, progress_);
    } catch (const NoSuchKeyError&) {
      return std::nullopt;
    }
  }

  std::optional<VersionedRecord> get_versioned(std::string_view key) override {
    try {
      s3::VersionedObject object = client_.get_object_versioned(bucket_, key, progress_);
      return VersionedRecord{std::move(object.body), std::move(object.etag)};
    } catch (const NoSuchKeyError&) {
      return std::nullopt;
    }
  }

  bool put_if_absent(std::string_view key, const Pieces& body) override {
    return client_.put_object_if(bucket_, key, body, s3::PutCondition{s3::PutCondition::Kind::if_absent, {}},
                                 progress_);
  }

  bool put_if_version(std::string_view key, const Pieces& body, const std::string& version) override {
    return client_.put_object_if(bucket_, key, body, s3::PutCondition{s3::PutCondition::Kind::if_match, version},
                                 progress_);
  }

  void put(std::string_view key, const Pieces& body) override { client_.put_object(bucket_, key, body, progress_); }

  void put_file(std::string_view key, const FileBody& body) override {
    // The client asks for no more than the body holds, so a short read means the file shrank.
    const util::ReadAt read = [&body](std::uint64_t offset, char* buffer, std::size_t room) {
      io::read_exactly_at(body.fd, body.path, offset, buffer, room);
      return room;
    };
    client_.put_object_from(bucket_, key, body.head, body.size, read, progress_);
  }

  bool get_to(std::string_view key, util::ByteSink& sink) override {
    try {
      client_.get_object_to(bucket_, key, sink, progress_);
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

  std::string where() const override { return "bucket '" + bucket_ + "'"; }

  bool contains(std::string_view key) override { return client_.object_exists(bucket_, key); }

  KeyPage list(const std::string& token) override {
    s3::ListRequest request;
    request.continuation_token = token;
    s3::ListResult result = client_.list_objects_v2(bucket_, request);
    KeyPage page;
    page.keys = std::move(result.keys);
    if (result.is_truncated) {
      if (result.next_continuation_token.empty()) {
        throw MalformedResponseError(
            util::concat({"listing bucket '", bucket_, "': truncated page without a continuation token"}));
      }
      page.next = std::move(result.next_continuation_token);
    }
    return page;
  }

  void erase_many(const std::vector<std::string>& keys) override {
    const s3::DeleteResult result = client_.delete_objects(bucket_, keys);
    if (!result.failures.empty()) {
      const auto& first = result.failures.front();
      throw StorageError(
          util::concat({"deleting from bucket '", bucket_, "': ", std::to_string(result.failures.size()),
                        " keys could not be deleted, the first '", first.key, "': ", first.code, " ", first.message}));
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

std::unique_ptr<Provider> make_aws_s3_provider(config::S3Settings settings, const ProviderRuntime& runtime) {
  s3::ClientConfig& config = settings.client;
  config.logger = runtime.log;
  config.log_level = runtime.log_level;
  if (settings.credentials_source) {
    // Credentials from the source auth_type names (environment, profile, role, metadata).
    s3::CredentialsSettings& source = *settings.credentials_source;
    source.logger = runtime.log;
    source.log_level = runtime.log_level;
    s3::CredentialsSetup setup = s3::make_credentials(source);
    if (!setup.region.empty()) config.region = setup.region;
    config.credentials_provider = std::move(setup.provider);
  }
  return std::make_unique<AwsS3Provider>(std::move(settings.bucket), std::move(config), runtime.progress);
}

}  // namespace cshelve::providers
