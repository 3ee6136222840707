// The shelf facade: flags, the writeback cache, and the record format between the caller's values
// and the provider's records.
#include "shelf/shelf_impl.hpp"

#include <cshelve/errors.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include "codec/record_file.hpp"
#include "io/file.hpp"
#include "io/temporary_file.hpp"
#include "util/text.hpp"

namespace cshelve {

void Shelf::Impl::require_writable() const {
  if (flag == Flag::read) {
    throw ReadOnlyError(util::concat({"shelf '", name, "' is open read-only (flag r): writes are refused"}));
  }
}

std::optional<std::string> Shelf::Impl::load(std::string_view key) {
  if (const shelf::CacheEntry* entry = cached(key)) return entry->value;
  if (cache && detect_conflicts) {
    // The version read is what sync() will expect to find when it writes a change back.
    std::optional<providers::VersionedRecord> versioned = provider->get_versioned(key);
    if (!versioned) return std::nullopt;
    std::string payload = codec::decode_record(std::move(versioned->record), processing);
    cache->remember(key, payload, std::move(versioned->version));
    return payload;
  }
  std::optional<std::string> record = provider->get(key);
  if (!record) return std::nullopt;
  std::string payload = codec::decode_record(std::move(*record), processing);
  if (cache) cache->remember(key, payload);
  return payload;
}

void Shelf::Impl::store(std::string_view key, std::string_view value) {
  require_writable();
  if (cache) {
    cache->set(key, std::string(value));
    return;
  }
  const codec::EncodedRecord record = codec::encode_record(value, processing);
  provider->put(key, record.pieces());
}

void Shelf::Impl::flush() {
  if (!cache || flag == Flag::read) return;
  if (detect_conflicts) {
    cache->flush_checked(*provider, processing, name, logger);
  } else {
    cache->flush(*provider, processing, name, logger);
  }
}

void Shelf::Impl::close_quietly() noexcept {
  if (!provider) return;
  try {
    flush();
  } catch (const std::exception& error) {
    log(LogLevel::error, util::concat({"closing shelf '", name, "' lost ", std::to_string(cache ? cache->pending() : 0),
                                       " pending changes: ", error.what(), " (call close() to see such errors)"}));
  } catch (...) {
  }
  release();
}

void Shelf::Impl::release() noexcept {
  if (!provider) return;
  try {
    provider->close();
  } catch (...) {
    // Nothing is left to write; a failure to hang up is not worth an error.
  }
  provider.reset();
  if (cache) cache->clear();
}

Shelf::Shelf(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Shelf::Shelf(Shelf&&) noexcept = default;

Shelf& Shelf::operator=(Shelf&& other) noexcept {
  if (this != &other) {
    if (impl_) impl_->close_quietly();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

Shelf::~Shelf() {
  if (impl_) impl_->close_quietly();
}

Shelf::Impl& Shelf::live() const {
  if (!impl_ || !impl_->provider) throw ClosedShelfError("the shelf is closed");
  return *impl_;
}

void Shelf::set(std::string_view key, std::string_view value) { live().store(key, value); }

std::string Shelf::get(std::string_view key) const {
  std::optional<std::string> value = live().load(key);
  if (!value) throw KeyNotFoundError(std::string(key));
  return std::move(*value);
}

std::optional<std::string> Shelf::find(std::string_view key) const { return live().load(key); }

void Shelf::set_file(std::string_view key, const std::string& path) {
  Impl& impl = live();
  impl.require_writable();
  io::FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat info {};
  if (file.get() < 0 || ::fstat(file.get(), &info) != 0) {
    throw StorageError(util::concat({"cannot read '", path, "': ", io::system_reason()}));
  }
  if (!S_ISREG(info.st_mode)) throw StorageError(util::concat({"cannot read '", path, "': not a regular file"}));
  const codec::FileRecord record(impl.processing, file.get(), path, static_cast<std::uint64_t>(info.st_size));
  impl.provider->put_file(key, providers::FileBody{record.head(), record.fd(), record.path(), record.size()});
  // Only now is a pending change to the key superseded: had the write failed, it would still stand.
  if (impl.cache) impl.cache->forget(key);
}

void Shelf::get_file(std::string_view key, const std::string& path) const {
  Impl& impl = live();
  io::ReplacementFile file(path);
  if (const shelf::CacheEntry* entry = impl.cached(key)) {
    if (!entry->value) throw KeyNotFoundError(std::string(key));
    file.write(*entry->value);
    file.commit();
    return;
  }
  codec::FileRecordDecoder decoder(
      impl.processing, [&file](std::string_view payload) { file.write(payload); }, [&file] { file.truncate(); },
      io::folder_of(path));
  if (!impl.provider->get_to(key, decoder)) throw KeyNotFoundError(std::string(key));
  decoder.finish();
  file.commit();
}

bool Shelf::contains(std::string_view key) const {
  Impl& impl = live();
  if (const shelf::CacheEntry* entry = impl.cached(key)) return entry->value.has_value();
  return impl.provider->contains(key);
}

void Shelf::erase(std::string_view key) {
  Impl& impl = live();
  impl.require_writable();
  if (impl.cache) {
    const shelf::CacheEntry* entry = impl.cache->find(key);
    const bool known_absent =
        entry != nullptr ? !entry->value : impl.provider->reports_absence() && !impl.provider->contains(key);
    if (known_absent) throw KeyNotFoundError(std::string(key));
    impl.cache->erase(key);
    return;
  }
  if (impl.provider->erase(key) == providers::Erased::absent) throw KeyNotFoundError(std::string(key));
}

void Shelf::set_many(const std::vector<std::pair<std::string, std::string>>& items) {
  Impl& impl = live();
  impl.require_writable();
  if (impl.cache) {
    for (const auto& [key, value] : items) impl.cache->set(key, value);
    return;
  }
  std::vector<codec::EncodedRecord> records;
  records.reserve(items.size());
  std::vector<std::pair<std::string, providers::Pieces>> bodies;
  bodies.reserve(items.size());
  for (const auto& [key, value] : items) {
    records.push_back(codec::encode_record(value, impl.processing));
    bodies.emplace_back(key, records.back().pieces());
  }
  impl.provider->put_many(bodies);
}

std::vector<std::optional<std::string>> Shelf::get_many(const std::vector<std::string>& keys) const {
  Impl& impl = live();
  std::vector<std::optional<std::string>> values(keys.size());
  if (impl.cache && impl.detect_conflicts) {
    // Each value's version is needed, which the batch does not bring back.
    for (std::size_t i = 0; i < keys.size(); ++i) values[i] = impl.load(keys[i]);
    return values;
  }
  std::vector<std::string> missing;
  std::vector<std::size_t> missing_at;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (const shelf::CacheEntry* entry = impl.cached(keys[i])) {
      values[i] = entry->value;
      continue;
    }
    missing.push_back(keys[i]);
    missing_at.push_back(i);
  }
  std::vector<std::optional<std::string>> records = impl.provider->get_many(missing);
  for (std::size_t j = 0; j < records.size(); ++j) {
    if (!records[j]) continue;
    std::string payload = codec::decode_record(std::move(*records[j]), impl.processing);
    if (impl.cache) impl.cache->remember(missing[j], payload);
    values[missing_at[j]] = std::move(payload);
  }
  return values;
}

void Shelf::erase_many(const std::vector<std::string>& keys) {
  Impl& impl = live();
  impl.require_writable();
  if (impl.cache) {
    for (const auto& key : keys) impl.cache->erase(key);
    return;
  }
  impl.provider->erase_many(keys);
}

void Shelf::sync() { live().flush(); }

void Shelf::close() {
  if (!impl_ || !impl_->provider) return;
  // A failed write-back leaves the shelf open with its pending changes, so close() can be
  // called again once the cause is fixed; only success lets go of them.
  impl_->flush();
  impl_->release();
}

bool Shelf::is_open() const noexcept { return impl_ && impl_->provider; }

Flag Shelf::flag() const noexcept { return impl_ ? impl_->flag : Flag::read; }

}  // namespace cshelve
