// The writeback cache (Options::writeback): the values a shelf read or wrote since it opened, and
// which of them are changes still to be written.
#ifndef CSHELVE_SHELF_WRITEBACK_CACHE_HPP
#define CSHELVE_SHELF_WRITEBACK_CACHE_HPP

#include <cshelve/options.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "codec/record.hpp"
#include "providers/provider.hpp"

namespace cshelve::shelf {

// A cached key: `value` empty with `dirty` set is a pending delete. `version` is the storage's
// version of the value read (with conflict detection); nullopt when the shelf saw none.
struct CacheEntry {
  std::optional<std::string> value;
  bool dirty = false;
  std::optional<std::string> version;
};

class WritebackCache {
 public:
  using Entries = std::map<std::string, CacheEntry, std::less<>>;

  // nullptr when the key is not cached.
  const CacheEntry* find(std::string_view key) const;

  void remember(std::string_view key, std::string value,
                std::optional<std::string> version = std::nullopt);  // read from the storage
  void set(std::string_view key, std::string value);                 // a pending write
  void erase(std::string_view key);                                  // a pending delete
  void forget(std::string_view key);                                 // the storage has been written directly

  const Entries& entries() const noexcept { return entries_; }
  std::size_t pending() const;
  void clear() noexcept { entries_.clear(); }

  // Writes the pending changes through `provider`. What fails stays pending (and cached), so a
  // later flush can try it again; what succeeds is settled, so one bad key never costs the others
  // their write. Throws StorageError naming how many failed and the first, for shelf `name`.
  void flush(providers::Provider& provider, const codec::Processing& processing, const std::string& name,
             const Logger& log);

  // flush() with conflict detection (Options::detect_conflicts), one conditional write per change:
  // If-Match of the version read, or If-None-Match: * for a key read as absent or never read.
  // Deletes are not conditional. Every written change leaves the cache (its new version is not
  // known); so does every losing one, its change dropped, so that reading the key again shows the
  // value that won. Throws StorageError when writes failed (those stay pending), else
  // ConflictError listing the keys that lost.
  void flush_checked(providers::Provider& provider, const codec::Processing& processing, const std::string& name,
                     const Logger& log);

 private:
  CacheEntry& entry(std::string_view key);  // the key's entry, a new empty one when it has none

  Entries entries_;
};

}  // namespace cshelve::shelf

#endif
