// A small data set in a shelf: the first 36 chemical elements, loaded from a CSV file into a shelf
// (S3, a folder, memory: whatever CONFIG names), then queried.
//
//   elements CONFIG [CSV]        (CSV default: elements.csv)
//
// Each element is stored twice: its record under "element/<symbol>", and its symbol under
// "name/<lower-case name>", a second index that a key/value store needs for lookups by name.
// The records go through a ValueCodec, so the shelf reads and writes `Element` values directly.
#include <cshelve/cshelve.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

struct Element {
  int number = 0;
  std::string symbol;
  std::string name;
  std::string atomic_mass;  // kept as written, so it prints as in the source
  int period = 0;
  int group = 0;
  std::string category;

  double mass() const { return std::stod(atomic_mass); }
};

namespace {

std::vector<std::string> split(const std::string& line, char separator) {
  std::vector<std::string> fields;
  std::istringstream in(line);
  for (std::string field; std::getline(in, field, separator);) fields.push_back(field);
  if (!line.empty() && line.back() == separator) fields.emplace_back();
  return fields;
}

// The CSV columns, in order: number,symbol,name,atomic_mass,period,group,category. The file has no
// quoted fields, so a plain split on commas reads it.
Element parse_element(const std::string& line) {
  const std::vector<std::string> fields = split(line, ',');
  if (fields.size() != 7) throw std::runtime_error("expected 7 fields in '" + line + "'");
  return Element{std::stoi(fields[0]), fields[1], fields[2], fields[3], std::stoi(fields[4]),
                 std::stoi(fields[5]), fields[6]};
}

std::string to_lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

// The stored form of an Element is its CSV line: readable with any S3 browser, and independent of
// this program's struct layout.
template <>
struct cshelve::ValueCodec<Element> {
  static std::string encode(const Element& e) {
    return std::to_string(e.number) + ',' + e.symbol + ',' + e.name + ',' + e.atomic_mass + ',' +
           std::to_string(e.period) + ',' + std::to_string(e.group) + ',' + e.category;
  }
  static Element decode(std::string_view bytes) { return parse_element(std::string(bytes)); }
};

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: elements CONFIG [CSV]\n";
    return 2;
  }
  const std::string config = argv[1];
  const std::string csv = argc > 2 ? argv[2] : "elements.csv";
  try {
    std::ifstream in(csv);
    if (!in) throw std::runtime_error("cannot read " + csv);
    std::vector<std::pair<std::string, std::string>> items;
    std::size_t loaded = 0;
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const Element element = parse_element(line);
      items.emplace_back("element/" + element.symbol, cshelve::ValueCodec<Element>::encode(element));
      items.emplace_back("name/" + to_lower(element.name), element.symbol);
      ++loaded;
    }

    // Flag::create makes the bucket (or folder) when it is missing and keeps what is there.
    cshelve::Shelf shelf = cshelve::open(config, cshelve::Flag::create);
    // One call for every record: on S3 the uploads run side by side.
    shelf.set_many(items);
    std::cout << "loaded " << loaded << " elements (" << items.size() << " keys with the name index)\n";

    // A lookup by key, decoded through the ValueCodec.
    const Element iron = shelf.get<Element>("element/Fe");
    std::cout << "Fe: " << iron.name << ", number " << iron.number << ", atomic mass " << iron.atomic_mass
              << ", period " << iron.period << ", group " << iron.group << '\n';

    // A lookup through the second index.
    if (const auto symbol = shelf.find("name/copper")) {
      std::cout << "copper is " << *symbol << ": number " << shelf.get<Element>("element/" + *symbol).number << '\n';
    }

    // Several keys at once; a missing one comes back empty instead of throwing.
    const std::vector<std::string> wanted = {"element/Na", "element/Xx", "element/Kr"};
    const auto found = shelf.get_many(wanted);
    std::cout << "get_many:";
    for (std::size_t i = 0; i < wanted.size(); ++i) {
      const std::string symbol = wanted[i].substr(wanted[i].find('/') + 1);
      std::cout << (i == 0 ? " " : ", ") << symbol << ' ';
      if (found[i])
        std::cout << cshelve::ValueCodec<Element>::decode(*found[i]).name;
      else
        std::cout << "missing";
    }
    std::cout << '\n';

    // A scan: list the keys, keep the records, fetch them in one batch.
    std::vector<std::string> element_keys;
    for (const std::string& key : shelf) {
      if (key.rfind("element/", 0) == 0) element_keys.push_back(key);
    }
    std::vector<Element> elements;
    for (const auto& bytes : shelf.get_many(element_keys)) {
      if (bytes) elements.push_back(cshelve::ValueCodec<Element>::decode(*bytes));
    }
    // Listings come in the storage's order; sort for output that does not depend on it.
    std::sort(elements.begin(), elements.end(), [](const Element& a, const Element& b) { return a.number < b.number; });

    std::map<int, int> per_period;
    for (const Element& e : elements) ++per_period[e.period];
    std::cout << "elements per period:";
    for (const auto& [period, count] : per_period) std::cout << ' ' << period << ':' << count;
    std::cout << '\n';

    std::cout << "noble gases:";
    for (const Element& e : elements) {
      if (e.category == "noble gas") std::cout << ' ' << e.symbol;
    }
    std::cout << '\n';

    // The periodic table is ordered by atomic number, not by mass; a few neighbours disagree.
    std::cout << "heavier than the next element:";
    for (std::size_t i = 0; i + 1 < elements.size(); ++i) {
      const Element& a = elements[i];
      const Element& b = elements[i + 1];
      if (b.number == a.number + 1 && a.mass() > b.mass()) {
        std::cout << ' ' << a.symbol << " (" << a.atomic_mass << " > " << b.atomic_mass << " of " << b.symbol << ')';
      }
    }
    std::cout << '\n';

    std::cout << "has Og? " << (shelf.contains("element/Og") ? "yes" : "no") << '\n';
    std::cout << "shelf holds " << shelf.size() << " keys\n";
    shelf.close();
  } catch (const cshelve::Error& error) {
    std::cerr << "elements: " << error.what() << '\n';
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "elements: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
