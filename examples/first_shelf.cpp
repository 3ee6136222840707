// A first shelf: store a few records in a local folder, read them back, list them.
//
//   first-shelf [FOLDER]      (default: ./first-shelf)
#include <cshelve/cshelve.hpp>

#include <iostream>

int main(int argc, char** argv) {
  const std::string folder = argc > 1 ? argv[1] : "first-shelf";
  try {
    // A path that does not end in ".ini" is a local shelf; Flag::create makes it when missing.
    cshelve::Shelf shelf = cshelve::open(folder);

    shelf.set("planets/mercury", "0.39 AU, 88 days");
    shelf.set("planets/venus", "0.72 AU, 225 days");
    shelf.set("planets/earth", "1.00 AU, 365 days");
    shelf.set("notes/why", "values are plain bytes; keys are UTF-8 text");

    std::cout << "earth: " << shelf.get("planets/earth") << '\n';
    std::cout << "has pluto? " << (shelf.contains("planets/pluto") ? "yes" : "no") << '\n';
    if (auto venus = shelf.find("planets/venus")) std::cout << "venus: " << *venus << '\n';

    std::cout << shelf.size() << " keys in " << folder << ":\n";
    for (const std::string& key : shelf) std::cout << "  " << key << '\n';

    shelf.erase("notes/why");
    shelf.close();  // also done by the destructor; calling it reports errors as exceptions
  } catch (const cshelve::Error& error) {
    std::cerr << "first-shelf: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
