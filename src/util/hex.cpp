#include "util/hex.hpp"

namespace cshelve::util {

void append_hex(std::string& out, const unsigned char* bytes, std::size_t size, HexCase letters) {
  const std::size_t at = out.size();
  out.resize(at + 2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    out[at + 2 * i] = hex_digit(bytes[i] >> 4, letters);
    out[at + 2 * i + 1] = hex_digit(bytes[i], letters);
  }
}

}  // namespace cshelve::util
