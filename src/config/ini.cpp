#include "config/ini.hpp"

#include "config/config_file.hpp"

#include <cshelve/errors.hpp>

#include "util/ascii.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace cshelve::config {
namespace {

std::string where(const std::string& origin, int line) { return origin + ":" + std::to_string(line); }

// A value as written, before quotes, interpolation and $VAR are dealt with.
struct RawOption {
  std::string value;
  int line = 0;
};

struct RawSection {
  std::map<std::string, RawOption> options;
  std::vector<std::string> order;
};

// An option longer than this once its references are expanded is refused: references that fan
// out (b = %(a)s%(a)s, c = %(b)s%(b)s, ...) grow exponentially with their depth, so a file of a few
// hundred bytes could otherwise ask for gigabytes.
constexpr std::size_t kMaxExpandedBytes = std::size_t{1} << 20;

// configparser's BasicInterpolation: `%%` is a literal `%`, `%(name)s` the (interpolated) value of
// another option of the same section. Anything else after `%` is an error there, so it is here.
// `expanded` keeps each option's result, so that an option referred to many times is expanded
// once rather than once per path that leads to it.
std::string interpolate(const std::string& name, const RawSection& section, const std::string& origin, int depth,
                        std::map<std::string, std::string>& expanded) {
  if (const auto done = expanded.find(name); done != expanded.end()) return done->second;
  const RawOption& option = section.options.at(name);
  if (depth > 10) {
    throw ConfigurationError(util::concat(
        {where(origin, option.line), ": option '", name, "' refers to itself through %(...)s references"}));
  }
  const std::string& text = option.value;
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '%') {
      out += '%';
      ++i;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '(') {
      const auto close = text.find(")s", i + 2);
      if (close != std::string::npos) {
        const std::string referenced = util::to_lower_ascii(text.substr(i + 2, close - i - 2));
        if (section.options.count(referenced) == 0) {
          throw ConfigurationError(util::concat(
              {where(origin, option.line), ": option '", name, "' refers to missing option '", referenced, "'"}));
        }
        out += interpolate(referenced, section, origin, depth + 1, expanded);
        if (out.size() > kMaxExpandedBytes) {
          throw ConfigurationError(util::concat({where(origin, option.line), ": option '", name,
                                                 "' is longer than 1 MiB once its %(...)s references are expanded"}));
        }
        i = close + 1;
        continue;
      }
    }
    throw ConfigurationError(util::concat(
        {where(origin, option.line), ": option '", name, "' has a lone '%' (write '%%' for a percent sign)"}));
  }
  expanded.emplace(name, out);
  return out;
}

std::string unquote(std::string value) {
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
    return value.substr(1, value.size() - 2);
  }
  return value;
}

std::string expand_environment(const std::string& value, const std::string& option, const std::string& origin,
                               int line) {
  if (value.empty() || value.front() != '$') return value;
  const std::string variable = value.substr(1);
  const char* found = variable.empty() ? nullptr : std::getenv(variable.c_str());
  if (found == nullptr) {
    throw ConfigurationError(util::concat({where(origin, line), ": option '", option, "' names environment variable '",
                                           variable, "', which is not set"}));
  }
  return found;
}

}  // namespace

const Section* Ini::find(const std::string& section) const {
  const auto it = sections.find(section);
  return it == sections.end() ? nullptr : &it->second;
}

Ini parse_ini(std::string_view text, const std::string& origin) {
  std::map<std::string, RawSection> raw;
  std::vector<std::string> section_order;
  RawSection* current = nullptr;
  std::string current_name;
  std::string last_option;  // where a continuation line goes
  int line_number = 0;

  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_number == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);

    const std::string_view content = util::trim_blanks(line);
    if (content.empty()) {
      last_option.clear();
      continue;
    }
    if (content.front() == '#' || content.front() == ';') continue;

    const bool indented = util::trim_blanks(line.substr(0, 1)).empty();
    if (indented && current != nullptr && !last_option.empty()) {
      current->options[last_option].value += "\n" + std::string(content);
      continue;
    }

    if (content.front() == '[') {
      if (content.back() != ']' || content.size() < 3) {
        throw ConfigurationError(
            util::concat({where(origin, line_number), ": malformed section header '", content, "'"}));
      }
      current_name = std::string(content.substr(1, content.size() - 2));
      if (raw.count(current_name) != 0) {
        throw ConfigurationError(
            util::concat({where(origin, line_number), ": section [", current_name, "] appears twice"}));
      }
      current = &raw[current_name];
      section_order.push_back(current_name);
      last_option.clear();
      continue;
    }

    const auto delimiter = content.find_first_of("=:");
    if (delimiter == std::string_view::npos || delimiter == 0) {
      // Never echo the line itself: it may hold a secret.
      throw ConfigurationError(where(origin, line_number) +
                               ": malformed line (expected 'name = value' or a [section] header)");
    }
    if (current == nullptr) {
      throw ConfigurationError(where(origin, line_number) +
                               ": option outside any section (add a [section] header above it)");
    }
    std::string name = util::to_lower_ascii(util::trim_blanks(content.substr(0, delimiter)));
    if (current->options.count(name) != 0) {
      throw ConfigurationError(util::concat(
          {where(origin, line_number), ": option '", name, "' appears twice in section [", current_name, "]"}));
    }
    current->options[name] = RawOption{std::string(util::trim_blanks(content.substr(delimiter + 1))), line_number};
    current->order.push_back(name);
    last_option = name;
  }

  Ini ini;
  ini.origin = origin;
  for (const auto& section_name : section_order) {
    const RawSection& section = raw.at(section_name);
    Section& out = ini.sections[section_name];
    std::map<std::string, std::string> expanded;
    for (const auto& name : section.order) {
      const int line = section.options.at(name).line;
      std::string value = unquote(interpolate(name, section, origin, 0, expanded));
      if (!(section_name == "default" && name == "provider")) {
        value = expand_environment(value, name, origin, line);
      }
      out[name] = std::move(value);
    }
  }
  return ini;
}

Ini read_ini(const std::string& path) { return parse_ini(read_config_file(path), path); }

}  // namespace cshelve::config
