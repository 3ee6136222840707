// Python ints of any size: the two's complement little-endian bytes that pickle writes, their
// decimal text, and the Value constructors for unsigned integers that may exceed int64.
#include "codec/python_node.hpp"

#include <cshelve/errors.hpp>

#include <cstdio>
#include <cstring>
#include <vector>

#include "util/text.hpp"

namespace cshelve::py {

namespace detail {

namespace {

// Magnitude in base 2^32, least significant first.
using Limbs = std::vector<std::uint32_t>;

// Two's complement negation of little-endian bytes, in place.
void negate(std::string& bytes) {
  unsigned carry = 1;
  for (char& c : bytes) {
    const unsigned v = static_cast<unsigned char>(~static_cast<unsigned char>(c)) + carry;
    c = static_cast<char>(v & 0xff);
    carry = v >> 8;
  }
}

void trim(Limbs& m) {
  while (!m.empty() && m.back() == 0) m.pop_back();
}

std::string le_from_magnitude(Limbs mag, bool negative) {
  trim(mag);
  std::string bytes;
  bytes.reserve(mag.size() * 4 + 1);
  for (std::uint32_t limb : mag)
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((limb >> (8 * i)) & 0xff));
  while (!bytes.empty() && bytes.back() == 0) bytes.pop_back();
  if (bytes.empty()) return bytes;
  if (static_cast<unsigned char>(bytes.back()) & 0x80) bytes.push_back(0);  // room for the sign
  if (negative) {
    negate(bytes);
    // Python's encode_long drops a redundant 0xff.
    if (bytes.size() > 1 && static_cast<unsigned char>(bytes.back()) == 0xff &&
        (static_cast<unsigned char>(bytes[bytes.size() - 2]) & 0x80))
      bytes.pop_back();
  }
  return bytes;
}

}  // namespace

std::string le_from_int64(std::int64_t v) {
  const bool negative = v < 0;
  std::uint64_t mag = negative ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
  return le_from_magnitude({static_cast<std::uint32_t>(mag), static_cast<std::uint32_t>(mag >> 32)}, negative);
}

Value integer_from_le(std::string_view bytes) {
  // Minimal form first: strip redundant sign bytes, as the value is kept canonical.
  std::size_t n = bytes.size();
  while (n > 1) {
    const auto top = static_cast<unsigned char>(bytes[n - 1]);
    const auto next = static_cast<unsigned char>(bytes[n - 2]);
    if ((top == 0 && !(next & 0x80)) || (top == 0xff && (next & 0x80)))
      --n;
    else
      break;
  }
  if (n == 1 && bytes[0] == 0) n = 0;
  if (n <= 8) {
    std::uint64_t u = 0;
    for (std::size_t i = 0; i < n; ++i) u |= std::uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
    if (n > 0 && n < 8 && (static_cast<unsigned char>(bytes[n - 1]) & 0x80)) u |= ~std::uint64_t(0) << (8 * n);
    std::int64_t v;
    std::memcpy(&v, &u, sizeof v);
    return Value(static_cast<long long>(v));
  }
  auto node = std::make_shared<Node>();
  node->text.assign(bytes.data(), n);
  return Value(Kind::integer, std::move(node));
}

std::string le_from_decimal(std::string_view text) {
  std::size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  if (i == text.size()) throw ValueTypeError(util::concat({"not an integer: '", text, "'"}));
  Limbs mag;
  while (i < text.size()) {
    std::uint32_t chunk = 0, scale = 1;
    for (int d = 0; d < 9 && i < text.size(); ++d, ++i) {
      const char c = text[i];
      if (c < '0' || c > '9') throw ValueTypeError(util::concat({"not an integer: '", text, "'"}));
      chunk = chunk * 10 + static_cast<std::uint32_t>(c - '0');
      scale *= 10;
    }
    std::uint64_t carry = chunk;
    for (auto& limb : mag) {
      const std::uint64_t v = std::uint64_t(limb) * scale + carry;
      limb = static_cast<std::uint32_t>(v);
      carry = v >> 32;
    }
    if (carry) mag.push_back(static_cast<std::uint32_t>(carry));
  }
  return le_from_magnitude(std::move(mag), negative);
}

std::string decimal_from_le(std::string_view bytes) {
  if (bytes.empty()) return "0";
  std::string mag_bytes(bytes);
  const bool negative = static_cast<unsigned char>(mag_bytes.back()) & 0x80;
  if (negative) negate(mag_bytes);
  Limbs mag((mag_bytes.size() + 3) / 4, 0);
  for (std::size_t i = 0; i < mag_bytes.size(); ++i)
    mag[i / 4] |= std::uint32_t(static_cast<unsigned char>(mag_bytes[i])) << (8 * (i % 4));
  trim(mag);
  std::vector<std::uint32_t> chunks;  // base 10^9, least significant first
  while (!mag.empty()) {
    std::uint64_t rem = 0;
    for (std::size_t k = mag.size(); k-- > 0;) {
      const std::uint64_t cur = (rem << 32) | mag[k];
      mag[k] = static_cast<std::uint32_t>(cur / 1000000000u);
      rem = cur % 1000000000u;
    }
    chunks.push_back(static_cast<std::uint32_t>(rem));
    trim(mag);
  }
  std::string out = negative ? "-" : "";
  if (chunks.empty()) return "0";
  out += std::to_string(chunks.back());
  char buf[16];
  for (std::size_t k = chunks.size() - 1; k-- > 0;) {
    std::snprintf(buf, sizeof buf, "%09u", static_cast<unsigned>(chunks[k]));
    out += buf;
  }
  return out;
}

}  // namespace detail

namespace {

Value from_unsigned(unsigned long long u) {
  if (u <= 0x7fffffffffffffffULL) return Value(static_cast<long long>(u));
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  bytes.push_back(0);
  return detail::integer_from_le(bytes);
}

}  // namespace

Value::Value(unsigned long i) : Value(from_unsigned(i)) {}
Value::Value(unsigned long long i) : Value(from_unsigned(i)) {}

Value Value::integer(std::string_view decimal_text) {
  return detail::integer_from_le(detail::le_from_decimal(decimal_text));
}

}  // namespace cshelve::py
