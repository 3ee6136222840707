// Checks an INI file from the documentation the way cshelve::open() reads it.
//
//   ini-check FILE
//
// A local or in-memory shelf is opened for real (flag c) and a value stored and read back. An
// aws-s3 shelf cannot be opened without a server, so everything open() does before its first
// request is done instead: reading the INI into its settings ([logging], [compression],
// [encryption], auth_type, the credentials, bucket_name and every provider_param) and building the
// provider.
// Prints "ok", or "error: CLASS: MESSAGE" and exits 1, CLASS being the most derived cshelve error.
#include <cshelve/cshelve.hpp>

#include "codec/record.hpp"
#include "config/ini.hpp"
#include "config/settings.hpp"
#include "providers/provider.hpp"

#include <iostream>
#include <string>

namespace {

// The name of the most derived error class of the exception being handled.
std::string error_class() {
  try {
    throw;
  } catch (const cshelve::KeyNotFoundError&) {
    return "KeyNotFoundError";
  } catch (const cshelve::ReadOnlyError&) {
    return "ReadOnlyError";
  } catch (const cshelve::DBDoesNotExistError&) {
    return "DBDoesNotExistError";
  } catch (const cshelve::CanNotCreateDBError&) {
    return "CanNotCreateDBError";
  } catch (const cshelve::UnknownProviderError&) {
    return "UnknownProviderError";
  } catch (const cshelve::AuthTypeError&) {
    return "AuthTypeError";
  } catch (const cshelve::CredentialsError&) {
    return "CredentialsError";
  } catch (const cshelve::AuthArgumentError&) {
    return "AuthArgumentError";
  } catch (const cshelve::UnknownCompressionAlgorithmError&) {
    return "UnknownCompressionAlgorithmError";
  } catch (const cshelve::UnknownEncryptionAlgorithmError&) {
    return "UnknownEncryptionAlgorithmError";
  } catch (const cshelve::MissingEncryptionKeyError&) {
    return "MissingEncryptionKeyError";
  } catch (const cshelve::ConfigurationError&) {
    return "ConfigurationError";
  } catch (const cshelve::Error&) {
    return "Error";
  } catch (const std::exception&) {
    return "std::exception";
  }
}

void check_s3(const std::string& path) {
  const cshelve::config::Ini ini = cshelve::config::read_ini(path);
  const cshelve::config::Settings settings = cshelve::config::settings_from_ini(ini, {});
  cshelve::providers::make_provider(settings.storage, {});
}

void check_by_opening(const std::string& path) {
  cshelve::Shelf shelf = cshelve::open(path, cshelve::Flag::create);
  shelf.set("docs/check", "value");
  if (shelf.get("docs/check") != "value") throw cshelve::Error("the value did not come back");
  shelf.erase("docs/check");
  shelf.close();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: ini-check FILE\n";
    return 2;
  }
  const std::string path = argv[1];
  try {
    const cshelve::config::Ini ini = cshelve::config::read_ini(path);
    const auto* defaults = ini.find("default");
    const auto provider = defaults != nullptr ? defaults->find("provider") : cshelve::config::Section::const_iterator{};
    if (defaults != nullptr && provider != defaults->end() && provider->second == "aws-s3") {
      check_s3(path);
    } else {
      check_by_opening(path);
    }
  } catch (...) {
    std::string message;
    try {
      throw;
    } catch (const std::exception& error) {
      message = error.what();
    }
    std::cout << "error: " << error_class() << ": " << message << '\n';
    return 1;
  }
  std::cout << "ok\n";
  return 0;
}
