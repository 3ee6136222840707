#include "s3/xml.hpp"

#include <cshelve/errors.hpp>

#include <pugixml.hpp>

#include <cerrno>
#include <cstdlib>
#include <limits>

#include "util/hex.hpp"
#include "util/text.hpp"

namespace cshelve::s3 {
namespace {

// "s3:Key" -> "Key": servers differ in namespace and prefix, the local name is what counts.
std::string_view local_name(const pugi::xml_node& node) {
  std::string_view name = node.name();
  auto colon = name.rfind(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

pugi::xml_node child(const pugi::xml_node& parent, std::string_view name) {
  for (pugi::xml_node node = parent.first_child(); node; node = node.next_sibling()) {
    if (node.type() == pugi::node_element && local_name(node) == name) return node;
  }
  return {};
}

// The element's text, from all its text and CDATA children (a server may split it).
std::string text_of(const pugi::xml_node& element) {
  std::string text;
  for (pugi::xml_node node = element.first_child(); node; node = node.next_sibling()) {
    if (node.type() == pugi::node_pcdata || node.type() == pugi::node_cdata) text += node.value();
  }
  return text;
}

std::string child_text(const pugi::xml_node& parent, std::string_view name) {
  pugi::xml_node node = child(parent, name);
  return node ? text_of(node) : std::string();
}

[[noreturn]] void malformed(std::string_view what, std::string_view detail) {
  throw MalformedResponseError(util::concat({"malformed S3 ", what, " reply: ", detail}));
}

// Parses `body` and returns its root element, or an empty node when the body is not
// well-formed XML; `problem` then says why.
pugi::xml_node parse_root(pugi::xml_document& document, std::string_view body, std::string& problem) {
  // No DOCTYPE processing: pugixml never expands entities other than the five predefined ones
  // and character references, so a hostile reply cannot make the parser expand or fetch anything.
  // Whitespace-only text is kept: pugixml drops it by default, which read a key of spaces as "".
  const unsigned options = (pugi::parse_default & ~pugi::parse_doctype) | pugi::parse_ws_pcdata;
  pugi::xml_parse_result result = document.load_buffer(body.data(), body.size(), options, pugi::encoding_utf8);
  if (!result) {
    problem = std::string(result.description()) + " at byte " + std::to_string(result.offset);
    return {};
  }
  pugi::xml_node root = document.document_element();
  if (!root) problem = "no root element";
  return root;
}

pugi::xml_node expect_root(pugi::xml_document& document, std::string_view body, std::string_view root_name,
                           std::string_view what) {
  std::string problem;
  pugi::xml_node root = parse_root(document, body, problem);
  if (!root) malformed(what, problem);
  if (local_name(root) != root_name) {
    malformed(what, util::concat({"root element is <", local_name(root), ">, not <", root_name, ">"}));
  }
  return root;
}

bool parse_bool(const std::string& text, std::string_view field, std::string_view what) {
  if (text == "true") return true;
  if (text == "false") return false;
  malformed(what, util::concat({field, " is neither true nor false"}));
}

std::size_t parse_count(const std::string& text, std::string_view field, std::string_view what) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    malformed(what, util::concat({field, " is not a number"}));
  }
  errno = 0;
  unsigned long long value = std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE || value > std::numeric_limits<std::size_t>::max()) {
    malformed(what, util::concat({field, " is out of range"}));
  }
  return static_cast<std::size_t>(value);
}

}  // namespace

std::string url_decode_form(std::string_view encoded) {
  std::string decoded;
  decoded.reserve(encoded.size());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    char c = encoded[i];
    if (c == '+') {
      decoded += ' ';
    } else if (c == '%') {
      const bool complete = i + 2 < encoded.size();
      const int high = complete ? util::hex_value(encoded[i + 1]) : -1;
      const int low = complete ? util::hex_value(encoded[i + 2]) : -1;
      if (high < 0 || low < 0) {
        throw MalformedResponseError("malformed S3 ListObjectsV2 reply: broken %-escape in a key");
      }
      decoded += static_cast<char>(high * 16 + low);
      i += 2;
    } else {
      decoded += c;
    }
  }
  return decoded;
}

