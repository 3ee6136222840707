// Plain POSIX file handling: the local provider's records, and the files and temporary files of
// the shelf's large transfers.
#ifndef CSHELVE_IO_FILE_HPP
#define CSHELVE_IO_FILE_HPP

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace cshelve::io {

// An open file descriptor, closed with its owner.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd = -1) noexcept : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor();
  int get() const noexcept { return fd_; }
  void reset(int fd) noexcept;
  // Closes now, reporting failure (a failed close can mean lost data).
  bool close() noexcept;

 private:
  int fd_;
};

// The text of errno, for messages.
std::string system_reason();

// Reads up to `room` bytes at `offset` (fewer only at the end of the file). `path` names the
// file in the StorageError thrown when reading fails.
std::size_t read_file_at(int fd, const std::string& path, std::uint64_t offset, char* buffer, std::size_t room);
// Reads exactly `size` bytes at `offset`; a file that ends sooner (it shrank while being read) is
// a StorageError naming `path`.
void read_exactly_at(int fd, const std::string& path, std::uint64_t offset, char* buffer, std::size_t size);

// Hands the first `size` bytes of the file to `take`, 1 MiB at a time; a file that ends sooner
// is a StorageError, as for read_exactly_at.
void read_in_parts(int fd, const std::string& path, std::uint64_t size,
                   const std::function<void(std::string_view)>& take);

// Writes all of `data` at the file's current position; throws StorageError naming `path`.
void write_file(int fd, const std::string& path, std::string_view data);
// Writes all of `data` at `offset`, leaving the file's position alone.
void write_file_at(int fd, const std::string& path, std::uint64_t offset, std::string_view data);

}  // namespace cshelve::io

#endif
