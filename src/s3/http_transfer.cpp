#include "s3/http_transfer.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

#include "util/ascii.hpp"
#include "util/stream.hpp"

namespace cshelve::s3::detail {
namespace {

constexpr bool is_header_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_header_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_header_space(text.back())) text.remove_suffix(1);
  return text;
}

// Whether the reply being received (its status line read) is a success, 2xx.
bool reply_succeeded(const Transfer& transfer) noexcept {
  long status = 0;
  curl_easy_getinfo(static_cast<CURL*>(transfer.handle), CURLINFO_RESPONSE_CODE, &status);
  return status >= 200 && status < 300;
}

// A large body fills fresh memory front to back, a page fault every 4 KiB: for 256 MiB a tenth of
// the client's CPU time. Asking the kernel for all the pages at once (Linux 5.14 and later; a
// no-op elsewhere) spares the faults; the memory is the same, since the body will fill it.
void prefault(char* data, std::size_t size) noexcept {
#ifdef MADV_POPULATE_WRITE
  constexpr std::size_t kWorthIt = 8u << 20;
  if (size < kWorthIt) return;
  static const auto kPage = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto start = (reinterpret_cast<std::uintptr_t>(data) + kPage - 1) & ~(kPage - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + size) & ~(kPage - 1);
  if (end > start) ::madvise(reinterpret_cast<void*>(start), end - start, MADV_POPULATE_WRITE);
#else
  (void)data;
  (void)size;
#endif
}

// Room reserved for a reply body before any of it has arrived: the announced length, but no more
// than this (or kMaxBufferedReplyBytes for a capped reply or an error document). Its pages are
// touched (prefaulted) only a little ahead of the bytes that arrive, but an allocator may touch a
// whole allocation at once (glibc with MALLOC_PERTURB_, for one), so the room is bounded: a reply
// may announce any length, and only bytes that actually arrive earn more (make_room).
constexpr std::uint64_t kReservedUpFront = 8u << 20;

// How much the room of a body may grow in one step toward the announced length, over what it
// holds already: a large value is moved once, while it is still small (8 MiB of 256 MiB), and a
// reply that stops early has claimed at most this many times what it sent.
constexpr std::uint64_t kAnnouncedGrowth = 32;

// How far ahead of the arriving bytes the room is prefaulted.
constexpr std::size_t kPrefaultAhead = 16u << 20;

void reserve_for_content_length(Transfer& transfer, std::string_view value) noexcept {
  if (value.empty() || value.find_first_not_of("0123456789") != std::string_view::npos) return;
  if (value.size() > 18) return;  // beyond any length this process could hold
  unsigned long long length = 0;
  for (char digit : value) length = length * 10 + static_cast<unsigned>(digit - '0');
  transfer.announced = length;
  std::string& body = transfer.response->body;
  // An error document is kept under kMaxBufferedReplyBytes, even in reply to a GetObject.
  const bool large = transfer.request->large_body && reply_succeeded(transfer);
  const std::uint64_t trusted = large ? kReservedUpFront : kMaxBufferedReplyBytes;
  try {
    body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(length, trusted)));
  } catch (...) {
    // Left to grow as the bytes arrive, and fail there if it must.
  }
}

// libstdc++ grows a string at least twofold whatever `reserve` asks for, so growing a 256 MiB body
// by the few bytes a record's header adds would claim 512 MiB. A fresh string takes exactly the
// capacity asked for; the bytes so far are copied in (their pages prefaulted first).
void reserve_exactly(std::string& body, std::size_t capacity) {
  std::string grown;
  grown.reserve(capacity);
  prefault(grown.data(), body.size());
  grown.append(body);
  body.swap(grown);
}

