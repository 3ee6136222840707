#include "s3/sigv4.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "cshelve/errors.hpp"
#include "s3/sha256.hpp"
#include "util/ascii.hpp"
#include "util/hex.hpp"
#include "util/text.hpp"

namespace cshelve::s3 {

using detail::as_text;
using detail::Digest;
using detail::HmacSha256;
using detail::kSha256Size;
using detail::ScopedCleanse;

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

// --- Encoding -------------------------------------------------------------------------------

constexpr bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

void append_uri_encoded(std::string& out, std::string_view raw, bool keep_slash) {
  for (const char ch : raw) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      // SigV4 wants upper-case hex here.
      out.push_back(util::hex_digit(c >> 4, util::HexCase::upper));
      out.push_back(util::hex_digit(c, util::HexCase::upper));
    }
  }
}

std::string canonical_query_string(const std::vector<std::pair<std::string, std::string>>& query) {
  if (query.empty()) return {};
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  std::size_t total = 0;
  for (const auto& [key, value] : query) {
    std::string encoded_key;
    encoded_key.reserve(key.size());
    append_uri_encoded(encoded_key, key, false);
    std::string encoded_value;
    encoded_value.reserve(value.size());
    append_uri_encoded(encoded_value, value, false);
    total += encoded_key.size() + encoded_value.size() + 2;
    encoded.emplace_back(std::move(encoded_key), std::move(encoded_value));
  }
  // By encoded key, then encoded value: repeated keys must come out in one defined order.
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  out.reserve(total);
  for (const auto& [key, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out.append(key).append(1, '=').append(value);
  }
  return out;
}

// --- Headers --------------------------------------------------------------------------------

constexpr bool is_header_name_char(unsigned char c) {  // RFC 9110 "tchar"
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

void check_header(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(),
                                   [](char c) { return is_header_name_char(static_cast<unsigned char>(c)); })) {
    throw Error(util::concat({"SigV4: invalid header name '", name, "'"}));
  }
  // A line break would let the value end the header early on the wire; its text is not quoted
  // because it may be a credential.
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    throw Error(util::concat({"SigV4: header '", name, "' has a line break or NUL in its value"}));
  }
}

// Headers that proxies and HTTP stacks are known to add or rewrite: signing them would make the
// signature depend on the path the request takes. The AWS SDKs leave the same ones unsigned.
bool is_never_signed(std::string_view lower_name) {
  return lower_name == "user-agent" || lower_name == "expect" || lower_name == "x-amzn-trace-id";
}

constexpr bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Leading and trailing blanks dropped, inner runs of blanks written as one space (the "Trimall" of
// the SigV4 specification; HTTP itself allows tabs wherever it allows spaces).
void append_trimmed(std::string& out, std::string_view value) {
  // Most values have nothing to trim: they are copied whole.
  const bool as_is =
      value.empty() || (!is_blank(value.front()) && !is_blank(value.back()) &&
                        value.find('\t') == std::string_view::npos && value.find("  ") == std::string_view::npos);
  if (as_is) {
    out.append(value);
    return;
  }
  bool blank_pending = false;
  bool wrote_any = false;
  for (const char c : value) {
    if (is_blank(c)) {
      blank_pending = true;
      continue;
    }
    if (blank_pending && wrote_any) out.push_back(' ');
    blank_pending = false;
    wrote_any = true;
    out.push_back(c);
  }
}

struct HeaderToSign {
  std::string lower_name;
  std::string_view value;
};

void check_payload_hash(std::string_view payload_sha256) {
  const bool printable =
      std::all_of(payload_sha256.begin(), payload_sha256.end(), [](char c) { return c > ' ' && c < 0x7F; });
  if (payload_sha256.empty() || !printable) {
    throw Error("SigV4: the payload hash must be the hex SHA-256 of the body or UNSIGNED-PAYLOAD");
  }
}

void derive_signing_key(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service, Digest& key) {
  std::string seed;
  seed.reserve(4 + secret.size());  // no reallocation, so no unwiped copy of the secret is left
  seed.append("AWS4").append(secret);
  const ScopedCleanse wipe_seed(seed.data(), seed.size());
  Digest date_key;
  Digest region_key;
  Digest service_key;
  const ScopedCleanse wipe_date_key(date_key.data(), date_key.size());
  const ScopedCleanse wipe_region_key(region_key.data(), region_key.size());
  const ScopedCleanse wipe_service_key(service_key.data(), service_key.size());
  HmacSha256(seed).mac(date, date_key);
  HmacSha256(as_text(date_key)).mac(region, region_key);
  HmacSha256(as_text(region_key)).mac(service, service_key);
  HmacSha256(as_text(service_key)).mac("aws4_request", key);
}

void wipe(std::string& text) noexcept { OPENSSL_cleanse(text.data(), text.size()); }

}  // namespace

