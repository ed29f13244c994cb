// How the CLI reaches an agent: its address and the caller's certificate,
// key and the platform CA, by flag or environment (BULKHEAD_AGENT,
// BULKHEAD_CERT, BULKHEAD_KEY, BULKHEAD_CA).
#ifndef BULKHEAD_CLI_AGENT_CLIENT_H_
#define BULKHEAD_CLI_AGENT_CLIENT_H_

#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "bulkhead/agent/v1/agent_service.grpc.pb.h"
#include "common/status.h"

namespace bulkhead::cli {

struct AgentFlags {
  std::string agent = "127.0.0.1:9443";
  std::string cert;
  std::string key;
  std::string ca;
  int timeout_seconds = 10;  // for unary calls and for connecting
};

void AddAgentFlags(CLI::App& command, AgentFlags& flags);

// A stub on a mutual TLS channel to the agent. The files are read here, so
// a missing file is a clear error before any connection.
StatusOr<std::unique_ptr<agent::v1::AgentService::Stub>> ConnectAgent(const AgentFlags& flags);

// "bulkhead: PERMISSION_DENIED: <message>" for a failed call.
std::string DescribeRpcError(const grpc::Status& status);

}  // namespace bulkhead::cli

#endif  // BULKHEAD_CLI_AGENT_CLIENT_H_
