// The local provider: one file per key in a folder.
//
// A key becomes a file name by keeping `a-z 0-9 - _` and writing every other byte as %XX
// (upper-case hex). Upper-case letters and dots are encoded too, so names never clash on
// case-insensitive file systems and never read as `.` or `..`. Encoded names longer than one file
// name may be are cut into 200-byte pieces: every piece but the last is a folder whose name ends in
// '+', a character the encoding never produces, so `k` (a file) and `k+` (a folder of longer keys)
// live side by side. The empty key is the file `%`. Writes go to a temporary file (names starting
// with '.', which the encoding never produces) that is synced and renamed into place, so a reader
// sees the old record or the new one, never a part. Below the shelf's folder every name is
// resolved relative to an open folder, never through a symbolic link (see local_tree.hpp).
#include "io/file.hpp"
#include "io/temporary_file.hpp"
#include "providers/local_tree.hpp"
#include "util/hex.hpp"
#include "providers/provider.hpp"
#include "util/digest.hpp"
#include "util/text.hpp"

#include <cshelve/errors.hpp>

#include <sys/file.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cshelve::providers {
namespace {

using io::FileDescriptor;
using io::read_in_parts;
using io::system_reason;
using io::write_file;

constexpr std::size_t kPieceBytes = 200;
constexpr std::size_t kMaxKeyBytes = 1024;  // S3's own limit, so every shelf can move to S3
using local_tree::kFolderMark;

bool is_kept(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'; }

std::string encode_key(std::string_view key) {
  if (key.empty()) return "%";
  std::string out;
  out.reserve(key.size() * 3);
  for (const char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_kept(c)) {
      out += ch;
    } else {
      out += '%';
      out += util::hex_digit(c >> 4, util::HexCase::upper);
      out += util::hex_digit(c, util::HexCase::upper);
    }
  }
  return out;
}

// The encoding writes upper-case digits only: a name with lower-case ones is not one of its names.
int upper_hex_value(char c) { return c >= 'a' && c <= 'f' ? -1 : util::hex_value(c); }

// nullopt for names this provider did not write (they are not keys).
std::optional<std::string> decode_name(std::string_view encoded) {
  if (encoded == "%") return std::string();
  std::string key;
  key.reserve(encoded.size());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    const auto c = static_cast<unsigned char>(encoded[i]);
    if (is_kept(c)) {
      key += encoded[i];
      continue;
    }
    if (c != '%' || i + 2 >= encoded.size()) return std::nullopt;
    const int high = upper_hex_value(encoded[i + 1]);
    const int low = upper_hex_value(encoded[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    const auto byte = static_cast<unsigned char>(high * 16 + low);
    if (is_kept(byte)) return std::nullopt;  // not the canonical encoding
    key += static_cast<char>(byte);
    i += 2;
  }
  return key;
}

// What a record file receives: pieces in memory, then perhaps a file's bytes.
struct Content {
  Pieces pieces;
  const FileBody* file;
};

// Where a key's record file lives: its piece folders, one inside the other below the shelf's
// folder, and its file name in the last of them.
struct RecordPath {
  std::vector<std::string> folders;
  std::string file;
  std::string shown;  // the whole path, for messages
};

class LocalProvider final : public Provider {
 public:
  explicit LocalProvider(std::string folder) : root_(std::move(folder)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  }

  bool exists() override {
    struct stat info {};
    return ::stat(root_.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
  }

  void create() override {
    if (exists()) return;
    std::string reason;
    if (!make_folders(root_, reason)) {
      throw CanNotCreateDBError(util::concat({"cannot create local shelf folder '", root_, "': ", reason}));
    }
  }

  void prepare_for_writes() noexcept override {
    local_tree::remove_stale_temporaries(root_, local_tree::kStaleTemporaryAge);
  }

  std::optional<std::string> get(std::string_view key) override {
    if (key.size() > kMaxKeyBytes) return std::nullopt;  // never stored, so never there
    const RecordPath path = path_of(key);
    local_tree::FolderChain chain;
    FileDescriptor file(open_record(chain, path));
    if (file.get() < 0) return std::nullopt;
    const std::uint64_t size = regular_size(file, path);
    std::string record;
    // A 32-bit process cannot hold a record of 4 GiB or more: its size must not wrap on the way.
    if (size > record.max_size()) {
      throw StorageError(util::concat({"cannot read '", path.shown, "': its ", std::to_string(size),
                                       " bytes do not fit in this process's memory"}));
    }
    record.resize(static_cast<std::size_t>(size));
    std::size_t filled = 0;
    for (;;) {
      if (filled == record.size()) record.resize(record.size() + 4096);  // the file grew meanwhile
      const ssize_t got = ::read(file.get(), record.data() + filled, record.size() - filled);
      if (got < 0) {
        if (errno == EINTR) continue;
        throw StorageError(util::concat({"cannot read '", path.shown, "': ", system_reason()}));
      }
      if (got == 0) break;
      filled += static_cast<std::size_t>(got);
    }
    record.resize(filled);
    return record;
  }

  void put(std::string_view key, const Pieces& body) override { store(key, Content{body, nullptr}); }

  void put_file(std::string_view key, const FileBody& body) override { store(key, Content{Pieces{body.head}, &body}); }

  bool get_to(std::string_view key, util::ByteSink& sink) override {
    if (key.size() > kMaxKeyBytes) return false;
    const RecordPath path = path_of(key);
    local_tree::FolderChain chain;
    FileDescriptor file(open_record(chain, path));
    if (file.get() < 0) return false;
    // A record file is replaced by renaming, never changed in place: its size stays as opened.
    const std::uint64_t size = regular_size(file, path);
    sink.restart();
    read_in_parts(file.get(), path.shown, size, [&sink](std::string_view part) { sink.write(part); });
    return true;
  }

  Erased erase(std::string_view key) override {
    if (key.size() > kMaxKeyBytes) return Erased::absent;
    const RecordPath path = path_of(key);
    local_tree::FolderChain chain;
    if (!chain.open(root_, path.folders, false)) return Erased::absent;
    if (::unlinkat(chain.last(), path.file.c_str(), 0) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return Erased::absent;
      throw StorageError(util::concat({"cannot delete key '", key, "': ", system_reason()}));
    }
    ::fsync(chain.last());  // makes the removal durable
    // Remove the piece folders the key leaves empty, deepest first; rmdir refuses non-empty ones.
    for (std::size_t level = path.folders.size(); level > 0; --level) {
      if (::unlinkat(chain.at(level - 1), path.folders[level - 1].c_str(), AT_REMOVEDIR) != 0) break;
    }
    return Erased::existed;
  }

  bool contains(std::string_view key) override {
    if (key.size() > kMaxKeyBytes) return false;
    const RecordPath path = path_of(key);
    local_tree::FolderChain chain;
    const auto [folder, name] = locate_for_reading(chain, path);
    if (name == nullptr) return false;
    struct stat info {};
    if (::fstatat(folder, name, &info, AT_SYMLINK_NOFOLLOW) != 0) return false;
    if (S_ISLNK(info.st_mode)) local_tree::throw_link(path.shown);
    return S_ISREG(info.st_mode);
  }

  // Conditional writes. Between processes on one machine they hold through a lock per key: an
  // flock on `.lock-NAME` beside the record (a name starting with '.', never a key's). The lock
  // files stay, as removing one could let two writers lock different files of one name.
  // A record's version is the MD5 of its bytes, in hex, as S3's ETag of a simple PUT is (a build
  // may leave the S3 client and its SHA-256 out; this digest is in every build).
  std::optional<VersionedRecord> get_versioned(std::string_view key) override {
    std::optional<std::string> record = get(key);
    if (!record) return std::nullopt;
    std::string version = util::hex(util::md5(*record));
    return VersionedRecord{std::move(*record), std::move(version)};
  }

  bool put_if_absent(std::string_view key, const Pieces& body) override {
    const RecordPath path = path_of(key);
    local_tree::FolderChain chain;
    FileDescriptor lock;
    lock_key(key, path, chain, lock);
    // linkat() fails when the name exists, whoever wrote it (a plain put too): an atomic create.
    const std::string temporary = write_temporary(key, path, chain, Content{body, nullptr});
    const bool created = ::linkat(chain.last(), temporary.c_str(), chain.last(), path.file.c_str(), 0) == 0;
    const int link_error = created ? 0 : errno;
    const std::string why = created ? std::string() : system_reason();
    ::unlinkat(chain.last(), temporary.c_str(), 0);
    if (!created && link_error != EEXIST) throw StorageError(util::concat({"cannot write key '", key, "': ", why}));
    if (created) ::fsync(chain.last());  // makes the new name durable
    return created;
  }

  bool put_if_version(std::string_view key, const Pieces& body, const std::string& version) override {
    const RecordPath path = path_of(key);
    local_tree::FolderChain chain;
    FileDescriptor lock;
    lock_key(key, path, chain, lock);
    const std::optional<std::string> current = get(key);
    if (!current || util::hex(util::md5(*current)) != version) return false;
    const std::string temporary = write_temporary(key, path, chain, Content{body, nullptr});
    rename_into_place(key, path, chain, temporary);
    return true;
  }

  KeyPage list(const std::string&) override {
    KeyPage page;
    const int top = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (top < 0) throw StorageError(util::concat({"cannot list local shelf '", root_, "': ", system_reason()}));
    walk(top, std::string(), 0, page.keys);
    return page;
  }

  void clear() override {
    KeyPage all = list({});
    for (const auto& key : all.keys) erase(key);
  }

 private:
  void store(std::string_view key, const Content& body) {
    const RecordPath path = path_of(key);
    local_tree::FolderChain chain;
    chain.open(root_, path.folders, true);
    const std::string temporary = write_temporary(key, path, chain, body);
    rename_into_place(key, path, chain, temporary);
  }

  // A synced temporary file holding `body` in the chain's last folder, for a rename or link into
  // place. Another shelf erasing the last key of a piece folder removes that folder; if it does so
  // between its opening and the temporary file's creation, the chain is opened (made) again. Once
  // the temporary file is in it, the folder is no longer empty and stays.
  std::string write_temporary(std::string_view key, const RecordPath& path, local_tree::FolderChain& chain,
                              const Content& body) const {
    for (int attempt = 1;; ++attempt) {
      std::string temporary = io::temporary_name(local_tree::kTemporaryPrefix);
      if (write_synced(chain, temporary, body)) return temporary;
      if (attempt == 10) {
        throw StorageError(util::concat({"cannot write key '", key, "': its folder keeps disappearing"}));
      }
      chain.open(root_, path.folders, true);
    }
  }

  static void rename_into_place(std::string_view key, const RecordPath& path, const local_tree::FolderChain& chain,
                                const std::string& temporary) {
    if (::renameat(chain.last(), temporary.c_str(), chain.last(), path.file.c_str()) != 0) {
      const std::string why = system_reason();
      ::unlinkat(chain.last(), temporary.c_str(), 0);
      throw StorageError(util::concat({"cannot write key '", key, "': ", why}));
    }
    ::fsync(chain.last());  // makes the rename durable
  }

  // Opens the key's folders into `chain` and takes an exclusive flock on its lock file, into
  // `lock`: held until that closes. The lock file keeps its folder from being removed as empty.
  void lock_key(std::string_view key, const RecordPath& path, local_tree::FolderChain& chain,
                FileDescriptor& lock) const {
    const std::string name = ".lock-" + path.file;
    for (int attempt = 1;; ++attempt) {
      chain.open(root_, path.folders, true);
      // Read-only: flock needs no write access, so every user sharing the shelf can lock a lock
      // file another one created.
      lock.reset(::openat(chain.last(), name.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666));
      if (lock.get() >= 0) {
        int locked;
        do {
          locked = ::flock(lock.get(), LOCK_EX);
        } while (locked != 0 && errno == EINTR);
        if (locked != 0)
          throw StorageError(util::concat({"cannot lock '", chain.shown(), "/", name, "': ", system_reason()}));
        return;
      }
      if (errno == ELOOP) local_tree::throw_link(util::concat({chain.shown(), "/", name}));
      // The folder of a long key may be removed by an erase between its opening and the lock
      // file's creation: again.
      if (errno != ENOENT || attempt == 10) {
        throw StorageError(
            util::concat({"cannot lock key '", key, "' with '", chain.shown(), "/", name, "': ", system_reason()}));
      }
    }
  }

  // The record file opened for reading; -1 when there is none. A link there is refused, and so is
  // anything but a regular file, without waiting on it (a FIFO would block an open for reading).
  int open_record(local_tree::FolderChain& chain, const RecordPath& path) const {
    const auto [folder, name] = locate_for_reading(chain, path);
    if (name == nullptr) return -1;
    const int fd = ::openat(folder, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0 && errno == ELOOP) local_tree::throw_link(path.shown);
    if (fd < 0 && errno != ENOENT && errno != ENOTDIR) {
      throw StorageError(util::concat({"cannot read '", path.shown, "': ", system_reason()}));
    }
    return fd;
  }

  // The folder and name a record is read by; a null name when a piece folder is missing. A short
  // key's file lies in the shelf's folder itself, which may be reached through links anyway: it is
  // read by its whole path, one lookup with no folder to open first (O_NOFOLLOW and
  // AT_SYMLINK_NOFOLLOW still refuse the file itself as a link). A long key's piece folders are
  // opened one by one.
  std::pair<int, const char*> locate_for_reading(local_tree::FolderChain& chain, const RecordPath& path) const {
    if (path.folders.empty()) return {AT_FDCWD, path.shown.c_str()};
    if (!chain.open(root_, path.folders, false)) return {AT_FDCWD, nullptr};
    return {chain.last(), path.file.c_str()};
  }

  static std::uint64_t regular_size(const FileDescriptor& file, const RecordPath& path) {
    struct stat info {};
    if (::fstat(file.get(), &info) != 0)
      throw StorageError(util::concat({"cannot read '", path.shown, "': ", system_reason()}));
    if (!S_ISREG(info.st_mode))
      throw StorageError(util::concat({"cannot read '", path.shown, "': it is not a regular file"}));
    return static_cast<std::uint64_t>(info.st_size);
  }

  RecordPath path_of(std::string_view key) const {
    if (key.size() > kMaxKeyBytes) {
      throw StorageError(util::concat({"key of ", std::to_string(key.size()), " bytes is longer than the ",
                                       std::to_string(kMaxKeyBytes), " bytes a shelf key may have"}));
    }
    const std::string encoded = encode_key(key);
    RecordPath path;
    path.shown = root_;
    std::size_t at = 0;
    // Never cut inside a %XX escape: pieces must decode on their own.
    while (encoded.size() - at > kPieceBytes) {
      std::size_t cut = at + kPieceBytes;
      if (encoded[cut - 1] == '%')
        cut -= 1;
      else if (encoded[cut - 2] == '%')
        cut -= 2;
      path.folders.push_back(encoded.substr(at, cut - at) + kFolderMark);
      path.shown += '/' + path.folders.back();
      at = cut;
    }
    path.file = encoded.substr(at);
    path.shown += '/' + path.file;
    return path;
  }

  // Adds the keys in the open folder `folder` (taken over) and its piece folders; links are
  // neither keys nor entered.
  void walk(int folder_fd, const std::string& encoded_prefix, int depth, std::vector<std::string>& keys) const {
    local_tree::FolderReader folder(folder_fd);
    if (folder.get() == nullptr) {
      if (depth == 0) throw StorageError(util::concat({"cannot list local shelf '", root_, "': ", system_reason()}));
      return;
    }
    while (const dirent* entry = ::readdir(folder.get())) {
      const std::string name = entry->d_name;
      if (name.empty() || name[0] == '.') continue;
      struct stat info {};
      if (::fstatat(folder.fd(), entry->d_name, &info, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
      if (S_ISDIR(info.st_mode) && name.back() == kFolderMark) {
        if (depth >= local_tree::kMaxDepth) continue;
        const int child = ::openat(folder.fd(), entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (child >= 0) walk(child, encoded_prefix + name.substr(0, name.size() - 1), depth + 1, keys);
      } else if (S_ISREG(info.st_mode)) {
        if (auto key = decode_name(encoded_prefix + name)) {
          keys.push_back(std::move(*key));
        }
      }
    }
  }

  // Makes the shelf's folder and its missing parents (the user's path: links in it are followed).
  static bool make_folders(const std::string& path, std::string& reason) {
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0) {
      if (S_ISDIR(info.st_mode)) return true;
      reason = "'" + path + "' exists and is not a folder";
      return false;
    }
    const auto slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0 && !make_folders(path.substr(0, slash), reason)) return false;
    if (::mkdir(path.c_str(), 0777) != 0) {
      if (errno == EEXIST) return true;
      reason = "cannot create folder '" + path + "': " + system_reason();
      return false;
    }
    // The new folder's entry must reach the disk too, or a synced file inside it can vanish in a
    // crash along with the folder.
    const std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    FileDescriptor dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() >= 0) ::fsync(dir.get());
    return true;
  }

  // Writes and syncs a new file in the chain's last folder; false when that folder has been
  // removed meanwhile (any other failure throws).
  static bool write_synced(const local_tree::FolderChain& chain, const std::string& name, const Content& body) {
    const std::string shown = chain.shown() + "/" + name;
    FileDescriptor file(
        ::openat(chain.last(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666));
    if (file.get() < 0) {
      if (errno == ENOENT) return false;
      throw StorageError(util::concat({"cannot create '", shown, "': ", system_reason()}));
    }
    try {
      write_all(file, shown, body);
    } catch (...) {
      ::unlinkat(chain.last(), name.c_str(), 0);
      throw;
    }
    return true;
  }

  static void write_all(FileDescriptor& file, const std::string& path, const Content& body) {
    for (const auto piece : body.pieces) write_file(file.get(), path, piece);
    if (body.file != nullptr) {
      read_in_parts(body.file->fd, body.file->path, body.file->size,
                    [&](std::string_view part) { write_file(file.get(), path, part); });
    }
    if (::fsync(file.get()) != 0) throw StorageError(util::concat({"cannot sync '", path, "': ", system_reason()}));
    if (!file.close()) throw StorageError(util::concat({"cannot close '", path, "': ", system_reason()}));
  }

  std::string root_;
};

}  // namespace

std::unique_ptr<Provider> make_local_provider(const config::LocalSettings& settings) {
  return std::make_unique<LocalProvider>(settings.folder);
}

}  // namespace cshelve::providers
