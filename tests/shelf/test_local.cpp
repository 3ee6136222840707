// The local provider's folder: what killed writers leave behind, and symbolic links inside it.
#include <cshelve/cshelve.hpp>

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

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
