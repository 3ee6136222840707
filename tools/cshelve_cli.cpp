// cshelve: the command-line tool over the library's public API.
#include <cshelve/cshelve.hpp>

#include "json_values.hpp"
#include "progress.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace {

// Exit codes, documented in --help.
constexpr int kOk = 0;
constexpr int kKeyAbsent = 1;
constexpr int kUsage = 2;
constexpr int kConfiguration = 3;
constexpr int kStorage = 4;
constexpr int kNotStored = 5;  // set --if-absent: the key already has a value

// Files are read and written this many at a time, so a bulk command holds a bounded amount of
// data while the shelf can still send a batch's requests side by side.
constexpr std::size_t kBatch = 64;
constexpr std::uint64_t kBatchBytes = 64u << 20;  // and a batch of large files stops at 64 MB

// A single value this large gets a progress line while it moves.
constexpr std::uint64_t kShowTransferFrom = 4u << 20;

constexpr const char* kHelp = R"(Usage: cshelve [OPTIONS] PATH COMMAND [ARGS]

PATH is a configuration file ending in .ini (naming a provider: aws-s3, in-memory, local)
or a folder holding a local shelf.

Commands:
  get KEY           write the value's bytes to standard output, unchanged
  get --json KEY    print the value (a Python pickle, as Python cshelve stores it) as JSON
  set KEY [VALUE]   store VALUE, or standard input when VALUE is absent or '-'
  set --if-absent KEY [VALUE]
                    store only when KEY has no value (exit 5 when it has one); of several
                    racing writers exactly one stores
  set --json KEY [JSON]
                    store JSON (or standard input) as the pickle Python reads as the matching
                    dict, list, str...; docs/python-values.md has the mapping
  del KEY           delete KEY
  set-file KEY FILE store the contents of FILE, read a part at a time
  get-file KEY FILE write the value to FILE, a part at a time; FILE is replaced only
                    once the whole value has arrived
  has KEY           exit 0 when KEY is present, 1 when absent
  len               print the number of keys
  keys              print the keys, one per line
  import DIR        store every regular file under DIR, keyed by its path relative to DIR
                    ('/'-separated); files of 64 MB and more one at a time, streamed
  export DIR        write every key as a file under DIR (keys that are unsafe as paths,
                    such as ones with '..' or empty segments, are refused and reported)

Options:
  -f, --flag r|w|c|n      open flag: r read-only, w existing shelf, c create when missing,
                          n create and empty it. Default: r for get/get-file/has/len/keys/
                          export,
                          c for the others.
  -p, --param NAME=VALUE  a provider parameter (repeatable), e.g. -p endpoint_url=http://...;
                          the INI's [provider_params] wins over these
  -v, --verbose           log what the library does to standard error
  -q, --quiet             print no progress or notes
      --writeback         cache values and write them back at the end
  -h, --help              show this help
      --version           print the version

Exit status: 0 success, 1 key absent (get, get-file, has, del), 2 usage error (including a
write with flag r and JSON that set --json cannot store), 3 configuration error, 4 storage,
network or data error (including a value get --json cannot read as a Python value), 5 not
stored (set --if-absent: the key has a value).
)";

struct Arguments {
  std::optional<cshelve::Flag> flag;
  cshelve::ProviderParams params;
  bool verbose = false;
  bool quiet = false;
  bool writeback = false;
  bool json = false;       // get --json, set --json
  bool if_absent = false;  // set --if-absent
  std::string path;
  std::string command;
  std::vector<std::string> rest;
};

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

