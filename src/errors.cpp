#include <cshelve/errors.hpp>

#include <utility>

namespace cshelve {

KeyNotFoundError::KeyNotFoundError(std::string key) : Error("key not found: '" + key + "'"), key_(std::move(key)) {}

ConflictError::ConflictError(const std::string& what, std::vector<std::string> keys)
    : Error(what), keys_(std::move(keys)) {}

S3Error::S3Error(const std::string& what, int http_status, std::string code, std::string server_message,
                 std::string request_id)
    : StorageError(what),
      http_status_(http_status),
      code_(std::move(code)),
      server_message_(std::move(server_message)),
      request_id_(std::move(request_id)) {}

}  // namespace cshelve
