#include "cli/agent_client.h"

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "common/file.h"
#include "fmt/format.h"

namespace bulkhead::cli {

void AddAgentFlags(CLI::App& command, AgentFlags& flags) {
  command.add_option("--agent", flags.agent, "Agent address host:port")
      ->envname("BULKHEAD_AGENT")
      ->capture_default_str();
  command.add_option("--cert", flags.cert, "Your certificate (from 'bulkhead certs issue')")
      ->envname("BULKHEAD_CERT");
  command.add_option("--key", flags.key, "Your private key")->envname("BULKHEAD_KEY");
  command.add_option("--ca", flags.ca, "The platform CA certificate (ca.crt)")
      ->envname("BULKHEAD_CA");
  command.add_option("--timeout", flags.timeout_seconds, "Seconds to wait for the agent")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
}

StatusOr<std::unique_ptr<agent::v1::AgentService::Stub>> ConnectAgent(const AgentFlags& flags) {
  grpc::SslCredentialsOptions ssl;
  for (const auto& [name, path, out] :
       {std::tuple{"--cert (BULKHEAD_CERT)", &flags.cert, &ssl.pem_cert_chain},
        std::tuple{"--key (BULKHEAD_KEY)", &flags.key, &ssl.pem_private_key},
        std::tuple{"--ca (BULKHEAD_CA)", &flags.ca, &ssl.pem_root_certs}}) {
    if (path->empty()) {
      return absl::InvalidArgumentError(
          fmt::format("{} is required: the agent accepts only mutual TLS", name));
    }
    auto text = ReadFile(*path);
    if (!text.ok()) {
      return Annotate(text.status(), name);
    }
    *out = std::move(*text);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(flags.agent, grpc::SslCredentials(ssl), args);
  return agent::v1::AgentService::NewStub(channel);
}

std::string DescribeRpcError(const grpc::Status& status) {
  std::string code =
      std::string(absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())));
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    message += " (is the agent running there, and do your certificate and CA match its CA?)";
  }
  return fmt::format("{}: {}", code, message);
}

}  // namespace bulkhead::cli
