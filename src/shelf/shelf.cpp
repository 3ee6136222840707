// The shelf facade: flags, the writeback cache, and the record format between the caller's values
// and the provider's records.
#include <cshelve/cshelve.hpp>

#include "codec/record.hpp"
#include "config/ini.hpp"
#include "providers/file.hpp"
#include "providers/provider.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <random>

namespace cshelve {

std::string_view version() noexcept { return CSHELVE_VERSION; }

Flag parse_flag(std::string_view letter) {
  if (letter == "r") return Flag::read;
  if (letter == "w") return Flag::write;
  if (letter == "c") return Flag::create;
  if (letter == "n") return Flag::truncate;
  throw ConfigurationError("unknown flag '" + std::string(letter) + "' (use r, w, c or n)");
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

char flag_letter(Flag flag) {
  switch (flag) {
    case Flag::read: return 'r';
    case Flag::write: return 'w';
    case Flag::create: return 'c';
    case Flag::truncate: return 'n';
  }
  return '?';
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

LogLevel parse_level(const std::string& word, const std::string& origin) {
  if (word == "debug") return LogLevel::debug;
  if (word == "info") return LogLevel::info;
  if (word == "warning") return LogLevel::warning;
  if (word == "error") return LogLevel::error;
  throw ConfigurationError(origin + ": [logging] level must be debug, info, warning or error, not '" + word + "'");
}

// The folder part of a path ("" for a bare name, "dir/" for "dir/name").
std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

// A new file beside `path` that takes its place on commit(), and is removed otherwise: a reader of
// `path` sees its old contents or the whole new value, never a part (it is not synced to disk).
// The new file keeps the mode of the one it replaces and is readable by its owner only until
// then; a symbolic link at `path` is followed.
class ReplacementFile {
 public:
  explicit ReplacementFile(const std::string& path) : path_(path) {
    struct stat info {};
    if (::lstat(path_.c_str(), &info) == 0 && S_ISLNK(info.st_mode)) {
      if (char* target = ::realpath(path_.c_str(), nullptr)) {
        target_ = target;
        std::free(target);
      }
    }
    if (target_.empty()) target_ = path_;
    const std::string folder = folder_of(target_);
    thread_local std::mt19937_64 generator{std::random_device{}()};
    for (int attempt = 0; attempt < 100 && file_.get() < 0; ++attempt) {
      temporary_ = folder + ".cshelve-" + std::to_string(generator() % 1000000000000ULL) + ".part";
      file_.reset(::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
      if (file_.get() < 0 && errno != EEXIST) break;
    }
    if (file_.get() < 0) fail();
    // The mode a new file gets here (the umask applied), for when there is no file to replace.
    if (::fstat(file_.get(), &info) != 0 || ::fchmod(file_.get(), 0600) != 0) fail();
    mode_ = info.st_mode & 07777;
  }
  ReplacementFile(const ReplacementFile&) = delete;
  ReplacementFile& operator=(const ReplacementFile&) = delete;
  ~ReplacementFile() {
    if (!committed_) ::unlink(temporary_.c_str());
  }

  void write(std::string_view data) { providers::write_file(file_.get(), path_, data); }

  void truncate() {
    if (::ftruncate(file_.get(), 0) != 0 || ::lseek(file_.get(), 0, SEEK_SET) != 0) fail();
  }

  void commit() {
    struct stat replaced {};
    if (::stat(target_.c_str(), &replaced) == 0 && S_ISREG(replaced.st_mode)) mode_ = replaced.st_mode & 07777;
    if (::fchmod(file_.get(), mode_) != 0 || !file_.close() || ::rename(temporary_.c_str(), target_.c_str()) != 0) {
      fail();
    }
    committed_ = true;
  }

 private:
  [[noreturn]] void fail() const { throw StorageError("cannot write '" + path_ + "': " + providers::system_reason()); }

  std::string path_;
  std::string target_;  // path_, or what its symbolic link points to
  std::string temporary_;
  providers::FileDescriptor file_;
  mode_t mode_ = 0644;
  bool committed_ = false;
};

// A nameless file, gone when closed: where a processed record is put together, its header being
// known only at the end, or kept until it is authenticated. It lives in `folder` (beside the
// user's file, so a temporary folder in memory is not filled), or else the system's temporary folder.
class SpoolFile {
 public:
  explicit SpoolFile(const std::string& folder) {
    std::string system_folder;
    try {
      system_folder = std::filesystem::temp_directory_path().string();
    } catch (const std::filesystem::filesystem_error&) {
      system_folder = "/tmp";
    }
    for (const std::string& where : {folder.empty() ? std::string(".") : folder, system_folder}) {
#ifdef O_TMPFILE
      file_.reset(::open(where.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
#endif
      if (file_.get() < 0) {
        // No O_TMPFILE there: a named file, removed at once.
        std::string name = where + "/.cshelve-spool-XXXXXX";
        file_.reset(::mkostemp(name.data(), O_CLOEXEC));
        if (file_.get() >= 0) ::unlink(name.c_str());
      }
      if (file_.get() >= 0) {
        path_ = "a temporary file in '" + where + "'";
        return;
      }
    }
    throw StorageError("cannot create a temporary file in '" + system_folder + "': " + providers::system_reason());
  }
  int fd() const { return file_.get(); }
  const std::string& path() const { return path_; }
  std::uint64_t size() const { return size_; }
  void append(std::string_view data) {
    providers::write_file_at(file_.get(), path_, size_, data);
    size_ += data.size();
  }
  void write_at(std::uint64_t offset, std::string_view data) { providers::write_file_at(file_.get(), path_, offset, data); }
  void truncate() {
    if (::ftruncate(file_.get(), 0) != 0) throw StorageError("cannot write " + path_ + ": " + providers::system_reason());
    size_ = 0;
  }

 private:
  providers::FileDescriptor file_;
  std::string path_;
  std::uint64_t size_ = 0;
};

// Feeds a record read a part at a time to a reader.
class ReaderSink final : public providers::RecordSink {
 public:
  ReaderSink(codec::RecordReader& reader, std::function<void()> on_restart)
      : reader_(reader), on_restart_(std::move(on_restart)) {}
  void restart() override {
    on_restart_();
    reader_.restart();
  }
  void write(std::string_view bytes) override { reader_.feed(bytes); }

 private:
  codec::RecordReader& reader_;
  std::function<void()> on_restart_;
};

// Keeps a record as it arrives in a spool file.
class SpoolSink final : public providers::RecordSink {
 public:
  explicit SpoolSink(SpoolFile& spool) : spool_(spool) {}
  void restart() override { spool_.truncate(); }
  void write(std::string_view bytes) override { spool_.append(bytes); }

 private:
  SpoolFile& spool_;
};

// Runs a record kept in a spool file through a reader.
void read_spool(const SpoolFile& spool, codec::RecordReader& reader) {
  providers::read_in_parts(spool.fd(), spool.path(), spool.size(), [&reader](std::string_view part) { reader.feed(part); });
  reader.finish();
}

}  // namespace

// A cached value: `value` empty with `dirty` set is a pending delete.
struct CacheEntry {
  std::optional<std::string> value;
  bool dirty = false;
};

struct Shelf::Impl {
  std::string name;  // the path given to open(), for messages
  Flag flag = Flag::create;
  bool writeback = false;
  Logger logger;  // filtered by level; never empty
  codec::Processing processing;
  // Shared with key iterators, which see through a weak_ptr whether the shelf was closed.
  std::shared_ptr<providers::Provider> provider;
  std::map<std::string, CacheEntry, std::less<>> cache;

  void require_writable() const {
    if (flag == Flag::read) {
      throw ReadOnlyError("shelf '" + name + "' is open read-only (flag r): writes are refused");
    }
  }

  std::optional<std::string> load(std::string_view key) {
    if (writeback) {
      if (const auto it = cache.find(key); it != cache.end()) return it->second.value;
    }
    std::optional<std::string> record = provider->get(key);
    if (!record) return std::nullopt;
    std::string payload = codec::decode_record(std::move(*record), processing);
    if (writeback) cache[std::string(key)] = CacheEntry{payload, false};
    return payload;
  }

  void store(std::string_view key, std::string_view value) {
    require_writable();
    if (writeback) {
      cache.insert_or_assign(std::string(key), CacheEntry{std::string(value), true});
      return;
    }
    const codec::EncodedRecord record = codec::encode_record(value, processing);
    provider->put(key, record.pieces());
  }

  void flush() {
    if (!writeback || flag == Flag::read) return;
    std::vector<std::string> removed;
    std::vector<std::string> written_keys;
    std::vector<codec::EncodedRecord> records;
    for (auto& [key, entry] : cache) {
      if (!entry.dirty) continue;
      if (entry.value) {
        written_keys.push_back(key);
        records.push_back(codec::encode_record(*entry.value, processing));
      } else {
        removed.push_back(key);
      }
    }
    // What fails stays pending (and cached), so a later sync() or close() can try it again;
    // what succeeds is settled, so one bad key never costs the others their write.
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
        provider->put_many(items);
        for (const auto& key : written_keys) cache.find(key)->second.dirty = false;
      } catch (const Error&) {
        // A batch stops at its first failure without saying what else went through: one by one.
        for (const auto& [key, pieces] : items) {
          try {
            provider->put(key, pieces);
            cache.find(key)->second.dirty = false;
          } catch (const Error& error) {
            note_failure(key, error);
          }
        }
      }
    }
    if (!removed.empty()) {
      try {
        provider->erase_many(removed);
        for (const auto& key : removed) cache.erase(key);
      } catch (const Error& error) {
        for (const auto& key : removed) note_failure(key, error);
      }
    }
    log(LogLevel::debug, "writeback: wrote " + std::to_string(records.size()) + " values, deleted " +
                             std::to_string(removed.size()) + " keys, " + std::to_string(failed.size()) +
                             " failed");
    if (!failed.empty()) {
      throw StorageError("writing back shelf '" + name + "': " + std::to_string(failed.size()) + " of " +
                         std::to_string(records.size() + removed.size()) +
                         " changes failed and stay pending; the first, " + first_failure);
    }
  }

  std::size_t pending() const {
    std::size_t count = 0;
    for (const auto& entry : cache) count += entry.second.dirty ? 1 : 0;
    return count;
  }

  // Lets go of the storage without writing anything back.
  void release() noexcept {
    if (!provider) return;
    try {
      provider->close();
    } catch (...) {
      // Nothing is left to write; a failure to hang up is not worth an error.
    }
    provider.reset();
    cache.clear();
  }

  void log(LogLevel level, const std::string& message) const {
    logger(level, message);
  }
};

struct Shelf::KeyIterator::Cursor {
  std::weak_ptr<providers::Provider> provider;
  providers::KeyPage page;
  std::size_t index = 0;
};

Shelf::Shelf(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Shelf::Shelf(Shelf&&) noexcept = default;

namespace {

// Closing where no exception may leave (destructor, assignment): a failure goes to the logger.
void close_quietly(Shelf::Impl& impl) noexcept {
  if (!impl.provider) return;
  try {
    impl.flush();
  } catch (const std::exception& error) {
    impl.log(LogLevel::error, "closing shelf '" + impl.name + "' lost " + std::to_string(impl.pending()) +
                                  " pending changes: " + error.what() + " (call close() to see such errors)");
  } catch (...) {
  }
  impl.release();
}

}  // namespace

Shelf& Shelf::operator=(Shelf&& other) noexcept {
  if (this != &other) {
    if (impl_) close_quietly(*impl_);
    impl_ = std::move(other.impl_);
  }
  return *this;
}

Shelf::~Shelf() {
  if (impl_) close_quietly(*impl_);
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
  providers::FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat info {};
  if (file.get() < 0 || ::fstat(file.get(), &info) != 0) {
    throw StorageError("cannot read '" + path + "': " + providers::system_reason());
  }
  if (!S_ISREG(info.st_mode)) throw StorageError("cannot read '" + path + "': not a regular file");
  const auto size = static_cast<std::uint64_t>(info.st_size);
  if (codec::writes_plain(impl.processing)) {
    const std::string header = codec::plain_record_header(size);
    impl.provider->put_file(key, providers::FileBody{header, file.get(), path, size});
  } else {
    SpoolFile spool(folder_of(path));
    codec::RecordWriter writer(impl.processing);
    std::string record;
    providers::read_in_parts(file.get(), path, size, [&](std::string_view part) {
      record.clear();
      writer.update(part, record);
      spool.append(record);
    });
    record.clear();
    const std::string prefix = writer.finish(record);
    spool.append(record);
    spool.write_at(0, prefix);
    impl.provider->put_file(key, providers::FileBody{{}, spool.fd(), spool.path(), spool.size()});
  }
  // Only now is a pending change to the key superseded: had the write failed, it would still stand.
  if (impl.writeback) impl.cache.erase(std::string(key));
}

void Shelf::get_file(std::string_view key, const std::string& path) const {
  Impl& impl = live();
  ReplacementFile file(path);
  if (impl.writeback) {
    if (const auto it = impl.cache.find(key); it != impl.cache.end()) {
      if (!it->second.value) throw KeyNotFoundError(std::string(key));
      file.write(*it->second.value);
      file.commit();
      return;
    }
  }
  codec::RecordReader decoder(impl.processing, [&file](std::string_view payload) { file.write(payload); });
  if (!impl.processing.zlib_level || impl.processing.encryption_key.empty()) {
    ReaderSink sink(decoder, [&file] { file.truncate(); });
    if (!impl.provider->get_to(key, sink)) throw KeyNotFoundError(std::string(key));
    decoder.finish();
  } else {
    // A record both compressed and encrypted is authenticated in full before any of it is
    // inflated, as decode_record does: it is kept in a spool file and read twice.
    SpoolFile spool(folder_of(path));
    SpoolSink sink(spool);
    if (!impl.provider->get_to(key, sink)) throw KeyNotFoundError(std::string(key));
    codec::RecordReader authenticator(impl.processing, {}, codec::RecordReader::Pass::authenticate);
    read_spool(spool, authenticator);
    read_spool(spool, decoder);
  }
  file.commit();
}

bool Shelf::contains(std::string_view key) const {
  Impl& impl = live();
  if (impl.writeback) {
    if (const auto it = impl.cache.find(key); it != impl.cache.end()) return it->second.value.has_value();
  }
  return impl.provider->contains(key);
}

void Shelf::erase(std::string_view key) {
  Impl& impl = live();
  impl.require_writable();
  if (impl.writeback) {
    const auto it = impl.cache.find(key);
    const bool known_absent = it != impl.cache.end()
                                  ? !it->second.value
                                  : impl.provider->reports_absence() && !impl.provider->contains(key);
    if (known_absent) throw KeyNotFoundError(std::string(key));
    impl.cache.insert_or_assign(std::string(key), CacheEntry{std::nullopt, true});
    return;
  }
  if (impl.provider->erase(key) == providers::Erased::absent) throw KeyNotFoundError(std::string(key));
}

std::size_t Shelf::size() const {
  Impl& impl = live();
  impl.flush();
  return impl.provider->count();
}

void Shelf::set_many(const std::vector<std::pair<std::string, std::string>>& items) {
  Impl& impl = live();
  impl.require_writable();
  if (impl.writeback) {
    for (const auto& [key, value] : items) impl.cache.insert_or_assign(key, CacheEntry{value, true});
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
  std::vector<std::string> missing;
  std::vector<std::size_t> missing_at;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (impl.writeback) {
      if (const auto it = impl.cache.find(keys[i]); it != impl.cache.end()) {
        values[i] = it->second.value;
        continue;
      }
    }
    missing.push_back(keys[i]);
    missing_at.push_back(i);
  }
  std::vector<std::optional<std::string>> records = impl.provider->get_many(missing);
  for (std::size_t j = 0; j < records.size(); ++j) {
    if (!records[j]) continue;
    std::string payload = codec::decode_record(std::move(*records[j]), impl.processing);
    if (impl.writeback) impl.cache[missing[j]] = CacheEntry{payload, false};
    values[missing_at[j]] = std::move(payload);
  }
  return values;
}

void Shelf::erase_many(const std::vector<std::string>& keys) {
  Impl& impl = live();
  impl.require_writable();
  if (impl.writeback) {
    for (const auto& key : keys) impl.cache.insert_or_assign(key, CacheEntry{std::nullopt, true});
    return;
  }
  impl.provider->erase_many(keys);
}

Shelf::KeyIterator Shelf::begin() const {
  Impl& impl = live();
  impl.flush();
  auto cursor = std::make_shared<KeyIterator::Cursor>();
  cursor->provider = impl.provider;
  cursor->page = impl.provider->list({});
  // A page may come back empty while more follow (a server's choice); skip such pages.
  while (cursor->page.keys.empty() && !cursor->page.next.empty()) {
    cursor->page = impl.provider->list(cursor->page.next);
  }
  if (cursor->page.keys.empty()) return end();
  return KeyIterator(std::move(cursor));
}

Shelf::KeyIterator Shelf::end() const { return KeyIterator(); }

const std::string& Shelf::KeyIterator::operator*() const { return cursor_->page.keys[cursor_->index]; }

Shelf::KeyIterator& Shelf::KeyIterator::operator++() {
  Cursor& cursor = *cursor_;
  if (++cursor.index < cursor.page.keys.size()) return *this;
  while (!cursor.page.next.empty()) {
    const std::shared_ptr<providers::Provider> provider = cursor.provider.lock();
    if (!provider) throw ClosedShelfError("the shelf was closed while its keys were being iterated");
    cursor.page = provider->list(cursor.page.next);
    cursor.index = 0;
    if (!cursor.page.keys.empty()) return *this;
  }
  cursor_.reset();
  return *this;
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

Shelf open(std::string_view path_view, Flag flag, Options options) {
  const std::string path(path_view);
  auto impl = std::make_unique<Shelf::Impl>();
  impl->name = path;
  impl->flag = flag;
  impl->writeback = options.writeback;

  LogLevel threshold = options.log_level;
  std::optional<config::Ini> ini;
  if (ends_with(path, ".ini")) {
    ini = config::read_ini(path);
    if (const config::Section* logging = ini->find("logging")) {
      if (const auto it = logging->find("level"); it != logging->end()) threshold = parse_level(it->second, path);
    }
  }
  if (options.logger) {
    // Batches work on several threads; the user's sink sees one line at a time all the same.
    auto serial = std::make_shared<std::mutex>();
    impl->logger = [sink = options.logger, threshold, serial](LogLevel level, std::string_view message) {
      if (level < threshold) return;
      std::lock_guard<std::mutex> lock(*serial);
      sink(level, message);
    };
  } else {
    impl->logger = [](LogLevel, std::string_view) {};
  }

  std::string provider_name = "local";
  if (ini) {
    const config::Section* defaults = ini->find("default");
    if (defaults == nullptr) throw ConfigurationError(path + ": missing section [default]");
    const auto it = defaults->find("provider");
    if (it == defaults->end() || it->second.empty()) {
      throw ConfigurationError(path + ": section [default] must name a provider (provider = aws-s3, in-memory or local)");
    }
    provider_name = it->second;
    impl->processing = codec::processing_from_config(ini->find("compression"), ini->find("encryption"));
    providers::ProviderContext context;
    context.ini = &*ini;
    context.params = config::merge_provider_params(options.provider_params, ini->find("provider_params"));
    // Without a listener the provider's log is left empty, and lines are not even built (the S3
    // client would otherwise format one for every request).
    if (options.logger) context.log = impl->logger;
    context.log_level = threshold;
    context.progress = options.progress;
    impl->provider = providers::make_provider(provider_name, context);
  } else {
    impl->provider = providers::make_local_provider(path);
  }

  const bool exists = impl->provider->exists();
  switch (flag) {
    case Flag::read:
    case Flag::write:
      if (!exists) {
        const std::string where = impl->provider->where();
        throw DBDoesNotExistError("shelf '" + path + "'" + (where.empty() ? "" : " (" + where + ")") +
                                  " does not exist (flag " + flag_letter(flag) +
                                  " opens only an existing shelf; use c to create it)");
      }
      break;
    case Flag::create:
    case Flag::truncate:
      if (!exists) {
        try {
          impl->provider->create();
        } catch (const CanNotCreateDBError&) {
          throw;
        } catch (const Error& error) {
          throw CanNotCreateDBError("cannot create shelf '" + path + "': " + error.what());
        }
      }
      if (flag == Flag::truncate) impl->provider->clear();
      break;
  }
  impl->log(LogLevel::info, "opened " + provider_name + " shelf '" + path + "' with flag " + flag_letter(flag));
  return Shelf(std::move(impl));
}

}  // namespace cshelve
