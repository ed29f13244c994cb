// HTTPS/1.1 server (Boost.Beast over OpenSSL) with one thread per
// connection. A connection's thread blocks in reads, in the handler and, for
// a watch, while waiting for events; idle connections cost a parked thread
// and its touched stack pages, no CPU. Client certificates are optional at
// the TLS layer; one that verifies against the client authority names the
// user (its one CN, by common/pki/identity.h) and groups (O) in the request.
#ifndef BULKHEAD_CONTROLPLANE_HTTP_HTTPS_SERVER_H_
#define BULKHEAD_CONTROLPLANE_HTTP_HTTPS_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "controlplane/http/http_message.h"

namespace bulkhead::controlplane {

struct HttpsServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port
  std::string certificate_pem;
  std::string key_pem;
  std::string client_authority_pem;
  size_t max_body_bytes = size_t{3} << 20;  // larger bodies get 413
};

using RequestHandler = std::function<void(HttpRequest&, ResponseWriter&)>;

class HttpsServer {
 public:
  // Binds and starts accepting on a thread of its own.
  static StatusOr<std::unique_ptr<HttpsServer>> Start(const HttpsServerOptions& options,
                                                      RequestHandler handler);
  virtual ~HttpsServer() = default;
  virtual uint16_t port() const = 0;
  // Stops accepting. Connections already open finish on their own threads.
  virtual void Stop() = 0;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_HTTP_HTTPS_SERVER_H_
