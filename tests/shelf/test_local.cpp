// The local provider's folder: what killed writers leave behind, and symbolic links inside it.
#include <cshelve/cshelve.hpp>

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>  // RENAME_EXCHANGE
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "../support/test_support.hpp"

using namespace cshelve;
using cshelve_test::TempDir;
using cshelve_test::write_text;
namespace fs = std::filesystem;

namespace {

// Sets a file's (or a link's own) time of last change `seconds` into the past.
void age(const std::string& path, long seconds) {
  struct timespec times[2];
  ::clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= seconds;
  times[1] = times[0];
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}

std::string piece_folder_of(const std::string& shelf) {
  for (const auto& entry : fs::directory_iterator(shelf)) {
    if (entry.is_directory() && !entry.is_symlink()) return entry.path().string();
  }
  return {};
}

}  // namespace

TEST_CASE("local: opening for writing removes stale temporary files, and nothing else") {
  const long two_hours = 2 * 3600;
  for (const Flag flag : {Flag::write, Flag::create, Flag::truncate, Flag::read}) {
    CAPTURE(static_cast<int>(flag));
    TempDir dir;
    const std::string shelf = dir / "shelf";
    const std::string long_key(300, 'k');  // lives in a piece folder
    {
      auto db = open(shelf, Flag::create);
      db.set(long_key, "value");
      db.set("short", "value");
    }
    const std::string piece = piece_folder_of(shelf);
    REQUIRE(!piece.empty());
    // Left by writers killed more than an hour ago: these go.
    const std::string stale_top = shelf + "/.tmp-0123456789abcdef";
    const std::string stale_piece = piece + "/.tmp-fedcba9876543210";
    // A piece folder holding nothing but a stale temporary file (its key was never renamed in).
    const std::string orphan_folder = shelf + "/" + std::string(200, 'o') + "+";
    const std::string stale_orphan = orphan_folder + "/.tmp-00000000000000aa";
    fs::create_directory(orphan_folder);
    for (const auto& path : {stale_top, stale_piece, stale_orphan}) {
      write_text(path, "partial");
      age(path, two_hours);
    }
    // A live writer's file, and old files whose names are not exactly temporary names: these stay.
    const std::string young = shelf + "/.tmp-1111111111111111";
    write_text(young, "being written");
    age(young, 50 * 60);
    std::vector<std::string> foreign = {shelf + "/.tmp-0123",
                                        shelf + "/.tmp-0123456789abcdef0",
                                        shelf + "/.tmp-0123456789ABCDEF",
                                        shelf + "/x.tmp-0123456789abcdef",
                                        shelf + "/.lock-short",
                                        piece + "/.lock-" + std::string(100, 'k'),
                                        shelf + "/.tmp-0123456789abcdef.part"};
    for (const auto& path : foreign) {
      write_text(path, "not a temporary file");
      age(path, two_hours);
    }
    // Links are neither followed nor removed: a link named as a temporary file, and a piece
    // folder's name linking to a folder outside that holds an old temporary file.
    const std::string outside = dir / "outside";
    fs::create_directory(outside);
    const std::string outside_file = outside + "/.tmp-2222222222222222";
    write_text(outside_file, "outside");
    age(outside_file, two_hours);
    const std::string linked_file = shelf + "/.tmp-3333333333333333";
    fs::create_symlink(outside_file, linked_file);
    age(linked_file, two_hours);
    const std::string linked_folder = shelf + "/" + std::string(200, 'l') + "+";
    fs::create_directory_symlink(outside, linked_folder);
    foreign.insert(foreign.end(), {young, outside_file, linked_file, linked_folder});

    auto db = open(shelf, flag);
    const bool tidied = flag != Flag::read;
    CHECK(fs::exists(fs::symlink_status(stale_top)) != tidied);
    CHECK(fs::exists(fs::symlink_status(stale_piece)) != tidied);
    CHECK(fs::exists(fs::symlink_status(stale_orphan)) != tidied);
    CHECK(fs::exists(fs::symlink_status(orphan_folder)) != tidied);
    for (const auto& path : foreign) {
      CAPTURE(path);
      CHECK(fs::exists(fs::symlink_status(path)));
    }
    if (flag == Flag::truncate) {
      CHECK(db.size() == 0);
    } else {
      CHECK(db.get(long_key) == "value");
      CHECK(db.get("short") == "value");
    }
  }
}

