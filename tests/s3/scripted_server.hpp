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
    answer,             // send `raw`, keep the connection open
    answer_then_close,  // send `raw`, then close the connection
    close,              // close the connection without answering
    stall,              // answer nothing, hold the connection until the client gives up (or hold_ms)
    stream,             // send `raw`, then `chunk` `repeat` times, `interval_ms` apart, then close (sooner
                        // when the client closes its end): endless bodies, trickles
  };
  Kind kind = Kind::answer;
  std::string raw;         // the whole HTTP response
  int hold_ms = 0;         // stall: close after this long even if the client is still waiting (0: never)
  std::string chunk = {};  // stream: sent again and again after `raw`
  long repeat = 0;
  int interval_ms = 0;
};

// A response with a Content-Length matching the body, unless `content_length` says otherwise.
ScriptedReply http_reply(int status, std::string body = {},
                         std::vector<std::pair<std::string, std::string>> headers = {}, long content_length = -1);
ScriptedReply s3_error_reply(int status, const std::string& code, const std::string& message = "",
                             const std::string& request_id = "REQ123");
// Declares `declared_length` bytes, sends `body` (fewer), then closes the connection.
ScriptedReply truncated_reply(int status, std::string body, long declared_length,
                              std::vector<std::pair<std::string, std::string>> headers = {});
// A chunked body that starts with `start` and then goes on with filler chunks until `total_bytes`
// are sent (or the client gives up), without ever ending: a server that streams without end.
ScriptedReply endless_chunked_reply(int status, std::string start, std::size_t total_bytes);
// Announces `declared_length` bytes, then sends `step` every `interval_ms`, `steps` times: a trickle.
ScriptedReply drip_reply(int status, long declared_length, std::string step, int interval_ms, long steps);
ScriptedReply close_reply();
ScriptedReply stall_reply(int hold_ms = 0);

struct ReceivedRequest {
  std::string method;
  std::string target;                                        // as on the request line: path and query, still encoded
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
