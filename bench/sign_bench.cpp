// Signs N requests like the shelf's (a PutObject of a 1 KiB value, its payload hash already known)
// with one Signer, so that `valgrind --tool=callgrind` can count the instructions per signature:
// bench/run.sh runs it for two values of N and divides the difference, which cancels start-up.
//
//   sign-bench N [--with-payload-hash]
//
// With --with-payload-hash each request also hashes its 1 KiB body, as the client does before
// signing.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "s3/sigv4.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: sign-bench N [--with-payload-hash]\n");
    return 2;
  }
  const long count = std::strtol(argv[1], nullptr, 10);
  const bool hash_payload = argc > 2 && std::strcmp(argv[2], "--with-payload-hash") == 0;

  cshelve::s3::Signer signer({"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""}, "us-east-1");
  const std::string body(1024, 'v');
  cshelve::s3::RequestToSign request;
  request.method = "PUT";
  request.headers = {{"host", "127.0.0.1:4568"}};
  request.payload_sha256 = cshelve::s3::sha256_hex(body);
  // One day: the signing key is derived once and then comes from the cache.
  const std::time_t when = 1732500000;

  std::size_t total = 0;
  char path[64];
  for (long i = 0; i < count; ++i) {
    std::snprintf(path, sizeof path, "/bench-bucket/k/%07ld", i);
    request.path = path;
    if (hash_payload) request.payload_sha256 = cshelve::s3::sha256_hex(body);
    total += signer.sign(request, when + i % 3600).headers.size();
  }
  // Printed so that the loop cannot be optimized away.
  std::printf("%ld signatures, %zu headers\n", count, total);
  return 0;
}
