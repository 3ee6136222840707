// Temporary files: the one generator of their names, a file that replaces another whole on commit,
// and a nameless spool file.
#ifndef CSHELVE_IO_TEMPORARY_FILE_HPP
#define CSHELVE_IO_TEMPORARY_FILE_HPP

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "io/file.hpp"

namespace cshelve::io {

// `prefix` followed by 16 random hexadecimal digits: a name no other writer picks by chance.
std::string temporary_name(std::string_view prefix);

// The folder part of a path ("" for a bare name, "dir/" for "dir/name").
std::string folder_of(const std::string& path);

// A new file beside `path` that takes its place on commit(), and is removed otherwise: a reader of
// `path` sees its old contents or the whole new value, never a part (it is not synced to disk).
// The new file keeps the mode of the one it replaces and is readable by its owner only until
// then; a symbolic link at `path` is followed.
class ReplacementFile {
 public:
  explicit ReplacementFile(const std::string& path);
  ReplacementFile(const ReplacementFile&) = delete;
  ReplacementFile& operator=(const ReplacementFile&) = delete;
  ~ReplacementFile();

  void write(std::string_view data);
  void truncate();  // drops what was written, to start over
  void commit();

 private:
  [[noreturn]] void fail() const;

  std::string path_;
  std::string target_;  // path_, or what its symbolic link points to
  std::string temporary_;
  FileDescriptor file_;
  mode_t mode_ = 0644;
  bool committed_ = false;
};

// A nameless file, gone when closed: where a processed record is put together, its header being
// known only at the end, or kept until it is authenticated. It lives in `folder` (beside the
// user's file, so a temporary folder in memory is not filled), or else the system's temporary folder.
class SpoolFile {
 public:
  explicit SpoolFile(const std::string& folder);
  int fd() const { return file_.get(); }
  const std::string& path() const { return path_; }  // a description, for messages
  std::uint64_t size() const { return size_; }
  void append(std::string_view data);
  void write_at(std::uint64_t offset, std::string_view data);
  void truncate();

 private:
  FileDescriptor file_;
  std::string path_;
  std::uint64_t size_ = 0;
};

}  // namespace cshelve::io

#endif