Arguments parse_arguments(int argc, char** argv) {
  Arguments args;
  std::vector<std::string> positional;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    auto next_value = [&](const std::string& option) {
      if (i + 1 >= argc) throw UsageError("option " + option + " needs a value");
      return std::string(argv[++i]);
    };
    if (options_done || word.empty() || word[0] != '-' || word == "-") {
      positional.push_back(word);
      // Options may come before the command only, so values like "-1" stay values.
      if (positional.size() >= 2) options_done = true;
      continue;
    }
    if (word == "--") {
      options_done = true;
    } else if (word == "-f" || word == "--flag") {
      const std::string letter = next_value(word);
      try {
        args.flag = cshelve::parse_flag(letter);
      } catch (const cshelve::Error&) {
        throw UsageError("flag must be r, w, c or n, not '" + letter + "'");
      }
    } else if (word == "-p" || word == "--param") {
      const std::string pair = next_value(word);
      const auto equals = pair.find('=');
      if (equals == std::string::npos || equals == 0) throw UsageError("-p takes NAME=VALUE, not '" + pair + "'");
      args.params[pair.substr(0, equals)] = pair.substr(equals + 1);
    } else if (word == "-v" || word == "--verbose") {
      args.verbose = true;
    } else if (word == "-q" || word == "--quiet") {
      args.quiet = true;
    } else if (word == "--writeback") {
      args.writeback = true;
    } else if (word == "--json") {
      args.json = true;
    } else {
      throw UsageError("unknown option '" + word + "'");
    }
  }
  if (positional.size() < 2) throw UsageError("expected PATH and COMMAND");
  args.path = positional[0];
  args.command = positional[1];
  args.rest.assign(positional.begin() + 2, positional.end());
  // The command's own options come first after it, in any order.
  while (!args.rest.empty() && (args.rest[0] == "--json" || args.rest[0] == "--if-absent")) {
    (args.rest[0] == "--json" ? args.json : args.if_absent) = true;
    args.rest.erase(args.rest.begin());
  }
  if (args.json && args.command != "get" && args.command != "set")
    throw UsageError("--json goes with get and set only");
  if (args.if_absent && args.command != "set") throw UsageError("--if-absent goes with set only");
  if (args.if_absent && args.json) throw UsageError("set takes --if-absent or --json, not both");
  return args;
}

void expect_arguments(const Arguments& args, std::size_t least, std::size_t most) {
  if (args.rest.size() < least || args.rest.size() > most) {
    throw UsageError("wrong number of arguments for '" + args.command + "'");
  }
}

std::string read_all(std::istream& in) {
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Standard input for `set KEY`, in bounded memory: a value of up to kStdinInMemory bytes is held
// in memory; a longer one is spooled to a file only its owner can read, in the system's temporary
// folder (TMPDIR), which is removed with this object. The shelf then streams it like set-file.
class StdinValue {
 public:
  static constexpr std::size_t kStdinInMemory = 1u << 20;

  StdinValue() {
    std::string part(kStdinInMemory, '\0');
    while (read_some(part) > 0) {
      if (spool_.get() < 0 && bytes_.size() + part.size() <= kStdinInMemory) {
        bytes_ += part;
        continue;
      }
      if (spool_.get() < 0) start_spool();
      write_spool(part);
    }
  }
  StdinValue(const StdinValue&) = delete;
  StdinValue& operator=(const StdinValue&) = delete;

  // Stores the value under `key`: from memory, or streamed from the spool file.
  void store(cshelve::Shelf& shelf, const std::string& key) const {
    if (spool_path_.path.empty()) {
      shelf.set(key, bytes_);
    } else {
      shelf.set_file(key, spool_path_.path);
    }
  }

 private:
  // An open descriptor, closed with its owner.
  class Descriptor {
   public:
    ~Descriptor() {
      if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }
    void reset(int fd) { fd_ = fd; }

   private:
    int fd_ = -1;
  };

  // The spool file's name, removed with its owner: also when reading standard input or writing
  // the spool fails half way, and the constructor throws.
  struct SpoolPath {
    SpoolPath() = default;
    SpoolPath(const SpoolPath&) = delete;
    SpoolPath& operator=(const SpoolPath&) = delete;
    ~SpoolPath() {
      if (!path.empty()) ::unlink(path.c_str());
    }
    std::string path;
  };

  // Fills `part` with what standard input gives (resized to it); 0 at its end.
  static std::size_t read_some(std::string& part) {
    part.resize(kStdinInMemory);
    for (;;) {
      const ssize_t got = ::read(STDIN_FILENO, part.data(), part.size());
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw cshelve::StorageError(std::string("cannot read standard input: ") + std::strerror(errno));
      part.resize(static_cast<std::size_t>(got));
      return part.size();
    }
  }

  void start_spool() {
    std::string name = (fs::temp_directory_path() / "cshelve-stdin-XXXXXX").string();
    const int fd = ::mkstemp(name.data());  // mode 0600: only its owner reads the value
    if (fd < 0) {
      throw cshelve::StorageError("cannot create a temporary file for standard input in '" +
                                  fs::temp_directory_path().string() + "': " + std::strerror(errno));
    }
    spool_.reset(fd);
    spool_path_.path = name;
    write_spool(bytes_);
    std::string().swap(bytes_);
  }

  void write_spool(std::string_view data) {
    while (!data.empty()) {
      const ssize_t written = ::write(spool_.get(), data.data(), data.size());
      if (written < 0 && errno == EINTR) continue;
      if (written < 0) {
        throw cshelve::StorageError("cannot write standard input to '" + spool_path_.path +
                                    "': " + std::strerror(errno));
      }
      data.remove_prefix(static_cast<std::size_t>(written));
    }
  }

  std::string bytes_;
  Descriptor spool_;
  SpoolPath spool_path_;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw cshelve::StorageError("cannot read '" + path.string() + "'");
  return read_all(in);
}

void write_stdout(const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t written = ::write(STDOUT_FILENO, bytes.data() + done, bytes.size() - done);
    if (written < 0) {
      if (errno == EINTR) continue;
      throw cshelve::StorageError(std::string("cannot write to standard output: ") + std::strerror(errno));
    }
    done += static_cast<std::size_t>(written);
  }
}

