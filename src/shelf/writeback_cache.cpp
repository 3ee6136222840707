#include "shelf/writeback_cache.hpp"
#include "util/text.hpp"

#include <cshelve/errors.hpp>

#include <utility>
#include <vector>

namespace cshelve::shelf {

const CacheEntry* WritebackCache::find(std::string_view key) const {
  const auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

// The three writers below insert through this one place, so the map is instantiated for one insertion.
CacheEntry& WritebackCache::entry(std::string_view key) {
  auto it = entries_.lower_bound(key);
  if (it == entries_.end() || it->first != key) it = entries_.emplace_hint(it, std::string(key), CacheEntry{});
  return it->second;
}

void WritebackCache::remember(std::string_view key, std::string value, std::optional<std::string> version) {
  entry(key) = CacheEntry{std::move(value), false, std::move(version)};
}

// A change keeps the version the value was read at: it is what a checked write expects to find.
void WritebackCache::set(std::string_view key, std::string value) {
  CacheEntry& changed = entry(key);
  changed.value = std::move(value);
  changed.dirty = true;
}

void WritebackCache::erase(std::string_view key) {
  CacheEntry& changed = entry(key);
  changed.value.reset();
  changed.dirty = true;
}

void WritebackCache::forget(std::string_view key) {
  if (const auto it = entries_.find(key); it != entries_.end()) entries_.erase(it);
}

std::size_t WritebackCache::pending() const {
  std::size_t count = 0;
  for (const auto& entry : entries_) count += entry.second.dirty ? 1 : 0;
  return count;
}

void WritebackCache::flush(providers::Provider& provider, const codec::Processing& processing, const std::string& name,
                           const Logger& log) {
  std::vector<std::string> removed;
  std::vector<std::string> written_keys;
  std::vector<codec::EncodedRecord> records;
  for (auto& [key, entry] : entries_) {
    if (!entry.dirty) continue;
    if (entry.value) {
      written_keys.push_back(key);
      records.push_back(codec::encode_record(*entry.value, processing));
    } else {
      removed.push_back(key);
    }
  }
  std::vector<std::string> failed;
  std::string first_failure;
  auto note_failure = [&](const std::string& key, const std::exception& error) {
    if (failed.empty()) first_failure = "'" + key + "': " + error.what();
    failed.push_back(key);
  };
  if (!records.empty()) {
    std::vector<std::pair<std::string, providers::Pieces>> items;
    items.reserve(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) items.emplace_back(written_keys[i], records[i].pieces());
    try {
      provider.put_many(items);
      for (const auto& key : written_keys) entries_.find(key)->second.dirty = false;
    } catch (const Error&) {
      // A batch stops at its first failure without saying what else went through: one by one.
      for (const auto& [key, pieces] : items) {
        try {
          provider.put(key, pieces);
          entries_.find(key)->second.dirty = false;
        } catch (const Error& error) {
          note_failure(key, error);
        }
      }
    }
  }
  if (!removed.empty()) {
    try {
      provider.erase_many(removed);
      for (const auto& key : removed) entries_.erase(key);
    } catch (const Error& error) {
      for (const auto& key : removed) note_failure(key, error);
    }
  }
  if (log) {
    log(LogLevel::debug,
        util::concat({"writeback: wrote ", std::to_string(records.size()), " values, deleted ",
                      std::to_string(removed.size()), " keys, ", std::to_string(failed.size()), " failed"}));
  }
  if (!failed.empty()) {
    throw StorageError(util::concat({"writing back shelf '", name, "': ", std::to_string(failed.size()), " of ",
                                     std::to_string(records.size() + removed.size()),
                                     " changes failed and stay pending; the first, ", first_failure}));
  }
}

}  // namespace cshelve::shelf

namespace cshelve::shelf {

void WritebackCache::flush_checked(providers::Provider& provider, const codec::Processing& processing,
                                   const std::string& name, const Logger& log) {
  std::vector<std::string> dirty_keys;
  for (const auto& [key, entry] : entries_) {
    if (entry.dirty) dirty_keys.push_back(key);
  }
  std::vector<std::string> conflicts;
  std::vector<std::string> failed;
  std::string first_failure;
  for (const std::string& key : dirty_keys) {
    const auto it = entries_.find(key);
    CacheEntry& entry = it->second;
    try {
      if (!entry.value) {
        provider.erase(key);
      } else {
        const codec::EncodedRecord record = codec::encode_record(*entry.value, processing);
        const bool stored = entry.version ? provider.put_if_version(key, record.pieces(), *entry.version)
                                          : provider.put_if_absent(key, record.pieces());
        if (!stored) conflicts.push_back(key);
      }
      entries_.erase(it);
    } catch (const Error& error) {
      if (failed.empty()) first_failure = "'" + key + "': " + error.what();
      failed.push_back(key);
    }
  }
  if (log) {
    log(LogLevel::debug,
        util::concat({"writeback with conflict detection: ", std::to_string(dirty_keys.size()), " changes, ",
                      std::to_string(conflicts.size()), " conflicts, ", std::to_string(failed.size()), " failed"}));
  }
  std::string lost;
  for (const std::string& key : conflicts) lost += (lost.empty() ? "'" : ", '") + key + "'";
  if (!failed.empty()) {
    throw StorageError(
        util::concat({"writing back shelf '", name, "': ", std::to_string(failed.size()), " of ",
                      std::to_string(dirty_keys.size()), " changes failed and stay pending; the first, ", first_failure,
                      (conflicts.empty() ? "" : "; changed by another writer meanwhile: " + lost)}));
  }
  if (!conflicts.empty()) {
    // Built first: the keys are moved into the error, and arguments are evaluated in no set order.
    const std::string message = util::concat(
        {"writing back shelf '", name, "': ", std::to_string(conflicts.size()),
         (conflicts.size() == 1 ? " key was" : " keys were"),
         " changed by another writer since this shelf read them, and this shelf's change was dropped: ", lost});
    throw ConflictError(message, std::move(conflicts));
  }
}

}  // namespace cshelve::shelf
