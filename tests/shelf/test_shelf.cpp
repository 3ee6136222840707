#include <cshelve/cshelve.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "../support/log_collector.hpp"
#include "../support/test_support.hpp"

using namespace cshelve;
using cshelve_test::LogCollector;
using cshelve_test::TempDir;
using cshelve_test::write_text;

namespace {

std::atomic<int> memory_counter{0};

// An INI for an in-memory shelf shared between opens of this process under a fresh name.
std::string memory_ini(const TempDir& dir, bool exists = false, const std::string& extra = "") {
  const std::string path = dir / ("memory-" + std::to_string(++memory_counter) + ".ini");
  write_text(path, "[default]\nprovider = in-memory\npersist-key = store-" + std::to_string(memory_counter) +
                       (exists ? "\nexists = true\n" : "\n") + extra);
  return path;
}

std::set<std::string> keys_of(const Shelf& shelf) {
  std::set<std::string> keys;
  for (const std::string& key : shelf) CHECK(keys.insert(key).second);  // no key twice
  return keys;
}

// Both kinds of shelf that need no server, for tests that must hold for each.
std::vector<std::string> shelf_paths(const TempDir& dir) { return {dir / "local-shelf", memory_ini(dir)}; }

}  // namespace

TEST_CASE("shelf: set, get, find, contains, erase and size on every provider") {
  TempDir dir;
  for (const auto& path : shelf_paths(dir)) {
    CAPTURE(path);
    auto db = open(path);
    CHECK(db.size() == 0);
    CHECK(db.empty());
    db.set("user/42", std::string("\0binary\xff", 8));
    CHECK(db.get("user/42") == std::string("\0binary\xff", 8));
    CHECK(db.find("user/42").value() == std::string("\0binary\xff", 8));
    CHECK_FALSE(db.find("nope").has_value());
    CHECK(db.contains("user/42"));
    CHECK_FALSE(db.contains("user/4"));
    CHECK_FALSE(db.contains("user/420"));
    db.set("user/42", "replaced");
    CHECK(db.get("user/42") == "replaced");
    db.set("empty", "");
    CHECK(db.get("empty").empty());
    CHECK(db.contains("empty"));
    CHECK(db.size() == 2);
    db.erase("user/42");
    CHECK_FALSE(db.contains("user/42"));
    CHECK_THROWS_AS(db.get("user/42"), KeyNotFoundError);
    CHECK_THROWS_AS(db.erase("user/42"), KeyNotFoundError);
    CHECK(db.size() == 1);
    db.close();
  }
}

TEST_CASE("shelf: KeyNotFoundError names the key and is a cshelve::Error") {
  TempDir dir;
  auto db = open(dir / "s");
  try {
    (void)db.get("missing key");
    FAIL("no error");
  } catch (const KeyNotFoundError& error) {
    CHECK(error.key() == "missing key");
    CHECK(std::string(error.what()).find("missing key") != std::string::npos);
    const Error& base = error;
    CHECK(dynamic_cast<const std::runtime_error*>(&base) != nullptr);
  }
}

TEST_CASE("shelf: values persist across opens of a local shelf") {
  TempDir dir;
  const std::string path = dir / "persist";
  {
    auto db = open(path);
    db.set("a", "1");
    db.set("b", "2");
  }  // closed by the destructor
  auto db = open(path, Flag::read);
  CHECK(db.get("a") == "1");
  CHECK(keys_of(db) == std::set<std::string>{"a", "b"});
}

TEST_CASE("shelf: any UTF-8 key works in a local shelf") {
  TempDir dir;
  auto db = open(dir / "keys");
  std::vector<std::string> keys = {"",
                                   "/",
                                   "a/b/c",
                                   "/leading",
                                   "trailing/",
                                   "a//b",
                                   ".",
                                   "..",
                                   "../escape",
                                   "a/../b",
                                   "a/./b",
                                   "with space",
                                   "UPPER",
                                   "upper",
                                   "Upper",
                                   "%",
                                   "%41",
                                   "+",
                                   "k+",
                                   "dots...",
                                   "ünïcödé 漢字 🦀",
                                   "new\nline",
                                   "tab\tkey",
                                   std::string(1024, 'x'),
                                   std::string(1023, 'y') + "Z",
                                   std::string(341, '.') + "A",
                                   std::string(200, 'a'),
                                   std::string(201, 'a'),
                                   std::string(199, 'a') + "%",
                                   "control\x01\x7f"};
  for (std::size_t i = 0; i < keys.size(); ++i) db.set(keys[i], "value " + std::to_string(i));
  for (std::size_t i = 0; i < keys.size(); ++i) {
    CAPTURE(i);
    CHECK(db.get(keys[i]) == "value " + std::to_string(i));
    CHECK(db.contains(keys[i]));
  }
  CHECK(db.size() == keys.size());
  CHECK(keys_of(db) == std::set<std::string>(keys.begin(), keys.end()));
  // Nothing was written outside the shelf's folder.
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 1);
  for (const auto& key : keys) db.erase(key);
  CHECK(db.size() == 0);
  // Erasing removes the folders long keys needed.
  CHECK(std::filesystem::is_empty(dir / "keys"));
}

