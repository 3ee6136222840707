// The C++ side of python_interop.py: a shelf's Python values through the public API.
//
//   pickle_shelf INI ENDPOINT get KEY...   each value read with get<py::Value>, written to stdout
//                                          as a protocol 5 pickle (4-byte length first)
//   pickle_shelf INI ENDPOINT set KEY      the value a pickle on stdin reads as, stored with set
//   pickle_shelf INI ENDPOINT set-native KEY  a value built here (python_interop.py knows it)
#include <cshelve/cshelve.hpp>
#include <cshelve/python.hpp>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

namespace py = cshelve::py;

namespace {

// Mirrors NATIVE in python_interop.py.
py::Value native() {
  py::Time noon;
  noon.hour = 12;
  noon.has_offset = true;
  noon.utc_offset = py::TimeDelta{0, 3600, 0};
  py::Uuid id;
  for (std::size_t i = 0; i < 16; ++i) id.bytes[i] = static_cast<std::uint8_t>(i * 17);
  return py::Value::dict({
      {"name", "Zoë"},
      {"count", 42},
      {"big", py::Value::integer("-123456789012345678901234567890")},
      {"ratio", 0.25},
      {"tags", py::Value::list({"a", "b", py::Value::tuple({1, 2.5, nullptr})})},
      {"raw", py::Value::bytes(std::string("\x00\xff", 2))},
      {"buffer", py::Value::bytearray("xy")},
      {"flags", py::Value::set({1, 2, 3})},
      {"frozen", py::Value::frozenset({"x"})},
      {"z", py::Value::complex(1, -1)},
      {"day", py::Date{2024, 2, 29}},
      {"at", py::DateTime{py::Date{2024, 2, 29}, noon}},
      {"naive", py::DateTime{py::Date{1999, 12, 31}, py::Time{23, 59, 59, 999999, 0, false, {}}}},
      {"span", py::TimeDelta{-2, 30, 5}},
      {"price", py::Value::decimal("19.99")},
      {"id", id},
      {py::Value(7), "int key"},
      {py::Value::tuple({"t", 1}), "tuple key"},
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: pickle_shelf INI ENDPOINT get|set|set-native KEY...\n");
    return 2;
  }
  cshelve::Options options;
  options.provider_params["endpoint_url"] = argv[2];
  const std::string command = argv[3];
  try {
    auto db = cshelve::open(argv[1], cshelve::Flag::create, options);
    if (command == "get") {
      for (int i = 4; i < argc; ++i) {
        const std::string out = py::dumps(db.get<py::Value>(argv[i]));
        const std::uint32_t n = static_cast<std::uint32_t>(out.size());
        const unsigned char len[4] = {static_cast<unsigned char>(n), static_cast<unsigned char>(n >> 8),
                                      static_cast<unsigned char>(n >> 16), static_cast<unsigned char>(n >> 24)};
        std::fwrite(len, 1, 4, stdout);
        std::fwrite(out.data(), 1, out.size(), stdout);
      }
    } else if (command == "set") {
      const std::string pickle((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
      db.set(argv[4], py::loads(pickle));
    } else if (command == "set-native") {
      db.set(argv[4], native());
    } else {
      std::fprintf(stderr, "pickle_shelf: unknown command %s\n", command.c_str());
      return 2;
    }
    db.close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pickle_shelf: %s\n", e.what());
    return 1;
  }
  return 0;
}
