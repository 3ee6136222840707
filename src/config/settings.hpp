// Typed settings: what an INI file and the provider_params from code ask of a shelf, checked and
// parsed once, here. Providers, the codec and the S3 client receive these, never the INI.
#ifndef CSHELVE_CONFIG_SETTINGS_HPP
#define CSHELVE_CONFIG_SETTINGS_HPP

#include <cshelve/options.hpp>

#include <optional>
#include <string>
#include <variant>

#include "codec/record.hpp"
#include "config/ini.hpp"
#include "s3/client.hpp"
#include "s3/credentials.hpp"

namespace cshelve::config {

// provider = local, or a path that is not an INI file.
struct LocalSettings {
  std::string folder;
};

// provider = in-memory.
struct MemorySettings {
  std::optional<std::string> persist_key;  // set: one store shared by every open in the process
  bool exists = false;                     // the store exists before anything creates it
};

// provider = aws-s3.
struct S3Settings {
  std::string bucket;
  s3::ClientConfig client;  // without its logger, which the shelf supplies
  // Set for an auth_type other than access_key: where the credentials come from (the provider
  // builds the source, with the shelf's logger, when it is made).
  std::optional<s3::CredentialsSettings> credentials_source;
};

using StorageSettings = std::variant<LocalSettings, MemorySettings, S3Settings>;

struct Settings {
  std::string origin;    // the INI file or the folder, for messages
  std::string provider;  // "local", "in-memory" or "aws-s3"
  StorageSettings storage;
  codec::Processing processing;
  std::optional<LogLevel> log_level;  // [logging] level
};

// The settings of a local shelf in `folder`, with no processing.
Settings settings_for_folder(const std::string& folder);

// The settings an INI file gives, with `provider_params` from code (the INI's [provider_params]
// win where both name one). Throws ConfigurationError and its kinds (UnknownProviderError,
// AuthTypeError, AuthArgumentError, Unknown*AlgorithmError, MissingEncryptionKeyError), naming
// the file and the option.
Settings settings_from_ini(const Ini& ini, const ProviderParams& provider_params);

// provider_params from code, overridden by the INI's [provider_params] where both name one.
ProviderParams merge_provider_params(const ProviderParams& from_code, const Section* from_ini);

// The processing of the two INI sections (values already expanded; nullptr when absent). Throws
// UnknownCompressionAlgorithmError, UnknownEncryptionAlgorithmError, MissingEncryptionKeyError,
// ConfigurationError (a bad level or strict). Messages start with `origin`, the file, when given.
//
// As in Python cshelve 1.1: a section without `algorithm` turns its step off; `environment_key`
// names an environment variable holding the key and wins over `key`; the key must be present
// before the algorithm is looked at. The key's UTF-8 byte length (16, 24 or 32) picks AES-128,
// AES-192 or AES-256.
codec::Processing processing_from_config(const Section* compression, const Section* encryption,
                                         std::string_view origin = {});

// The aws-s3 settings of [default] and the merged provider parameters (s3_settings.cpp; absent
// from a build without the aws-s3 provider).
S3Settings s3_settings(const Section& defaults, const std::string& origin, const ProviderParams& params);

}  // namespace cshelve::config

#endif