TEST_CASE("shelf: a key longer than 1024 bytes is refused with a clear error") {
  TempDir dir;
  auto db = open(dir / "long");
  try {
    db.set(std::string(1025, 'k'), "v");
    FAIL("no error");
  } catch (const StorageError& error) {
    CHECK(std::string(error.what()).find("1025") != std::string::npos);
  }
}

TEST_CASE("shelf: local writes leave no temporary files and store the record format") {
  TempDir dir;
  auto db = open(dir / "atomic");
  db.set("k", "value");
  db.set("k", "value2");
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "atomic"))
    names.push_back(entry.path().filename());
  CHECK(names == std::vector<std::string>{"k"});
  // Version 0, empty signature, u64 little-endian length, then the bytes: Python cshelve's record.
  CHECK(cshelve_test::read_text(dir / "atomic/k") == std::string("\0\0\6\0\0\0\0\0\0\0value2", 16));
}

TEST_CASE("shelf: files the local provider did not write are not keys") {
  TempDir dir;
  auto db = open(dir / "foreign");
  db.set("real", "1");
  write_text(dir / "foreign/.hidden", "x");
  write_text(dir / "foreign/NotEncoded", "x");
  write_text(dir / "foreign/%4", "x");
  CHECK(keys_of(db) == std::set<std::string>{"real"});
}

TEST_CASE("shelf: iteration is lazy and complete past a page of keys") {
  TempDir dir;
  for (const auto& path : shelf_paths(dir)) {
    CAPTURE(path);
    auto db = open(path);
    std::set<std::string> expected;
    for (int i = 0; i < 2500; ++i) {
      char key[16];
      std::snprintf(key, sizeof key, "k/%05d", i);
      db.set(key, "v");
      expected.insert(key);
    }
    CHECK(db.size() == 2500);
    CHECK(keys_of(db) == expected);
    auto it = db.begin();
    REQUIRE(it != db.end());
    CHECK(it->size() == 7);
    CHECK(std::count_if(db.begin(), db.end(), [](const std::string& k) { return k.back() == '7'; }) == 250);
  }
}

TEST_CASE("shelf: an empty shelf iterates nothing") {
  TempDir dir;
  auto db = open(dir / "e");
  CHECK(db.begin() == db.end());
}

TEST_CASE("flags: r opens an existing shelf and refuses every write") {
  TempDir dir;
  for (const auto& path : shelf_paths(dir)) {
    CAPTURE(path);
    CHECK_THROWS_AS(open(path, Flag::read), DBDoesNotExistError);
    open(path).set("k", "v");
    auto db = open(path, Flag::read);
    CHECK(db.flag() == Flag::read);
    CHECK(db.get("k") == "v");
    CHECK_THROWS_AS(db.set("k", "other"), ReadOnlyError);
    CHECK_THROWS_AS(db.erase("k"), ReadOnlyError);
    CHECK_THROWS_AS(db.set_many({{"a", "b"}}), ReadOnlyError);
    CHECK_THROWS_AS(db.erase_many({"k"}), ReadOnlyError);
    CHECK(db.get("k") == "v");
  }
}

TEST_CASE("flags: w needs an existing shelf and never creates one") {
  TempDir dir;
  for (const auto& path : shelf_paths(dir)) {
    CAPTURE(path);
    try {
      open(path, Flag::write);
      FAIL("no error");
    } catch (const DBDoesNotExistError& error) {
      CHECK(std::string(error.what()).find(path) != std::string::npos);
    }
    open(path, Flag::create).set("k", "v");
    auto db = open(path, Flag::write);
    db.set("k2", "v2");
    CHECK(db.size() == 2);
  }
  CHECK_FALSE(std::filesystem::exists(dir / "local-shelf-never"));
  CHECK_THROWS_AS(open(dir / "local-shelf-never", Flag::write), DBDoesNotExistError);
  CHECK_FALSE(std::filesystem::exists(dir / "local-shelf-never"));
}

