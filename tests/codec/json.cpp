#include "json.hpp"

#include <cstdlib>
#include <stdexcept>

namespace cshelve::test {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Json document() {
    Json value = parse_value(0);
    skip_space();
    if (position_ != text_.size()) fail("text after the JSON value");
    return value;
  }

 private:
  // Deep enough for any real document, shallow enough that hostile input cannot exhaust the stack.
  static constexpr int kMaxDepth = 200;

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("JSON: " + what + " at offset " + std::to_string(position_));
  }

  void skip_space() {
    while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\t' ||
                                        text_[position_] == '\n' || text_[position_] == '\r')) {
      ++position_;
    }
  }

  char peek() {
    skip_space();
    if (position_ >= text_.size()) fail("unexpected end of text");
    return text_[position_];
  }

  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++position_;
  }

  void literal(std::string_view word) {
    if (text_.substr(position_, word.size()) != word) fail("unknown literal");
    position_ += word.size();
  }

  Json parse_value(int depth) {
    if (depth > kMaxDepth) fail("nesting too deep");
    Json value;
    switch (peek()) {
      case '{':
        value.type = Json::Type::object;
        ++position_;
        if (peek() == '}') {
          ++position_;
          return value;
        }
        for (;;) {
          if (peek() != '"') fail("expected a member name");
          std::string name = parse_string();
          expect(':');
          value.members.emplace_back(std::move(name), parse_value(depth + 1));
          if (peek() == ',') {
            ++position_;
            continue;
          }
          expect('}');
          return value;
        }
      case '[':
        value.type = Json::Type::array;
        ++position_;
        if (peek() == ']') {
          ++position_;
          return value;
        }
        for (;;) {
          value.items.push_back(parse_value(depth + 1));
          if (peek() == ',') {
            ++position_;
            continue;
          }
          expect(']');
          return value;
        }
      case '"':
        value.type = Json::Type::string;
        value.text = parse_string();
        return value;
      case 't':
        literal("true");
        value.type = Json::Type::boolean;
        value.boolean = true;
        return value;
      case 'f':
        literal("false");
        value.type = Json::Type::boolean;
        return value;
      case 'n': literal("null"); return value;
      default:
        value.type = Json::Type::number;
        value.text = parse_number();
        return value;
    }
  }

  std::string parse_number() {
    const std::size_t start = position_;
    const auto digits = [&] {
      const std::size_t first = position_;
      while (position_ < text_.size() && text_[position_] >= '0' && text_[position_] <= '9') {
        ++position_;
      }
      if (position_ == first) fail("malformed number");
    };
    if (text_[position_] == '-') ++position_;
    digits();
    if (position_ < text_.size() && text_[position_] == '.') {
      ++position_;
      digits();
    }
    if (position_ < text_.size() && (text_[position_] == 'e' || text_[position_] == 'E')) {
      ++position_;
      if (position_ < text_.size() && (text_[position_] == '+' || text_[position_] == '-')) {
        ++position_;
      }
      digits();
    }
    return std::string(text_.substr(start, position_ - start));
  }

  unsigned hex4() {
    if (position_ + 4 > text_.size()) fail("truncated \\u escape");
    unsigned value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[position_++];
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        value |= static_cast<unsigned>(c - 'A' + 10);
      } else {
        fail("bad \\u escape");
      }
    }
    return value;
  }

  static void append_utf8(std::string& out, unsigned code_point) {
    if (code_point < 0x80) {
      out += static_cast<char>(code_point);
    } else if (code_point < 0x800) {
      out += static_cast<char>(0xc0 | (code_point >> 6));
      out += static_cast<char>(0x80 | (code_point & 0x3f));
    } else if (code_point < 0x10000) {
      out += static_cast<char>(0xe0 | (code_point >> 12));
      out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (code_point & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (code_point >> 18));
      out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (code_point & 0x3f));
    }
  }

  std::string parse_string() {
    expect('"');
    std::string out;
    for (;;) {
      if (position_ >= text_.size()) fail("unterminated string");
      const char c = text_[position_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (position_ >= text_.size()) fail("unterminated escape");
      switch (text_[position_++]) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned code_point = hex4();
          if (code_point >= 0xd800 && code_point < 0xdc00) {
            if (text_.substr(position_, 2) != "\\u") fail("lone high surrogate");
            position_ += 2;
            const unsigned low = hex4();
            if (low < 0xdc00 || low >= 0xe000) fail("bad low surrogate");
            code_point = 0x10000 + ((code_point - 0xd800) << 10) + (low - 0xdc00);
          } else if (code_point >= 0xdc00 && code_point < 0xe000) {
            fail("lone low surrogate");
          }
          append_utf8(out, code_point);
          break;
        }
        default: fail("unknown escape");
      }
    }
  }

  std::string_view text_;
  std::size_t position_ = 0;
};

}  // namespace

const Json* Json::find(std::string_view name) const {
  for (const auto& member : members) {
    if (member.first == name) return &member.second;
  }
  return nullptr;
}

const Json& Json::at(std::string_view name) const {
  const Json* found = find(name);
  if (found == nullptr) throw std::runtime_error("JSON: no member '" + std::string(name) + "'");
  return *found;
}

const std::string& Json::str() const {
  if (type != Type::string) throw std::runtime_error("JSON: not a string");
  return text;
}

long long Json::integer() const {
  if (type != Type::number) throw std::runtime_error("JSON: not a number");
  std::size_t used = 0;
  const long long value = std::stoll(text, &used);
  if (used != text.size()) throw std::runtime_error("JSON: not an integer: " + text);
  return value;
}

Json parse_json(std::string_view text) { return Parser(text).document(); }

}  // namespace cshelve::test
