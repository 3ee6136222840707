// A tiny HTTP/1.1 server on 127.0.0.1 that answers from a script, for testing what the S3 client
// sends and how it takes each kind of answer (errors, broken bodies, silence, closed connections)
// without a real S3 server.
#ifndef CSHELVE_TESTS_S3_SCRIPTED_SERVER_HPP
#define CSHELVE_TESTS_S3_SCRIPTED_SERVER_HPP

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace cshelve::testing {

struct ScriptedReply {
  enum class Kind {
    answer,            // send `raw`, keep the connection open
    answer_then_close, // send `raw`, then close the connection
    close,   // close the connection without answering
    stall,   // answer nothing, hold the connection until the client gives up (or hold_ms)
  };
  Kind kind = Kind::answer;
  std::string raw;  // the whole HTTP response
  int hold_ms = 0;  // stall: close after this long even if the client is still waiting (0: never)
};

// A response with a Content-Length matching the body, unless `content_length` says otherwise.
ScriptedReply http_reply(int status, std::string body = {},
                         std::vector<std::pair<std::string, std::string>> headers = {},
                         long content_length = -1);
ScriptedReply s3_error_reply(int status, const std::string& code, const std::string& message = "",
                             const std::string& request_id = "REQ123");
// Declares `declared_length` bytes, sends `body` (fewer), then closes the connection.
ScriptedReply truncated_reply(int status, std::string body, long declared_length,
                              std::vector<std::pair<std::string, std::string>> headers = {});
ScriptedReply close_reply();
ScriptedReply stall_reply(int hold_ms = 0);

struct ReceivedRequest {
  std::string method;
  std::string target;  // as on the request line: path and query, still encoded
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;
  int connection = 0;  // which accepted connection carried it (1, 2, ...)

  // The value of a header, "" when absent; `present` tells the two apart.
  std::string header(const std::string& lower_case_name, bool* present = nullptr) const;
};

class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<ScriptedReply> script);
  ~ScriptedServer();
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<ReceivedRequest> requests() const;
  int connections() const { return connections_.load(); }

 private:
  void accept_loop();
  void serve(int socket, int connection);
  ScriptedReply next_reply();

  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mutex_;
  std::deque<ScriptedReply> script_;
  std::vector<ReceivedRequest> requests_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

}  // namespace cshelve::testing

#endif
