// A small S3 client: the six operations a shelf needs, signed with SigV4, over libcurl. Exactly
// these six (PutObject, GetObject, DeleteObject, ListObjectsV2, CreateBucket, DeleteObjects):
// no HEAD and no multipart, so the permissions a shelf needs stay few and the code small.
//
// It knows nothing of shelves. Every S3 error reply becomes one of the typed exceptions of
// <cshelve/errors.hpp> (NoSuchKeyError, NoSuchBucketError, AccessDeniedError, AuthenticationError,
// S3Error); a server that cannot be reached or stops answering gives NetworkError, and a reply
// that cannot be understood MalformedResponseError. Transient failures (connection problems,
// timeouts, HTTP 500/502/503/504, InternalError, SlowDown, RequestTimeout) are retried, up to
// `max_attempts` attempts in all, each attempt signed anew.
//
// A Client may be used from several threads at once: each request borrows one of at most
// `max_pool_connections` connections, and waits for one when all are busy.
//
// The batch calls (put_objects, get_objects, delete_objects) run their requests side by side on
// the calling thread with libcurl's multi interface, up to `max_pool_connections` at a time over
// connections of their own that stay open from one batch to the next. Each request of a batch is
// signed, checked and retried as the single call would be, and keeps its own typed error.
#ifndef CSHELVE_S3_CLIENT_HPP
#define CSHELVE_S3_CLIENT_HPP

#include <cshelve/options.hpp>

#include <cshelve/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "s3/sigv4.hpp"

namespace cshelve::s3 {

class CredentialsProvider;  // s3/credentials.hpp

enum class Addressing {
  automatic,       // virtual-hosted on AWS's own endpoints when the bucket name allows it; else path
  path,            // https://host/bucket/key
  virtual_hosted,  // https://bucket.host/key
};

struct ClientConfig {
  // "http://127.0.0.1:4568" or "https://minio.example:9000"; empty: AWS's endpoint for `region`.
  std::string endpoint_url;
  std::string region = "us-east-1";
  Addressing addressing = Addressing::automatic;
  Credentials credentials;
  // When set, requests are signed with its current credentials instead, and a request answered
  // ExpiredToken, InvalidToken or TokenRefreshRequired is retried once with fresh ones.
  std::shared_ptr<CredentialsProvider> credentials_provider;
  bool verify_tls = true;
  std::string ca_bundle;  // a PEM file of trusted CAs; empty: the system's
  long connect_timeout_ms = 60000;
  // An attempt during which no byte moves, either way, for this long (once connected) is abandoned
  // and counts as timed out. It is checked about once a second, so it may end up to a second later.
  long read_timeout_ms = 60000;
  int max_attempts = 3;  // attempts in all, the first one included
  int max_pool_connections = 10;
  Logger logger;  // silent when empty
  LogLevel log_level = LogLevel::info;
};

struct ListRequest {
  std::string prefix;
  int max_keys = 1000;  // not sent when 0 or less: the server's default (1,000) applies
  std::string continuation_token;
  std::string start_after;
};

struct ListResult {
  std::vector<std::string> keys;
  bool is_truncated = false;
  std::string next_continuation_token;  // set when is_truncated
  std::size_t key_count = 0;
};

struct DeleteFailure {
  std::string key;
  std::string code;     // S3's code, e.g. "AccessDenied"
  std::string message;  // S3's message
};

struct DeleteResult {
  std::vector<DeleteFailure> failures;  // empty when every key was deleted
};

// A request of a batch that was never sent because another one had failed for good.
class RequestNotSentError : public StorageError {
 public:
  using StorageError::StorageError;
};

struct PutItem {
  std::string_view key;
  std::vector<std::string_view> body_pieces;  // sent one after another, as one body
};

// One entry per request of a batch: null when it succeeded, else the exception the single call
// would have thrown (or RequestNotSentError). Once a request has failed for good, no further
// request of the batch starts.
using BatchErrors = std::vector<std::exception_ptr>;

// Rethrows the first error of a batch, preferring a request that failed to one left unsent
// because of it; returns when every request succeeded.
void rethrow_first_error(const BatchErrors& errors);

struct GetObjectsResult {
  std::vector<std::optional<std::string>> values;  // nullopt for an absent key or an error
  BatchErrors errors;                              // an absent key is no error
};

// Bytes read at any offset, from a file say: fills `buffer` with up to `room` bytes from `offset`
// and returns how many, fewer only at the end. The same range must give the same bytes each time.
using ReadAt = std::function<std::size_t(std::uint64_t offset, char* buffer, std::size_t room)>;

// Where a GetObject body goes as it arrives. `restart` is called before every attempt, since an
// attempt after a failure delivers the body again from its first byte.
struct BodySink {
  std::function<void()> restart;
  std::function<void(const char* data, std::size_t size)> write;
};

class Client {
 public:
  // Throws ConfigurationError for an endpoint_url it cannot use.
  explicit Client(ClientConfig config);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // PutObject; the pieces are sent one after another, as one body.
  void put_object(std::string_view bucket, std::string_view key,
                  const std::vector<std::string_view>& body_pieces, const TransferProgress& progress = {});

  // PutObject of `head`, then `size` bytes of `source`, for a body too large to hold in memory.
  // The source is read once for the signature's hash, then again to be sent (and on a retry).
  void put_object_from(std::string_view bucket, std::string_view key, std::string_view head, std::uint64_t size,
                       const ReadAt& source, const TransferProgress& progress = {});

  // GetObject; NoSuchKeyError when the key is absent.
  std::string get_object(std::string_view bucket, std::string_view key, const TransferProgress& progress = {});

  // GetObject with the body given to `sink` as it arrives, never held whole in memory. Checked as
  // get_object() checks a body, once it is complete: when this throws, what the sink received
  // must be discarded. NoSuchKeyError when the key is absent.
  void get_object_to(std::string_view bucket, std::string_view key, const BodySink& sink,
                     const TransferProgress& progress = {});

  // DeleteObject; deleting an absent key succeeds, as in S3.
  void delete_object(std::string_view bucket, std::string_view key);

  // ListObjectsV2, one page. Keys come back exactly as stored, whatever characters they hold.
  ListResult list_objects_v2(std::string_view bucket, const ListRequest& request);

  // CreateBucket in the client's region; a bucket the caller already owns is success.
  void create_bucket(std::string_view bucket);

  // DeleteObjects in quiet mode, 1,000 keys per request, the requests side by side; keys S3
  // could not delete are reported, not thrown. An error for a whole request throws.
  DeleteResult delete_objects(std::string_view bucket, const std::vector<std::string>& keys);

  // PutObject for every item, side by side (see above). The bodies must stay alive until it returns.
  BatchErrors put_objects(std::string_view bucket, const std::vector<PutItem>& items);

  // GetObject for every key, side by side (see above). A missing key stops nothing.
  GetObjectsResult get_objects(std::string_view bucket, const std::vector<std::string>& keys);

 private:
  struct Impl;
  Impl& impl();
  std::unique_ptr<Impl> impl_;
};

}  // namespace cshelve::s3

#endif
