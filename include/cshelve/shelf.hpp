// cshelve: the shelf, a persistent dictionary from UTF-8 keys to byte values.
#ifndef CSHELVE_SHELF_HPP
#define CSHELVE_SHELF_HPP

#include <cshelve/export.hpp>
#include <cshelve/options.hpp>
#include <cshelve/value_codec.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace cshelve {

// A value with the version it was read at: the version changes whenever the key is written. It is
// the storage's (the ETag on S3), opaque: only give it back to Shelf::set_if_version.
struct VersionedValue {
  std::string value;
  std::string version;
};

// How Shelf::update() meets other writers: at most `max_attempts` rounds of read, apply, write;
// before each new round a wait drawn at random below min(max_delay, base_delay * 2^(round-1)).
struct UpdatePolicy {
  int max_attempts = 20;
  std::chrono::milliseconds base_delay{5};
  std::chrono::milliseconds max_delay{1000};
};

// A handle on an open shelf. Move-only; closing happens on destruction if close() was not called
// (errors at that point go to the logger, and pending writeback changes are lost: call close()
// to see them; a close() that throws keeps the shelf open with its changes, to be tried again).
//
// Thread safety: one Shelf must not be used by several threads at once without a lock of yours,
// not even through its const member functions (they fill the writeback cache and share the
// Shelf's connections) or its iterators. Separate Shelf objects, even on the same storage, may be
// used from separate threads at once: the in-memory store shared through persist-key has a lock
// of its own, the local provider replaces a file atomically (a reader sees the old record or the
// new one, never a part), and on S3 each Shelf has its own connections. Shelves do not lock one
// another out: when two write one key, the last write wins, and a writeback cache does not see
// what others wrote to keys it holds, unless they use the conditional calls below (set_if_absent,
// set_if_version, update, Options::detect_conflicts; see docs/concurrency.md). The logger is called from the thread
// using the shelf (batches run their requests side by side on it), one line at a time for each shelf: a logger shared
// by shelves on several threads is called from each of them, so it must allow that.
class CSHELVE_API Shelf {
 public:
  class KeyIterator;

  Shelf(Shelf&&) noexcept;
  Shelf& operator=(Shelf&&) noexcept;
  Shelf(const Shelf&) = delete;
  Shelf& operator=(const Shelf&) = delete;
  ~Shelf();

  // --- Values as bytes ---
  // Stores `value` under `key`, replacing any value there. Throws ReadOnlyError under Flag::read.
  void set(std::string_view key, std::string_view value);
  // The value under `key`; throws KeyNotFoundError when there is none.
  std::string get(std::string_view key) const;
  // The value under `key`, or nullopt.
  std::optional<std::string> find(std::string_view key) const;
  // Whether `key` has a value, without downloading it.
  bool contains(std::string_view key) const;
  // Removes `key`. Throws KeyNotFoundError when the storage can tell the key was absent (local
  // and in-memory shelves); S3 cannot tell, so there deleting a missing key does nothing.
  void erase(std::string_view key);
  // The number of keys (with writeback, pending changes counted, not written).
  std::size_t size() const;
  bool empty() const { return size() == 0; }

  // --- Many writers (see docs/concurrency.md) ---
  // These go to the storage at once, even with writeback, and replace the cache's entry for the
  // key. They rely on the server honouring conditional writes (AWS S3, MinIO, moto do).
  // Stores `value` only when `key` has no value: of several racing writers, exactly one stores.
  // Returns whether this call stored.
  bool set_if_absent(std::string_view key, std::string_view value);
  // The value under `key` with its version, read from the storage (not the writeback cache); nullopt
  // when there is none.
  std::optional<VersionedValue> find_versioned(std::string_view key) const;
  // Stores `value` only when the key's version is still `version` (from find_versioned): a
  // compare-and-swap. Returns whether it stored; false when another writer got there first or the
  // key is gone.
  bool set_if_version(std::string_view key, std::string_view value, const std::string& version);
  // Reads `key` (nullopt when absent), computes the new value with `change`, and writes it only if
  // nobody wrote the key meanwhile; else does it all again, as `policy` says. Returns the value
  // stored. Throws ConflictError when the attempts run out. `change` may run several times.
  std::string update(std::string_view key, const std::function<std::string(const std::optional<std::string>&)>& change,
                     const UpdatePolicy& policy = {});

