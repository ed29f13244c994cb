// An HTTP request as the API server sees it, and the writer it answers
// through. Kept free of Beast so that only https_server.cpp compiles it.
#ifndef BULKHEAD_CONTROLPLANE_HTTP_HTTP_MESSAGE_H_
#define BULKHEAD_CONTROLPLANE_HTTP_HTTP_MESSAGE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controlplane/auth/user_info.h"

namespace bulkhead::controlplane {

struct HttpRequest {
  std::string method;                                      // "GET", "POST", ...
  std::string path;                                        // percent-decoded, without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  std::string accept;
  std::string content_type;
  std::string authorization;
  std::string user_agent;
  std::string body;
  // Decided by the server's authenticator once the headers are in, before
  // any body is read; an unauthenticated request's body is never read.
  bool authenticated = false;
  // From a client certificate that verified against the client authority,
  // by the one CN rule (common/pki/identity.h): its CN and its O entries.
  std::optional<std::string> certificate_user;
  std::vector<std::string> certificate_groups;
  // Why a verified client certificate names no user (no CN, or two): the
  // request is refused with it, never served as someone.
  std::optional<std::string> certificate_error;
  // Impersonate-User, -Group, -Uid and -Extra-* headers, as sent.
  std::vector<std::pair<std::string, std::string>> impersonation;
  // The client's address, for logs.
  std::string peer;
  // A request to switch protocols (an Upgrade header: SPDY or WebSocket,
  // for exec, attach and port-forward): its protocol headers as sent
  // (Connection, Upgrade, Sec-WebSocket-*, X-Stream-Protocol-Version),
  // for a proxy to pass on. Empty for any other request.
  std::vector<std::pair<std::string, std::string>> upgrade_headers;
  // Set by the authenticator: who the request is from (nullopt: anonymous),
  // or why its credentials were refused.
  std::optional<UserInfo> user;
  std::string authentication_error;

  // The first value of a query parameter.
  [[nodiscard]] std::optional<std::string_view> Query(std::string_view name) const {
    for (const auto& [key, value] : query) {
      if (key == name) {
        return value;
      }
    }
    return std::nullopt;
  }
};

// A chunked response that outlives the handler call that started it (a
// watch). Every method may be called from any thread and never blocks:
// chunks are queued and written by the server's IO threads. The queue is
// bounded in bytes; a client that lets it fill is too slow and its stream is
// ended (the connection closes, as Kubernetes ends a watcher that falls
// behind; the client lists again).
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // False when the stream is over: ended, the client gone, or this chunk
  // would pass the queue's bound (the stream is then closed).
  virtual bool Write(std::string chunk) = 0;
  // Writes the last chunk after what is queued and closes the connection.
  // A client that does not take it within the end grace is disconnected.
  virtual void End() = 0;
  // `done` is called once (from an IO thread, or at once when already
  // over) when the stream is over for any reason.
  virtual void OnClosed(std::function<void()> done) = 0;
  [[nodiscard]] virtual bool closed() const = 0;
  // Bytes written and not yet taken by the client; a writer holds back more
  // while this is high (the queue is bounded: Write past it ends the stream).
  [[nodiscard]] virtual size_t queued_bytes() const = 0;
  [[nodiscard]] virtual size_t queue_limit() const = 0;
  // The thread that writes this stream (its connection's IO loop), for work
  // that writes to it (a watch) and so costs no hand-off when run there: an
  // id that names the loop in the process (0: none) and a way to run work
  // there soon (never inline; callable from any thread).
  [[nodiscard]] virtual uint64_t loop_id() const { return 0; }
  [[nodiscard]] virtual std::function<void(std::function<void()>)> loop() const { return {}; }
};

// A connection handed over by the HTTP server (an upgrade): raw bytes both
// ways. One Read and one Write may be in flight at a time; callbacks run on
// the connection's IO thread and must not block. Callable from any thread.
class RawConnection {
 public:
  virtual ~RawConnection() = default;
  // `done(bytes)`: what the client sent next; empty when it closed (or the
  // connection failed).
  virtual void Read(std::function<void(std::string)> done) = 0;
  // `done(ok)` once all of `bytes` is written (false: the client is gone or
  // did not take them within the server's write timeout).
  virtual void Write(std::string bytes, std::function<void(bool)> done) = 0;
  virtual void Close() = 0;
};

// One response: Send() once, or StartStream() (chunked transfer encoding),
// or TakeOver() for a request that switches protocols.
// Neither blocks on the client: the response is written by the server.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  // Adds a header to the response that follows (for example Warning). The
  // value is written with control characters escaped (SafeHeaderValue).
  virtual void AddHeader(std::string name, std::string value) = 0;
  virtual void Send(int status, std::string_view content_type, std::string body) = 0;
  virtual std::shared_ptr<ResponseStream> StartStream(int status,
                                                      std::string_view content_type) = 0;
  // Ends HTTP on the connection: the caller writes the answer (101, or an
  // error) and every byte after it. nullptr when a response was already
  // given, or the writer cannot hand its connection over.
  virtual std::shared_ptr<RawConnection> TakeOver() { return nullptr; }
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_HTTP_HTTP_MESSAGE_H_
