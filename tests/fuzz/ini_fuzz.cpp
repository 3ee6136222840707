// libFuzzer target: the INI reader (src/config/ini.hpp) and what the shelf reads from its result
// (the [compression] and [encryption] sections, boolean options).
//
// Any text either parses or throws ConfigurationError (or one of its kinds); any other exception,
// a crash, a leak or undefined behaviour is a bug.
#include "codec/record.hpp"
#include "config/ini.hpp"
#include "config/settings.hpp"
#include "config/values.hpp"

#include <cshelve/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  cshelve::config::Ini ini;
  try {
    ini = cshelve::config::parse_ini(input, "fuzz.ini");
  } catch (const cshelve::ConfigurationError&) {
    return 0;
  }
  try {
    cshelve::config::processing_from_config(ini.find("compression"), ini.find("encryption"));
  } catch (const cshelve::ConfigurationError&) {
  }
  // A few values read as booleans: most are not booleans, and a thrown exception costs as much as
  // the rest of the run, so not every one.
  int booleans = 0;
  for (const auto& [section_name, section] : ini.sections) {
    for (const auto& [name, value] : section) {
      if (++booleans > 3) break;
      try {
        cshelve::config::parse_bool(value, name);
      } catch (const cshelve::ConfigurationError&) {
      }
    }
  }
  cshelve::config::merge_provider_params({{"endpoint_url", "http://127.0.0.1:1"}}, ini.find("provider_params"));
  return 0;
}
