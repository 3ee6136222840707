// Python values: store a dict as Python cshelve would (a pickle that Python's db[key] reads as
// the same dict), read it back as a py::Value, walk it, and see what happens with a value this
// library does not build.
//
//   python-values [FOLDER]      (default: ./python-values)
#include <cshelve/cshelve.hpp>
#include <cshelve/python.hpp>

#include <iostream>

namespace py = cshelve::py;

int main(int argc, char** argv) {
  const std::string folder = argc > 1 ? argv[1] : "python-values";
  try {
    cshelve::Shelf shelf = cshelve::open(folder);

    // {'name': 'Ada', 'langs': ['en', 'fr'], 'born': datetime.date(1815, 12, 10), 'score': 9.5}
    const py::Value user = py::Value::dict(
        {{"name", "Ada"}, {"langs", py::Value::list({"en", "fr"})}, {"born", py::Date{1815, 12, 10}}, {"score", 9.5}});
    shelf.set("users/ada", user);  // a protocol 5 pickle, as Python cshelve writes

    const py::Value back = shelf.get<py::Value>("users/ada");
    std::cout << back.repr() << '\n';
    std::cout << "name: " << back["name"].as_str() << ", born " << back["born"].as_date().year << '\n';
    for (const py::Value& lang : back["langs"].items()) std::cout << "speaks " << lang.as_str() << '\n';
    if (back != user) return 1;

    // A pickle of a class instance (what `class Point: pass; db["p"] = Point()` stores).
    shelf.set("points/p", std::string("\x80\x05\x95\x19\x00\x00\x00\x00\x00\x00\x00\x8c\x08__main__\x94\x8c\x05"
                                      "Point\x94\x93\x94)\x81\x94.",
                                      36));
    try {
      shelf.get<py::Value>("points/p");
      return 1;
    } catch (const cshelve::UnsupportedValueError& error) {
      std::cout << error.what() << '\n';  // names __main__.Point; get() still has the bytes
    }
    shelf.close();
  } catch (const cshelve::Error& error) {
    std::cerr << "python-values: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
