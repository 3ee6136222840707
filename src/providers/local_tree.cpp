#include "providers/local_tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>

namespace cshelve::providers::local_tree {
namespace {

constexpr std::size_t kTemporaryDigits = 16;
// A 1,024-byte key encodes to at most 3,072 bytes: 16 piece folders. Deeper folders are not the
// provider's, and a bound keeps a hostile tree from using up descriptors or stack.
constexpr int kMaxDepth = 32;

// A folder being read; owns the descriptor it is given.
class FolderReader {
 public:
  explicit FolderReader(int fd) : dir_(fd >= 0 ? ::fdopendir(fd) : nullptr) {
    if (dir_ == nullptr && fd >= 0) ::close(fd);
  }
  FolderReader(const FolderReader&) = delete;
  FolderReader& operator=(const FolderReader&) = delete;
  ~FolderReader() {
    if (dir_ != nullptr) ::closedir(dir_);
  }
  DIR* get() const { return dir_; }
  int fd() const { return ::dirfd(dir_); }

 private:
  DIR* dir_;
};

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
