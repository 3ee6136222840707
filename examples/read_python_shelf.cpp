// Reading a shelf that Python cshelve wrote.
//
//   read-python-shelf PATH
//
// PATH is an INI file (or a folder) for the shelf, with the same [compression] and [encryption]
// sections the Python program used. cshelve undoes those steps, so each value comes back as the
// bytes Python stored: a pickle of the Python value (protocol 5 by default). This program prints
// the simplest pickles as values (str, bytes, int, float, True, False, None) and says which ones
// it leaves alone; a real program would use a pickle library, or agree with the Python side on a
// plainer format (Python cshelve stores bytes as a pickle of bytes, too).
#include <cshelve/cshelve.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace {

// Pickle opcodes (Python's Lib/pickletools.py lists them all).
enum Opcode : unsigned char {
  kProto = 0x80,
  kFrame = 0x95,
  kMemoize = 0x94,
  kStop = 0x2e,
  kShortBinUnicode = 0x8c,  // str, 1-byte length
  kBinUnicode = 0x58,       // str, 4-byte length
  kBinUnicode8 = 0x8d,      // str, 8-byte length
  kShortBinBytes = 0x43,    // bytes, 1-byte length
  kBinBytes = 0x42,         // bytes, 4-byte length
  kBinBytes8 = 0x8e,        // bytes, 8-byte length
  kBinInt1 = 0x4b,          // int 0..255
  kBinInt2 = 0x4d,          // int 0..65535
  kBinInt = 0x4a,           // int, signed 32 bits
  kLong1 = 0x8a,            // int, n-byte little-endian two's complement
  kBinFloat = 0x47,         // float, 8-byte big-endian IEEE 754
  kNone = 0x4e,
  kTrue = 0x88,
  kFalse = 0x89,
};

// Reads a pickle front to back; every read is bounds-checked, so damaged input just stops it.
class PickleReader {
 public:
  explicit PickleReader(std::string_view bytes) : bytes_(bytes) {}

  bool at_end() const { return at_ == bytes_.size(); }
  std::optional<unsigned char> byte() {
    if (at_ >= bytes_.size()) return std::nullopt;
    return static_cast<unsigned char>(bytes_[at_++]);
  }
  std::optional<std::uint64_t> little_endian(std::size_t width) {
    if (bytes_.size() - at_ < width) return std::nullopt;
    std::uint64_t value = 0;
    for (std::size_t i = width; i-- > 0;) value = (value << 8) | static_cast<unsigned char>(bytes_[at_ + i]);
    at_ += width;
    return value;
  }
  std::optional<std::string_view> take(std::uint64_t count) {
    if (bytes_.size() - at_ < count) return std::nullopt;
    const std::string_view out = bytes_.substr(at_, static_cast<std::size_t>(count));
    at_ += static_cast<std::size_t>(count);
    return out;
  }
  std::optional<unsigned char> peek() const {
    if (at_ >= bytes_.size()) return std::nullopt;
    return static_cast<unsigned char>(bytes_[at_]);
  }

 private:
  std::string_view bytes_;
  std::size_t at_ = 0;
};

std::string quoted(std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;  // UTF-8 passes through
    }
  }
  return out + "\"";
}

std::string bytes_summary(std::string_view data) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "bytes (" + std::to_string(data.size()) + " bytes)";
  const std::size_t shown = std::min<std::size_t>(data.size(), 16);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto u = static_cast<unsigned char>(data[i]);
    out += ' ';
    out += kHex[u >> 4];
    out += kHex[u & 0xf];
  }
  if (data.size() > shown) out += " ...";
  return out;
}

// A little-endian two's-complement integer of any length, in decimal (Python's ints are unbounded,
// so LONG1 can hold more than 64 bits).
std::string decimal_from_le_twos_complement(std::string_view le) {
  std::vector<unsigned char> magnitude(le.begin(), le.end());
  const bool negative = !magnitude.empty() && (magnitude.back() & 0x80) != 0;
  if (negative) {  // negate: invert every bit, add one
    unsigned carry = 1;
    for (auto& b : magnitude) {
      const unsigned sum = static_cast<unsigned char>(~b) + carry;
      b = static_cast<unsigned char>(sum);
      carry = sum >> 8;
    }
  }
  std::string digits;
  // Repeated division by 10, most significant byte first.
  while (std::any_of(magnitude.begin(), magnitude.end(), [](unsigned char b) { return b != 0; })) {
    unsigned remainder = 0;
    for (std::size_t i = magnitude.size(); i-- > 0;) {
      const unsigned value = (remainder << 8) | magnitude[i];
      magnitude[i] = static_cast<unsigned char>(value / 10);
      remainder = value % 10;
    }
    digits += static_cast<char>('0' + remainder);
  }
  if (digits.empty()) digits = "0";
  if (negative) digits += '-';
  std::reverse(digits.begin(), digits.end());
  return digits;
}

