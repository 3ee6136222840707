// Signs thousands of random S3 requests and compares every one with botocore's S3SigV4Auth
// (Debian's python3-botocore), run once over all of them by botocore_sign.py.
//
// The requests are built to hit the corners: keys of arbitrary UTF-8 (1- to 4-byte sequences,
// every ASCII punctuation character, control characters, literal '%XX'), '.', '..' and empty path
// segments, repeated and valueless query parameters, repeated headers in mixed case with odd
// spacing, stale copies of the headers the signer owns, headers that stay unsigned, session
// tokens, secrets of any length, unsigned payloads and dates on both sides of midnight (the
// signing-key cache).
// Set CSHELVE_SIGV4_SEED to explore other seeds; the default is fixed so runs are repeatable.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "s3/sigv4.hpp"
#include "support.hpp"

using cshelve::s3::Credentials;
using cshelve::s3::RequestToSign;
using cshelve::s3::SignedRequest;
using cshelve::s3::Signer;
using sigv4_test::Pairs;

namespace {

constexpr int kRequests = 2000;
constexpr const char* kPython = "/usr/bin/python3";  // Debian's, where python3-botocore lives
constexpr std::string_view kPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
constexpr std::string_view kHeaderNameChars =
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kBase64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Only the raw 64-bit output of mt19937_64 is specified by the standard; the library's
// distributions are not, so the requests are drawn with plain modulo to be the same everywhere.
class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  std::size_t below(std::size_t bound) { return static_cast<std::size_t>(engine_() % bound); }
  bool chance(int percent) { return below(100) < static_cast<std::size_t>(percent); }
  char pick(std::string_view from) { return from[below(from.size())]; }
  template <typename T>
  const T& pick(const std::vector<T>& from) {
    return from[below(from.size())];
  }

 private:
  std::mt19937_64 engine_;
};

// Valid UTF-8 (botocore takes text), of any kind.
std::string random_text(Random& random, std::size_t max_units) {
  std::string out;
  const std::size_t units = random.below(max_units + 1);
  for (std::size_t i = 0; i < units; ++i) {
    switch (random.below(10)) {
      case 0:
      case 1:
      case 2: out.push_back(random.pick(kHeaderNameChars)); break;
      case 3:
      case 4: out.push_back(random.pick(kPunctuation)); break;
      case 5: out.append(random.chance(50) ? " " : random.chance(50) ? "%41" : "%"); break;
      case 6:  // any ASCII, control characters included
        sigv4_test::append_utf8(out, static_cast<std::uint32_t>(random.below(0x80)));
        break;
      case 7: sigv4_test::append_utf8(out, static_cast<std::uint32_t>(0x80 + random.below(0x800 - 0x80))); break;
      case 8: {
        std::uint32_t code_point;
        do {
          code_point = static_cast<std::uint32_t>(0x800 + random.below(0x10000 - 0x800));
        } while (code_point >= 0xD800 && code_point < 0xE000);  // surrogates are not characters
        sigv4_test::append_utf8(out, code_point);
        break;
      }
      default:
        sigv4_test::append_utf8(out, static_cast<std::uint32_t>(0x10000 + random.below(0x110000 - 0x10000)));
        break;
    }
  }
  return out;
}

std::string random_from(Random& random, std::string_view alphabet, std::size_t min, std::size_t max) {
  std::string out;
  const std::size_t size = min + random.below(max - min + 1);
  for (std::size_t i = 0; i < size; ++i) out.push_back(random.pick(alphabet));
  return out;
}

