#include "providers/local_tree.hpp"

#include <cshelve/errors.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "io/file.hpp"
#include "util/text.hpp"

namespace cshelve::providers::local_tree {
namespace {

constexpr std::size_t kTemporaryDigits = 16;

bool may_be_folder(const dirent& entry) { return entry.d_type == DT_DIR || entry.d_type == DT_UNKNOWN; }

std::size_t tidy(int folder_fd, std::time_t cutoff, int depth) {
  FolderReader folder(folder_fd);
  if (folder.get() == nullptr) return 0;
  std::size_t removed = 0;
  while (const dirent* entry = ::readdir(folder.get())) {
    const std::string_view name = entry->d_name;
    if (is_temporary_name(name)) {
      struct stat info {};
      if (::fstatat(folder.fd(), entry->d_name, &info, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(info.st_mode) &&
          info.st_mtime < cutoff && ::unlinkat(folder.fd(), entry->d_name, 0) == 0) {
        ++removed;
      }
    } else if (depth < kMaxDepth && name.size() > 1 && name.back() == kFolderMark && name.front() != '.' &&
               may_be_folder(*entry)) {
      // O_NOFOLLOW: a link in the place of a piece folder is neither entered nor removed.
      const int child = ::openat(folder.fd(), entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child < 0) continue;
      const std::size_t removed_below = tidy(child, cutoff, depth + 1);
      // A piece folder that held only stale files goes too; rmdir leaves one that is not empty.
      if (removed_below > 0) ::unlinkat(folder.fd(), entry->d_name, AT_REMOVEDIR);
      removed += removed_below;
    }
  }
  return removed;
}

}  // namespace

FolderReader::FolderReader(int fd) : dir_(fd >= 0 ? ::fdopendir(fd) : nullptr) {
  if (dir_ == nullptr && fd >= 0) ::close(fd);
}

FolderReader::~FolderReader() {
  if (dir_ != nullptr) ::closedir(dir_);
}

void throw_link(const std::string& shown) {
  throw StorageError(util::concat(
      {"'", shown,
       "' is a symbolic link: a local shelf never follows a link, so it never reads or writes outside its folder"}));
}

int open_folder_at(int parent, const std::string& name, const std::string& shown) {
  const int fd = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) return fd;
  const int error = errno;
  // With O_DIRECTORY, a link is refused as ENOTDIR, like a file; with O_NOFOLLOW alone, as ELOOP.
  struct stat info {};
  if ((error == ELOOP || error == ENOTDIR) && ::fstatat(parent, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISLNK(info.st_mode)) {
    throw_link(shown);
  }
  if (error != ENOENT && error != ENOTDIR) {
    errno = error;
    throw StorageError(util::concat({"cannot open folder '", shown, "': ", io::system_reason()}));
  }
  errno = error;
  return -1;
}

bool FolderChain::open(const std::string& root, const std::vector<std::string>& names, bool create) {
  // An erase in another shelf removes a piece folder its last key leaves empty, perhaps one this
  // walk has just opened: nothing can then be opened or made inside it, and the walk starts over
  // from the shelf's folder.
  for (int round = 1;; ++round) {
    const Walk walk = open_once(root, names, create);
    if (walk != Walk::folder_removed) return walk == Walk::opened;
    if (round == 10) throw StorageError(util::concat({"cannot create folder '", shown_, "': it keeps disappearing"}));
  }
}

FolderChain::Walk FolderChain::open_once(const std::string& root, const std::vector<std::string>& names, bool create) {
  close_all();
  shown_ = root;
  const int top = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (top < 0) {
    if (!create && (errno == ENOENT || errno == ENOTDIR)) return Walk::missing;
    throw StorageError(util::concat({"cannot open local shelf folder '", root, "': ", io::system_reason()}));
  }
  fds_.push_back(top);
  for (const std::string& name : names) {
    shown_ += '/';
    shown_ += name;
    int fd = open_folder_at(last(), name, shown_);
    // Another shelf erasing the last key of a piece folder removes it, perhaps just after it was
    // made here: make it again.
    for (int attempt = 0; fd < 0 && errno == ENOENT && create && attempt < 10; ++attempt) {
      if (::mkdirat(last(), name.c_str(), 0777) != 0 && errno != EEXIST) {
        if (errno == ENOENT) return Walk::folder_removed;  // the open folder above is gone
        throw StorageError(util::concat({"cannot create folder '", shown_, "': ", io::system_reason()}));
      }
      // The new folder's entry must reach the disk too, or a synced file inside it can vanish in
      // a crash along with the folder.
      ::fsync(last());
      fd = open_folder_at(last(), name, shown_);
    }
    if (fd < 0) {
      if (!create) return Walk::missing;  // no such key
      if (errno == ENOTDIR) throw StorageError(util::concat({"'", shown_, "' exists and is not a folder"}));
      return Walk::folder_removed;
    }
    fds_.push_back(fd);
  }
  return Walk::opened;
}

void FolderChain::close_all() {
  for (const int fd : fds_) ::close(fd);
  fds_.clear();
}

bool is_temporary_name(std::string_view name) {
  if (name.size() != kTemporaryPrefix.size() + kTemporaryDigits ||
      name.substr(0, kTemporaryPrefix.size()) != kTemporaryPrefix) {
    return false;
  }
  for (const char c : name.substr(kTemporaryPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::size_t remove_stale_temporaries(const std::string& root, std::chrono::seconds age) {
  // The shelf's own folder may be reached through a link (a user's path); nothing below it is.
  const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  const std::time_t cutoff = std::time(nullptr) - static_cast<std::time_t>(age.count());
  return tidy(fd, cutoff, 0);
}

}  // namespace cshelve::providers::local_tree
