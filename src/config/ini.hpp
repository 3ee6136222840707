// Reading the INI files Python cshelve reads (configparser's dialect, with $VAR values).
#ifndef CSHELVE_CONFIG_INI_HPP
#define CSHELVE_CONFIG_INI_HPP

#include <cshelve/options.hpp>

#include <map>
#include <string>
#include <string_view>

namespace cshelve::config {

using Section = std::map<std::string, std::string>;

struct Ini {
  std::string origin;                       // the file name, for messages
  std::map<std::string, Section> sections;  // section names are case-sensitive, option names lower-case

  // nullptr when the section is absent.
  const Section* find(const std::string& section) const;
};

// Parses INI text in configparser's dialect: `[section]` headers, `name = value` or `name: value`,
// full-line `#`/`;` comments, indented continuation lines, `%%` for a literal percent sign and
// `%(name)s` references within a section. A value in matching quotes is unquoted. A value starting
// with `$` is replaced by that environment variable (except `provider`, which is read as written).
// Throws ConfigurationError naming `origin` and the line.
Ini parse_ini(std::string_view text, const std::string& origin);

// Reads and parses a file; a missing or unreadable file is a ConfigurationError naming it.
Ini read_ini(const std::string& path);

}  // namespace cshelve::config

#endif
