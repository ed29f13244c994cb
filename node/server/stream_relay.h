// Relays an upgraded connection (exec, attach, port-forward) from the
// node's TLS endpoint to the runtime's streaming server, as a kubelet
// proxies to its CRI runtime: the client's request head goes to the
// runtime's one-time URL with the client's protocol headers (Upgrade,
// Connection, Sec-WebSocket-*, X-Stream-Protocol-Version), then bytes flow
// both ways unchanged, the runtime's answer (101 or an error) included,
// so SPDY and WebSocket both pass. The relay ends when either side closes
// (what the other side sent is delivered first, within the write timeout),
// or when `stopping` is set.
#ifndef BULKHEAD_NODE_SERVER_STREAM_RELAY_H_
#define BULKHEAD_NODE_SERVER_STREAM_RELAY_H_

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace bulkhead::node {

struct RelayRequest {
  std::string method;  // GET (WebSocket) or POST (SPDY)
  std::string url;     // http://host:port/path from the runtime
  // The client's headers to pass on (the relay adds Host).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string client_bytes;  // read past the client's head already
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds write_timeout{30000};
};

// Whether a header of the client's request goes on to the runtime: the
// protocol's own, never credentials.
bool IsRelayedHeader(const std::string& lower_name);

// Blocks until the relay is over. An error before any byte reached the
// runtime (a bad URL, a refused connection) leaves the client untouched so
// the caller can answer; later errors only end the relay (Ok).
Status RelayUpgrade(SSL* tls, int client_fd, const RelayRequest& request,
                    const std::atomic<bool>& stopping);

}  // namespace bulkhead::node

#endif  // BULKHEAD_NODE_SERVER_STREAM_RELAY_H_
