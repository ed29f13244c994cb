// The agent's gRPC server (bulkhead.agent.v1.AgentService) over mutual TLS.
//
// The server presents <certs_dir>/agent.crt, requires and verifies a client
// certificate under <certs_dir>/ca.crt (no certificate, a foreign CA or an
// expired certificate fails the handshake), and reloads all three files
// when they change on disk, without a restart. The caller's role comes
// from its certificate's common name (authz.h).
#ifndef BULKHEAD_AGENT_API_SERVER_H_
#define BULKHEAD_AGENT_API_SERVER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "agent/api/event_hub.h"
#include "agent/api/flow_hub.h"
#include "agent/api/node_backend.h"
#include "agent/api/tenant_registry.h"
#include "common/status.h"

namespace bulkhead::agent::api {

struct ServerOptions {
  // host:port; port 0 picks a free port (see AgentServer::port()).
  std::string listen = "127.0.0.1:9443";
  std::string certs_dir;  // ca.crt, agent.crt, agent.key
  unsigned cert_refresh_seconds = 5;
  int max_message_bytes = 1 << 20;
  // Open StreamFlows and StreamEvents streams per caller (certificate role).
  size_t max_streams_per_caller = 8;
};

class AgentServer {
 public:
  // The registry, hubs and backend must outlive the server.
  static StatusOr<std::unique_ptr<AgentServer>> Start(const ServerOptions& options,
                                                      TenantRegistry& registry, FlowHub& flows,
                                                      EventHub& events, NodeBackend& backend);
  AgentServer(const AgentServer&) = delete;
  AgentServer& operator=(const AgentServer&) = delete;
  ~AgentServer();

  [[nodiscard]] int port() const;
  // Random per start: clients compare it to learn the agent restarted.
  [[nodiscard]] const std::string& instance() const;
  // Ends every open stream and stops listening.
  void Shutdown();

 private:
  struct Impl;
  explicit AgentServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bulkhead::agent::api

#endif  // BULKHEAD_AGENT_API_SERVER_H_
