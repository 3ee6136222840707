// The client's facade: each operation as a Call, run by the request path (execute() here, one
// call at a time; execute_many() in batch.cpp, side by side).
#include "s3/client.hpp"

#include <cshelve/errors.hpp>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>

#include "s3/client_impl.hpp"
#include "s3/credentials.hpp"
#include "s3/failure.hpp"
#include "s3/xml.hpp"
#include "util/digest.hpp"
#include "util/text.hpp"

namespace cshelve::s3 {
namespace {

constexpr std::size_t kMaxKeysPerDelete = 1000;  // S3's limit for one DeleteObjects request

// Why a listing page would keep a caller asking for the next page forever, if it would: a
// truncated page must hold keys and hand on a token other than the one it was asked with.
std::optional<std::string> listing_stalls(const ListRequest& request, const ListResult& page) {
  if (!page.is_truncated) return std::nullopt;
  if (page.keys.empty()) return std::string("truncated listing page without any key");
  if (page.next_continuation_token == request.continuation_token) {
    return std::string("truncated listing page whose NextContinuationToken is the token it was asked with");
  }
  return std::nullopt;
}

// The body of an existence check: the one byte the range asks for, or more from a server that
// ignores the range and sends the whole object (s3rver does, for "bytes=0-0"). A small object is
// read to its end, which keeps the connection for the next request: on TLS a new one costs far
// more than 16 KiB. Past that the sink throws, which ends the transfer at once. Only a success
// reply reaches a sink, so the throw carries the answer, and it leaves the request path as it is,
// never judged a failure nor retried.
class ExistenceCheckSink final : public util::ByteSink {
 public:
  struct WholeObjectComing {};

  void restart() override { received_ = 0; }
  void write(std::string_view bytes) override {
    received_ += bytes.size();
    if (received_ > kMostRead) throw WholeObjectComing{};
  }

