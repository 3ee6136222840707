// A program outside the cshelve tree, as a user would write it: it sees only the installed headers
// and links the library however its build system found it.
//
//   consumer FOLDER LABEL
// stores a value in the local shelf FOLDER, reopens the shelf read-only, and checks the value came
// back byte for byte. LABEL names the way it was built, so each build stores a value of its own.
#include <cshelve/cshelve.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: consumer FOLDER LABEL\n";
    return 2;
  }
  const std::string folder = argv[1];
  const std::string label = argv[2];
  // A zero byte and a non-ASCII character: the value must survive as bytes, not as C text.
  const std::string value = std::string("built by ") + label + std::string(1, '\0') + "\xc3\xa9";
  try {
    {
      cshelve::Shelf shelf = cshelve::open(folder);
      shelf.set(label, value);
      shelf.close();
    }
    const cshelve::Shelf reader = cshelve::open(folder, cshelve::Flag::read);
    const std::string back = reader.get(label);
    if (back != value) {
      std::cerr << "consumer: read " << back.size() << " bytes, stored " << value.size() << '\n';
      return 1;
    }
    std::cout << "consumer " << label << ": cshelve " << cshelve::version() << ", " << reader.size()
              << " keys, value read back\n";
  } catch (const cshelve::Error& error) {
    std::cerr << "consumer: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
