// What a Shelf holds: its storage, its processing and its writeback cache. Shared by the files of
// the facade (shelf.cpp, keys.cpp, open.cpp).
#ifndef CSHELVE_SHELF_SHELF_IMPL_HPP
#define CSHELVE_SHELF_SHELF_IMPL_HPP

#include <cshelve/shelf.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "codec/record.hpp"
#include "providers/provider.hpp"
#include "shelf/writeback_cache.hpp"

namespace cshelve {

// Hidden although nested in an exported class: nothing outside the library reaches it.
struct [[gnu::visibility("hidden")]] Shelf::Impl {
  std::string name;  // the path given to open(), for messages
  Flag flag = Flag::create;
  Logger logger;  // filtered by level; never empty
  codec::Processing processing;
  // Shared with key iterators, which see through a weak_ptr whether the shelf was closed.
  std::shared_ptr<providers::Provider> provider;
  std::optional<shelf::WritebackCache> cache;  // set with Options::writeback
  bool detect_conflicts = false;               // Options::detect_conflicts (with the cache only)

  void require_writable() const;

  // The cache's entry for `key`; nullptr without writeback or when the key is not cached.
  const shelf::CacheEntry* cached(std::string_view key) const { return cache ? cache->find(key) : nullptr; }

  std::optional<std::string> load(std::string_view key);
  void store(std::string_view key, std::string_view value);
  void flush();
  // Writes back, logging instead of throwing: for the destructor and move assignment.
  void close_quietly() noexcept;
  // Lets go of the storage without writing anything back.
  void release() noexcept;

  void log(LogLevel level, const std::string& message) const { logger(level, message); }
};

}  // namespace cshelve

#endif
