// Counting across processes without losing a count: PROCESSES processes each add 1 to one counter
// EACH times with Shelf::update(), which writes only when nobody changed the counter since it was
// read, and tries again when somebody did. The total comes out exact; checks it and exits 0.
//
//   count-visits SHELF [PROCESSES] [EACH]     (SHELF: a folder, or an INI file of a shelf on S3)
#include <cshelve/cshelve.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace {

long as_count(const std::optional<std::string>& value) { return value ? std::stol(*value) : 0; }

// One process's share: its own shelf (connections are not shared across fork), EACH additions.
int add_visits(const std::string& path, const std::string& key, int each) {
  try {
    cshelve::Shelf shelf = cshelve::open(path);
    for (int i = 0; i < each; ++i) {
      shelf.update(key, [](const std::optional<std::string>& value) { return std::to_string(as_count(value) + 1); });
    }
    shelf.close();
    return 0;
  } catch (const cshelve::Error& error) {
    std::cerr << "count-visits: " << error.what() << '\n';
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: count-visits SHELF [PROCESSES] [EACH]\n";
    return 2;
  }
  const std::string path = argv[1];
  const int processes = argc > 2 ? std::atoi(argv[2]) : 4;
  const int each = argc > 3 ? std::atoi(argv[3]) : 25;
  const std::string key = "visits";
  try {
    cshelve::Shelf shelf = cshelve::open(path);
    const long before = as_count(shelf.find(key));
    shelf.close();

    std::vector<pid_t> children;
    for (int p = 0; p < processes; ++p) {
      const pid_t child = ::fork();
      if (child < 0) {
        std::cerr << "count-visits: cannot start a process\n";
        return 1;
      }
      if (child == 0) std::_Exit(add_visits(path, key, each));
      children.push_back(child);
    }
    bool all_done = true;
    for (const pid_t child : children) {
      int status = 0;
      all_done = ::waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0 && all_done;
    }

    const long after = as_count(cshelve::open(path).find(key));
    const long expected = before + static_cast<long>(processes) * each;
    std::cout << processes << " processes added " << each << " each: " << before << " -> " << after << " (expected "
              << expected << ")\n";
    return all_done && after == expected ? 0 : 1;
  } catch (const cshelve::Error& error) {
    std::cerr << "count-visits: " << error.what() << '\n';
    return 1;
  }
}