// Makes room for `more` bytes of body. Past what was reserved up front the room grows by
// kAnnouncedGrowth toward the announced length (twofold, when the reply announced too little or
// nothing): a large body is moved once or twice, and never reserved for beyond what has arrived
// by more than that factor. A step that would end within half of the announced length goes all the way,
// so that the last bytes never cost a step of their own. Then the room's pages are prefaulted up
// to kPrefaultAhead beyond the new bytes. Throws std::bad_alloc.
void make_room(Transfer& transfer, std::size_t more) {
  std::string& body = transfer.response->body;
  const std::size_t needed = body.size() + more;
  if (needed > body.capacity()) {
    const bool announced_enough = transfer.announced >= needed;
    std::uint64_t target = static_cast<std::uint64_t>(body.capacity()) * (announced_enough ? kAnnouncedGrowth : 2);
    target = std::max<std::uint64_t>(target, needed);
    if (announced_enough && target * 2 >= transfer.announced) target = transfer.announced;
    if (target > body.max_size()) target = body.max_size();
    reserve_exactly(body, static_cast<std::size_t>(target));
  }
  if (transfer.prefaulted_room != body.data()) {  // a new buffer: its bytes so far are touched
    transfer.prefaulted_room = body.data();
    transfer.prefaulted = body.size();
  }
  if (needed <= transfer.prefaulted) return;
  // Ahead by as much as has arrived, up to kPrefaultAhead: a reply that stops early has made the
  // process touch at most twice what it sent.
  const std::size_t ahead = std::min(kPrefaultAhead, needed);
  const std::size_t end = std::min(body.capacity(), std::max(needed, transfer.prefaulted + ahead));
  prefault(body.data() + transfer.prefaulted, end - transfer.prefaulted);
  transfer.prefaulted = end;
}

// Asks the request which digests the body is to be hashed with, now that the headers are in.
void start_body_digests(Transfer& transfer) {
  const auto& choose = transfer.request->choose_body_digests;
  if (!choose) return;
  const BodyDigests digests = choose(*transfer.response);
  if (digests.md5) {
    transfer.digest_contexts->md5.start();
    transfer.md5 = &transfer.digest_contexts->md5;
  }
  if (digests.crc) {
    transfer.digest_contexts->crc.start(*digests.crc);
    transfer.crc = &transfer.digest_contexts->crc;
  }
}

}  // namespace

std::size_t read_body(char* buffer, std::size_t size, std::size_t count, void* user) noexcept {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::size_t room = size * count;
  std::size_t written = 0;
  const RequestBody& body = *transfer.body;
  const auto& pieces = body.pieces;
  while (written < room && transfer.piece < pieces.size()) {
    std::string_view piece = pieces[transfer.piece];
    const std::size_t n = std::min(room - written, piece.size() - transfer.offset);
    if (n > 0) std::memcpy(buffer + written, piece.data() + transfer.offset, n);
    written += n;
    transfer.offset += n;
    if (transfer.offset == piece.size()) {
      ++transfer.piece;
      transfer.offset = 0;
    }
  }
  if (written < room && body.source && transfer.source_offset < body.source_size) {
    try {
      const std::size_t got =
          util::read_source(body.source, body.source_size, transfer.source_offset, buffer + written, room - written);
      transfer.source_offset += got;
      written += got;
    } catch (...) {
      transfer.io_error = std::current_exception();
      return CURL_READFUNC_ABORT;
    }
  }
  return written;
}

// libcurl rewinds the body when it must send the request again on a fresh connection (a kept-
// alive one that the server had closed); without this, that case fails the request.
int seek_body(void* user, curl_off_t position, int origin) noexcept {
  auto& transfer = *static_cast<Transfer*>(user);
  if (origin != SEEK_SET || position < 0) return CURL_SEEKFUNC_CANTSEEK;
  auto remaining = static_cast<std::uint64_t>(position);
  const auto& pieces = transfer.body->pieces;
  std::size_t piece = 0;
  while (piece < pieces.size() && remaining >= pieces[piece].size()) {
    remaining -= pieces[piece].size();
    ++piece;
  }
  transfer.source_offset = 0;
  if (piece == pieces.size() && remaining > 0) {
    if (remaining > transfer.body->source_size) return CURL_SEEKFUNC_FAIL;
    transfer.source_offset = remaining;
    remaining = 0;
  }
  transfer.piece = piece;
  transfer.offset = static_cast<std::size_t>(remaining);
  return CURL_SEEKFUNC_OK;
}

