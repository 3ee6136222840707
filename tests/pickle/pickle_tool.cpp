// The C++ side of the differential tests against CPython's pickle (differential.py, hostile.py).
//
// Reads pickles from stdin, each as a 4-byte little-endian length and the bytes. For each it writes
// to stdout one status byte: 'O' (read), 'U' (UnsupportedValueError), 'F' (PickleFormatError),
// 'X' (any other exception: always a bug), then a 4-byte length and a payload: for 'O', the
// value written again at protocols 2, 3, 4 and 5 (each length-prefixed); otherwise the message.
#include <cshelve/errors.hpp>
#include <cshelve/python.hpp>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>

namespace {

bool read_exact(std::string& out, std::size_t n) {
  out.resize(n);
  return n == 0 || std::fread(out.data(), 1, n, stdin) == n;
}

std::uint32_t le32(const std::string& b) {
  return std::uint32_t(static_cast<unsigned char>(b[0])) | std::uint32_t(static_cast<unsigned char>(b[1])) << 8 |
         std::uint32_t(static_cast<unsigned char>(b[2])) << 16 | std::uint32_t(static_cast<unsigned char>(b[3])) << 24;
}

void put32(std::string& out, std::size_t n) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
}

void emit(char status, const std::string& payload) {
  std::string head(1, status);
  put32(head, payload.size());
  std::fwrite(head.data(), 1, head.size(), stdout);
  std::fwrite(payload.data(), 1, payload.size(), stdout);
}

}  // namespace

int main() {
  std::string len, pickle;
  while (read_exact(len, 4)) {
    if (!read_exact(pickle, le32(len))) return 2;
    try {
      const cshelve::py::Value v = cshelve::py::loads(pickle);
      std::string payload;
      for (int protocol = 2; protocol <= 5; ++protocol) {
        const std::string out = cshelve::py::dumps(v, protocol);
        put32(payload, out.size());
        payload += out;
      }
      emit('O', payload);
    } catch (const cshelve::UnsupportedValueError& e) {
      emit('U', e.what());
    } catch (const cshelve::PickleFormatError& e) {
      emit('F', e.what());
    } catch (const std::exception& e) {
      emit('X', e.what());
    }
  }
  return 0;
}
