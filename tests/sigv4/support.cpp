#include "support.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace sigv4_test {

std::filesystem::path suite_dir() { return std::filesystem::path(CSHELVE_TEST_DATA) / "sigv4-test-suite"; }

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.erase(std::remove(text.begin(), text.end(), '\r'), text.end());
  return text;
}

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      lines.push_back(text.substr(start));
      return lines;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

std::string trim_blanks(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return std::string(text.substr(first, last - first + 1));
}

}  // namespace

void append_utf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 && hex_digit(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::string hex_encode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0x0F]);
  }
  return out;
}

std::string hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0) throw std::runtime_error("odd-length hex");
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = hex_digit(hex[i]);
    const int low = hex_digit(hex[i + 1]);
    if (high < 0 || low < 0) throw std::runtime_error("bad hex digit");
    out.push_back(static_cast<char>(high * 16 + low));
  }
  return out;
}

std::time_t parse_iso8601(const std::string& text) {
  std::tm parts{};
  std::istringstream in(text);
  in >> std::get_time(&parts, "%Y-%m-%dT%H:%M:%SZ");
  if (in.fail()) throw std::runtime_error("bad timestamp " + text);
  return timegm(&parts);
}

HttpRequest parse_http_request(const std::string& text) {
  const std::vector<std::string> lines = split_lines(text);
  HttpRequest request;
  // The target may hold a raw space (get-space): method is the first word, the protocol the last.
  const std::string& request_line = lines.at(0);
  const std::size_t first_space = request_line.find(' ');
  const std::size_t last_space = request_line.rfind(' ');
  if (first_space == std::string::npos || last_space <= first_space) {
    throw std::runtime_error("bad request line: " + request_line);
  }
  request.method = request_line.substr(0, first_space);
  const std::string target = request_line.substr(first_space + 1, last_space - first_space - 1);
  const std::size_t question = target.find('?');
  request.path = target.substr(0, question);
  if (question != std::string::npos) {
    std::string_view query = std::string_view(target).substr(question + 1);
    while (!query.empty()) {
      const std::size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      const std::size_t equals = pair.find('=');
      request.query.emplace_back(percent_decode(pair.substr(0, equals)), equals == std::string_view::npos
                                                                             ? std::string()
                                                                             : percent_decode(pair.substr(equals + 1)));
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    }
  }
  std::size_t i = 1;
  for (; i < lines.size() && !lines[i].empty(); ++i) {
    const std::string& line = lines[i];
    if (line[0] == ' ' || line[0] == '\t') {  // obsolete line folding: one space replaces the fold
      if (request.headers.empty()) throw std::runtime_error("continuation without header");
      request.headers.back().second += " " + trim_blanks(line);
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) throw std::runtime_error("bad header line: " + line);
    request.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  for (std::size_t body_line = i + 1; body_line < lines.size(); ++body_line) {
    if (body_line > i + 1) request.body += '\n';
    request.body += lines[body_line];
  }
  return request;
}

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string header_value(const Pairs& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (lower_ascii(key) == lower_ascii(name)) return value;
  }
  return {};
}

Pairs normalized_headers(const Pairs& headers) {
  Pairs out;
  for (const auto& [name, value] : headers) {
    out.emplace_back(lower_ascii(name), trim_blanks(value));
  }
  std::stable_sort(out.begin(), out.end());
  return out;
}

// --- JSON -----------------------------------------------------------------------------------

std::string string_or(const Json& object, const std::string& key, const std::string& fallback) {
  const Json* member = object.find(key);
  return member != nullptr ? member->as_string() : fallback;
}

bool bool_or(const Json& object, const std::string& key, bool fallback) {
  const Json* member = object.find(key);
  return member != nullptr ? member->as_bool() : fallback;
}

Pairs json_pairs(const Json& array_of_pairs) {
  Pairs out;
  for (const Json& pair : array_of_pairs.items()) {
    const auto& items = pair.items();
    if (items.size() != 2) throw std::runtime_error("JSON: pair without two items");
    out.emplace_back(items[0].as_string(), items[1].as_string());
  }
  return out;
}

}  // namespace sigv4_test
