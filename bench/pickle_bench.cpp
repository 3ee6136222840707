// The pickle codec's speed (bench/pickle_bench.py runs it beside CPython's pickle on the same
// bytes): pickle-bench FILE REPEAT, where FILE holds pickles, each with a 4-byte little-endian
// length first. Prints one JSON line: seconds to read all of them (loads) and to write the values
// read (dumps, protocol 5), the best of REPEAT rounds each. Time is the process's CPU time, not the
// wall clock: on a shared machine a round preempted by another program would otherwise count the
// other program's time (bench/pickle_bench.py measures CPython the same way).
#include <cshelve/python.hpp>

#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace py = cshelve::py;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: pickle-bench FILE REPEAT\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> pickles;
  for (std::size_t pos = 0; pos + 4 <= all.size();) {
    const std::uint32_t n = std::uint32_t(static_cast<unsigned char>(all[pos])) |
                            std::uint32_t(static_cast<unsigned char>(all[pos + 1])) << 8 |
                            std::uint32_t(static_cast<unsigned char>(all[pos + 2])) << 16 |
                            std::uint32_t(static_cast<unsigned char>(all[pos + 3])) << 24;
    pickles.push_back(all.substr(pos + 4, n));
    pos += 4 + n;
  }
  const int repeat = std::stoi(argv[2]);
  const auto cpu_seconds = [] {
    timespec now{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
  };
  double best_loads = 1e30, best_dumps = 1e30;
  std::size_t check = 0;
  // As in Python's loop, a round's values are freed only once the next round has read its own
  // (the name `read` is rebound), so neither side hands its heap back to the system between rounds.
  std::vector<py::Value> previous;
  for (int round = 0; round < repeat; ++round) {
    std::vector<py::Value> values;
    values.reserve(pickles.size());
    double start = cpu_seconds();
    for (const auto& p : pickles) values.push_back(py::loads(p));
    best_loads = std::min(best_loads, cpu_seconds() - start);
    start = cpu_seconds();
    for (const auto& v : values) check += py::dumps(v).size();
    best_dumps = std::min(best_dumps, cpu_seconds() - start);
    previous = std::move(values);  // freeing is part of neither timing
  }
  std::printf("{\"loads\": %.6f, \"dumps\": %.6f, \"bytes\": %zu}\n", best_loads, best_dumps, check / repeat);
  return 0;
}