std::string uri_encode(std::string_view raw, bool keep_slash) {
  std::string out;
  out.reserve(raw.size() + raw.size() / 2);
  append_uri_encoded(out, raw, keep_slash);
  return out;
}

// meson.build asks for a 64-bit time_t where the C library's default is 32 bits (Debian's armhf).
static_assert(sizeof(std::time_t) >= 8, "SigV4 dates past 2038-01-19 need a 64-bit time_t (-D_TIME_BITS=64)");

std::string amz_date(std::time_t when) {
  std::tm utc{};
  if (gmtime_r(&when, &utc) == nullptr) throw Error("SigV4: the request time is out of range");
  // A year before 1000 or after 9999 has no valid SigV4 form. Written digit by digit: the form is
  // fixed, and strftime would consult the locale for it on every request.
  const long year = 1900L + utc.tm_year;
  if (year < 1000 || year > 9999) throw Error("SigV4: the request time is out of range");
  std::string text(sizeof "20130524T000000Z" - 1, '0');
  const auto put = [&text](std::size_t at, long value, std::size_t digits) {
    for (std::size_t i = digits; i-- > 0; value /= 10) text[at + i] = static_cast<char>('0' + value % 10);
  };
  put(0, year, 4);
  put(4, utc.tm_mon + 1, 2);
  put(6, utc.tm_mday, 2);
  text[8] = 'T';
  put(9, utc.tm_hour, 2);
  put(11, utc.tm_min, 2);
  put(13, utc.tm_sec, 2);
  text[15] = 'Z';
  return text;
}

// The signing key of one date, and the HMAC keyed with it that signs that day's requests.
// Not for concurrent use (its HMAC works in a context of its own): the Signer's mutex guards it.
struct Signer::DayKey {
  // The HMAC comes first: if it cannot be made, no copy of the key is left to wipe.
  DayKey(std::string_view yyyymmdd, const Digest& derived) : date(yyyymmdd), hmac(as_text(derived)), key(derived) {}
  ~DayKey() { OPENSSL_cleanse(key.data(), key.size()); }
  DayKey(const DayKey&) = delete;
  DayKey& operator=(const DayKey&) = delete;

  std::string date;
  HmacSha256 hmac;
  Digest key;
};

Signer::Signer(Credentials credentials, std::string region, std::string service,
               ContentSha256Header content_sha256_header)
    : credentials_(std::move(credentials)),
      region_(std::move(region)),
      service_(std::move(service)),
      content_sha256_header_(content_sha256_header) {}

Signer::~Signer() {
  wipe(credentials_.secret_access_key);
  wipe(credentials_.session_token);
}

Signer::DayKey& Signer::day_key(std::string_view yyyymmdd) const {
  if (!day_key_ || day_key_->date != yyyymmdd) {
    Digest derived;
    const ScopedCleanse wipe_derived(derived.data(), derived.size());
    derive_signing_key(credentials_.secret_access_key, yyyymmdd, region_, service_, derived);
    day_key_ = std::make_unique<DayKey>(yyyymmdd, derived);
  }
  return *day_key_;
}

std::string Signer::signing_key(std::string_view yyyymmdd) const {
  const std::lock_guard<std::mutex> lock(day_key_mutex_);
  return std::string(as_text(day_key(yyyymmdd).key));
}