TEST_CASE("flags: c creates when missing and keeps what is there") {
  TempDir dir;
  const std::string path = dir / "nested/folders/shelf";
  open(path, Flag::create).set("k", "v");
  CHECK(std::filesystem::is_directory(path));
  CHECK(open(path, Flag::create).get("k") == "v");
}

TEST_CASE("flags: n creates and empties") {
  TempDir dir;
  for (const auto& path : shelf_paths(dir)) {
    CAPTURE(path);
    {
      auto db = open(path, Flag::truncate);
      db.set("a", "1");
      db.set(std::string(600, 'L'), "long");
    }
    auto db = open(path, Flag::truncate);
    CHECK(db.size() == 0);
    CHECK_FALSE(db.contains("a"));
  }
}

TEST_CASE("flags: parse_flag reads the one-letter names") {
  CHECK(parse_flag("r") == Flag::read);
  CHECK(parse_flag("w") == Flag::write);
  CHECK(parse_flag("c") == Flag::create);
  CHECK(parse_flag("n") == Flag::truncate);
  CHECK_THROWS_AS(parse_flag("x"), ConfigurationError);
  CHECK_THROWS_AS(parse_flag(""), ConfigurationError);
}

TEST_CASE("flags: a shelf that cannot be created is CanNotCreateDBError with the reason") {
  TempDir dir;
  write_text(dir / "a-file", "x");
  try {
    open(dir / "a-file/shelf");
    FAIL("no error");
  } catch (const CanNotCreateDBError& error) {
    CHECK(std::string(error.what()).find("not a folder") != std::string::npos);
  }
}

TEST_CASE("in-memory: persist-key shares a store between opens; exists makes r and w work") {
  TempDir dir;
  const std::string shared = memory_ini(dir);
  open(shared).set("k", "v");
  CHECK(open(shared, Flag::read).get("k") == "v");

  const std::string path = dir / "lonely.ini";
  write_text(path, "[default]\nprovider = in-memory\n");
  open(path).set("k", "v");
  CHECK_THROWS_AS(open(path, Flag::read), DBDoesNotExistError);  // no persist-key: a new store each time

  const std::string existing = memory_ini(dir, true);
  CHECK(open(existing, Flag::write).size() == 0);

  const std::string bad = dir / "bad-exists.ini";
  write_text(bad, "[default]\nprovider = in-memory\nexists = perhaps\n");
  CHECK_THROWS_AS(open(bad), ConfigurationError);
}

TEST_CASE("open: configuration errors") {
  TempDir dir;
  CHECK_THROWS_AS(open(dir / "missing.ini"), ConfigurationError);

  write_text(dir / "no-default.ini", "[provider_params]\nx = 1\n");
  try {
    open(dir / "no-default.ini");
    FAIL("no error");
  } catch (const ConfigurationError& error) {
    CHECK(std::string(error.what()).find("[default]") != std::string::npos);
    CHECK(std::string(error.what()).find("no-default.ini") != std::string::npos);
  }

  write_text(dir / "no-provider.ini", "[default]\nbucket_name = b\n");
  CHECK_THROWS_AS(open(dir / "no-provider.ini"), ConfigurationError);

  write_text(dir / "unknown.ini", "[default]\nprovider = floppy-disk\n");
  try {
    open(dir / "unknown.ini");
    FAIL("no error");
  } catch (const UnknownProviderError& error) {
    CHECK(std::string(error.what()).find("floppy-disk") != std::string::npos);
  }

  write_text(dir / "bad-level.ini", "[default]\nprovider = in-memory\n[logging]\nlevel = loud\n");
  CHECK_THROWS_AS(open(dir / "bad-level.ini"), ConfigurationError);
}

TEST_CASE("open: only a path ending in .ini is a configuration file") {
  TempDir dir;
  auto db = open(dir / "folder.INI");  // not ".ini": a local folder
  db.set("k", "v");
  CHECK(std::filesystem::is_directory(dir / "folder.INI"));
}

TEST_CASE("open: provider = local keeps a shelf in a folder relative to the INI") {
  TempDir dir;
  write_text(dir / "local.ini", "[default]\nprovider = local\nfolder = data/shelf\n");
  open(dir / "local.ini").set("k", "v");
  CHECK(std::filesystem::exists(dir / "data/shelf/k"));
  CHECK(open(dir / "data/shelf", Flag::read).get("k") == "v");
  write_text(dir / "nofolder.ini", "[default]\nprovider = local\n");
  CHECK_THROWS_AS(open(dir / "nofolder.ini"), ConfigurationError);
}

