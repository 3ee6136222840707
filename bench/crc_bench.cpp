// Throughput of the full-object checksums (src/util/crc.hpp) over a 64 MiB buffer, in CPU time:
// each kind through this processor's engine and through the portable one.
//
//   crc-bench [MiB]
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <vector>

#include "util/crc.hpp"
#include "util/crc_internal.hpp"

namespace {

double cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  namespace detail = cshelve::util::crc_detail;
  using cshelve::util::CrcKind;
  const long mebibytes = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 64;
  if (mebibytes <= 0) {
    std::fprintf(stderr, "usage: crc-bench [MiB]\n");
    return 2;
  }
  std::vector<unsigned char> buffer(static_cast<std::size_t>(mebibytes) << 20);
  std::mt19937 generator(1);
  for (auto& byte : buffer) byte = static_cast<unsigned char>(generator());

  const detail::Engine chosen = detail::chosen_engine();
  std::printf("%ld MiB buffer; this processor's engine: %s\n", mebibytes, detail::engine_name(chosen));
  const struct {
    CrcKind kind;
    const char* name;
  } kinds[] = {{CrcKind::crc64nvme, "CRC-64/NVME"}, {CrcKind::crc32c, "CRC-32C"}, {CrcKind::crc32, "CRC-32"}};
  for (const auto& kind : kinds) {
    for (detail::Engine engine : {chosen, detail::Engine::portable}) {
      // Passes until a quarter of a second of CPU time, after one to warm caches and tables.
      std::uint64_t reg = detail::update_with(engine, kind.kind, 0, buffer.data(), buffer.size());
      int passes = 0;
      const double started = cpu_seconds();
      double elapsed = 0;
      do {
        reg = detail::update_with(engine, kind.kind, reg, buffer.data(), buffer.size());
        ++passes;
        elapsed = cpu_seconds() - started;
      } while (elapsed < 0.25);
      const double gigabytes = static_cast<double>(buffer.size()) * passes / 1e9;
      std::printf("%-12s %-28s %6.2f GB/s  (%d passes, register %016llx)\n", kind.name, detail::engine_name(engine),
                  gigabytes / elapsed, passes, static_cast<unsigned long long>(reg));
      if (engine == detail::Engine::portable) break;
    }
  }
  return 0;
}
