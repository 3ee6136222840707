// The local provider: one file per key in a folder.
//
// A key becomes a file name by keeping `a-z 0-9 - _` and writing every other byte as %XX
// (upper-case hex). Upper-case letters and dots are encoded too, so names never clash on
// case-insensitive file systems and never read as `.` or `..`. Encoded names longer than one file
// name may be are cut into 200-byte pieces: every piece but the last is a folder whose name ends in
// '+', a character the encoding never produces, so `k` (a file) and `k+` (a folder of longer keys)
// live side by side. The empty key is the file `%`. Writes go to a temporary file (names starting
// with '.', which the encoding never produces) that is synced and renamed into place, so a reader
// sees the old record or the new one, never a part.
#include "io/file.hpp"
#include "io/temporary_file.hpp"
#include "providers/local_tree.hpp"
#include "util/hex.hpp"
#include "providers/provider.hpp"

#include <cshelve/errors.hpp>

#include <cerrno>
#include <cstring>
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

class Directory {
 public:
  explicit Directory(const std::string& path) : dir_(::opendir(path.c_str())) {}
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;
  ~Directory() {
    if (dir_ != nullptr) ::closedir(dir_);
  }
  DIR* get() const { return dir_; }

 private:
  DIR* dir_;
};

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
      throw CanNotCreateDBError("cannot create local shelf folder '" + root_ + "': " + reason);
    }
  }

  void prepare_for_writes() noexcept override {
    local_tree::remove_stale_temporaries(root_, local_tree::kStaleTemporaryAge);
  }

  std::optional<std::string> get(std::string_view key) override {
    if (key.size() > kMaxKeyBytes) return std::nullopt;  // never stored, so never there
    const std::string path = path_of(key);
    refuse_links(path);
    FileDescriptor file(open_record(path));
    if (file.get() < 0) return std::nullopt;
    struct stat info {};
    if (::fstat(file.get(), &info) != 0) throw StorageError("cannot read '" + path + "': " + system_reason());
    std::string record;
    // A 32-bit process cannot hold a record of 4 GiB or more: its size must not wrap on the way.
    if (static_cast<std::uint64_t>(info.st_size) > record.max_size()) {
      throw StorageError("cannot read '" + path + "': its " + std::to_string(info.st_size) +
                         " bytes do not fit in this process's memory");
    }
    record.resize(static_cast<std::size_t>(info.st_size));
    std::size_t filled = 0;
    for (;;) {
      if (filled == record.size()) record.resize(record.size() + 4096);  // the file grew meanwhile
      const ssize_t got = ::read(file.get(), record.data() + filled, record.size() - filled);
      if (got < 0) {
        if (errno == EINTR) continue;
        throw StorageError("cannot read '" + path + "': " + system_reason());
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
    const std::string path = path_of(key);
    refuse_links(path);
    FileDescriptor file(open_record(path));
    if (file.get() < 0) return false;
    // A record file is replaced by renaming, never changed in place: its size stays as opened.
    struct stat info {};
    if (::fstat(file.get(), &info) != 0) throw StorageError("cannot read '" + path + "': " + system_reason());
    sink.restart();
    read_in_parts(file.get(), path, static_cast<std::uint64_t>(info.st_size),
                  [&sink](std::string_view part) { sink.write(part); });
    return true;
  }

  Erased erase(std::string_view key) override {
    if (key.size() > kMaxKeyBytes) return Erased::absent;
    const std::string path = path_of(key);
    refuse_links(path);
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return Erased::absent;
      throw StorageError("cannot delete key '" + std::string(key) + "': " + system_reason());
    }
    std::string folder = path.substr(0, path.rfind('/'));
    sync_folder(folder);
    // Remove the piece folders the key leaves empty; rmdir refuses non-empty ones.
    while (folder.size() > root_.size() && ::rmdir(folder.c_str()) == 0) folder.resize(folder.rfind('/'));
    return Erased::existed;
  }

  bool contains(std::string_view key) override {
    if (key.size() > kMaxKeyBytes) return false;
    const std::string path = path_of(key);
    refuse_links(path);
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0) return false;
    if (S_ISLNK(info.st_mode)) throw_link(path);
    return S_ISREG(info.st_mode);
  }

  KeyPage list(const std::string&) override {
    KeyPage page;
    walk(root_, std::string(), page.keys);
    return page;
  }

  void clear() override {
    KeyPage all = list({});
    for (const auto& key : all.keys) erase(key);
  }

 private:
  void store(std::string_view key, const Content& body) {
    const std::string path = path_of(key);
    const std::string folder = path.substr(0, path.rfind('/'));
    std::string reason;
    refuse_links(path);  // before make_folders, which would create folders through a link
    if (!make_folders(folder, reason)) throw StorageError("cannot write key '" + std::string(key) + "': " + reason);
    refuse_links(path);

    // Another shelf erasing the last key of a piece folder removes that folder; if it does so
    // between make_folders and the temporary file's creation, make the folder again. Once the
    // temporary file is in it, the folder is no longer empty and stays.
    std::string temporary;
    for (int attempt = 1;; ++attempt) {
      temporary = io::temporary_name(folder + "/" + std::string(local_tree::kTemporaryPrefix));
      if (write_synced(temporary, body)) break;
      if (attempt == 10 || !make_folders(folder, reason)) {
        throw StorageError("cannot write key '" + std::string(key) + "': its folder keeps disappearing");
      }
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
      const std::string why = system_reason();
      ::unlink(temporary.c_str());
      throw StorageError("cannot write key '" + std::string(key) + "': " + why);
    }
    sync_folder(folder);
  }

  // The record file at `path` opened for reading; -1 when there is none.
  static int open_record(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ELOOP) throw_link(path);
    if (fd < 0 && errno != ENOENT && errno != ENOTDIR) {
      throw StorageError("cannot read '" + path + "': " + system_reason());
    }
    return fd;
  }

  [[noreturn]] static void throw_link(const std::string& path) {
    throw StorageError("'" + path +
                       "' is a symbolic link: a local shelf never follows a link, so it never reads or "
                       "writes outside its folder");
  }

  // Refuses a path whose piece folders (those between the shelf's folder and the record file) hold
  // a symbolic link: a link there would lead reads and writes outside the shelf's folder. The record
  // file itself is opened with O_NOFOLLOW, and renames and unlinks never follow it. Short keys have
  // no piece folders, so this costs them nothing.
  void refuse_links(const std::string& path) const {
    const std::size_t last = path.rfind('/');
    for (std::size_t slash = path.find('/', root_.size() + 1); slash != std::string::npos && slash <= last;
         slash = path.find('/', slash + 1)) {
      const std::string folder = path.substr(0, slash);
      struct stat info {};
      if (::lstat(folder.c_str(), &info) != 0) return;  // absent: nothing below it either
      if (S_ISLNK(info.st_mode)) throw_link(folder);
    }
  }

  std::string path_of(std::string_view key) const {
    if (key.size() > kMaxKeyBytes) {
      throw StorageError("key of " + std::to_string(key.size()) + " bytes is longer than the " +
                         std::to_string(kMaxKeyBytes) + " bytes a shelf key may have");
    }
    const std::string encoded = encode_key(key);
    std::string path = root_;
    std::size_t at = 0;
    // Never cut inside a %XX escape: pieces must decode on their own.
    while (encoded.size() - at > kPieceBytes) {
      std::size_t cut = at + kPieceBytes;
      if (encoded[cut - 1] == '%')
        cut -= 1;
      else if (encoded[cut - 2] == '%')
        cut -= 2;
      path += '/';
      path.append(encoded, at, cut - at);
      path += kFolderMark;
      at = cut;
    }
    path += '/';
    path.append(encoded, at, std::string::npos);
    return path;
  }

  void walk(const std::string& folder, const std::string& encoded_prefix, std::vector<std::string>& keys) const {
    Directory dir(folder);
    if (dir.get() == nullptr) {
      if (folder == root_) throw StorageError("cannot list local shelf '" + root_ + "': " + system_reason());
      return;  // removed meanwhile
    }
    while (const dirent* entry = ::readdir(dir.get())) {
      const std::string name = entry->d_name;
      if (name.empty() || name[0] == '.') continue;
      const std::string child = folder + "/" + name;
      struct stat info {};
      if (::lstat(child.c_str(), &info) != 0) continue;
      if (S_ISDIR(info.st_mode) && name.back() == kFolderMark) {
        walk(child, encoded_prefix + name.substr(0, name.size() - 1), keys);
      } else if (S_ISREG(info.st_mode)) {
        if (auto key = decode_name(encoded_prefix + name)) {
          keys.push_back(std::move(*key));
        }
      }
    }
  }

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
    sync_folder(slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash));
    return true;
  }

  // Writes and syncs a new file; false when its folder does not exist (any other failure throws).
  static bool write_synced(const std::string& path, const Content& body) {
    FileDescriptor file(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
    if (file.get() < 0) {
      if (errno == ENOENT) return false;
      throw StorageError("cannot create '" + path + "': " + system_reason());
    }
    try {
      write_all(file, path, body);
    } catch (...) {
      ::unlink(path.c_str());
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
    if (::fsync(file.get()) != 0) throw StorageError("cannot sync '" + path + "': " + system_reason());
    if (!file.close()) throw StorageError("cannot close '" + path + "': " + system_reason());
  }

  // Makes a rename or unlink durable: the folder entry itself must reach the disk.
  static void sync_folder(const std::string& folder) {
    FileDescriptor dir(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() >= 0) ::fsync(dir.get());
  }

  std::string root_;
};

}  // namespace

std::unique_ptr<Provider> make_local_provider(const config::LocalSettings& settings) {
  return std::make_unique<LocalProvider>(settings.folder);
}

}  // namespace cshelve::providers