// A key is written under DIR only when it cannot escape DIR or clash with its own folders.
bool safe_as_path(const std::string& key) {
  if (key.empty() || key.front() == '/' || key.back() == '/') return false;
  if (key.find('\0') != std::string::npos) return false;
  std::size_t start = 0;
  while (start <= key.size()) {
    auto end = key.find('/', start);
    if (end == std::string::npos) end = key.size();
    const std::string segment = key.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    start = end + 1;
  }
  return true;
}

int run_import(cshelve::Shelf& shelf, const fs::path& folder, bool quiet) {
  if (!fs::is_directory(folder)) throw UsageError("'" + folder.string() + "' is not a folder");
  // Listed first, so progress can show a total and a file added meanwhile is not half-seen.
  std::vector<fs::path> files;
  std::uint64_t total_bytes = 0;
  std::size_t links = 0;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    // A link is never followed, to a file or a folder: what import reads stays inside DIR.
    if (entry.is_symlink()) {
      ++links;
      continue;
    }
    if (!entry.is_regular_file()) continue;
    files.push_back(entry.path());
    total_bytes += entry.file_size();
  }
  cshelve_cli::Progress progress(cshelve_cli::Progress::wanted(quiet), "importing", files.size(), total_bytes);
  std::vector<std::pair<std::string, std::string>> batch;
  std::uint64_t batch_bytes = 0;
  auto flush = [&] {
    shelf.set_many(batch);
    progress.advance(batch.size(), batch_bytes);
    batch.clear();
    batch_bytes = 0;
  };
  for (const auto& path : files) {
    std::string key = path.lexically_relative(folder).generic_string();
    // A file too large for a batch is streamed on its own, so memory stays bounded.
    if (const std::uint64_t size = fs::file_size(path); size >= kBatchBytes) {
      shelf.set_file(key, path.string());
      progress.advance(1, size);
      continue;
    }
    batch.emplace_back(std::move(key), read_file(path));
    batch_bytes += batch.back().second.size();
    if (batch.size() == kBatch || batch_bytes >= kBatchBytes) flush();
  }
  flush();
  progress.finish();
  if (!quiet) {
    std::cerr << "imported " << files.size() << " files";
    if (links > 0) std::cerr << " (skipped " << links << " symbolic links)";
    std::cerr << "\n";
  }
  return kOk;
}

// Whether a file or folder between `folder` and `target` (both included below `folder`) is a
// symbolic link: export never writes through one, so nothing lands outside `folder`.
bool link_on_the_way(const fs::path& folder, const fs::path& target) {
  fs::path at = folder;
  for (const fs::path& part : target.lexically_relative(folder)) {
    at /= part;
    std::error_code error;
    if (fs::symlink_status(at, error).type() == fs::file_type::symlink) return true;
  }
  return false;
}