ListResult parse_list_objects_v2(std::string_view body) {
  constexpr std::string_view what = "ListObjectsV2";
  pugi::xml_document document;
  pugi::xml_node root = expect_root(document, body, "ListBucketResult", what);

  const bool url_encoded = child_text(root, "EncodingType") == "url";
  ListResult result;
  for (pugi::xml_node node = root.first_child(); node; node = node.next_sibling()) {
    if (node.type() != pugi::node_element || local_name(node) != "Contents") continue;
    pugi::xml_node key = child(node, "Key");
    if (!key) malformed(what, "an entry of <Contents> has no <Key>");
    std::string text = text_of(key);
    result.keys.push_back(url_encoded ? url_decode_form(text) : std::move(text));
  }

  pugi::xml_node truncated = child(root, "IsTruncated");
  if (!truncated) malformed(what, "no <IsTruncated>");
  result.is_truncated = parse_bool(text_of(truncated), "IsTruncated", what);
  if (result.is_truncated) {
    result.next_continuation_token = child_text(root, "NextContinuationToken");
    // Without a token the listing could not go on, and a caller looping on is_truncated would
    // ask for the first page again and again.
    if (result.next_continuation_token.empty()) {
      malformed(what, "truncated listing without <NextContinuationToken>");
    }
  }
  pugi::xml_node key_count = child(root, "KeyCount");
  result.key_count = key_count ? parse_count(text_of(key_count), "KeyCount", what) : result.keys.size();
  return result;
}

std::vector<DeleteFailure> parse_delete_result(std::string_view body) {
  constexpr std::string_view what = "DeleteObjects";
  pugi::xml_document document;
  pugi::xml_node root = expect_root(document, body, "DeleteResult", what);
  std::vector<DeleteFailure> failures;
  for (pugi::xml_node node = root.first_child(); node; node = node.next_sibling()) {
    if (node.type() != pugi::node_element || local_name(node) != "Error") continue;
    pugi::xml_node key = child(node, "Key");
    if (!key) malformed(what, "an <Error> entry has no <Key>");
    failures.push_back({text_of(key), child_text(node, "Code"), child_text(node, "Message")});
  }
  return failures;
}

std::optional<ErrorReply> parse_error(std::string_view body) {
  pugi::xml_document document;
  std::string problem;
  pugi::xml_node root = parse_root(document, body, problem);
  if (!root || local_name(root) != "Error") return std::nullopt;
  return ErrorReply{child_text(root, "Code"), child_text(root, "Message"), child_text(root, "RequestId"),
                    child_text(root, "Resource")};
}

std::string xml_escape(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&apos;"; break;
      default:
        // A raw CR would be turned into LF by the server's end-of-line handling, and the other
        // C0 controls are not XML 1.0 characters at all: S3 asks for them as character references.
        if (byte < 0x20) {
          escaped += "&#x";
          if (byte >= 0x10) escaped += util::hex_digit(byte >> 4, util::HexCase::upper);
          escaped += util::hex_digit(byte, util::HexCase::upper);
          escaped += ';';
        } else {
          escaped += c;
        }
    }
  }
  return escaped;
}

std::string create_bucket_configuration(std::string_view region) {
  if (region.empty() || region == "us-east-1") return {};
  return "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
         "<LocationConstraint>" +
         xml_escape(region) + "</LocationConstraint></CreateBucketConfiguration>";
}

std::string delete_request(const std::vector<std::string>& keys, std::size_t first, std::size_t count, bool quiet) {
  std::string body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
      "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  if (quiet) body += "<Quiet>true</Quiet>";
  for (std::size_t i = first; i < first + count && i < keys.size(); ++i) {
    body += "<Object><Key>";
    body += xml_escape(keys[i]);
    body += "</Key></Object>";
  }
  body += "</Delete>";
  return body;
}

}  // namespace cshelve::s3