std::string random_case(Random& random, std::string text) {
  for (char& c : text) {
    if (random.chance(50)) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return text;
}

// A header value with blanks (spaces and tabs) before, after and inside.
std::string random_header_value(Random& random) {
  static const std::vector<std::string> kBlanks = {"", " ", "  ", "\t", " \t ", "   "};
  std::string out = random.pick(kBlanks);
  const std::size_t words = random.below(4);
  for (std::size_t i = 0; i < words; ++i) {
    if (i > 0) out += random.chance(50) ? " " : random.pick(kBlanks) + " ";
    out += random_from(random, "abcXYZ0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", 1, 12);
  }
  return out + random.pick(kBlanks);
}

struct Case {
  std::size_t signer_index;
  std::int64_t when;  // seconds since 1970, as botocore gets them: never wrapped by a narrower time_t
  RequestToSign request;
  std::string body;  // for the reference; empty with UNSIGNED-PAYLOAD
  bool unsigned_payload;
};

struct SignerSetup {
  Credentials credentials;
  std::string region;
  std::string service;
};

SignerSetup random_signer_setup(Random& random) {
  static const std::vector<std::string> kRegions = {"us-east-1", "eu-west-3", "ap-southeast-2",
                                                    "auto",      "fr-par",    "local"};
  SignerSetup setup;
  setup.credentials.access_key_id = "AKIA" + random_from(random, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, 16);
  // AWS's secrets are 40 characters; other servers take any length. With the "AWS4" prefix, those
  // over 60 exceed SHA-256's block, the length from which HMAC hashes its key first.
  setup.credentials.secret_access_key =
      random.chance(50) ? random_from(random, kBase64Chars, 40, 40) : random_from(random, kBase64Chars, 1, 130);
  if (random.chance(40)) setup.credentials.session_token = random_from(random, kBase64Chars, 16, 400) + "==";
  setup.region = random.pick(kRegions);
  setup.service = random.chance(85) ? "s3" : random.chance(50) ? "s3express" : "service";
  return setup;
}

std::string random_path(Random& random) {
  static const std::vector<std::string> kSpecialSegments = {"", ".", "..", "...", "%2F", "a b", "~user"};
  std::string path = "/";
  const std::size_t segments = random.below(7);
  for (std::size_t i = 0; i < segments; ++i) {
    if (i > 0) path.push_back('/');
    path += random.chance(30) ? random.pick(kSpecialSegments) : random_text(random, 12);
  }
  if (random.chance(15)) path.push_back('/');
  return path;
}

Pairs random_query(Random& random) {
  static const std::vector<std::string> kKnownKeys = {"delete",  "list-type",  "prefix", "continuation-token",
                                                      "uploads", "partNumber", "x-id",   "max-keys"};
  Pairs query;
  const std::size_t count = random.chance(30) ? 0 : random.below(7);
  for (std::size_t i = 0; i < count; ++i) {
    std::string key;
    if (!query.empty() && random.chance(25)) {
      key = random.pick(query).first;  // repeated key
    } else if (random.chance(40)) {
      key = random.pick(kKnownKeys);
    } else {
      key = random_text(random, 8);
    }
    std::string value;
    if (!random.chance(25)) {  // otherwise valueless
      value = random.chance(30) ? random_from(random, "/+= a&", 1, 6) : random_text(random, 16);
    }
    query.emplace_back(std::move(key), std::move(value));
  }
  return query;
}

Pairs random_headers(Random& random) {
  static const std::vector<std::string> kHosts = {"examplebucket.s3.amazonaws.com", "127.0.0.1:9000",
                                                  "s3.fr-par.scw.cloud", "localhost:4566", "[::1]:9000"};
  static const std::vector<std::string> kKnownNames = {
      "Content-Type",  "Content-MD5", "Range",      "x-amz-meta-Owner", "Content-Length", "If-Match",
      "Cache-Control", "x-amz-acl",   "User-Agent", "Expect",           "X-Amzn-Trace-Id"};
  // Stale copies the signer must drop and replace (a retried request still carries them).
  static const std::vector<std::string> kOwnedNames = {"X-Amz-Date", "Authorization", "x-amz-content-sha256",
                                                       "X-Amz-Security-Token"};
  Pairs headers;
  const std::size_t extra = random.below(7);
  const std::size_t host_position = random.below(extra + 1);
  for (std::size_t i = 0; i <= extra; ++i) {
    if (i == host_position) {
      headers.emplace_back(random_case(random, "host"), random.pick(kHosts));
      continue;
    }
    std::string name;
    const std::size_t kind = random.below(10);
    if (kind < 2 && !headers.empty()) {
      name = random_case(random, random.pick(headers).first);  // repeated, maybe in another case
    } else if (kind < 5) {
      name = random.pick(kKnownNames);
    } else if (kind < 6) {
      // Without a session token, x-amz-security-token is an ordinary header, sent and signed.
      name = random.pick(kOwnedNames);
    } else {
      do {
        name = random_from(random, kHeaderNameChars, 1, 20);
        // botocore replaces a Date header with its own and then omits x-amz-date: not S3's rules.
      } while (sigv4_test::lower_ascii(name) == "date");
    }
    headers.emplace_back(std::move(name), random_header_value(random));
  }
  return headers;
}

// Computed in 64 bits: on a target with a 32-bit time_t, the dates after 2038 would wrap here, and
// both sides would silently be handed the same wrong date.
std::int64_t random_time(Random& random) {
  const std::int64_t midnight = 946684800 + static_cast<std::int64_t>(random.below(36500)) * 86400;  // 2000..2099
  if (random.chance(50)) return midnight - 3 + static_cast<std::int64_t>(random.below(6));           // around midnight
  return midnight + static_cast<std::int64_t>(random.below(86400));
}

std::string hex_or_dash(std::string_view bytes) { return bytes.empty() ? "-" : sigv4_test::hex_encode(bytes); }

std::string unhex_or_empty(const std::string& token) {
  return token == "-" ? std::string() : sigv4_test::hex_decode(token);
}

void write_case(std::ostream& out, std::size_t id, const Case& c, const SignerSetup& setup) {
  out << id << ' ' << c.when << ' ' << hex_or_dash(setup.credentials.access_key_id) << ' '
      << hex_or_dash(setup.credentials.secret_access_key) << ' ' << hex_or_dash(setup.credentials.session_token) << ' '
      << hex_or_dash(setup.region) << ' ' << hex_or_dash(setup.service) << ' ' << hex_or_dash(c.request.method) << ' '
      << hex_or_dash(c.request.path) << ' ' << (c.unsigned_payload ? "U" : hex_or_dash(c.body)) << ' '
      << c.request.query.size();
  for (const auto& [key, value] : c.request.query) out << ' ' << hex_or_dash(key) << ' ' << hex_or_dash(value);
  out << ' ' << c.request.headers.size();
  for (const auto& [name, value] : c.request.headers) out << ' ' << hex_or_dash(name) << ' ' << hex_or_dash(value);
  out << '\n';
}

struct Reference {
  std::string encoded_path;
  std::string canonical_request;
  std::string authorization;
  Pairs headers;
};

Reference read_reference(std::istringstream& line) {
  Reference reference;
  std::string token;
  line >> token;
  reference.encoded_path = unhex_or_empty(token);
  line >> token;
  reference.canonical_request = unhex_or_empty(token);
  line >> token;
  reference.authorization = unhex_or_empty(token);
  std::size_t count = 0;
  line >> count;
  for (std::size_t i = 0; i < count; ++i) {
    std::string name;
    std::string value;
    line >> name >> value;
    reference.headers.emplace_back(unhex_or_empty(name), unhex_or_empty(value));
  }
  if (line.fail()) throw std::runtime_error("malformed reference line");
  return reference;
}

// Runs the reference signer once over all requests; returns its output and exit status.
std::pair<std::string, int> run_reference(const std::string& requests_file) {
  const std::string script = std::string(CSHELVE_TEST_SOURCE_DIR) + "/sigv4/botocore_sign.py";
  const std::string command = std::string(kPython) + " -I '" + script + "' '" + requests_file + "'";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) return {"", -1};
  std::string output;
  char buffer[65536];
  std::size_t read;
  while ((read = std::fread(buffer, 1, sizeof buffer, pipe.get())) > 0) output.append(buffer, read);
  const int status = pclose(pipe.release());
  return {output, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

}  // namespace

TEST_CASE("random requests are signed exactly as botocore's S3SigV4Auth signs them") {
  std::uint64_t seed = 20240601;
  if (const char* chosen = std::getenv("CSHELVE_SIGV4_SEED")) seed = std::strtoull(chosen, nullptr, 10);
  CAPTURE(seed);
  Random random(seed);

  // A few signers shared by many requests at many dates exercise the per-date key cache.
  std::vector<SignerSetup> setups;
  std::vector<std::unique_ptr<Signer>> signers;
  for (int i = 0; i < 12; ++i) {
    setups.push_back(random_signer_setup(random));
    signers.push_back(std::make_unique<Signer>(setups.back().credentials, setups.back().region, setups.back().service));
  }
  static const std::vector<std::string> kMethods = {"GET", "PUT", "POST", "DELETE", "HEAD"};
  std::vector<Case> cases;
  cases.reserve(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    Case c;
    c.signer_index = random.below(setups.size());
    c.when = random_time(random);
    c.request.method = random.pick(kMethods);
    c.request.path = random_path(random);
    c.request.query = random_query(random);
    c.request.headers = random_headers(random);
    c.unsigned_payload = random.chance(30);
    if (c.unsigned_payload) {
      c.request.payload_sha256 = std::string(cshelve::s3::kUnsignedPayload);
    } else {
      for (std::size_t b = random.below(300); b > 0; --b) c.body.push_back(static_cast<char>(random.below(256)));
      // The body in pieces, as the S3 client hashes a record without joining its parts.
      std::vector<std::string_view> pieces;
      std::string_view rest = c.body;
      while (!rest.empty() && random.chance(70)) {
        const std::size_t size = random.below(rest.size() + 1);
        pieces.push_back(rest.substr(0, size));
        rest.remove_prefix(size);
      }
      pieces.push_back(rest);
      c.request.payload_sha256 = cshelve::s3::sha256_hex(pieces);
    }
    cases.push_back(std::move(c));
  }

  const std::string requests_file =
      (std::filesystem::temp_directory_path() / ("cshelve-sigv4-crosscheck-" + std::to_string(getpid()) + ".txt"))
          .string();
  {
    std::ofstream out(requests_file, std::ios::binary | std::ios::trunc);
    REQUIRE(out);
    for (std::size_t i = 0; i < cases.size(); ++i) write_case(out, i, cases[i], setups[cases[i].signer_index]);
    REQUIRE(out.good());
  }
  const auto [output, status] = run_reference(requests_file);
  std::filesystem::remove(requests_file);
  // A missing interpreter or botocore is a failure, not a reason to skip: the check must run.
  REQUIRE_MESSAGE(status == 0, std::string(kPython) << " with botocore (Debian package python3-botocore) must run "
                                                       "tests/sigv4/botocore_sign.py; exit status "
                                                    << status);

  std::istringstream lines(output);
  std::string line_text;
  std::size_t compared = 0;
  std::size_t mismatches = 0;
  while (std::getline(lines, line_text)) {
    std::istringstream line(line_text);
    std::size_t id = 0;
    line >> id;
    REQUIRE(id == compared);
    const Reference reference = read_reference(line);
    const Case& c = cases[id];
    // The signer takes a time_t, which must hold every date of the century (meson.build asks for a
    // 64-bit one on targets where it was 32 bits).
    const auto when = static_cast<std::time_t>(c.when);
    REQUIRE(static_cast<std::int64_t>(when) == c.when);
    const SignedRequest ours = signers[c.signer_index]->sign(c.request, when);
    const bool same_path = ours.encoded_path == reference.encoded_path;
    const bool same_canonical = ours.canonical_request == reference.canonical_request;
    const bool same_authorization = sigv4_test::header_value(ours.headers, "authorization") == reference.authorization;
    const bool same_headers =
        sigv4_test::normalized_headers(ours.headers) == sigv4_test::normalized_headers(reference.headers);
    if (!(same_path && same_canonical && same_authorization && same_headers) && ++mismatches <= 3) {
      CAPTURE(id);
      CHECK(ours.encoded_path == reference.encoded_path);
      CHECK(ours.canonical_request == reference.canonical_request);
      CHECK(sigv4_test::header_value(ours.headers, "authorization") == reference.authorization);
      CHECK(sigv4_test::normalized_headers(ours.headers) == sigv4_test::normalized_headers(reference.headers));
    }
    ++compared;
  }
  CHECK(compared == cases.size());
  CHECK(mismatches == 0);
}