 private:
  static constexpr std::uint64_t kMostRead = 16u << 10;
  std::uint64_t received_ = 0;
};

}  // namespace

Client::Impl::Impl(ClientConfig configuration)
    : config(std::move(configuration)),
      endpoint(config.endpoint ? *config.endpoint : aws_endpoint(config.region)),
      on_aws(!config.endpoint),
      log{config.logger, config.log_level},
      signer(config.credentials, config.region),
      http_settings{config.verify_tls,      config.ca_bundle,          config.connect_timeout_ms,
                    config.read_timeout_ms, config.attempt_timeout_ms, config.min_transfer_speed},
      pool(http_settings, config.max_pool_connections),
      retry(config.max_attempts, log) {
  // The secret now lives in the signer only.
  config.credentials = Credentials{};
}

const Signer& Client::Impl::signer_for(std::shared_ptr<const Signer>& hold,
                                       std::shared_ptr<const Credentials>& used) const {
  if (!config.credentials_provider) return signer;
  std::shared_ptr<const Credentials> credentials = config.credentials_provider->current();
  std::lock_guard<std::mutex> lock(provider_signer_mutex);
  if (credentials != provider_signer_credentials) {
    provider_signer = std::make_shared<const Signer>(*credentials, config.region);
    provider_signer_credentials = credentials;
  }
  used = std::move(credentials);
  hold = provider_signer;
  return *hold;
}

bool Client::Impl::refresh_for(const Call& call, const Failure& failure, Attempts& attempts,
                               const std::shared_ptr<const Credentials>& used) {
  const std::string& code = failure.reply.code;
  const bool expired = failure.kind == FailureKind::server &&
                       (code == "ExpiredToken" || code == "InvalidToken" || code == "TokenRefreshRequired");
  if (!config.credentials_provider || !expired || !attempts.take_credentials_retry()) return false;
  log(LogLevel::info, util::concat({describe(call), ": ", failure.summary, "; retrying with fresh credentials"}));
  config.credentials_provider->expired(used);
  return true;
}

Target Client::Impl::target_of(const Call& call) const {
  return s3::target_of(call, address_bucket(endpoint, config.addressing, on_aws, call.bucket));
}

HttpResponse Client::Impl::execute(const Call& call) {
  const Target target = target_of(call);
  Attempts attempts;
  bool md5_alongside = false;  // see Failure::md5_would_tell
  for (;;) {
    attempts.start();
    std::string where;
    std::shared_ptr<const Signer> hold;
    std::shared_ptr<const Credentials> used;
    const HttpRequest request =
        signed_request(signer_for(hold, used), endpoint.scheme, call, target, where, md5_alongside);
    if (call.sink != nullptr) call.sink->restart();  // an attempt delivers the body from its first byte
    HttpOutcome outcome;
    {
      HttpConnectionPool::Lease connection = pool.acquire();
      outcome = connection->perform(request);
    }
    std::variant<HttpResponse, Failure> result = judge(call, where, std::move(outcome), log);
    if (auto* response = std::get_if<HttpResponse>(&result)) return std::move(*response);
    const Failure& failure = std::get<Failure>(result);
    if (refresh_for(call, failure, attempts, used)) continue;
    if (failure.md5_would_tell && !md5_alongside) {
      // A body already given to its sink cannot be hashed again: the next attempt hashes its MD5
      // alongside the checksum, so that a wrong checksum of a good body costs a second download
      // rather than the object. Not one of max_attempts, as a damaged body is retried anyway.
      md5_alongside = true;
      attempts.take_second_opinion();
      log(LogLevel::info,
          util::concat({describe(call), ": ", failure.summary, "; fetching it again to check its MD5"}));
      continue;
    }
    const auto delay = retry.after_failure(call, attempts, failure);
    if (!delay) attempts.give_up(call, failure);
    std::this_thread::sleep_for(*delay);
  }
}

Client::Client(ClientConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Client::~Client() = default;

Client::Impl& Client::impl() {
  if (!impl_) throw Error("S3 client used after it was moved from");
  return *impl_;
}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

void Client::put_object(std::string_view bucket, std::string_view key, const std::vector<std::string_view>& body_pieces,
                        const TransferProgress& progress) {
  Call call{"PutObject", "PUT", bucket, key};
  call.body.pieces = body_pieces;
  call.progress = &progress;
  call.send_checksum = impl().config.object_checksums;
  impl().execute(call);
}

bool Client::put_object_if(std::string_view bucket, std::string_view key,
                           const std::vector<std::string_view>& body_pieces, const PutCondition& condition,
                           const TransferProgress& progress) {
  Call call{"PutObject", "PUT", bucket, key};
  call.body.pieces = body_pieces;
  call.progress = &progress;
  call.send_checksum = impl().config.object_checksums;
  if (condition.kind == PutCondition::Kind::if_absent) {
    call.headers.emplace_back("if-none-match", "*");
  } else {
    if (condition.etag.empty()) throw Error(describe(call) + ": a conditional write needs the version it expects");
    call.headers.emplace_back("if-match", condition.etag);
  }
  try {
    impl().execute(call);
    return true;
  } catch (const NoSuchKeyError&) {
    // If-Match on a key that is gone: the version expected is not there.
    if (condition.kind == PutCondition::Kind::if_match) return false;
    throw;
  } catch (const S3Error& error) {
    if (error.http_status() == 412 || error.code() == "PreconditionFailed") return false;
    throw;
  }
}

void Client::put_object_from(std::string_view bucket, std::string_view key, std::string_view head, std::uint64_t size,
                             const util::ReadAt& source, const TransferProgress& progress) {
  Call call{"PutObject", "PUT", bucket, key};
  if (!head.empty()) call.body.pieces.push_back(head);
  call.body.source_size = size;
  call.body.source = source;
  call.progress = &progress;
  call.send_checksum = impl().config.object_checksums;
  impl().execute(call);
}

void Client::get_object_to(std::string_view bucket, std::string_view key, util::ByteSink& sink,
                           const TransferProgress& progress) {
  Call call{"GetObject", "GET", bucket, key};
  call.sink = &sink;
  call.progress = &progress;
  call.verify_object_body = true;
  call.ask_checksum = impl().config.object_checksums;
  impl().execute(call);
}

std::string Client::get_object(std::string_view bucket, std::string_view key, const TransferProgress& progress) {
  Call call{"GetObject", "GET", bucket, key};
  call.progress = &progress;
  call.verify_object_body = true;
  call.ask_checksum = impl().config.object_checksums;
  call.large_body = true;
  return std::move(impl().execute(call).body);
}

VersionedObject Client::get_object_versioned(std::string_view bucket, std::string_view key,
                                             const TransferProgress& progress) {
  Call call{"GetObject", "GET", bucket, key};
  call.progress = &progress;
  call.verify_object_body = true;
  call.ask_checksum = impl().config.object_checksums;
  call.large_body = true;
  call.check_reply = [](const HttpResponse& response) -> std::optional<std::string> {
    const std::string* etag = response.header("etag");
    if (etag == nullptr || etag->empty()) return std::string("object without an ETag, which a versioned read needs");
    return std::nullopt;
  };
  HttpResponse response = impl().execute(call);
  VersionedObject object;
  object.etag = *response.header("etag");
  object.body = std::move(response.body);
  return object;
}

bool Client::object_exists(std::string_view bucket, std::string_view key) {
  Call call{"GetObject", "GET", bucket, key};
  call.headers.emplace_back("range", "bytes=0-0");
  ExistenceCheckSink sink;
  call.sink = &sink;
  // One byte of the object is neither its length nor what its ETag or checksum describe.
  call.verify_object_body = false;
  try {
    impl().execute(call);
    return true;
  } catch (const ExistenceCheckSink::WholeObjectComing&) {
    return true;
  } catch (const NoSuchKeyError&) {
    return false;
  } catch (const S3Error& error) {
    // An empty object has no first byte to send.
    if (error.http_status() == 416 || error.code() == "InvalidRange") return true;
    throw;
  }
}

void Client::delete_object(std::string_view bucket, std::string_view key) {
  impl().execute(Call{"DeleteObject", "DELETE", bucket, key});
}

ListResult Client::list_objects_v2(std::string_view bucket, const ListRequest& request) {
  Call call{"ListObjectsV2", "GET", bucket, std::nullopt};
  call.expects_xml = true;
  call.query.emplace_back("list-type", "2");
  // Raw keys could hold characters XML 1.0 cannot carry; encoded, every key comes back intact.
  call.query.emplace_back("encoding-type", "url");
  if (!request.prefix.empty()) call.query.emplace_back("prefix", request.prefix);
  if (request.max_keys > 0) call.query.emplace_back("max-keys", std::to_string(request.max_keys));
  if (!request.continuation_token.empty()) {
    call.query.emplace_back("continuation-token", request.continuation_token);
  }
  if (!request.start_after.empty()) call.query.emplace_back("start-after", request.start_after);
  // Parsed as the reply is judged, so that a page that would keep a caller paging forever is
  // retried like any damaged reply and ends in MalformedResponseError. A reply that cannot be
  // read at all is reported at once, below, as before.
  std::optional<ListResult> page;
  call.check_reply = [&](const HttpResponse& response) -> std::optional<std::string> {
    page.reset();
    try {
      page = parse_list_objects_v2(response.body);
    } catch (const MalformedResponseError&) {
      return std::nullopt;
    }
    return listing_stalls(request, *page);
  };
  HttpResponse response = impl().execute(call);
  if (page) return std::move(*page);
  try {
    return parse_list_objects_v2(response.body);
  } catch (const MalformedResponseError& error) {
    throw MalformedResponseError(util::concat({describe(call), ": ", error.what()}));
  }
}

void Client::create_bucket(std::string_view bucket) {
  const std::string configuration = create_bucket_configuration(impl().config.region);
  Call call{"CreateBucket", "PUT", bucket, std::nullopt};
  if (!configuration.empty()) call.body.pieces.push_back(configuration);
  try {
    impl().execute(call);
  } catch (const S3Error& error) {
    if (error.code() != "BucketAlreadyOwnedByYou") throw;
  }
}

DeleteResult Client::delete_objects(std::string_view bucket, const std::vector<std::string>& keys) {
  Impl& impl = this->impl();
  std::vector<std::string> bodies;
  std::vector<std::string> checksums;
  for (std::size_t first = 0; first < keys.size(); first += kMaxKeysPerDelete) {
    const std::size_t count = std::min(kMaxKeysPerDelete, keys.size() - first);
    bodies.push_back(delete_request(keys, first, count, /*quiet=*/true));
    checksums.push_back(util::base64(util::md5(bodies.back())));
  }
  std::vector<Call> calls;
  calls.reserve(bodies.size());
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    Call& call = calls.emplace_back("DeleteObjects", "POST", bucket, std::nullopt);
    call.query.emplace_back("delete", "");
    // S3 refuses a DeleteObjects request without a checksum of its body.
    call.headers.emplace_back("content-md5", checksums[i]);
    call.body.pieces.push_back(bodies[i]);
    call.expects_xml = true;
  }
  // Kept per request, so that failures come out in the order of the keys.
  std::vector<std::vector<DeleteFailure>> failures(calls.size());
  BatchErrors errors;
  impl.execute_many(
      calls,
      [&](std::size_t i, HttpResponse&& response) {
        try {
          failures[i] = parse_delete_result(response.body);
        } catch (const MalformedResponseError& error) {
          throw MalformedResponseError(util::concat({describe(calls[i]), ": ", error.what()}));
        }
      },
      errors, /*stop_at_failure=*/true);
  rethrow_first_error(errors);
  DeleteResult result;
  for (auto& some : failures) {
    for (DeleteFailure& failure : some) result.failures.push_back(std::move(failure));
  }
  return result;
}

BatchErrors Client::put_objects(std::string_view bucket, const std::vector<PutItem>& items) {
  std::vector<Call> calls;
  calls.reserve(items.size());
  for (const PutItem& item : items) {
    Call& call = calls.emplace_back("PutObject", "PUT", bucket, item.key);
    call.body.pieces = item.body_pieces;
    call.send_checksum = impl().config.object_checksums;
  }
  BatchErrors errors;
  impl().execute_many(
      calls, [](std::size_t, HttpResponse&&) {}, errors, /*stop_at_failure=*/true);
  return errors;
}

GetObjectsResult Client::get_objects(std::string_view bucket, const std::vector<std::string>& keys) {
  std::vector<Call> calls;
  calls.reserve(keys.size());
  for (const std::string& key : keys) {
    Call& call = calls.emplace_back("GetObject", "GET", bucket, key);
    call.verify_object_body = true;
    call.ask_checksum = impl().config.object_checksums;
    call.large_body = true;
  }
  GetObjectsResult result;
  result.values.resize(keys.size());
  impl().execute_many(
      calls, [&](std::size_t i, HttpResponse&& response) { result.values[i] = std::move(response.body); },
      result.errors, /*stop_at_failure=*/true);
  for (std::exception_ptr& error : result.errors) {
    if (!error) continue;
    try {
      std::rethrow_exception(error);
    } catch (const NoSuchKeyError&) {
      error = nullptr;  // absent: values[i] stays nullopt
    } catch (...) {
    }
  }
  return result;
}

}  // namespace cshelve::s3
