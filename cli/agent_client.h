// How the CLI reaches an agent: its address and the caller's certificate,
// key and the platform CA, by flag or environment (BULKHEAD_AGENT,
// BULKHEAD_CERT, BULKHEAD_KEY, BULKHEAD_CA). The gRPC channel and stub live
// in agent_client.cpp alone, so the command files stay light to compile.
#ifndef BULKHEAD_CLI_AGENT_CLIENT_H_
#define BULKHEAD_CLI_AGENT_CLIENT_H_

#include <functional>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "bulkhead/agent/v1/agent_service.pb.h"
#include "common/status.h"

namespace bulkhead::cli {

struct AgentFlags {
  std::string agent = "127.0.0.1:9443";
  std::string cert;
  std::string key;
  std::string ca;
  int timeout_seconds = 10;  // for calls that are not followed streams
};

void AddAgentFlags(CLI::App& command, AgentFlags& flags);

// One mutual TLS channel to the agent. Calls return the agent's status
// with its gRPC code (absl's codes are gRPC's); an UNAVAILABLE one says
// why the connection failed and what to do (cli/handshake_diagnosis.h).
class AgentClient {
 public:
  // Reads and checks the certificate files; a missing flag or file, a file
  // without a certificate or key, or a key that is not the certificate's is
  // INVALID_ARGUMENT or NOT_FOUND before any connection (a usage error).
  static StatusOr<std::unique_ptr<AgentClient>> Connect(const AgentFlags& flags);
  AgentClient(const AgentClient&) = delete;
  AgentClient& operator=(const AgentClient&) = delete;
  ~AgentClient();

  StatusOr<agent::v1::NodeStatus> GetNodeStatus();
  StatusOr<agent::v1::ApplyTenantPolicyResponse> ApplyTenantPolicy(
      const agent::v1::ApplyTenantPolicyRequest& request);
  StatusOr<agent::v1::SetBoundsResponse> SetBounds(const agent::v1::SetBoundsRequest& request);
  StatusOr<agent::v1::SetBudgetResponse> SetBudget(const agent::v1::SetBudgetRequest& request);
  // Calls `on_flow` for every flow until the stream ends (never, with follow).
  Status StreamFlows(const agent::v1::StreamFlowsRequest& request,
                     const std::function<void(const agent::v1::Flow&)>& on_flow);

 private:
  struct Impl;
  explicit AgentClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "PERMISSION_DENIED: <message>" for a failed call.
std::string DescribeCallError(const Status& status);

}  // namespace bulkhead::cli

#endif  // BULKHEAD_CLI_AGENT_CLIENT_H_
