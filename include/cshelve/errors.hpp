// cshelve: the errors every operation may throw.
//
// All of them derive from cshelve::Error, so `catch (const cshelve::Error&)` catches everything the
// library throws on purpose. The names follow Python cshelve, so users of both find the same ones.
// Messages name the problem (the key, file, line, option or server code) and never contain a secret.
#ifndef CSHELVE_ERRORS_HPP
#define CSHELVE_ERRORS_HPP

#include <cshelve/export.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace cshelve {

class CSHELVE_API Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// --- Keys and flags -------------------------------------------------------------------------

// The key is not in the shelf.
class CSHELVE_API KeyNotFoundError : public Error {
 public:
  explicit KeyNotFoundError(std::string key);
  const std::string& key() const noexcept { return key_; }

 private:
  std::string key_;
};

// A write on a shelf opened with Flag::read.
class CSHELVE_API ReadOnlyError : public Error {
 public:
  using Error::Error;
};

// Flag::read or Flag::write on a shelf (folder, bucket) that does not exist.
class CSHELVE_API DBDoesNotExistError : public Error {
 public:
  using Error::Error;
};

// Flag::create or Flag::truncate could not create the shelf; the message carries the reason.
class CSHELVE_API CanNotCreateDBError : public Error {
 public:
  using Error::Error;
};

// An operation on a shelf that was closed (or moved from).
class CSHELVE_API ClosedShelfError : public Error {
 public:
  using Error::Error;
};

// Other writers kept changing the keys: Shelf::update() gave up after its attempts, or a
// writeback shelf with Options::detect_conflicts found, at sync() or close(), keys changed since
// it read them. keys() lists them, in key order.
class CSHELVE_API ConflictError : public Error {
 public:
  ConflictError(const std::string& what, std::vector<std::string> keys);
  const std::vector<std::string>& keys() const noexcept { return keys_; }

 private:
  std::vector<std::string> keys_;
};

// --- Configuration --------------------------------------------------------------------------

// A broken configuration: missing file, malformed line, missing section or option, missing
// environment variable, unknown provider parameter.
class CSHELVE_API ConfigurationError : public Error {
 public:
  using Error::Error;
};

// `provider = ...` names no provider this library has.
class CSHELVE_API UnknownProviderError : public ConfigurationError {
 public:
  using ConfigurationError::ConfigurationError;
};

// `auth_type = ...` is not one the provider accepts.
class CSHELVE_API AuthTypeError : public ConfigurationError {
 public:
  using ConfigurationError::ConfigurationError;
};

// An authentication option the auth_type needs is missing or empty.
class CSHELVE_API AuthArgumentError : public ConfigurationError {
 public:
  using ConfigurationError::ConfigurationError;
};

// A credential source chosen by auth_type (a profile's role, credential_process, the container or
// instance metadata endpoint, STS) could not give credentials. The message names the source and
// what failed (file, variable, HTTP status, STS error code), never a secret or token.
class CredentialsError : public AuthArgumentError {
 public:
  using AuthArgumentError::AuthArgumentError;
};

// `[compression] algorithm = ...` is not one this library has.
class CSHELVE_API UnknownCompressionAlgorithmError : public ConfigurationError {
 public:
  using ConfigurationError::ConfigurationError;
};

// `[encryption] algorithm = ...` is not one this library has.
class CSHELVE_API UnknownEncryptionAlgorithmError : public ConfigurationError {
 public:
  using ConfigurationError::ConfigurationError;
};

// `[encryption]` without a usable key (no `key`, or `environment_key` naming an unset variable),
// or a key whose length is not 16, 24 or 32 bytes.
class CSHELVE_API MissingEncryptionKeyError : public ConfigurationError {
 public:
  using ConfigurationError::ConfigurationError;
};

// --- Stored data ----------------------------------------------------------------------------

// A stored record that cannot be decoded: bad framing, truncation, damaged compressed data.
class CSHELVE_API DataCorruptionError : public Error {
 public:
  using Error::Error;
};

// An encrypted record whose tag does not verify (damaged data or the wrong key), or whose
// encryption header is malformed.
class CSHELVE_API EncryptedDataCorruptionError : public DataCorruptionError {
 public:
  using DataCorruptionError::DataCorruptionError;
};

// A record needs a processing step (compression, encryption) that this shelf is not configured for.
class CSHELVE_API DataProcessingSignatureError : public DataCorruptionError {
 public:
  using DataCorruptionError::DataCorruptionError;
};

// --- Python values (include/cshelve/python.hpp) ---------------------------------------------

// A pickle that is valid but holds a type this library does not build (a class instance, a numpy
// array, collections.Counter...): the message names the class. The raw bytes stay readable with
// get().
class UnsupportedValueError : public Error {
 public:
  using Error::Error;
};

// Bytes that are not a pickle of data: truncated, an unknown opcode, a bad memo index, a length
// beyond the data, a limit exceeded, an allowed class called with wrong arguments.
class PickleFormatError : public DataCorruptionError {
 public:
  using DataCorruptionError::DataCorruptionError;
};

// A py::Value read as another kind (as_str() on an int...), or a value Python could not hold.
class ValueTypeError : public Error {
 public:
  using Error::Error;
};

// A py::Value lookup that finds nothing: an index out of range, a dict key not present.
class ValueLookupError : public Error {
 public:
  using Error::Error;
};

// --- Storage and network --------------------------------------------------------------------

// The storage failed: a file system error, the network, or the server.
class CSHELVE_API StorageError : public Error {
 public:
  using Error::Error;
};

// The server could not be reached or did not answer in time (after every retry).
class CSHELVE_API NetworkError : public StorageError {
 public:
  using StorageError::StorageError;
};

// An S3 server answered with an error.
class CSHELVE_API S3Error : public StorageError {
 public:
  S3Error(const std::string& what, int http_status, std::string code, std::string server_message,
          std::string request_id);
  int http_status() const noexcept { return http_status_; }
  const std::string& code() const noexcept { return code_; }
  const std::string& server_message() const noexcept { return server_message_; }
  const std::string& request_id() const noexcept { return request_id_; }

 private:
  int http_status_;
  std::string code_;
  std::string server_message_;
  std::string request_id_;
};

// S3 NoSuchKey.
class CSHELVE_API NoSuchKeyError : public S3Error {
 public:
  using S3Error::S3Error;
};

// S3 NoSuchBucket.
class CSHELVE_API NoSuchBucketError : public S3Error {
 public:
  using S3Error::S3Error;
};

// S3 AccessDenied.
class CSHELVE_API AccessDeniedError : public S3Error {
 public:
  using S3Error::S3Error;
};

// S3 SignatureDoesNotMatch or InvalidAccessKeyId: check key_id, key_secret and the clock.
class CSHELVE_API AuthenticationError : public S3Error {
 public:
  using S3Error::S3Error;
};

// A reply the client cannot understand (malformed or truncated XML, missing fields).
class CSHELVE_API MalformedResponseError : public StorageError {
 public:
  using StorageError::StorageError;
};

}  // namespace cshelve

#endif
