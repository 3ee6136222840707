// JSON for `get --json` and `set --json`: Python values (the pickles Python cshelve stores) shown
// and given as JSON. Plain JSON maps to None, bool, int, float, str, list and dict; what JSON lacks
// is a tagged object of one member, {"$bytes": "AAE="} say. docs/python-values.md has the table.
#ifndef CSHELVE_TOOLS_JSON_VALUES_HPP
#define CSHELVE_TOOLS_JSON_VALUES_HPP

#include <cshelve/python.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace cshelve_cli {

// JSON given to `set --json` that is malformed or names no Python value: the tool's usage error.
class JsonInputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws JsonInputError when this build has no Python values (-Dpython_values=false).
void require_json();

// A stored value (a pickle) as one line of JSON, newline included. Throws the library's errors
// for a value that is not a pickle (PickleFormatError) or holds a type it does not read
// (UnsupportedValueError).
std::string json_from_pickle(std::string_view pickle);

// JSON text as the protocol 5 pickle Python cshelve stores. Throws JsonInputError.
std::string pickle_from_json(std::string_view json);

// The two halves, for tests.
std::string value_to_json(const cshelve::py::Value& value);
cshelve::py::Value value_from_json(std::string_view json);

}  // namespace cshelve_cli

#endif
