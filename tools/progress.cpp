#include "progress.hpp"

#include <algorithm>
#include <cstdio>
#include <unistd.h>

namespace cshelve_cli {
namespace {

std::string megabytes(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

}  // namespace

Progress::Progress(bool enabled, std::string what, std::uint64_t total_items, std::uint64_t total_bytes)
    : enabled_(enabled), what_(std::move(what)), total_items_(total_items), total_bytes_(total_bytes) {}

Progress::~Progress() { finish(); }

bool Progress::wanted(bool quiet) { return !quiet && ::isatty(STDERR_FILENO) == 1; }

void Progress::advance(std::uint64_t items, std::uint64_t bytes) {
  items_ += items;
  bytes_ += bytes;
  draw(false);
}

void Progress::set_bytes(std::uint64_t bytes) {
  bytes_ = bytes;
  draw(false);
}

void Progress::draw(bool force) {
  if (!enabled_) return;
  // Redrawing more than a few times a second only costs time and flickers.
  const auto now = std::chrono::steady_clock::now();
  if (!force && drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;

  std::string line = "\r" + what_ + " ";
  const bool by_items = total_items_ > 0;
  if (by_items || total_bytes_ > 0) {
    constexpr int kWidth = 24;
    const double fraction = std::min(1.0, by_items ? static_cast<double>(items_) / static_cast<double>(total_items_)
                                                   : static_cast<double>(bytes_) / static_cast<double>(total_bytes_));
    const int filled = static_cast<int>(fraction * kWidth + 0.5);
    line += "[" + std::string(static_cast<std::size_t>(filled), '#') +
            std::string(static_cast<std::size_t>(kWidth - filled), '-') + "] ";
    line += std::to_string(static_cast<int>(fraction * 100 + 0.5)) + "% ";
    if (by_items) line += std::to_string(items_) + "/" + std::to_string(total_items_) + ", ";
    if (total_bytes_ > 0) line += megabytes(bytes_) + " of " + megabytes(total_bytes_);
  } else {
    line += std::to_string(items_) + ", " + megabytes(bytes_);
  }
  line += "\x1b[K";  // erase what a longer earlier line left
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

void Progress::finish() {
  if (!enabled_ || !drawn_) return;
  draw(true);
  std::fputs("\n", stderr);
  drawn_ = false;  // a later advance starts a fresh line
}

}  // namespace cshelve_cli