TEST_CASE("writeback: writes wait for sync or close; reads are cached") {
  TempDir dir;
  for (const auto& path : shelf_paths(dir)) {
    CAPTURE(path);
    Options options;
    options.writeback = true;
    open(path).set("existing", "old");
    auto db = open(path, Flag::write, options);
    db.set("a", "1");
    db.set("existing", "new");
    db.erase("existing");
    CHECK_FALSE(db.contains("existing"));
    CHECK_THROWS_AS(db.erase("existing"), KeyNotFoundError);
    CHECK_THROWS_AS(db.erase("never-there"), KeyNotFoundError);
    db.set("b", "2");
    CHECK(db.get("a") == "1");
    {
      auto other = open(path, Flag::read);
      CHECK_FALSE(other.contains("a"));  // not written yet
      CHECK(other.get("existing") == "old");
    }
    db.sync();
    {
      auto other = open(path, Flag::read);
      CHECK(other.get("a") == "1");
      CHECK_FALSE(other.contains("existing"));
    }
    db.set("c", "3");
    db.close();
    CHECK(open(path, Flag::read).get("c") == "3");
  }
}

TEST_CASE("writeback: size and iteration see pending writes") {
  TempDir dir;
  Options options;
  options.writeback = true;
  auto db = open(dir / "wb", Flag::create, options);
  db.set("x", "1");
  db.set("y", "2");
  CHECK(db.size() == 2);
  CHECK(keys_of(db) == std::set<std::string>{"x", "y"});
}

TEST_CASE("writeback: a read-only shelf caches reads and closes cleanly") {
  TempDir dir;
  open(dir / "ro").set("k", "v");
  Options options;
  options.writeback = true;
  auto db = open(dir / "ro", Flag::read, options);
  CHECK(db.get("k") == "v");
  CHECK_NOTHROW(db.close());
}

TEST_CASE("writeback: the destructor writes back") {
  TempDir dir;
  Options options;
  options.writeback = true;
  { open(dir / "d", Flag::create, options).set("k", "v"); }
  CHECK(open(dir / "d", Flag::read).get("k") == "v");
}

TEST_CASE("batches: set_many, get_many, erase_many") {
  TempDir dir;
  for (const auto& path : shelf_paths(dir)) {
    CAPTURE(path);
    auto db = open(path);
    db.set_many({{"a", "1"}, {"b", "2"}, {"c", ""}});
    const auto values = db.get_many({"a", "missing", "c", "b"});
    REQUIRE(values.size() == 4);
    CHECK(values[0] == std::optional<std::string>("1"));
    CHECK_FALSE(values[1].has_value());
    CHECK(values[2] == std::optional<std::string>(""));
    CHECK(values[3] == std::optional<std::string>("2"));
    db.erase_many({"a", "missing", "b"});
    CHECK(keys_of(db) == std::set<std::string>{"c"});
  }
}

namespace {
struct Point {
  int x;
  int y;
};
}  // namespace

template <>
struct cshelve::ValueCodec<Point> {
  static std::string encode(const Point& p) { return std::to_string(p.x) + "," + std::to_string(p.y); }
  static Point decode(std::string_view bytes) {
    const auto comma = bytes.find(',');
    if (comma == std::string_view::npos) throw std::invalid_argument("not a point");
    return Point{std::stoi(std::string(bytes.substr(0, comma))), std::stoi(std::string(bytes.substr(comma + 1)))};
  }
};

TEST_CASE("typed values through ValueCodec") {
  TempDir dir;
  auto db = open(dir / "typed");
  db.set("p", Point{3, -4});
  CHECK(db.get("p") == "3,-4");
  const Point p = db.get<Point>("p");
  CHECK(p.x == 3);
  CHECK(p.y == -4);
  CHECK_FALSE(db.find<Point>("none").has_value());
  CHECK(db.find<Point>("p")->y == -4);
  db.set("bad", "oops");
  CHECK_THROWS_AS(db.get<Point>("bad"), std::invalid_argument);

  const std::vector<unsigned char> bytes{0, 1, 2, 255};
  db.set("bytes", bytes);
  CHECK(db.get<std::vector<unsigned char>>("bytes") == bytes);
  const std::vector<std::byte> raw{std::byte{7}, std::byte{0}};
  db.set("raw", raw);
  CHECK(db.get<std::vector<std::byte>>("raw") == raw);
  CHECK(db.get<std::string>("p") == "3,-4");
}

