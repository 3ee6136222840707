// The plain requests and results of the S3 client's calls, apart from the client itself so that
// the XML readers can produce them without knowing the client.
#ifndef CSHELVE_S3_TYPES_HPP
#define CSHELVE_S3_TYPES_HPP

#include <cshelve/errors.hpp>

#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cshelve::s3 {

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

// The condition of a conditional PutObject.
struct PutCondition {
  enum class Kind {
    if_absent,  // If-None-Match: *  (store only when the key has no object)
    if_match,   // If-Match: ETAG    (store only when the object's ETag is still `etag`)
  };
  Kind kind = Kind::if_absent;
  std::string etag;  // for if_match, as GetObject gave it (quotes included)
};

// An object with its version: the ETag header as the server sent it.
struct VersionedObject {
  std::string body;
  std::string etag;
};

struct GetObjectsResult {
  std::vector<std::optional<std::string>> values;  // nullopt for an absent key or an error
  BatchErrors errors;                              // an absent key is no error
};

}  // namespace cshelve::s3

#endif
