// Reading option values: one parser for each kind of value (booleans, whole numbers, durations,
// paths, words from a list), and one error style, naming where the value came from.
#ifndef CSHELVE_CONFIG_VALUES_HPP
#define CSHELVE_CONFIG_VALUES_HPP

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace cshelve::config {

// Where an option was read, for messages: "config.ini: [default] option 'bucket_name'" or, for a
// provider parameter given in code, "provider parameter 'read_timeout'".
struct OptionName {
  std::string_view origin;   // the INI file; empty when the value came from code
  std::string_view section;  // "default", "provider_params"...
  std::string_view option;
  std::string describe() const;
};

// A ConfigurationError: "<where>: <problem>".
[[noreturn]] void throw_bad_value(const OptionName& name, const std::string& problem);

// configparser's booleans, in any case and with blanks around: true/false, yes/no, on/off, 1/0.
bool parse_bool(std::string_view value, const OptionName& name);
// The same, with `what` naming the value in the message.
bool parse_bool(std::string_view value, std::string_view what);
// Whether `value` is one of those words (true or false), or neither.
bool is_bool_word(std::string_view value);

// A whole number from `min` to `max`.
long long parse_whole_number(std::string_view value, const OptionName& name, long long min, long long max);

// A positive number of seconds below `max_seconds`, as whole milliseconds rounded up.
std::int64_t parse_seconds_as_ms(std::string_view value, const OptionName& name, double max_seconds);

// Which of `words` the value is, as written: its position in the list.
std::size_t parse_choice(std::string_view value, const OptionName& name, std::initializer_list<std::string_view> words);

// A path as written, or taken from the INI file's folder when relative and the value came from one.
std::string resolve_path(const std::string& value, std::string_view origin);

}  // namespace cshelve::config

#endif