TEST_CASE("handle: move-only, closed shelves refuse work") {
  TempDir dir;
  auto db = open(dir / "h");
  db.set("k", "v");
  Shelf moved = std::move(db);
  CHECK(moved.get("k") == "v");
  CHECK_FALSE(db.is_open());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  CHECK_THROWS_AS(db.get("k"), ClosedShelfError);
  moved.close();
  CHECK_FALSE(moved.is_open());
  CHECK_THROWS_AS(moved.set("k", "v"), ClosedShelfError);
  CHECK_NOTHROW(moved.close());  // closing twice is harmless

  auto first = open(dir / "h1");
  auto second = open(dir / "h2");
  first.set("one", "1");
  first = std::move(second);
  CHECK_FALSE(first.contains("one"));
  CHECK(open(dir / "h1", Flag::read).get("one") == "1");
}

TEST_CASE("logging: the callback gets lines at or above its level, none by default") {
  TempDir dir;
  LogCollector log;
  Options options;
  options.logger = log.logger();
  options.log_level = LogLevel::debug;
  options.writeback = true;
  {
    auto db = open(dir / "logged", Flag::create, options);
    db.set("k", "v");
  }
  auto lines = log.entries();
  CHECK(std::any_of(lines.begin(), lines.end(),
                    [](const auto& l) { return l.second.find("opened") != std::string::npos; }));
  CHECK(std::any_of(lines.begin(), lines.end(), [](const auto& l) { return l.first == LogLevel::debug; }));
  log.clear();
  options.log_level = LogLevel::warning;
  open(dir / "logged", Flag::create, options).set("k", "v");
  lines = log.entries();
  CHECK(lines.empty());
  CHECK(to_string(LogLevel::warning) == "warning");
}

TEST_CASE("version") { CHECK(version().find('.') != std::string_view::npos); }

TEST_CASE("writeback: a failed write-back keeps the shelf open and loses no other change") {
  TempDir dir;
  Options options;
  options.writeback = true;
  std::vector<std::string> errors;
  options.logger = [&](LogLevel level, std::string_view message) {
    if (level == LogLevel::error) errors.emplace_back(message);
  };
  const std::string too_long(2000, 'k');  // longer than a local shelf allows
  auto db = open(dir / "wb-fail", Flag::create, options);
  db.set("a", "1");
  db.set(too_long, "never stored");
  db.set("c", "3");
  CHECK_THROWS_AS(db.close(), StorageError);
  CHECK(db.is_open());
  {
    auto other = open(dir / "wb-fail", Flag::read);
    CHECK(other.get("a") == "1");  // the good changes went through
    CHECK(other.get("c") == "3");
  }
  CHECK_THROWS_AS(db.sync(), StorageError);  // still pending, tried again
  db.erase(too_long);
  CHECK_NOTHROW(db.close());
  CHECK_FALSE(db.is_open());

  // The destructor cannot throw: it says on the logger what it lost.
  {
    auto doomed = open(dir / "wb-fail", Flag::create, options);
    doomed.set(too_long, "x");
  }
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("lost 1 pending") != std::string::npos);
}

TEST_CASE("iteration: advancing a key iterator after close() is a ClosedShelfError, not a crash") {
  TempDir dir;
  auto db = open(memory_ini(dir));
  for (int i = 0; i < 1500; ++i) db.set("k" + std::to_string(i), "v");
  auto it = db.begin();
  db.close();
  CHECK_THROWS_AS(
      [&] {
        for (int i = 0; i < 1500; ++i) ++it;
      }(),
      ClosedShelfError);
}

TEST_CASE("local: two shelves on one folder, writing and erasing long keys side by side") {
  TempDir dir;
  const std::string folder = dir / "shared";
  open(folder).set("seed", "x");
  const std::string prefix(250, 'p');  // keys share their first folder piece
  std::atomic<int> failures{0};
  auto worker = [&](int id) {
    auto db = open(folder, Flag::write);
    for (int i = 0; i < 300; ++i) {
      const std::string key = prefix + std::to_string(id) + "-" + std::to_string(i);
      try {
        db.set(key, "v");
        if (db.get(key) != "v") ++failures;
        db.erase(key);
      } catch (const Error&) {
        ++failures;
      }
    }
  };
  std::thread first(worker, 1);
  std::thread second(worker, 2);
  first.join();
  second.join();
  CHECK(failures == 0);
  CHECK(keys_of(open(folder, Flag::read)) == std::set<std::string>{"seed"});
}
