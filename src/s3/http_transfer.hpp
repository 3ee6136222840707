// What libcurl's callbacks share for one transfer of an HttpConnection, and the callbacks
// themselves: sending the body, taking the reply's headers and body, the read timeout and progress.
// Private to the HTTP layer.
#ifndef CSHELVE_S3_HTTP_TRANSFER_HPP
#define CSHELVE_S3_HTTP_TRANSFER_HPP

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>

#include "s3/http.hpp"
#include "util/crc.hpp"
#include "util/digest.hpp"

namespace cshelve::s3::detail {

// The contexts a connection hashes reply bodies in, kept from one request to the next.
struct DigestContexts {
  util::Md5Stream md5;
  util::Crc crc;
};

// State shared with libcurl's callbacks for one transfer. The callbacks are called from C, so
// they never let an exception out: they note what went wrong and tell libcurl to stop.
struct Transfer {
  const RequestBody* body = nullptr;     // never null: an empty body when the request has none
  std::size_t piece = 0;                 // the piece being sent
  std::size_t offset = 0;                // bytes of it already sent
  const HttpRequest* request = nullptr;  // for its sink
  std::uint64_t source_offset = 0;       // bytes of the source already sent
  int to_sink = -1;                      // whether the reply body goes to the request's sink (-1: not known yet)
  std::exception_ptr io_error;           // what the source or the sink threw
  HttpResponse* response = nullptr;
  bool out_of_memory = false;
  std::uint64_t announced = 0;            // the reply's Content-Length, 0 when absent
  std::size_t body_limit = 0;             // the most the body kept in memory may hold
  const char* prefaulted_room = nullptr;  // the body's buffer when `prefaulted` was counted
  std::size_t prefaulted = 0;             // bytes at its start whose pages are touched
  bool too_large = false;                 // the body kept in memory went past body_limit

  // The digests the body is hashed with as it arrives, chosen once the reply's headers are in.
  DigestContexts* digest_contexts = nullptr;  // the connection's
  bool digests_chosen = false;
  util::Md5Stream* md5 = nullptr;  // when chosen
  bool md5_failed = false;
  util::Crc* crc = nullptr;  // when chosen

  // The read timeout: the transfer is abandoned once no byte has moved, either way, for this
  // long after the connection was ready.
  void* handle = nullptr;  // the CURL* running this transfer
  std::chrono::milliseconds read_timeout{0};
  bool started = false;  // connected, the request on its way
  curl_off_t moved = 0;  // bytes sent and received so far
  std::chrono::steady_clock::time_point last_moved;
  bool stalled = false;  // abandoned for the read timeout

  const std::function<void(std::uint64_t, std::uint64_t)>* progress = nullptr;  // the caller's
  std::exception_ptr progress_error;  // what the caller's progress callback threw
};

// The callbacks, each given the Transfer as its user pointer (CURLOPT_*DATA).
std::size_t read_body(char* buffer, std::size_t size, std::size_t count, void* user) noexcept;
int seek_body(void* user, curl_off_t position, int origin) noexcept;
std::size_t write_body(char* data, std::size_t size, std::size_t count, void* user) noexcept;
std::size_t receive_header(char* data, std::size_t size, std::size_t count, void* user) noexcept;
int on_transfer_info(void* user, curl_off_t download_total, curl_off_t download_now, curl_off_t upload_total,
                     curl_off_t upload_now) noexcept;

}  // namespace cshelve::s3::detail

#endif
