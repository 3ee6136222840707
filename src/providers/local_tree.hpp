// The local provider's folder tree below the shelf's own folder: walked one open folder at a time
// so that no name inside it is ever resolved through a symbolic link; temporary file names, and
// the tidying of what killed writers left behind.
#ifndef CSHELVE_PROVIDERS_LOCAL_TREE_HPP
#define CSHELVE_PROVIDERS_LOCAL_TREE_HPP

#include <dirent.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cshelve::providers::local_tree {

// A record is written to a file named this prefix and 16 random hexadecimal digits, then renamed.
constexpr std::string_view kTemporaryPrefix = ".tmp-";
// Ends the name of every piece folder (a character the key encoding never produces).
constexpr char kFolderMark = '+';
// A temporary file untouched for this long has no writer left: a live writer writes its file
// from start to end without pausing, so its time of last change stays recent.
constexpr std::chrono::seconds kStaleTemporaryAge = std::chrono::hours(1);

// A 1,024-byte key encodes to at most 3,072 bytes: 16 piece folders. Deeper folders are not the
// provider's, and the bound keeps a hostile tree from using up descriptors or stack.
constexpr int kMaxDepth = 32;

// A folder being read; owns the descriptor it is given (-1 gives a reader that reads nothing).
class FolderReader {
 public:
  explicit FolderReader(int fd);
  FolderReader(const FolderReader&) = delete;
  FolderReader& operator=(const FolderReader&) = delete;
  ~FolderReader();
  DIR* get() const { return dir_; }
  int fd() const { return ::dirfd(dir_); }

 private:
  DIR* dir_;
};

// The StorageError for a symbolic link found at `shown` inside the shelf.
[[noreturn]] void throw_link(const std::string& shown);

// Opens the folder `name` inside the open folder `parent`, never through a link: -1 with errno
// set when it is missing (ENOENT) or something else is in its place (ENOTDIR). A link there is
// a StorageError naming `shown`.
int open_folder_at(int parent, const std::string& name, const std::string& shown);

// The open folders from the shelf's folder down to a record's folder. A record is opened, created,
// renamed and removed relative to the last of them, so no name below the shelf's folder is ever
// resolved through a symbolic link, not even one swapped in after an earlier check.
class FolderChain {
 public:
  FolderChain() = default;
  FolderChain(const FolderChain&) = delete;
  FolderChain& operator=(const FolderChain&) = delete;
  ~FolderChain() { close_all(); }

  // Opens the shelf's folder `root` (which may itself be reached through a link: the user's path)
  // and then the piece folders `names`, each inside the one before. With `create`, missing piece
  // folders are made (and their entries synced); without, false when one is missing. Throws
  // StorageError for a link, a file in a piece folder's place, or any other failure.
  bool open(const std::string& root, const std::vector<std::string>& names, bool create);

  // The open folder at `level`: 0 is the shelf's folder, then one per piece folder.
  int at(std::size_t level) const { return fds_[level]; }
  int last() const { return fds_.back(); }
  // The path of the last folder, for messages.
  const std::string& shown() const { return shown_; }

 private:
  enum class Walk { opened, missing, folder_removed };
  Walk open_once(const std::string& root, const std::vector<std::string>& names, bool create);
  void close_all();

  std::vector<int> fds_;
  std::string shown_;
};

// Whether `name` is exactly one of the provider's temporary file names.
bool is_temporary_name(std::string_view name);

// Removes the provider's temporary files last changed more than `age` ago from the shelf's folder
// `root` and its piece folders (a writer killed before its rename leaves one behind), then the
// piece folders this leaves empty. Only regular files whose names are exactly temporary names go;
// no symbolic link is followed. Best effort: what cannot be read or removed stays. Returns how
// many files were removed.
std::size_t remove_stale_temporaries(const std::string& root, std::chrono::seconds age);

}  // namespace cshelve::providers::local_tree

#endif
