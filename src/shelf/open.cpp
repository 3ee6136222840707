// Opening a shelf: settings from the INI (or a folder), the logger, the provider, and the flag's
// checks on the storage.
#include "shelf/shelf_impl.hpp"

#include <cshelve/cshelve.hpp>

#include <mutex>

#include "config/settings.hpp"
#include "util/text.hpp"

namespace cshelve {

std::string_view version() noexcept { return CSHELVE_VERSION; }

Flag parse_flag(std::string_view letter) {
  if (letter == "r") return Flag::read;
  if (letter == "w") return Flag::write;
  if (letter == "c") return Flag::create;
  if (letter == "n") return Flag::truncate;
  throw ConfigurationError(util::concat({"unknown flag '", letter, "' (use r, w, c or n)"}));
}

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
  }
  return "?";
}

namespace {

const char* flag_letter(Flag flag) {
  switch (flag) {
    case Flag::read: return "r";
    case Flag::write: return "w";
    case Flag::create: return "c";
    case Flag::truncate: return "n";
  }
  return "?";
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// The user's logger behind the level's filter. Batches work on several threads; the user's sink
// sees one line at a time all the same.
Logger filtered_logger(const Logger& sink, LogLevel threshold) {
  if (!sink) return [](LogLevel, std::string_view) {};
  auto serial = std::make_shared<std::mutex>();
  return [sink, threshold, serial](LogLevel level, std::string_view message) {
    if (level < threshold) return;
    std::lock_guard<std::mutex> lock(*serial);
    sink(level, message);
  };
}

// Checks the storage against the flag: it must exist for r and w, is created for c and n, and is
// emptied for n. A shelf open for writing first lets the provider tidy up (before n empties it, so
// nothing left behind keeps a folder from going).
void apply_flag(providers::Provider& provider, Flag flag, const std::string& path) {
  const bool exists = provider.exists();
  switch (flag) {
    case Flag::read:
    case Flag::write:
      if (!exists) {
        const std::string where = provider.where();
        throw DBDoesNotExistError(util::concat({"shelf '", path, "'", where.empty() ? "" : " (", where,
                                                where.empty() ? "" : ")", " does not exist (flag ", flag_letter(flag),
                                                " opens only an existing shelf; use c to create it)"}));
      }
      break;
    case Flag::create:
    case Flag::truncate:
      if (!exists) {
        try {
          provider.create();
        } catch (const CanNotCreateDBError&) {
          throw;
        } catch (const Error& error) {
          throw CanNotCreateDBError(util::concat({"cannot create shelf '", path, "': ", error.what()}));
        }
      }
      break;
  }
  if (flag == Flag::read) return;
  provider.prepare_for_writes();
  if (flag == Flag::truncate) provider.clear();
}

}  // namespace

Shelf open(std::string_view path_view, Flag flag, Options options) {
  const std::string path(path_view);
  config::Settings settings = ends_with(path, ".ini")
                                  ? config::settings_from_ini(config::read_ini(path), options.provider_params)
                                  : config::settings_for_folder(path);
  const LogLevel threshold = settings.log_level.value_or(options.log_level);

  auto impl = std::make_unique<Shelf::Impl>();
  impl->name = path;
  impl->flag = flag;
  impl->logger = filtered_logger(options.logger, threshold);
  impl->processing = settings.processing;
  if (options.detect_conflicts && !options.writeback) {
    throw ConfigurationError("Options::detect_conflicts checks what writeback writes at sync(): it needs writeback");
  }
  if (options.writeback) impl->cache.emplace();
  impl->detect_conflicts = options.detect_conflicts;

  providers::ProviderRuntime runtime;
  // Without a listener the provider's log is left empty, and lines are not even built (the S3
  // client would otherwise format one for every request).
  if (options.logger) runtime.log = impl->logger;
  runtime.log_level = threshold;
  runtime.progress = options.progress;
  impl->provider = providers::make_provider(std::move(settings.storage), runtime);

  apply_flag(*impl->provider, flag, path);
  impl->log(LogLevel::info,
            util::concat({"opened ", settings.provider, " shelf '", path, "' with flag ", flag_letter(flag)}));
  return Shelf(std::move(impl));
}

}  // namespace cshelve