SignedRequest Signer::sign(const RequestToSign& request, std::time_t when) const {
  if (request.path.empty() || request.path.front() != '/') {
    throw Error("SigV4: the path to sign must start with '/'");
  }
  check_payload_hash(request.payload_sha256);
  const std::string date_time = amz_date(when);
  const std::string_view date = std::string_view(date_time).substr(0, 8);
  const bool send_content_sha256 = content_sha256_header_ == ContentSha256Header::send;
  const bool has_token = !credentials_.session_token.empty();

  SignedRequest out;
  out.encoded_path = uri_encode(request.path, true);
  out.encoded_query = canonical_query_string(request.query);

  // --- Headers: what is sent, and the subset that is signed.
  out.headers.reserve(request.headers.size() + 4);
  std::vector<HeaderToSign> to_sign;
  to_sign.reserve(request.headers.size() + 3);
  bool has_host = false;
  for (const auto& [name, value] : request.headers) {
    check_header(name, value);
    std::string lower_name = util::to_lower_ascii(name);
    const bool owned_by_signer = lower_name == "authorization" || lower_name == "x-amz-date" ||
                                 (send_content_sha256 && lower_name == "x-amz-content-sha256") ||
                                 (has_token && lower_name == "x-amz-security-token");
    if (owned_by_signer) continue;
    out.headers.emplace_back(name, value);
    if (is_never_signed(lower_name)) continue;
    has_host = has_host || lower_name == "host";
    to_sign.push_back({std::move(lower_name), value});
  }
  if (!has_host) throw Error("SigV4: the request has no host header");
  to_sign.push_back({"x-amz-date", date_time});
  if (send_content_sha256) to_sign.push_back({"x-amz-content-sha256", request.payload_sha256});
  if (has_token) to_sign.push_back({"x-amz-security-token", credentials_.session_token});
  // Stable, since the values of a repeated header are joined in the order they were given. An
  // insertion sort: a request has a handful of headers, and std::stable_sort would allocate.
  for (std::size_t i = 1; i < to_sign.size(); ++i) {
    for (std::size_t j = i; j > 0 && to_sign[j].lower_name < to_sign[j - 1].lower_name; --j) {
      std::swap(to_sign[j], to_sign[j - 1]);
    }
  }

  std::string signed_headers;
  std::size_t headers_size = 0;
  for (const HeaderToSign& header : to_sign) {
    headers_size += header.lower_name.size() + header.value.size() + 2;
  }
  signed_headers.reserve(headers_size);
  // --- Canonical request.
  std::string& canonical = out.canonical_request;
  canonical.reserve(request.method.size() + out.encoded_path.size() + out.encoded_query.size() + 2 * headers_size +
                    request.payload_sha256.size() + 8);
  canonical.append(request.method).append(1, '\n');
  canonical.append(out.encoded_path).append(1, '\n');
  canonical.append(out.encoded_query).append(1, '\n');
  for (std::size_t i = 0; i < to_sign.size(); ++i) {
    const bool same_as_previous = i > 0 && to_sign[i].lower_name == to_sign[i - 1].lower_name;
    if (same_as_previous) {
      canonical.push_back(',');
    } else {
      if (i > 0) {
        canonical.push_back('\n');
        signed_headers.push_back(';');
      }
      canonical.append(to_sign[i].lower_name).append(1, ':');
      signed_headers.append(to_sign[i].lower_name);
    }
    append_trimmed(canonical, to_sign[i].value);
  }
  canonical.append("\n\n");
  canonical.append(signed_headers).append(1, '\n');
  canonical.append(request.payload_sha256);

  // --- String to sign.
  std::string scope;
  scope.reserve(date.size() + region_.size() + service_.size() + 16);
  scope.append(date).append(1, '/').append(region_).append(1, '/').append(service_).append("/aws4_request");
  Digest canonical_hash;
  const std::string_view canonical_view = canonical;
  detail::sha256(&canonical_view, 1, canonical_hash);
  std::string& string_to_sign = out.string_to_sign;
  string_to_sign.reserve(kAlgorithm.size() + date_time.size() + scope.size() + 2 * kSha256Size + 3);
  string_to_sign.append(kAlgorithm).append(1, '\n');
  string_to_sign.append(date_time).append(1, '\n');
  string_to_sign.append(scope).append(1, '\n');
  util::append_hex(string_to_sign, canonical_hash.data(), canonical_hash.size());

  // --- Signature and the headers that carry it.
  {
    Digest signature;
    {
      const std::lock_guard<std::mutex> lock(day_key_mutex_);
      day_key(date).hmac.mac(string_to_sign, signature);
    }
    out.signature.reserve(2 * signature.size());
    util::append_hex(out.signature, signature.data(), signature.size());
  }
  std::string authorization;
  authorization.reserve(kAlgorithm.size() + credentials_.access_key_id.size() + scope.size() + signed_headers.size() +
                        out.signature.size() + 40);
  authorization.append(kAlgorithm).append(" Credential=").append(credentials_.access_key_id);
  authorization.append(1, '/').append(scope);
  authorization.append(", SignedHeaders=").append(signed_headers);
  authorization.append(", Signature=").append(out.signature);

  out.headers.emplace_back("x-amz-date", date_time);
  if (send_content_sha256) out.headers.emplace_back("x-amz-content-sha256", request.payload_sha256);
  if (has_token) out.headers.emplace_back("x-amz-security-token", credentials_.session_token);
  out.headers.emplace_back("authorization", std::move(authorization));
  return out;
}

}  // namespace cshelve::s3