// Writes the keys' values under `folder`; a key whose file cannot be written (say `a` when `a/b`
// made `a` a folder) is reported and counted in `refused`, and the others go on.
std::uint64_t write_batch(cshelve::Shelf& shelf, const fs::path& folder, const std::vector<std::string>& keys,
                          cshelve_cli::Progress& progress, std::size_t& refused) {
  const auto values = shelf.get_many(keys);
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (!values[i]) continue;  // deleted since it was listed
    const fs::path target = folder / fs::u8path(keys[i]);
    if (link_on_the_way(folder, target)) {
      progress.finish();
      std::cerr << "cshelve: cannot write key '" << keys[i] << "' as '" << target.string()
                << "': a symbolic link is on the way, and export never follows one\n";
      ++refused;
      continue;
    }
    std::error_code error;
    fs::create_directories(target.parent_path(), error);
    std::ofstream out;
    if (!error) {
      out.open(target, std::ios::binary | std::ios::trunc);
      out.write(values[i]->data(), static_cast<std::streamsize>(values[i]->size()));
      out.close();
    }
    if (error || !out) {
      progress.finish();
      std::cerr << "cshelve: cannot write key '" << keys[i] << "' as '" << target.string()
                << "' (a file and a folder of the same name?)\n";
      ++refused;
      continue;
    }
    bytes += values[i]->size();
  }
  return bytes;
}

int run_export(cshelve::Shelf& shelf, const fs::path& folder, bool quiet) {
  fs::create_directories(folder);
  std::vector<std::string> batch;
  std::size_t exported = 0;
  std::size_t refused = 0;
  cshelve_cli::Progress progress(cshelve_cli::Progress::wanted(quiet), "exporting", 0, 0);
  auto write_out = [&] {
    const std::size_t refused_before = refused;
    progress.advance(batch.size(), write_batch(shelf, folder, batch, progress, refused));
    exported += batch.size() - (refused - refused_before);
    batch.clear();
  };
  for (const std::string& key : shelf) {
    if (!safe_as_path(key)) {
      progress.finish();
      std::cerr << "cshelve: refusing key unsafe as a path: '" << key << "'\n";
      ++refused;
      continue;
    }
    batch.push_back(key);
    if (batch.size() == kBatch) {
      write_out();
    }
  }
  write_out();
  progress.finish();
  if (!quiet)
    std::cerr << "exported " << exported << " keys" << (refused ? ", refused " + std::to_string(refused) : "") << "\n";
  return refused == 0 ? kOk : kStorage;
}

bool reads_only(const std::string& command) {
  return command == "get" || command == "get-file" || command == "has" || command == "len" || command == "keys" ||
         command == "export";
}

