// cshelve: storing your own types.
//
// A shelf stores bytes. To store another type T, specialize ValueCodec<T> with
//     static std::string encode(const T& value);
//     static T decode(std::string_view bytes);   // throws on bytes it cannot read
// and use `shelf.set(key, value)` / `shelf.get<T>(key)` / `shelf.find<T>(key)`.
// Byte strings and byte vectors are the base cases, stored unchanged.
#ifndef CSHELVE_VALUE_CODEC_HPP
#define CSHELVE_VALUE_CODEC_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cshelve {

template <class T, class Enable = void>
struct ValueCodec;  // no default: an unsupported type is a compile-time error

template <>
struct ValueCodec<std::string> {
  static std::string encode(const std::string& value) { return value; }
  static std::string decode(std::string_view bytes) { return std::string(bytes); }
};

// std::vector<unsigned char>, std::vector<std::uint8_t>, std::vector<std::byte>, std::vector<char>.
template <class Byte>
struct ValueCodec<std::vector<Byte>, std::enable_if_t<sizeof(Byte) == 1 && std::is_trivial_v<Byte>>> {
  static std::string encode(const std::vector<Byte>& value) {
    return std::string(reinterpret_cast<const char*>(value.data()), value.size());
  }
  static std::vector<Byte> decode(std::string_view bytes) {
    const auto* first = reinterpret_cast<const Byte*>(bytes.data());
    return std::vector<Byte>(first, first + bytes.size());
  }
};

}  // namespace cshelve

#endif