const char* container_name(unsigned char opcode) {
  switch (opcode) {
    case 0x7d: return "dict";   // EMPTY_DICT
    case 0x5d: return "list";   // EMPTY_LIST
    case 0x29: return "tuple";  // EMPTY_TUPLE
    case 0x8f: return "set";    // EMPTY_SET
    case 0x28: return "tuple";  // MARK, then items, then TUPLE
    case 0x85:
    case 0x86:
    case 0x87: return "tuple";
    case 0x63:
    case 0x93: return "object of a class";  // GLOBAL, STACK_GLOBAL
    default: return nullptr;
  }
}

// What the payload holds, as one line.
std::string describe(std::string_view payload) {
  PickleReader in(payload);
  if (in.byte() != kProto || !in.byte()) return "not a pickle (" + std::to_string(payload.size()) + " bytes)";
  if (in.peek() == kFrame) {  // a frame: its length, then the rest of the pickle
    in.byte();
    if (!in.little_endian(8)) return "a truncated pickle";
  }

  const auto opcode = in.byte();
  if (!opcode) return "a truncated pickle";
  std::string value;
  switch (*opcode) {
    case kShortBinUnicode:
    case kBinUnicode:
    case kBinUnicode8: {
      const std::size_t width = *opcode == kShortBinUnicode ? 1 : *opcode == kBinUnicode ? 4 : 8;
      const auto size = in.little_endian(width);
      const auto text = size ? in.take(*size) : std::nullopt;
      if (!text) return "a truncated pickle";
      value = "str " + quoted(*text);
      break;
    }
    case kShortBinBytes:
    case kBinBytes:
    case kBinBytes8: {
      const std::size_t width = *opcode == kShortBinBytes ? 1 : *opcode == kBinBytes ? 4 : 8;
      const auto size = in.little_endian(width);
      const auto data = size ? in.take(*size) : std::nullopt;
      if (!data) return "a truncated pickle";
      value = bytes_summary(*data);
      break;
    }
    case kBinInt1:
    case kBinInt2: {
      const auto number = in.little_endian(*opcode == kBinInt1 ? 1 : 2);
      if (!number) return "a truncated pickle";
      value = "int " + std::to_string(*number);
      break;
    }
    case kBinInt: {
      const auto number = in.little_endian(4);
      if (!number) return "a truncated pickle";
      value = "int " + std::to_string(static_cast<std::int32_t>(static_cast<std::uint32_t>(*number)));
      break;
    }
    case kLong1: {
      const auto size = in.byte();
      const auto data = size ? in.take(*size) : std::nullopt;
      if (!data) return "a truncated pickle";
      value = "int " + decimal_from_le_twos_complement(*data);
      break;
    }
    case kBinFloat: {
      const auto raw = in.take(8);
      if (!raw) return "a truncated pickle";
      std::uint64_t bits = 0;
      for (const char c : *raw) bits = (bits << 8) | static_cast<unsigned char>(c);
      double number = 0;
      std::memcpy(&number, &bits, sizeof number);
      char text[32];
      const auto result = std::to_chars(text, text + sizeof text, number);
      value = "float " + std::string(text, result.ptr);
      break;
    }
    case kNone: value = "None"; break;
    case kTrue: value = "True"; break;
    case kFalse: value = "False"; break;
    default: {
      const char* name = container_name(*opcode);
      return std::string("not decoded: a ") + (name ? name : "value") + " (" + std::to_string(payload.size()) +
             "-byte pickle; this example reads str, bytes, int, float, bool and None)";
    }
  }
  if (in.peek() == kMemoize) in.byte();
  if (in.byte() != kStop || !in.at_end()) {
    return "not decoded: more than one simple value (" + std::to_string(payload.size()) + "-byte pickle)";
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: read-python-shelf PATH   (an INI file or a folder)\n";
    return 2;
  }
  try {
    // Read-only: nothing the Python side wrote can be changed by mistake.
    const cshelve::Shelf shelf = cshelve::open(argv[1], cshelve::Flag::read);
    std::vector<std::string> keys(shelf.begin(), shelf.end());
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) std::cout << key << ": " << describe(shelf.get(key)) << '\n';
  } catch (const cshelve::Error& error) {
    // E.g. DataProcessingSignatureError: the record was compressed or encrypted and the INI does not
    // say so; EncryptedDataCorruptionError: the key is not the one the Python side used.
    std::cerr << "read-python-shelf: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
