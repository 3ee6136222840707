// Every line a logger is given, whatever thread gives it, for tests that check what was logged.
#ifndef CSHELVE_TESTS_SUPPORT_LOG_COLLECTOR_HPP
#define CSHELVE_TESTS_SUPPORT_LOG_COLLECTOR_HPP

#include <cshelve/cshelve.hpp>

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cshelve_test {

class LogCollector {
 public:
  // The callback to hand to Options::logger (or a client's); the collector must outlive it.
  cshelve::Logger logger() {
    return [this](cshelve::LogLevel level, std::string_view line) {
      std::lock_guard<std::mutex> lock(mutex_);
      entries_.emplace_back(level, std::string(line));
    };
  }
  // Each line with its level.
  std::vector<std::pair<cshelve::LogLevel, std::string>> entries() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_;
  }
  // Each line as the level's name, ": " and the text.
  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> lines;
    for (const auto& [level, text] : entries_) lines.push_back(std::string(cshelve::to_string(level)) + ": " + text);
    return lines;
  }
  // Each line's text alone.
  std::vector<std::string> messages() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> messages;
    for (const auto& entry : entries_) messages.push_back(entry.second);
    return messages;
  }
  // The lines (as lines() shows them) containing `text`.
  std::size_t count(std::string_view text) const {
    std::size_t n = 0;
    for (const auto& line : lines()) n += line.find(text) != std::string::npos ? 1 : 0;
    return n;
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.clear();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<cshelve::LogLevel, std::string>> entries_;
};

}  // namespace cshelve_test

#endif
