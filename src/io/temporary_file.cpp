#include "io/temporary_file.hpp"

#include <cshelve/errors.hpp>

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "util/hex.hpp"
#include "util/text.hpp"

namespace cshelve::io {

std::string temporary_name(std::string_view prefix) {
  // Fresh bits from the kernel for every name: a generator seeded once would hand a forked child
  // the very names its parent goes on to pick. The generator is the fallback only.
  std::uint64_t bits = 0;
  if (::getrandom(&bits, sizeof bits, 0) != static_cast<ssize_t>(sizeof bits)) {
    thread_local std::mt19937_64 generator{std::random_device{}()};
    bits = generator() ^ static_cast<std::uint64_t>(::getpid());
  }
  std::string name(prefix);
  for (int i = 0; i < 16; ++i, bits >>= 4) name += util::hex_digit(static_cast<unsigned>(bits));
  return name;
}

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

ReplacementFile::ReplacementFile(const std::string& path) : path_(path) {
  struct stat info {};
  if (::lstat(path_.c_str(), &info) == 0 && S_ISLNK(info.st_mode)) {
    if (char* target = ::realpath(path_.c_str(), nullptr)) {
      target_ = target;
      std::free(target);
    }
  }
  if (target_.empty()) target_ = path_;
  const std::string folder = folder_of(target_);
  for (int attempt = 0; attempt < 100 && file_.get() < 0; ++attempt) {
    temporary_ = temporary_name(folder + ".cshelve-") + ".part";
    file_.reset(::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
    if (file_.get() < 0 && errno != EEXIST) break;
  }
  if (file_.get() < 0) fail();
  // The mode a new file gets here (the umask applied), for when there is no file to replace.
  if (::fstat(file_.get(), &info) != 0 || ::fchmod(file_.get(), 0600) != 0) fail();
  mode_ = info.st_mode & 07777;
}

ReplacementFile::~ReplacementFile() {
  if (!committed_) ::unlink(temporary_.c_str());
}

void ReplacementFile::write(std::string_view data) { write_file(file_.get(), path_, data); }

void ReplacementFile::truncate() {
  if (::ftruncate(file_.get(), 0) != 0 || ::lseek(file_.get(), 0, SEEK_SET) != 0) fail();
}

void ReplacementFile::commit() {
  struct stat replaced {};
  if (::stat(target_.c_str(), &replaced) == 0 && S_ISREG(replaced.st_mode)) mode_ = replaced.st_mode & 07777;
  if (::fchmod(file_.get(), mode_) != 0 || !file_.close() || ::rename(temporary_.c_str(), target_.c_str()) != 0) {
    fail();
  }
  committed_ = true;
}

void ReplacementFile::fail() const {
  throw StorageError(util::concat({"cannot write '", path_, "': ", system_reason()}));
}

SpoolFile::SpoolFile(const std::string& folder) {
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
  throw StorageError(util::concat({"cannot create a temporary file in '", system_folder, "': ", system_reason()}));
}

void SpoolFile::append(std::string_view data) {
  write_file_at(file_.get(), path_, size_, data);
  size_ += data.size();
}

void SpoolFile::write_at(std::uint64_t offset, std::string_view data) {
  write_file_at(file_.get(), path_, offset, data);
}

void SpoolFile::truncate() {
  if (::ftruncate(file_.get(), 0) != 0)
    throw StorageError(util::concat({"cannot write ", path_, ": ", system_reason()}));
  size_ = 0;
}

}  // namespace cshelve::io