  // --- Values of your own types (see value_codec.hpp) ---
  template <class T, std::enable_if_t<!std::is_convertible_v<const T&, std::string_view>, int> = 0>
  void set(std::string_view key, const T& value) {
    const std::string bytes = ValueCodec<T>::encode(value);
    set(key, std::string_view(bytes));
  }
  template <class T>
  T get(std::string_view key) const {
    return ValueCodec<T>::decode(get(key));
  }
  template <class T>
  std::optional<T> find(std::string_view key) const {
    std::optional<std::string> bytes = find(key);
    if (!bytes) return std::nullopt;
    return ValueCodec<T>::decode(*bytes);
  }

  // --- Large values, to and from files ---
  // Stores the contents of the file at `path` under `key`, read a part at a time so that the
  // value is never held whole in memory (on the in-memory provider it is, there being no other
  // place). With [compression] or [encryption] the record is put together in a nameless
  // temporary file first (beside `path`, else in the system's temporary folder), as its header
  // is known only at the end. Goes to the storage at once, even with
  // writeback, and replaces any pending change to `key`. Throws StorageError when the file
  // cannot be read.
  void set_file(std::string_view key, const std::string& path);
  // Writes the value under `key` to the file at `path`, a part at a time, decrypted and
  // decompressed on the way (a record both encrypted and compressed is authenticated whole, from a
  // temporary file, before anything of it is inflated). The file is replaced only once the whole
  // value has arrived and checked out; until then, and when this throws, it keeps its old
  // contents. The new file keeps the old one's mode; a symbolic link is followed. Throws KeyNotFoundError when there is
  // no value, StorageError when the file cannot be written.
  void get_file(std::string_view key, const std::string& path) const;

  // --- Many keys at once (faster on S3: requests run side by side) ---
  void set_many(const std::vector<std::pair<std::string, std::string>>& items);
  // One entry per key, nullopt where a key has no value.
  std::vector<std::optional<std::string>> get_many(const std::vector<std::string>& keys) const;
  // Removes the keys; missing ones are ignored.
  void erase_many(const std::vector<std::string>& keys);

  // --- Keys ---
  // Iterates the keys lazily, a page at a time, in the storage's order. The iterators must not
  // outlive the Shelf object; advancing one after close() throws ClosedShelfError. With
  // writeback, pending changes are seen without being written: pending deletes are left out, and
  // pending writes of keys the storage does not have yet come last.
  KeyIterator begin() const;
  KeyIterator end() const;

  // Writes back the values cached with writeback (a no-op otherwise).
  void sync();
  // Writes back, then releases the storage. Further calls throw ClosedShelfError.
  void close();
  bool is_open() const noexcept;

  Flag flag() const noexcept;

  class CSHELVE_API KeyIterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = std::string;
    using difference_type = std::ptrdiff_t;
    using pointer = const std::string*;
    using reference = const std::string&;

    KeyIterator() = default;  // the end
    reference operator*() const;
    pointer operator->() const { return &**this; }
    KeyIterator& operator++();
    void operator++(int) { ++*this; }
    friend bool operator==(const KeyIterator& a, const KeyIterator& b) noexcept { return a.cursor_ == b.cursor_; }
    friend bool operator!=(const KeyIterator& a, const KeyIterator& b) noexcept { return !(a == b); }

   private:
    friend class Shelf;
    struct Cursor;
    explicit KeyIterator(std::shared_ptr<Cursor> cursor) : cursor_(std::move(cursor)) {}
    std::shared_ptr<Cursor> cursor_;  // null at the end
  };

 private:
  struct Impl;
  explicit Shelf(std::unique_ptr<Impl> impl);
  friend CSHELVE_API Shelf open(std::string_view, Flag, Options);
  Impl& live() const;

  std::unique_ptr<Impl> impl_;
};

// Opens a shelf. A path ending in ".ini" is a configuration file naming a provider (aws-s3,
// in-memory, local); any other path is a folder on the local disk.
// Throws ConfigurationError (and its kinds), DBDoesNotExistError, CanNotCreateDBError,
// StorageError.
CSHELVE_API Shelf open(std::string_view path, Flag flag = Flag::create, Options options = {});

}  // namespace cshelve

#endif
