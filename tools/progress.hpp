// A one-line progress display on standard error, for the command-line tool's long commands.
#ifndef CSHELVE_TOOLS_PROGRESS_HPP
#define CSHELVE_TOOLS_PROGRESS_HPP

#include <chrono>
#include <cstdint>
#include <string>

namespace cshelve_cli {

class Progress {
 public:
  // `enabled` false makes every call a no-op (quiet, or standard error is not a terminal).
  // A total of 0 means unknown: counts are shown without a bar. With no item total, the bar
  // follows the bytes.
  Progress(bool enabled, std::string what, std::uint64_t total_items, std::uint64_t total_bytes);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress();

  void advance(std::uint64_t items, std::uint64_t bytes);
  // For one transfer: the bytes moved so far.
  void set_bytes(std::uint64_t bytes);
  // Clears the line, so later messages start on a clean one.
  void finish();

  // Whether progress should show: standard error is a terminal and -q was not given.
  static bool wanted(bool quiet);

 private:
  void draw(bool force);

  bool enabled_;
  bool drawn_ = false;
  std::string what_;
  std::uint64_t total_items_;
  std::uint64_t total_bytes_;
  std::uint64_t items_ = 0;
  std::uint64_t bytes_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace cshelve_cli

#endif
