#include "scripted_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

namespace cshelve::testing {
namespace {

std::string reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

// Waits for the socket to become readable; false when stopping or after `timeout_ms`.
bool wait_readable(int socket, const std::atomic<bool>& stopping, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!stopping.load()) {
    pollfd descriptor{socket, POLLIN, 0};
    if (::poll(&descriptor, 1, 50) > 0) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
  }
  return false;
}

// false when the client has gone.
bool send_all(int socket, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(socket, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

std::string chunk_of(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

}  // namespace

ScriptedReply http_reply(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers,
                         long content_length) {
  std::string raw = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
  for (const auto& [name, value] : headers) raw += name + ": " + value + "\r\n";
  raw += "Content-Length: " +
         std::to_string(content_length >= 0 ? static_cast<std::size_t>(content_length) : body.size()) + "\r\n\r\n";
  raw += body;
  return ScriptedReply{ScriptedReply::Kind::answer, std::move(raw)};
}

ScriptedReply s3_error_reply(int status, const std::string& code, const std::string& message,
                             const std::string& request_id) {
  return http_reply(status,
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" + message +
                        "</Message><RequestId>" + request_id + "</RequestId></Error>",
                    {{"Content-Type", "application/xml"}});
}

ScriptedReply truncated_reply(int status, std::string body, long declared_length,
                              std::vector<std::pair<std::string, std::string>> headers) {
  ScriptedReply reply = http_reply(status, std::move(body), std::move(headers), declared_length);
  reply.kind = ScriptedReply::Kind::answer_then_close;
  return reply;
}

ScriptedReply endless_chunked_reply(int status, std::string start, std::size_t total_bytes) {
  ScriptedReply reply;
  reply.kind = ScriptedReply::Kind::stream;
  reply.raw = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
              "\r\nContent-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk_of(start);
  // Text that keeps an XML element open: no parser could finish on it.
  reply.chunk = chunk_of(std::string(64 * 1024 - 16, 'x'));
  reply.repeat = static_cast<long>(total_bytes / reply.chunk.size()) + 1;
  return reply;
}

ScriptedReply drip_reply(int status, long declared_length, std::string step, int interval_ms, long steps) {
  ScriptedReply reply = http_reply(status, "", {}, declared_length);
  reply.kind = ScriptedReply::Kind::stream;
  reply.chunk = std::move(step);
  reply.interval_ms = interval_ms;
  reply.repeat = steps;
  return reply;
}

ScriptedReply close_reply() { return ScriptedReply{ScriptedReply::Kind::close, {}}; }
ScriptedReply stall_reply(int hold_ms) { return ScriptedReply{ScriptedReply::Kind::stall, {}, hold_ms}; }

std::string ReceivedRequest::header(const std::string& lower_case_name, bool* present) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) {
      if (present) *present = true;
      return value;
    }
  }
  if (present) *present = false;
  return {};
}

ScriptedServer::ScriptedServer(std::vector<ScriptedReply> script) : script_(script.begin(), script.end()) {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listener_ < 0) throw std::runtime_error("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listener_, 16) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(listener_);
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

ScriptedServer::~ScriptedServer() {
  stopping_ = true;
  acceptor_.join();
  for (std::thread& worker : workers_) worker.join();
  ::close(listener_);
}

std::vector<ReceivedRequest> ScriptedServer::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

ScriptedReply ScriptedServer::next_reply() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (script_.empty()) return http_reply(599, "the script has no more replies");
  ScriptedReply reply = std::move(script_.front());
  script_.pop_front();
  return reply;
}

void ScriptedServer::accept_loop() {
  while (wait_readable(listener_, stopping_, 1 << 30)) {
    const int socket = ::accept(listener_, nullptr, nullptr);
    if (socket < 0) continue;
    const int connection = ++connections_;
    workers_.emplace_back([this, socket, connection] {
      serve(socket, connection);
      ::close(socket);
    });
  }
}

void ScriptedServer::serve(int socket, int connection) {
  std::string buffer;
  char chunk[65536];
  const auto receive_more = [&] {
    if (!wait_readable(socket, stopping_, 30000)) return false;
    const ssize_t n = ::recv(socket, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
  };
  for (;;) {
    std::size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!receive_more()) return;
    }
    ReceivedRequest request;
    request.connection = connection;
    const std::string head = buffer.substr(0, head_end);
    buffer.erase(0, head_end + 4);
    std::size_t line_end = head.find("\r\n");
    const std::string request_line = head.substr(0, line_end);
    const auto first_space = request_line.find(' ');
    const auto second_space = request_line.rfind(' ');
    request.method = request_line.substr(0, first_space);
    request.target = request_line.substr(first_space + 1, second_space - first_space - 1);
    std::size_t content_length = 0;
    while (line_end != std::string::npos) {
      const std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      if (name == "content-length") content_length = std::stoul(value);
      request.headers.emplace_back(std::move(name), std::move(value));
    }
    while (buffer.size() < content_length) {
      if (!receive_more()) return;
    }
    request.body = buffer.substr(0, content_length);
    buffer.erase(0, content_length);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(std::move(request));
    }
    ScriptedReply reply = next_reply();
    switch (reply.kind) {
      case ScriptedReply::Kind::answer: send_all(socket, reply.raw); break;
      case ScriptedReply::Kind::answer_then_close: send_all(socket, reply.raw); return;
      case ScriptedReply::Kind::close: return;
      case ScriptedReply::Kind::stream:
        if (!send_all(socket, reply.raw)) return;
        for (long i = 0; i < reply.repeat && !stopping_.load(); ++i) {
          if (reply.interval_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(reply.interval_ms));
          if (!send_all(socket, reply.chunk)) return;
        }
        return;
      case ScriptedReply::Kind::stall:
        // Hold on until the client closes its end (or the test ends, or hold_ms have passed).
        while (wait_readable(socket, stopping_, reply.hold_ms > 0 ? reply.hold_ms : 60000)) {
          if (::recv(socket, chunk, sizeof chunk, 0) <= 0) return;
        }
        return;
    }
  }
}

}  // namespace cshelve::testing
