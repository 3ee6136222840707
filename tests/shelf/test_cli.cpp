// The command-line tool, run as a user runs it: a separate process, with real files.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "../support/test_support.hpp"

using cshelve_test::read_text;
using cshelve_test::TempDir;
using cshelve_test::write_text;

namespace {

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

std::string shell_quote(const std::string& word) {
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Runs the tool with `args`, feeding `input` on standard input.
Result cli(const TempDir& dir, const std::vector<std::string>& args, const std::string& input = "") {
  const std::string in = dir / ".stdin", out = dir / ".stdout", err = dir / ".stderr";
  write_text(in, input);
  // Through the shell, so that a cross build's emulator (MESON_EXE_WRAPPER, set by meson) runs it.
  std::string command = "${MESON_EXE_WRAPPER-} " + shell_quote(CSHELVE_CLI_PATH);
  for (const auto& arg : args) command += " " + shell_quote(arg);
  command += " < " + shell_quote(in) + " > " + shell_quote(out) + " 2> " + shell_quote(err);
  const int raw = std::system(command.c_str());
  Result result;
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  result.out = read_text(out);
  result.err = read_text(err);
  return result;
}

// AddressSanitizer's own bookkeeping and its quarantine of freed memory count in a peak too.
constexpr long kSanitizerSlackKib = cshelve_test::kAddressSanitizer ? 64 * 1024 : 0;

struct MeasuredRun {
  int status = -1;
  long peak_kib = 0;  // the largest resident size any process of the command reached
};

// Runs a shell command line, measuring the peak memory of the processes it starts.
MeasuredRun run_measured(const std::string& command) {
  // A small Python launcher runs the command and reports the peak of what it ran (RUSAGE_CHILDREN):
  // a process forked from this one would count this test process's own pages in its peak too,
  // and under AddressSanitizer those are many, whatever the tool does.
  const std::string launcher =
      "/usr/bin/python3 -c 'import resource, subprocess, sys; code = subprocess.call(sys.argv[1], shell=True); "
      "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)' " +
      shell_quote(command);
  std::FILE* pipe = ::popen(launcher.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buffer[256];
  for (std::size_t got; (got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, got);
  const int status = ::pclose(pipe);
  MeasuredRun run;
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.peak_kib = std::strtol(out.c_str(), nullptr, 10);
  return run;
}

std::set<std::string> lines_of(const std::string& text) {
  std::set<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.insert(line);
  return lines;
}

}  // namespace

TEST_CASE("cli: set, get, has, len, keys, del on a local shelf") {
  TempDir dir;
  const std::string shelf = dir / "shelf";
  CHECK(cli(dir, {shelf, "set", "greeting", "hello"}).status == 0);
  const std::string binary("\0\x01\xff\n\r binary", 12);
  CHECK(cli(dir, {shelf, "set", "blob"}, binary).status == 0);
  CHECK(cli(dir, {shelf, "set", "dash", "-"}, "from stdin").status == 0);
  CHECK(cli(dir, {shelf, "set", "negative", "-1"}).status == 0);

  auto got = cli(dir, {shelf, "get", "greeting"});
  CHECK(got.status == 0);
  CHECK(got.out == "hello");
  CHECK(cli(dir, {shelf, "get", "blob"}).out == binary);
  CHECK(cli(dir, {shelf, "get", "dash"}).out == "from stdin");
  CHECK(cli(dir, {shelf, "get", "negative"}).out == "-1");

  CHECK(cli(dir, {shelf, "has", "greeting"}).status == 0);
  CHECK(cli(dir, {shelf, "has", "nothing"}).status == 1);
  CHECK(cli(dir, {shelf, "len"}).out == "4\n");
  CHECK(lines_of(cli(dir, {shelf, "keys"}).out) == std::set<std::string>{"greeting", "blob", "dash", "negative"});

  CHECK(cli(dir, {shelf, "del", "greeting"}).status == 0);
  const auto absent = cli(dir, {shelf, "get", "greeting"});
  CHECK(absent.status == 1);
  CHECK(absent.err.find("greeting") != std::string::npos);
  CHECK(absent.out.empty());
  CHECK(cli(dir, {shelf, "del", "greeting"}).status == 1);
}

TEST_CASE("cli: flags, with read commands defaulting to r") {
  TempDir dir;
  const std::string shelf = dir / "flags";
  const auto missing = cli(dir, {shelf, "keys"});
  CHECK(missing.status == 4);
  CHECK(missing.err.find("does not exist") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(shelf));  // reading never creates

  CHECK(cli(dir, {"-f", "w", shelf, "set", "k", "v"}).status == 4);
  CHECK(cli(dir, {shelf, "set", "k", "v"}).status == 0);
  const auto read_only = cli(dir, {"-f", "r", shelf, "set", "k", "v2"});
  CHECK(read_only.status == 2);
  CHECK(read_only.err.find("read-only") != std::string::npos);
  CHECK(cli(dir, {"--flag", "n", shelf, "len"}).out == "0\n");
}

TEST_CASE("cli: usage errors exit 2 with one line on stderr") {
  TempDir dir;
  for (const std::vector<std::string>& args : {std::vector<std::string>{},
                                               {dir / "s"},
                                               {dir / "s", "frobnicate"},
                                               {dir / "s", "get"},
                                               {dir / "s", "get", "a", "b"},
                                               {"-f", "x", dir / "s", "len"},
                                               {"--bogus", dir / "s", "len"},
                                               {"-p", "novalue", dir / "s", "len"},
                                               {"-f"}}) {
    CAPTURE(args.size());
    const auto result = cli(dir, args);
    CHECK(result.status == 2);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  }
}

TEST_CASE("cli: --help and --version") {
  TempDir dir;
  const auto help = cli(dir, {"--help"});
  CHECK(help.status == 0);
  for (const char* word : {"get KEY", "set KEY", "del KEY", "has KEY", "len", "keys", "import DIR", "export DIR", "-p",
                           "--writeback", "-v", "Exit status"}) {
    CHECK(help.out.find(word) != std::string::npos);
  }
  const auto version = cli(dir, {"--version"});
  CHECK(version.status == 0);
  CHECK(version.out.rfind("cshelve ", 0) == 0);
}

TEST_CASE("cli: configuration errors exit 3 and name the problem") {
  TempDir dir;
  write_text(dir / "broken.ini", "[default]\nprovider in-memory\n");
  const auto broken = cli(dir, {dir / "broken.ini", "len"});
  CHECK(broken.status == 3);
  CHECK(broken.err.find("broken.ini:2") != std::string::npos);
  write_text(dir / "unknown.ini", "[default]\nprovider = tape\n");
  CHECK(cli(dir, {dir / "unknown.ini", "len"}).status == 3);
  write_text(dir / "env.ini", "[default]\nprovider = in-memory\nkey_id = $CSHELVE_SURELY_UNSET_VAR\n");
  const auto env = cli(dir, {dir / "env.ini", "len"});
  CHECK(env.status == 3);
  CHECK(env.err.find("CSHELVE_SURELY_UNSET_VAR") != std::string::npos);
}

TEST_CASE("cli: import and export round-trip a tree of files") {
  TempDir dir;
  std::filesystem::create_directories(dir / "tree/sub/deeper");
  write_text(dir / "tree/top.txt", "top");
  write_text(dir / "tree/sub/mid.bin", std::string("\0\1\2", 3));
  write_text(dir / "tree/sub/deeper/leaf with space.txt", "leaf");
  write_text(dir / "tree/sub/empty", "");
  for (int i = 0; i < 150; ++i) write_text(dir / ("tree/many-" + std::to_string(i)), std::to_string(i));

  const std::string shelf = dir / "shelf";
  const auto imported = cli(dir, {shelf, "import", dir / "tree"});
  CHECK(imported.status == 0);
  CHECK(cli(dir, {shelf, "len"}).out == "154\n");
  CHECK(cli(dir, {shelf, "get", "sub/deeper/leaf with space.txt"}).out == "leaf");

  CHECK(cli(dir, {shelf, "export", dir / "out"}).status == 0);
  for (const char* name : {"top.txt", "sub/mid.bin", "sub/deeper/leaf with space.txt", "sub/empty", "many-149"}) {
    CAPTURE(name);
    CHECK(read_text(dir / ("out/" + std::string(name))) == read_text(dir / ("tree/" + std::string(name))));
  }
  CHECK(cli(dir, {"-q", shelf, "export", dir / "out2"}).err.empty());
}

TEST_CASE("cli: export refuses keys unsafe as paths and writes nothing outside DIR") {
  TempDir dir;
  const std::string shelf = dir / "unsafe";
  for (const char* key : {"../escape", "/absolute", "a//b", "a/./b", "ok/file", "trailing/"}) {
    REQUIRE(cli(dir, {shelf, "set", key, "x"}).status == 0);
  }
  std::filesystem::create_directories(dir / "out/inner");
  const auto result = cli(dir, {shelf, "export", dir / "out/inner"});
  CHECK(result.status == 4);
  CHECK(result.err.find("'../escape'") != std::string::npos);
  CHECK(result.err.find("'/absolute'") != std::string::npos);
  CHECK(read_text(dir / "out/inner/ok/file") == "x");
  CHECK_FALSE(std::filesystem::exists(dir / "out/escape"));
  CHECK_FALSE(std::filesystem::exists(dir / "out/inner/a/b"));
}

TEST_CASE("cli: -p passes provider parameters and --writeback, -v work") {
  TempDir dir;
  write_text(dir / "mem.ini", "[default]\nprovider = in-memory\n");
  const auto verbose = cli(dir, {"-v", "--writeback", "-p", "region_name=eu-west-3", dir / "mem.ini", "set", "k", "v"});
  CHECK(verbose.status == 0);
  CHECK(verbose.err.find("opened in-memory shelf") != std::string::npos);
}

TEST_CASE("cli: import shows progress on a terminal only, and never with -q") {
  TempDir dir;
  std::filesystem::create_directories(dir / "tree");
  for (int i = 0; i < 100; ++i) write_text(dir / ("tree/f" + std::to_string(i)), std::string(20000, 'x'));

  // Not a terminal (the test's redirections): no progress line.
  const auto plain = cli(dir, {dir / "s1", "import", dir / "tree"});
  CHECK(plain.status == 0);
  CHECK(plain.err.find("importing") == std::string::npos);
  CHECK(plain.err.find("imported 100 files") != std::string::npos);

  // A terminal, through script(1)'s pseudo-terminal.
  auto on_terminal = [&](const std::string& options) {
    const std::string command = "script -qec " +
                                shell_quote("${MESON_EXE_WRAPPER-} " + shell_quote(CSHELVE_CLI_PATH) + " " + options +
                                            " " + shell_quote(dir / "s2") + " import " + shell_quote(dir / "tree")) +
                                " /dev/null > " + shell_quote(dir / ".terminal") + " 2>&1 < /dev/null";
    REQUIRE(std::system(command.c_str()) == 0);
    return read_text(dir / ".terminal");
  };
  const std::string shown = on_terminal("");
  CHECK(shown.find("importing [") != std::string::npos);
  CHECK(shown.find("100% 100/100, 2.0 MB of 2.0 MB") != std::string::npos);
  const std::string quiet = on_terminal("-q");
  CHECK(quiet.find("importing") == std::string::npos);
  CHECK(quiet.find("imported") == std::string::npos);
}

TEST_CASE("cli: bash completion offers commands, flags and options") {
  auto complete = [](const std::string& words, int current) {
    TempDir dir;
    const std::string script = "source " + shell_quote(CSHELVE_TEST_SOURCE_DIR "/../tools/completion/cshelve.bash") +
                               "; COMP_WORDS=(" + words + "); COMP_CWORD=" + std::to_string(current) +
                               "; _cshelve; echo \"${COMPREPLY[*]}\"";
    const std::string out = dir / "out";
    REQUIRE(std::system(("bash -c " + shell_quote(script) + " > " + shell_quote(out)).c_str()) == 0);
    return read_text(out);
  };
  CHECK(complete("cshelve -f r shelf g", 4) == "get get-file\n");
  CHECK(complete("cshelve shelf set-", 2) == "set-file\n");
  CHECK(complete("cshelve shelf e", 2) == "export\n");
  CHECK(complete("cshelve -f ''", 2) == "r w c n\n");
  CHECK(complete("cshelve --w", 1) == "--writeback\n");
  CHECK(complete("cshelve shelf get ''", 3) == "\n");
}

TEST_CASE("cli: export reports a key that clashes with a folder and exports the rest") {
  TempDir dir;
  const std::string shelf = dir / "clash";
  for (const char* key : {"a", "a/b", "c"}) REQUIRE(cli(dir, {shelf, "set", key, key}).status == 0);
  const auto result = cli(dir, {shelf, "export", dir / "out"});
  CHECK(result.status == 4);
  CHECK(result.err.find("cannot write key") != std::string::npos);
  CHECK(read_text(dir / "out/c") == "c");
  CHECK(result.err.find("exported 2 keys, refused 1") != std::string::npos);
}

TEST_CASE("cli: compressed and encrypted shelves on the local and in-memory providers") {
  TempDir dir;
  write_text(dir / "sealed.ini",
             "[default]\nprovider = local\nfolder = sealed\n[compression]\nalgorithm = zlib\n"
             "[encryption]\nalgorithm = aes256\nenvironment_key = CSHELVE_CLI_TEST_KEY\n");
  ::setenv("CSHELVE_CLI_TEST_KEY", "Sixteen byte key", 1);
  const std::string value(5000, 'z');  // compresses well, so the record shows it
  CHECK(cli(dir, {dir / "sealed.ini", "set", "k", value}).status == 0);
  CHECK(cli(dir, {dir / "sealed.ini", "get", "k"}).out == value);
  const std::string record = read_text(dir / "sealed/k");
  REQUIRE(record.size() > 12);
  CHECK(record.substr(0, 2) == std::string("\0\2", 2));  // version 0, a 2-byte signature
  CHECK(record.substr(10, 2) == "ec");                   // encrypted, then compressed
  CHECK(record.size() < value.size());
  CHECK(record.find("zzzz") == std::string::npos);

  // Without the key the shelf cannot be read, and says why.
  write_text(dir / "plain.ini", "[default]\nprovider = local\nfolder = sealed\n");
  const auto refused = cli(dir, {dir / "plain.ini", "get", "k"});
  CHECK(refused.status == 4);
  CHECK(refused.err.find("not configured") != std::string::npos);
  ::unsetenv("CSHELVE_CLI_TEST_KEY");
  CHECK(cli(dir, {dir / "sealed.ini", "get", "k"}).status == 3);  // MissingEncryptionKeyError

  // In memory, a shelf lives as long as the process: one command writes and reads it.
  write_text(dir / "memory.ini",
             "[default]\nprovider = in-memory\n[compression]\nalgorithm = zlib\n"
             "[encryption]\nalgorithm = aes256\nkey = Sixteen byte key\n");
  std::filesystem::create_directories(dir / "tree");
  write_text(dir / "tree/file", value);
  const auto imported = cli(dir, {dir / "memory.ini", "import", dir / "tree"});
  CHECK(imported.status == 0);
  CHECK(imported.err.find("imported 1 files") != std::string::npos);
}

TEST_CASE("cli: set-file and get-file move a value between a file and a shelf") {
  TempDir dir;
  const std::string shelf = dir / "shelf";
  const std::string value = cshelve_test::random_bytes((3u << 20) + 7, 3);
  write_text(dir / "source", value);
  CHECK(cli(dir, {shelf, "set-file", "big", dir / "source"}).status == 0);
  CHECK(cli(dir, {shelf, "get", "big"}).out == value);
  write_text(dir / "target", "old");
  CHECK(cli(dir, {shelf, "get-file", "big", dir / "target"}).status == 0);  // flag r by default
  CHECK(read_text(dir / "target") == value);

  const auto absent = cli(dir, {shelf, "get-file", "nothing", dir / "target"});
  CHECK(absent.status == 1);
  CHECK(read_text(dir / "target") == value);
  const auto unreadable = cli(dir, {shelf, "set-file", "k", dir / "no-such-file"});
  CHECK(unreadable.status == 4);
  CHECK(unreadable.err.find("no-such-file") != std::string::npos);
  CHECK(cli(dir, {shelf, "set-file", "k"}).status == 2);
}

TEST_CASE("cli: import streams a file too large for a batch, and export writes it back") {
  TempDir dir;
  std::filesystem::create_directories(dir / "tree/sub");
  const std::string large = cshelve_test::random_bytes(64u << 20, 64);
  write_text(dir / "tree/sub/large.bin", large);
  write_text(dir / "tree/small.txt", "small");
  CHECK(cli(dir, {"-q", dir / "shelf", "import", dir / "tree"}).status == 0);
  CHECK(cli(dir, {dir / "shelf", "len"}).out == "2\n");
  CHECK(cli(dir, {"-q", dir / "shelf", "export", dir / "out"}).status == 0);
  CHECK(read_text(dir / "out/sub/large.bin") == large);
  CHECK(read_text(dir / "out/small.txt") == "small");
}

TEST_CASE("cli: set KEY reads a large standard input in bounded memory, through a private spool") {
  TempDir dir;
  const std::string shelf = dir / "shelf";
  const std::string spool_folder = dir / "tmp";
  std::filesystem::create_directories(spool_folder);
  // Around the 1 MiB held in memory: the last value kept there, and the first spooled.
  for (const std::size_t size : {std::size_t{1} << 20, (std::size_t{1} << 20) + 1}) {
    const std::string value = cshelve_test::random_bytes(size, static_cast<unsigned>(size));
    CHECK(cli(dir, {shelf, "set", "edge"}, value).status == 0);
    CHECK(cli(dir, {shelf, "get", "edge"}).out == value);
  }
  // An emulator (a cross build's tests) costs memory and time of its own: a smaller value there
  // still needs more memory than the bound when it is held whole.
  const bool emulated = std::getenv("MESON_EXE_WRAPPER") != nullptr && *std::getenv("MESON_EXE_WRAPPER") != '\0';
  const std::size_t size = emulated ? (48u << 20) : (96u << 20);
  // Written and checked a part at a time: the child starts as a copy of this process, and its
  // peak would count a value held here.
  const std::size_t part = 1u << 20;
  {
    std::ofstream out(dir / "value", std::ios::binary);
    for (std::size_t at = 0; at < size; at += part) out << cshelve_test::random_bytes(part, static_cast<unsigned>(at));
    REQUIRE(out.good());
  }
  // `cat` makes standard input a pipe, as when another program produces the value.
  const std::string command = "cat " + shell_quote(dir / "value") + " | TMPDIR=" + shell_quote(spool_folder) +
                              " ${MESON_EXE_WRAPPER-} " + shell_quote(CSHELVE_CLI_PATH) + " " + shell_quote(shelf) +
                              " set big";
  const MeasuredRun run = run_measured(command);
  CHECK(run.status == 0);
  INFO("peak " << run.peak_kib << " KiB for a value of " << (size >> 10) << " KiB");
  CHECK(run.peak_kib < 64 * 1024 + kSanitizerSlackKib);
  CHECK(std::filesystem::is_empty(spool_folder));  // the spool file is gone
  CHECK(cli(dir, {shelf, "get-file", "big", dir / "copy"}).status == 0);
  std::ifstream copy(dir / "copy", std::ios::binary);
  std::string got(part, '\0');
  std::size_t same = 0;
  for (std::size_t at = 0; at < size; at += part) {
    copy.read(got.data(), static_cast<std::streamsize>(part));
    same += copy.gcount() == static_cast<std::streamsize>(part) &&
            got == cshelve_test::random_bytes(part, static_cast<unsigned>(at));
  }
  CHECK(same == size / part);
  CHECK(copy.peek() == std::char_traits<char>::eof());  // and nothing more
}
