// A small S3 client: the six operations a shelf needs, signed with SigV4, over libcurl. Exactly
// these six (PutObject, GetObject, DeleteObject, ListObjectsV2, CreateBucket, DeleteObjects):
// no HEAD and no multipart, so the permissions a shelf needs stay few and the code small.
//
// It knows nothing of shelves. Every S3 error reply becomes one of the typed exceptions of
// <cshelve/errors.hpp> (NoSuchKeyError, NoSuchBucketError, AccessDeniedError, AuthenticationError,
// S3Error); a server that cannot be reached or stops answering gives NetworkError, and a reply
// that cannot be understood MalformedResponseError. Transient failures (connection problems,
// timeouts, HTTP 500/502/503/504, InternalError, SlowDown, RequestTimeout, and the 409
// ConditionalRequestConflict of a conditional write) are retried, up to
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

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "s3/endpoint.hpp"
#include "s3/sigv4.hpp"
#include "s3/types.hpp"
#include "util/stream.hpp"

namespace cshelve::s3 {

class CredentialsProvider;  // s3/credentials.hpp

struct ClientConfig {
  // Where requests go (parse_endpoint() reads a URL); empty: AWS's endpoint for `region`.
  std::optional<Endpoint> endpoint;
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
  // An attempt still running after this long is abandoned and counts as timed out, however
  // steadily its bytes trickle: four hours, room for a 5 GiB body at 3 Mbit/s.
  long attempt_timeout_ms = 4L * 3600 * 1000;
  // An attempt moving fewer bytes a second than this, either way, for read_timeout_ms is abandoned
  // and counts as timed out: a server dripping a few bytes a second cannot hold a request forever.
  long min_transfer_speed = 1024;
  int max_attempts = 3;  // attempts in all, the first one included
  // Full-object checksums: a PutObject sends its body's CRC64NVME, and a GetObject asks for the
  // object's checksum and checks the body against it as it arrives (instead of its MD5 against
  // the ETag, which costs several times more). Off for servers that refuse the headers.
  bool object_checksums = true;
  int max_pool_connections = 10;
  Logger logger;  // silent when empty
  LogLevel log_level = LogLevel::info;
};

class Client {
 public:
  explicit Client(ClientConfig config);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // PutObject; the pieces are sent one after another, as one body.
  void put_object(std::string_view bucket, std::string_view key, const std::vector<std::string_view>& body_pieces,
                  const TransferProgress& progress = {});

  // PutObject with a condition (S3's conditional writes): true when stored, false when the
  // condition did not hold (412 PreconditionFailed; for if_match also 404 NoSuchKey, the key being
  // gone). A 409 ConditionalRequestConflict (another conditional write of the key was under way)
  // is retried, as S3 asks, within max_attempts. A server that ignores the headers stores always.
  // After a reply lost on the way, a retry may meet the object its own first attempt stored and
  // answer false: a caller that must know re-reads the key.
  bool put_object_if(std::string_view bucket, std::string_view key, const std::vector<std::string_view>& body_pieces,
                     const PutCondition& condition, const TransferProgress& progress = {});

  // PutObject of `head`, then `size` bytes of `source`, for a body too large to hold in memory.
  // The source is read once for the signature's hash, then again to be sent (and on a retry).
  void put_object_from(std::string_view bucket, std::string_view key, std::string_view head, std::uint64_t size,
                       const util::ReadAt& source, const TransferProgress& progress = {});

  // GetObject; NoSuchKeyError when the key is absent.
  std::string get_object(std::string_view bucket, std::string_view key, const TransferProgress& progress = {});

  // GetObject with the object's ETag, for a later put_object_if(if_match); NoSuchKeyError when
  // the key is absent, MalformedResponseError when the reply carries no ETag.
  VersionedObject get_object_versioned(std::string_view bucket, std::string_view key,
                                       const TransferProgress& progress = {});

  // GetObject with the body given to `sink` as it arrives, never held whole in memory; the sink is
  // restarted before each attempt. Checked as get_object() checks a body, once it is complete: when
  // this throws, what the sink received must be discarded. NoSuchKeyError when the key is absent.
  void get_object_to(std::string_view bucket, std::string_view key, util::ByteSink& sink,
                     const TransferProgress& progress = {});

  // Whether the key exists, told by a GetObject of its first byte (Range: bytes=0-0): no listing,
  // which costs 12.5 times a GET on AWS, and only the permission GetObject needs. An empty object
  // (416 InvalidRange) exists. A server that ignores the range and sends the whole object is cut
  // off after 16 KiB, and the key exists. false for NoSuchKey (on AWS a caller without
  // s3:ListBucket gets AccessDeniedError for an absent key instead); other failures throw and are
  // retried as for get_object(). The part received is not checked against the object's ETag or
  // checksum, which describe the whole body.
  bool object_exists(std::string_view bucket, std::string_view key);

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
