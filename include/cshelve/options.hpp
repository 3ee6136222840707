// cshelve: how a shelf is opened.
#ifndef CSHELVE_OPTIONS_HPP
#define CSHELVE_OPTIONS_HPP

#include <cshelve/export.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace cshelve {

// The open flags of Python's dbm, which Python cshelve keeps.
enum class Flag {
  read,      // 'r': open an existing shelf; every write throws ReadOnlyError
  write,     // 'w': open an existing shelf for reading and writing
  create,    // 'c': open for reading and writing, creating the shelf when missing (the default)
  truncate,  // 'n': create when missing, and start empty
};

// Reads a flag from its one-letter name ("r", "w", "c", "n"); throws ConfigurationError otherwise.
CSHELVE_API Flag parse_flag(std::string_view letter);

enum class LogLevel { debug, info, warning, error };

CSHELVE_API std::string_view to_string(LogLevel level) noexcept;

// Receives the library's log lines. Lines never contain a secret.
using Logger = std::function<void(LogLevel, std::string_view message)>;

// Reports the bytes of one value on its way to or from the storage: `done` of `total` (0 while
// unknown). Called often during a long transfer, from the thread doing it; keep it quick.
using TransferProgress = std::function<void(std::uint64_t done, std::uint64_t total)>;

// Provider parameters: from code here, and from the INI's [provider_params] (the INI wins).
using ProviderParams = std::map<std::string, std::string, std::less<>>;

struct Options {
  ProviderParams provider_params;
  // Cache the values read and written; writes reach the storage on sync() or close().
  bool writeback = false;
  // With writeback: sync() and close() write a value read then changed only if nobody changed it
  // meanwhile (If-Match of the version read), and a key the shelf did not see only if it is still
  // absent (If-None-Match: *). The keys that lost come back in one ConflictError; the rest are
  // written. Costs a request per change instead of batches. See docs/concurrency.md.
  bool detect_conflicts = false;
  Logger logger;                        // silent when empty
  LogLevel log_level = LogLevel::info;  // lines below this level are not produced
  // Progress of single-value transfers to and from S3 (get, find, set); empty: none.
  TransferProgress progress;
};

}  // namespace cshelve

#endif