std::size_t write_body(char* data, std::size_t size, std::size_t count, void* user) noexcept {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  if (transfer.to_sink < 0) {
    // The first byte of a body is that of the final reply (interim replies carry none).
    const bool success = reply_succeeded(transfer);
    transfer.to_sink = transfer.request->sink != nullptr && success ? 1 : 0;
    transfer.body_limit =
        transfer.request->large_body && success ? transfer.response->body.max_size() : kMaxBufferedReplyBytes;
  }
  try {
    if (transfer.to_sink == 1) {
      transfer.request->sink->write(std::string_view(data, n));
    } else {
      std::string& body = transfer.response->body;
      if (n > transfer.body_limit - body.size()) {
        transfer.too_large = true;
        return 0;
      }
      make_room(transfer, n);
      body.append(data, n);
    }
  } catch (const std::bad_alloc&) {
    transfer.out_of_memory = true;
    return 0;  // anything but n aborts the transfer
  } catch (...) {
    transfer.io_error = std::current_exception();
    return 0;
  }
  transfer.response->body_size += n;
  if (transfer.md5 != nullptr && !transfer.md5->update(data, n)) transfer.md5_failed = true;
  if (transfer.crc != nullptr) transfer.crc->update(data, n);
  return n;
}

std::size_t receive_header(char* data, std::size_t size, std::size_t count, void* user) noexcept {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  std::string_view line(data, n);
  try {
    HttpResponse& response = *transfer.response;
    if (line.rfind("HTTP/", 0) == 0) {
      // A new status line: whatever came before belonged to an interim (1xx) reply.
      response.headers.clear();
      return n;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      if (trim(line).empty() && !transfer.digests_chosen && reply_succeeded(transfer)) {
        // The blank line that ends a final reply's headers: the body comes next.
        transfer.digests_chosen = true;
        start_body_digests(transfer);
      }
      return n;
    }
    const std::string_view raw_name = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    auto& [name, stored_value] = response.headers.emplace_back(raw_name, value);
    for (char& c : name) c = util::to_lower_ascii(c);
    // A body bound for the sink needs no room here (an error document is small).
    if (name == "content-length" && transfer.request->sink == nullptr)
      reserve_for_content_length(transfer, stored_value);
  } catch (const std::bad_alloc&) {
    transfer.out_of_memory = true;
    return 0;
  } catch (...) {
    transfer.io_error = std::current_exception();
    return 0;
  }
  return n;
}

// libcurl calls this as bytes move and, while nothing moves, about once a second (the low-speed
// check below keeps such a wake-up scheduled even inside a multi handle). It enforces the read
// timeout and passes progress on to the caller's callback.
int on_transfer_info(void* user, curl_off_t download_total, curl_off_t download_now, curl_off_t upload_total,
                     curl_off_t upload_now) noexcept {
  auto& transfer = *static_cast<Transfer*>(user);
  const auto now = std::chrono::steady_clock::now();
  const curl_off_t moved = download_now + upload_now;
  if (!transfer.started) {
    // Until the connection is ready the connect timeout is the one that applies.
    curl_off_t ready_after = 0;
    if (curl_easy_getinfo(static_cast<CURL*>(transfer.handle), CURLINFO_PRETRANSFER_TIME_T, &ready_after) == CURLE_OK &&
        ready_after > 0) {
      transfer.started = true;
      transfer.moved = moved;
      transfer.last_moved = now;
    }
  } else if (moved != transfer.moved) {
    transfer.moved = moved;
    transfer.last_moved = now;
  } else if (now - transfer.last_moved >= transfer.read_timeout) {
    // libcurl's own low-speed check averages over several seconds, so an upload followed by
    // silence kept a transfer alive long after the read timeout; this counts the silence itself.
    transfer.stalled = true;
    return 1;  // abort: CURLE_ABORTED_BY_CALLBACK
  }
  if (transfer.progress != nullptr && *transfer.progress) {
    try {
      if (upload_total > 0) {
        (*transfer.progress)(static_cast<std::uint64_t>(upload_now), static_cast<std::uint64_t>(upload_total));
      } else if (download_now > 0 || download_total > 0) {
        (*transfer.progress)(static_cast<std::uint64_t>(download_now), static_cast<std::uint64_t>(download_total));
      }
    } catch (...) {
      // An exception must not cross libcurl's C frames: it is rethrown once the transfer ends.
      transfer.progress_error = std::current_exception();
      return 1;
    }
  }
  return 0;
}

}  // namespace cshelve::s3::detail
