#include "config/values.hpp"

#include <cshelve/errors.hpp>

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "util/ascii.hpp"
#include "util/text.hpp"

namespace cshelve::config {
namespace {

// 1 for true, 0 for false, -1 for neither.
int bool_value(std::string_view value) {
  const std::string word = util::to_lower_ascii(util::trim_blanks(value));
  if (word == "true" || word == "yes" || word == "on" || word == "1") return 1;
  if (word == "false" || word == "no" || word == "off" || word == "0") return 0;
  return -1;
}

}  // namespace

std::string OptionName::describe() const {
  const std::string_view separator = origin.empty() ? "" : ": ";
  if (section == "provider_params") return util::concat({origin, separator, "provider parameter '", option, "'"});
  return util::concat({origin, separator, "[", section, "] option '", option, "'"});
}

void throw_bad_value(const OptionName& name, const std::string& problem) {
  throw ConfigurationError(util::concat({name.describe(), ": ", problem}));
}

bool is_bool_word(std::string_view value) { return bool_value(value) >= 0; }

bool parse_bool(std::string_view value, const OptionName& name) {
  const int parsed = bool_value(value);
  if (parsed < 0) throw_bad_value(name, util::concat({"must be true or false, not '", value, "'"}));
  return parsed == 1;
}

bool parse_bool(std::string_view value, std::string_view what) {
  const int parsed = bool_value(value);
  if (parsed < 0) {
    throw ConfigurationError(util::concat({what, " must be true or false, not '", value, "'"}));
  }
  return parsed == 1;
}

long long parse_whole_number(std::string_view value, const OptionName& name, long long min, long long max) {
  const std::string text(util::trim_blanks(value));
  const bool digits = !text.empty() && text.find_first_not_of("+-0123456789") == std::string::npos;
  if (digits) {
    char* end = nullptr;
    errno = 0;
    const long long number = std::strtoll(text.c_str(), &end, 10);
    if (errno == 0 && end == text.c_str() + text.size() && number >= min && number <= max) return number;
  }
  throw_bad_value(name, util::concat({"must be a whole number from ", std::to_string(min), " to ", std::to_string(max),
                                      ", not '", value, "'"}));
}

std::int64_t parse_seconds_as_ms(std::string_view value, const OptionName& name, double max_seconds) {
  const std::string text(util::trim_blanks(value));
  if (!text.empty()) {
    char* end = nullptr;
    const double seconds = std::strtod(text.c_str(), &end);
    if (end == text.c_str() + text.size() && std::isfinite(seconds) && seconds > 0 && seconds < max_seconds) {
      return static_cast<std::int64_t>(std::ceil(seconds * 1000));
    }
  }
  throw_bad_value(name, util::concat({"must be a positive number of seconds below ",
                                      std::to_string(static_cast<long long>(max_seconds)), ", not '", value, "'"}));
}

std::size_t parse_choice(std::string_view value, const OptionName& name,
                         std::initializer_list<std::string_view> words) {
  std::size_t position = 0;
  for (std::string_view word : words) {
    if (value == word) return position;
    ++position;
  }
  std::string known;
  for (std::string_view word : words) {
    if (!known.empty()) known += ", ";
    known += word;
  }
  throw_bad_value(name, util::concat({"must be one of ", known, ", not '", value, "'"}));
}

std::string resolve_path(const std::string& value, std::string_view origin) {
  const auto slash = origin.rfind('/');
  if (value.empty() || value.front() == '/' || slash == std::string_view::npos) return value;
  return util::concat({origin.substr(0, slash + 1), value});
}

}  // namespace cshelve::config
