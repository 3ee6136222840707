// libFuzzer target: the readers of S3's XML replies (src/s3/xml.hpp).
//
// Whatever a server (or anything between it and us) sends, the readers either return a result or
// throw MalformedResponseError; any other exception, a crash, a leak or undefined behaviour is a
// bug. Two properties are checked on top: text escaped for a request body reads back unchanged,
// and a key survives a listing both raw and url-encoded.
#include "s3/xml.hpp"

#include <cshelve/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <string_view>

namespace {

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool plain = (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') || (byte >= '0' && byte <= '9') ||
                       c == '-' || c == '_' || c == '.' || c == '~';
    if (plain) {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0F];
    }
  }
  return out;
}

void parse_everything(std::string_view body) {
  using namespace cshelve::s3;
  try {
    const ListResult result = parse_list_objects_v2(body);
    check(!result.is_truncated || !result.next_continuation_token.empty(),
          "a truncated listing comes with a continuation token");
  } catch (const cshelve::MalformedResponseError&) {
  }
  try {
    parse_delete_result(body);
  } catch (const cshelve::MalformedResponseError&) {
  }
  parse_error(body);  // never throws: a body that is not an <Error> is nullopt
  try {
    url_decode_form(body);
  } catch (const cshelve::MalformedResponseError&) {
  }
}

// `text` as an S3 key or message: what the client writes must read back as it was written.
// XML cannot carry a NUL character at all, so such text is left out.
void round_trip(std::string_view text) {
  using namespace cshelve::s3;
  if (text.find('\0') != std::string_view::npos) return;
  const std::string escaped = xml_escape(text);

  const auto reply = parse_error("<Error><Code>X</Code><Message>" + escaped + "</Message></Error>");
  check(reply.has_value(), "an escaped message makes a readable <Error>");
  check(reply->message == text, "an escaped message reads back unchanged");

  const std::string raw_listing = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>" + escaped +
                                  "</Key></Contents></ListBucketResult>";
  const ListResult raw = parse_list_objects_v2(raw_listing);
  check(raw.keys.size() == 1 && raw.keys.front() == text, "a raw key reads back unchanged");

  const std::string encoded_listing =
      "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
      "<Contents><Key>" +
      url_encode(text) + "</Key></Contents></ListBucketResult>";
  const ListResult encoded = parse_list_objects_v2(encoded_listing);
  check(encoded.keys.size() == 1 && encoded.keys.front() == text, "a url-encoded key reads back unchanged");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  parse_everything(input);
  round_trip(input);
  return 0;
}
