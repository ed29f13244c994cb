// The node's HTTPS endpoint, as a kubelet's port 10250 serves it to the API
// server: GET /containerLogs/{namespace}/{pod}/{container} (the options of
// container_logs.h as query parameters), GET /healthz, and the upgraded
// (SPDY or WebSocket) streams of /exec/{namespace}/{pod}/{container},
// /attach/{namespace}/{pod}/{container} (query: command, input, output,
// error, tty) and /portForward/{namespace}/{pod} (query: port), relayed
// byte for byte to the runtime's streaming server (stream_relay.h).
//
// TLS with a self-signed certificate the node makes at start under its
// state dir (kept and reused while valid). Every request carries
// `Authorization: Bearer <token>`: the token is checked with a TokenReview
// through the host API, then the user with a SubjectAccessReview for
// `get nodes/proxy` on this node (`create` for a POST), as a kubelet
// authorizes its endpoints;
// allowed tokens are remembered for a minute. 401 without a token or for
// one the host refuses, 403 when the user may not, 404 for a pod or
// container the node does not know.
//
// One thread per connection, at most max_connections of them (past it a
// new connection is closed at once); one request per connection; the TLS
// handshake, the request's headers (16 KiB at most) and every write each
// have a deadline. A log that is followed ends when the container exits
// and its file is read, when the client goes away, or when the server stops.
#ifndef BULKHEAD_NODE_SERVER_NODE_SERVER_H_
#define BULKHEAD_NODE_SERVER_NODE_SERVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "node/kubelet/host_client.h"

namespace bulkhead::node {

// Where a container's logs are: the current attempt's file, the one
// before (for previous=true; "" when none), and whether it runs now.
struct ContainerLogFiles {
  std::string current;
  std::string previous;
  bool running = false;
};
// nullopt: the node has no such pod or container.
using LogLookup = std::function<std::optional<ContainerLogFiles>(
    const std::string& ns, const std::string& pod, const std::string& container)>;

// Exec, attach and port-forward, as a kubelet serves them: the runtime's
// streaming server (containerd's) does the work; the node asks it over CRI
// for a one-time URL and relays the client's upgraded connection there.
struct StreamRequest {
  enum class Kind { kExec, kAttach, kPortForward };
  Kind kind = Kind::kExec;
  std::string ns;
  std::string pod;
  std::string container;  // "" for a port forward
  std::vector<std::string> command;
  bool input = false;   // stdin
  bool output = false;  // stdout
  bool error = false;   // stderr
  bool tty = false;
  std::vector<int32_t> ports;
};
// The URL, or an HTTP status other than 200 and why.
struct StreamTarget {
  int status = 200;
  std::string url;
  std::string message;
};
using StreamLookup = std::function<StreamTarget(const StreamRequest&)>;

// Who a bearer token is and whether it may read this node's logs.
enum class Access { kAllowed, kUnauthenticated, kForbidden, kUnavailable };
struct AccessDecision {
  Access access = Access::kUnauthenticated;
  std::string user;
  std::string message;  // why, for logs and the answer
};
// `verb`: of the nodes/proxy check, from the request's method as a
// kubelet maps it (GET: get, POST: create).
using AccessCheck =
    std::function<AccessDecision(const std::string& token, const std::string& verb)>;

// TokenReview then SubjectAccessReview (`verb` nodes/proxy `node_name`)
// through `host`, positive answers cached for `ttl`.
AccessCheck HostAccessCheck(const HostClient& host, std::string node_name,
                            std::chrono::seconds ttl = std::chrono::seconds(60));

struct NodeServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 10250;  // 0: any free port (tests)
  // The certificate and key are kept in <state_dir>/pki/kubelet.{crt,key}.
  std::string state_dir;
  std::string node_name;
  size_t max_connections = 64;
  size_t max_header_bytes = size_t{16} << 10;
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds write_timeout{30000};
  // How often a followed log file is looked at for more.
  std::chrono::milliseconds follow_poll{250};
};

class NodeServer {
 public:
  // Makes (or reuses) the certificate, binds and starts accepting.
  // Without `streams`, exec, attach and port-forward answer 404.
  static StatusOr<std::unique_ptr<NodeServer>> Start(NodeServerOptions options, AccessCheck access,
                                                     LogLookup lookup, StreamLookup streams = {});
  // Stops accepting, ends open connections and waits for their threads.
  virtual ~NodeServer() = default;
  [[nodiscard]] virtual uint16_t port() const = 0;
  [[nodiscard]] virtual const std::string& certificate_pem() const = 0;
  // Connections being served now.
  [[nodiscard]] virtual size_t open_connections() = 0;
};

// A self-signed certificate (ECDSA P-256, a year) for `hosts` (IP addresses
// and DNS names) in `dir`/kubelet.crt and kubelet.key (mode 0600), unless
// a valid one for more than a month is there. Returns the PEMs.
struct CertificatePair {
  std::string certificate_pem;
  std::string key_pem;
};
StatusOr<CertificatePair> EnsureSelfSignedCertificate(const std::string& dir,
                                                      const std::vector<std::string>& hosts);

}  // namespace bulkhead::node

#endif  // BULKHEAD_NODE_SERVER_NODE_SERVER_H_