int run(const Arguments& args) {
  static const char* const kCommands[] = {"get", "set", "get-file", "set-file", "del",
                                          "has", "len", "keys",     "import",   "export"};
  bool known = false;
  for (const char* name : kCommands) known = known || args.command == name;
  if (!known) throw UsageError("unknown command '" + args.command + "'");

  cshelve::Options options;
  options.provider_params = args.params;
  options.writeback = args.writeback;
  if (args.verbose) {
    options.log_level = cshelve::LogLevel::debug;
    options.logger = [](cshelve::LogLevel level, std::string_view message) {
      std::cerr << "cshelve: " << cshelve::to_string(level) << ": " << message << '\n';
    };
  }
  std::unique_ptr<cshelve_cli::Progress> transfer;
  // import and export draw one progress line of their own for all their files.
  const bool bulk = args.command == "import" || args.command == "export";
  if (cshelve_cli::Progress::wanted(args.quiet) && !bulk) {
    const char* what = args.command == "set" || args.command == "set-file" ? "uploading" : "downloading";
    options.progress = [&transfer, what](std::uint64_t done, std::uint64_t total) {
      if (total < kShowTransferFrom) return;
      if (!transfer) transfer = std::make_unique<cshelve_cli::Progress>(true, what, 0, total);
      transfer->set_bytes(done);
    };
  }
  const cshelve::Flag flag = args.flag.value_or(reads_only(args.command) ? cshelve::Flag::read : cshelve::Flag::create);

  const auto& command = args.command;
  if (command == "get" || command == "has" || command == "del") expect_arguments(args, 1, 1);
  if (command == "set") expect_arguments(args, 1, 2);
  if (command == "get-file" || command == "set-file") expect_arguments(args, 2, 2);
  if (command == "len" || command == "keys") expect_arguments(args, 0, 0);
  if (command == "import" || command == "export") expect_arguments(args, 1, 1);

  // The JSON is checked before the shelf opens, so a mistake in it creates nothing.
  std::optional<std::string> pickle;
  if (args.json) {
    cshelve_cli::require_json();
    if (command == "set")
      pickle = cshelve_cli::pickle_from_json(args.rest.size() == 1 || args.rest[1] == "-" ? read_all(std::cin)
                                                                                          : args.rest[1]);
  }

  cshelve::Shelf shelf = cshelve::open(args.path, flag, options);
  int status = kOk;
  if (args.if_absent) {
    const bool from_stdin = args.rest.size() == 1 || args.rest[1] == "-";
    status = shelf.set_if_absent(args.rest[0], from_stdin ? read_all(std::cin) : args.rest[1]) ? kOk : kNotStored;
    if (transfer) transfer->finish();
    shelf.close();
    return status;
  }
  if (command == "get") {
    const std::string value = shelf.get(args.rest[0]);
    if (transfer) transfer->finish();
    write_stdout(args.json ? cshelve_cli::json_from_pickle(value) : value);
  } else if (command == "set") {
    const bool from_stdin = args.rest.size() == 1 || args.rest[1] == "-";
    if (pickle) {
      shelf.set(args.rest[0], *pickle);
    } else if (from_stdin) {
      const StdinValue input;
      input.store(shelf, args.rest[0]);
    } else {
      shelf.set(args.rest[0], args.rest[1]);
    }
    if (transfer) transfer->finish();
  } else if (command == "get-file") {
    shelf.get_file(args.rest[0], args.rest[1]);
    if (transfer) transfer->finish();
  } else if (command == "set-file") {
    shelf.set_file(args.rest[0], args.rest[1]);
    if (transfer) transfer->finish();
  } else if (command == "del") {
    shelf.erase(args.rest[0]);
  } else if (command == "has") {
    status = shelf.contains(args.rest[0]) ? kOk : kKeyAbsent;
  } else if (command == "len") {
    std::cout << shelf.size() << '\n';
  } else if (command == "keys") {
    for (const std::string& key : shelf) std::cout << key << '\n';
  } else if (command == "import") {
    status = run_import(shelf, args.rest[0], args.quiet);
  } else if (command == "export") {
    status = run_export(shelf, args.rest[0], args.quiet);
  }
  shelf.close();
  std::cout.flush();
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::cin.tie(nullptr);
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "-h" || word == "--help") {
      std::cout << kHelp;
      return kOk;
    }
    if (word == "--version") {
      std::cout << "cshelve " << cshelve::version() << '\n';
      return kOk;
    }
  }
  try {
    return run(parse_arguments(argc, argv));
  } catch (const UsageError& error) {
    std::cerr << "cshelve: " << error.what() << " (see cshelve --help)\n";
    return kUsage;
  } catch (const cshelve_cli::JsonInputError& error) {
    std::cerr << "cshelve: " << error.what() << '\n';
    return kUsage;
  } catch (const cshelve::KeyNotFoundError& error) {
    std::cerr << "cshelve: " << error.what() << '\n';
    return kKeyAbsent;
  } catch (const cshelve::ReadOnlyError& error) {
    std::cerr << "cshelve: " << error.what() << " (open with -f w or -f c to write)\n";
    return kUsage;
  } catch (const cshelve::ConfigurationError& error) {
    std::cerr << "cshelve: configuration error: " << error.what() << '\n';
    return kConfiguration;
  } catch (const cshelve::AuthenticationError& error) {
    std::cerr << "cshelve: " << error.what() << " (check key_id, key_secret and the clock)\n";
    return kStorage;
  } catch (const cshelve::NetworkError& error) {
    std::cerr << "cshelve: " << error.what() << " (check endpoint_url and the network)\n";
    return kStorage;
  } catch (const cshelve::Error& error) {
    std::cerr << "cshelve: " << error.what() << '\n';
    return kStorage;
  } catch (const fs::filesystem_error& error) {
    std::cerr << "cshelve: " << error.what() << '\n';
    return kStorage;
  } catch (const std::exception& error) {
    std::cerr << "cshelve: unexpected error: " << error.what() << '\n';
    return kStorage;
  }
}
