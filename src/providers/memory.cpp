// The in-memory provider: a map, optionally shared between opens in one process (`persist-key`).
#include "providers/provider.hpp"

#include <cshelve/errors.hpp>

#include <cstdint>
#include <mutex>

namespace cshelve::providers {
namespace {

struct Store {
  std::mutex mutex;
  bool created = false;
  std::map<std::string, std::string, std::less<>> records;
  // Each record's version: a number no earlier write of any key had, so a record replaced by
  // the same bytes still gets a new one.
  std::map<std::string, std::uint64_t, std::less<>> versions;
  std::uint64_t last_version = 0;

  void assign(std::string_view key, std::string record) {
    records.insert_or_assign(std::string(key), std::move(record));
    versions.insert_or_assign(std::string(key), ++last_version);
  }
};

std::string joined(const Pieces& body) {
  std::string record;
  std::size_t size = 0;
  for (const auto piece : body) size += piece.size();
  record.reserve(size);
  for (const auto piece : body) record.append(piece);
  return record;
}

// Stores named by persist-key live as long as the process, as in Python cshelve.
std::shared_ptr<Store> shared_store(const std::string& persist_key) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::shared_ptr<Store>> registry;
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto& store = registry[persist_key];
  if (!store) store = std::make_shared<Store>();
  return store;
}

class MemoryProvider final : public Provider {
 public:
  explicit MemoryProvider(std::shared_ptr<Store> store) : store_(std::move(store)) {}

  bool exists() override {
    std::lock_guard<std::mutex> lock(store_->mutex);
    return store_->created;
  }
  void create() override {
    std::lock_guard<std::mutex> lock(store_->mutex);
    store_->created = true;
  }
  std::optional<std::string> get(std::string_view key) override {
    std::lock_guard<std::mutex> lock(store_->mutex);
    const auto it = store_->records.find(key);
    if (it == store_->records.end()) return std::nullopt;
    return it->second;
  }
  void put(std::string_view key, const Pieces& body) override {
    std::string record = joined(body);
    std::lock_guard<std::mutex> lock(store_->mutex);
    store_->assign(key, std::move(record));
  }
  std::optional<VersionedRecord> get_versioned(std::string_view key) override {
    std::lock_guard<std::mutex> lock(store_->mutex);
    const auto it = store_->records.find(key);
    if (it == store_->records.end()) return std::nullopt;
    return VersionedRecord{it->second, std::to_string(store_->versions.find(key)->second)};
  }
  bool put_if_absent(std::string_view key, const Pieces& body) override {
    std::string record = joined(body);
    std::lock_guard<std::mutex> lock(store_->mutex);
    if (store_->records.count(key) != 0) return false;
    store_->assign(key, std::move(record));
    return true;
  }
  bool put_if_version(std::string_view key, const Pieces& body, const std::string& version) override {
    std::string record = joined(body);
    std::lock_guard<std::mutex> lock(store_->mutex);
    const auto it = store_->versions.find(key);
    if (it == store_->versions.end() || std::to_string(it->second) != version) return false;
    store_->assign(key, std::move(record));
    return true;
  }
  Erased erase(std::string_view key) override {
    std::lock_guard<std::mutex> lock(store_->mutex);
    const auto it = store_->records.find(key);
    if (it == store_->records.end()) return Erased::absent;
    store_->records.erase(it);
    store_->versions.erase(std::string(key));
    return Erased::existed;
  }
  bool contains(std::string_view key) override {
    std::lock_guard<std::mutex> lock(store_->mutex);
    return store_->records.count(key) != 0;
  }
  KeyPage list(const std::string& token) override {
    // Pages resume after the last key given, so concurrent changes never repeat or skip a key
    // that stayed in the store.
    constexpr std::size_t kPageSize = 1000;
    KeyPage page;
    std::lock_guard<std::mutex> lock(store_->mutex);
    auto it = token.empty() ? store_->records.begin() : store_->records.upper_bound(token.substr(1));
    for (; it != store_->records.end() && page.keys.size() < kPageSize; ++it) page.keys.push_back(it->first);
    // The token is prefixed so that the empty key can resume a listing too.
    if (it != store_->records.end() && !page.keys.empty()) page.next = ">" + page.keys.back();
    return page;
  }
  std::size_t count() override {
    std::lock_guard<std::mutex> lock(store_->mutex);
    return store_->records.size();
  }
  void clear() override {
    std::lock_guard<std::mutex> lock(store_->mutex);
    store_->records.clear();
    store_->versions.clear();
  }

 private:
  std::shared_ptr<Store> store_;
};

}  // namespace

std::unique_ptr<Provider> make_memory_provider(const config::MemorySettings& settings) {
  std::shared_ptr<Store> store;
  if (settings.persist_key) store = shared_store(*settings.persist_key);
  const bool exists = settings.exists;
  if (!store) store = std::make_shared<Store>();
  if (exists) {
    std::lock_guard<std::mutex> lock(store->mutex);
    store->created = true;
  }
  return std::make_unique<MemoryProvider>(std::move(store));
}

}  // namespace cshelve::providers