namespace {

// What an operation threw: "StorageError: message", or "" when it threw nothing.
template <typename Operation>
std::string storage_error_of(Operation operation) {
  try {
    operation();
  } catch (const StorageError& error) {
    return std::string("StorageError: ") + error.what();
  } catch (const std::exception& error) {
    return std::string("other: ") + error.what();
  }
  return {};
}

std::size_t files_under(const std::string& folder) {
  std::size_t count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) count += entry.is_regular_file();
  return count;
}

}  // namespace

TEST_CASE("local: a link swapped in as a piece folder of an open shelf is refused, at any depth") {
  TempDir dir;
  const std::string shelf = dir / "shelf";
  const std::string outside = dir / "outside";
  fs::create_directories(outside);
  const std::string key(500, 'k');  // two piece folders, one inside the other
  auto db = open(shelf, Flag::create);
  db.set(key, "inside");
  db.set(key + "2", "inside");
  const std::string outer = piece_folder_of(shelf);
  const std::string inner = piece_folder_of(outer);
  REQUIRE(!inner.empty());
  // The inner piece folder is moved outside, and a link to it takes its place.
  fs::rename(inner, outside + "/moved");
  fs::create_directory_symlink(outside + "/moved", inner);
  const std::size_t before = files_under(outside);

  std::string outcome = storage_error_of([&] { db.set(key, "written"); });
  CHECK_MESSAGE(outcome.find("StorageError: '" + inner + "' is a symbolic link") == 0, outcome);
  CHECK(storage_error_of([&] { db.set(key + "3", "written"); }).find("symbolic link") != std::string::npos);
  CHECK(storage_error_of([&] { (void)db.get(key); }).find("symbolic link") != std::string::npos);
  CHECK(storage_error_of([&] { (void)db.contains(key); }).find("symbolic link") != std::string::npos);
  CHECK(storage_error_of([&] { db.erase(key); }).find("symbolic link") != std::string::npos);
  write_text(dir / "source", "from a file");
  CHECK(storage_error_of([&] { db.set_file(key, dir / "source"); }).find("symbolic link") != std::string::npos);
  // Listing neither follows the link nor fails on it: the keys behind it are not the shelf's.
  std::size_t listed = 0;
  for (const std::string& name : db) listed += name.size();
  CHECK(listed == 0);
  CHECK(files_under(outside) == before);
  CHECK(fs::is_symlink(inner));

  // A file in a piece folder's place: no key is there to read, and a write says what is wrong.
  fs::remove(inner);
  write_text(inner, "a file");
  CHECK(!db.contains(key));
  CHECK(storage_error_of([&] { db.set(key, "written"); }).find("is not a folder") != std::string::npos);
}

TEST_CASE("local: writes never land outside the shelf while a piece folder keeps turning into a link") {
  TempDir dir;
  const std::string shelf = dir / "shelf";
  const std::string outside = dir / "outside";
  fs::create_directories(outside);
  const std::string key(300, 'k');
  auto db = open(shelf, Flag::create);
  db.set(key, "inside");
  const std::string piece = piece_folder_of(shelf);
  REQUIRE(!piece.empty());
  const std::string link = dir / "link";
  fs::create_directory_symlink(outside, link);
  // The folder and a link to a folder outside swap places at the piece folder's name, atomically
  // and as fast as they can: a check made before a write would leave a window to slip through.
  std::atomic<bool> stop{false};
  std::atomic<long> swaps{0};
  std::thread swapper([&] {
    while (!stop) {
      if (::syscall(SYS_renameat2, AT_FDCWD, piece.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE) == 0) ++swaps;
    }
  });
  std::size_t refused = 0;
  std::size_t written = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < until) {
    try {
      db.set(key, "written");
      ++written;
    } catch (const StorageError&) {
      ++refused;
    }
  }
  stop = true;
  swapper.join();
  MESSAGE(written << " writes, " << refused << " refused, " << swaps.load() << " swaps");
  if (swaps == 0) {
    MESSAGE("this file system cannot swap two names atomically (RENAME_EXCHANGE): not tested");
    return;
  }
  CHECK(refused > 0);
  CHECK(files_under(outside) == 0);
}
