#include "config/settings.hpp"

#include <cshelve/errors.hpp>

#include "config/values.hpp"
#include "util/text.hpp"

namespace cshelve::config {
namespace {

LogLevel parse_level(const std::string& word, const std::string& origin) {
  constexpr LogLevel kLevels[] = {LogLevel::debug, LogLevel::info, LogLevel::warning, LogLevel::error};
  return kLevels[parse_choice(word, OptionName{origin, "logging", "level"}, {"debug", "info", "warning", "error"})];
}

// `provider = local` keeps a shelf in a folder, so a local shelf can have compression and
// encryption too. A relative folder is taken from the INI file's own folder, not the process's.
LocalSettings local_settings(const Section& defaults, const std::string& origin) {
  const auto it = defaults.find("folder");
  if (it == defaults.end() || it->second.empty()) {
    throw ConfigurationError(util::concat({origin, ": provider local needs 'folder = PATH' in [default]"}));
  }
  return LocalSettings{resolve_path(it->second, origin)};
}

MemorySettings memory_settings(const Section& defaults, const std::string& origin) {
  MemorySettings settings;
  if (const auto it = defaults.find("persist-key"); it != defaults.end()) settings.persist_key = it->second;
  if (const auto it = defaults.find("exists"); it != defaults.end()) {
    settings.exists = parse_bool(it->second, OptionName{origin, "default", "exists"});
  }
  return settings;
}

}  // namespace

Settings settings_for_folder(const std::string& folder) {
  Settings settings;
  settings.origin = folder;
  settings.provider = "local";
  settings.storage = LocalSettings{folder};
  return settings;
}

Settings settings_from_ini(const Ini& ini, [[maybe_unused]] const ProviderParams& provider_params) {
  Settings settings;
  const std::string& origin = ini.origin;
  settings.origin = origin;
  if (const Section* logging = ini.find("logging")) {
    if (const auto it = logging->find("level"); it != logging->end())
      settings.log_level = parse_level(it->second, origin);
  }
  const Section* defaults = ini.find("default");
  if (defaults == nullptr) throw ConfigurationError(util::concat({origin, ": missing section [default]"}));
  const auto provider = defaults->find("provider");
  if (provider == defaults->end() || provider->second.empty()) {
    throw ConfigurationError(
        util::concat({origin, ": section [default] must name a provider (provider = aws-s3, in-memory or local)"}));
  }
  settings.provider = provider->second;
  settings.processing = processing_from_config(ini.find("compression"), ini.find("encryption"), origin);
  const std::string& name = settings.provider;
  if (name == "in-memory") {
    settings.storage = memory_settings(*defaults, origin);
  } else if (name == "local") {
    settings.storage = local_settings(*defaults, origin);
  } else if (name == "aws-s3") {
#if CSHELVE_WITH_AWS_S3
    settings.storage =
        s3_settings(*defaults, origin, merge_provider_params(provider_params, ini.find("provider_params")));
#else
    throw UnknownProviderError("provider 'aws-s3' is not part of this build of cshelve (built with -Daws_s3=disabled)");
#endif
  } else {
    throw UnknownProviderError(
        util::concat({origin, ": unknown provider '", name, "' (known: aws-s3, in-memory, local)"}));
  }
  return settings;
}

ProviderParams merge_provider_params(const ProviderParams& from_code, const Section* from_ini) {
  ProviderParams merged = from_code;
  if (from_ini != nullptr) {
    for (const auto& [name, value] : *from_ini) merged[name] = value;
  }
  return merged;
}

}  // namespace cshelve::config
