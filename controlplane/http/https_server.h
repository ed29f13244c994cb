// HTTPS/1.1 server (Boost.Beast over OpenSSL on Asio) that a hostile client
// cannot exhaust. A small fixed set of IO threads runs every connection
// asynchronously (no thread per connection): each IO thread has its own
// event loop and a connection stays on one, so its work never crosses
// threads. Requests the caller marks as quick (reads the store answers at
// once) are handled on the connection's IO thread; the others, which may
// wait (writes, watches), run on a fixed pool of handler threads, so they
// never stall an IO thread. One more thread only accepts, so a long request
// on a connection's loop never delays new connections.
//
// Every phase has a deadline: the TLS handshake, the request headers, the
// body, the idle wait between keep-alive requests, and each write. The number
// of connections is capped in total and per client address; past a cap a new
// connection is closed at once. Headers over the limit get 431, bodies over
// the limit 413. Authentication runs once the headers are in and before any
// body is read: an unauthenticated request is handed to the handler without
// its body (the connection then closes), so no anonymous body is buffered;
// the bodies in flight are bounded in bytes across all connections.
// Accept errors (EMFILE, ENFILE, ...) back off and are logged at most every
// few seconds.
//
// Client certificates are optional at the TLS layer; one that verifies
// against the client authority names the user (its one CN, by common/pki/identity.h) and groups
// (O).
#ifndef BULKHEAD_CONTROLPLANE_HTTP_HTTPS_SERVER_H_
#define BULKHEAD_CONTROLPLANE_HTTP_HTTPS_SERVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "controlplane/http/http_message.h"

namespace bulkhead::controlplane {

struct HttpsServerLimits {
  size_t max_body_bytes = size_t{3} << 20;  // larger bodies get 413
  // Request bodies being read or waiting for a handler, all connections
  // together (a body without Content-Length counts as max_body_bytes); a
  // request whose body would pass it gets 429 with Retry-After.
  size_t max_bodies_in_flight_bytes = size_t{64} << 20;
  size_t max_header_bytes = size_t{64} << 10;  // larger headers get 431
  size_t max_connections = 10000;              // open connections in total
  size_t max_connections_per_client = 1000;    // open connections per client address
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds header_timeout{10000};  // from the first byte of a request
  std::chrono::milliseconds body_timeout{60000};
  std::chrono::milliseconds idle_timeout{90000};   // between keep-alive requests
  std::chrono::milliseconds write_timeout{60000};  // for each write to the client
  // A stream's queue of unwritten chunks; past it the stream is closed.
  size_t max_stream_queue_bytes = size_t{4} << 20;
  // After a stream ends, how long its last chunks may take to be written.
  std::chrono::milliseconds stream_end_grace{2000};
  unsigned io_threads = 2;
  unsigned handler_threads = 8;
};

// Runs on an IO thread once a request's headers are in; must not block.
using RequestAuthenticator = std::function<bool(HttpRequest&)>;
// Runs with the whole request: on the IO thread when the request is quick,
// else on a handler thread.
using RequestHandler = std::function<void(HttpRequest&, ResponseWriter&)>;
// Whether a request (its headers, before its body) never waits: it is then
// handled on the IO thread, saving two thread hand-offs. Must not block.
using QuickRequest = std::function<bool(const HttpRequest&)>;

struct HttpsServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port
  std::string certificate_pem;
  std::string key_pem;
  std::string client_authority_pem;
  HttpsServerLimits limits;
  QuickRequest quick;  // unset: every request runs on a handler thread
};

class HttpsServer {
 public:
  // Binds and starts the IO and handler threads.
  static StatusOr<std::unique_ptr<HttpsServer>> Start(const HttpsServerOptions& options,
                                                      RequestAuthenticator authenticate,
                                                      RequestHandler handler);
  virtual ~HttpsServer() = default;
  virtual uint16_t port() const = 0;
  // Stops accepting. Open connections are served until the server is destroyed.
  virtual void Stop() = 0;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_HTTP_HTTPS_SERVER_H_
