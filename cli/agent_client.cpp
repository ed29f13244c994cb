#include "cli/agent_client.h"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "bulkhead/agent/v1/agent_service.grpc.pb.h"
#include "common/file.h"
#include "fmt/format.h"

namespace bulkhead::cli {
namespace {

namespace v1 = agent::v1;

Status FromGrpc(const grpc::Status& status) {
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    message += " (is the agent running there, and do your certificate and CA match its CA?)";
  }
  return {static_cast<absl::StatusCode>(status.error_code()), message};
}

}  // namespace

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

struct AgentClient::Impl {
  std::unique_ptr<v1::AgentService::Stub> stub;
  int timeout_seconds = 10;

  void Deadline(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_seconds));
  }
};

AgentClient::AgentClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AgentClient::~AgentClient() = default;

StatusOr<std::unique_ptr<AgentClient>> AgentClient::Connect(const AgentFlags& flags) {
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
  auto impl = std::make_unique<Impl>();
  impl->stub = v1::AgentService::NewStub(
      grpc::CreateCustomChannel(flags.agent, grpc::SslCredentials(ssl), args));
  impl->timeout_seconds = flags.timeout_seconds;
  return std::unique_ptr<AgentClient>(new AgentClient(std::move(impl)));
}

StatusOr<v1::NodeStatus> AgentClient::GetNodeStatus() {
  grpc::ClientContext context;
  impl_->Deadline(context);
  v1::NodeStatus status;
  grpc::Status rpc = impl_->stub->GetNodeStatus(&context, v1::GetNodeStatusRequest(), &status);
  if (!rpc.ok()) {
    return FromGrpc(rpc);
  }
  return status;
}

StatusOr<v1::ApplyTenantPolicyResponse> AgentClient::ApplyTenantPolicy(
    const v1::ApplyTenantPolicyRequest& request) {
  grpc::ClientContext context;
  impl_->Deadline(context);
  v1::ApplyTenantPolicyResponse response;
  grpc::Status rpc = impl_->stub->ApplyTenantPolicy(&context, request, &response);
  if (!rpc.ok()) {
    return FromGrpc(rpc);
  }
  return response;
}

Status AgentClient::SetBounds(const v1::SetBoundsRequest& request) {
  grpc::ClientContext context;
  impl_->Deadline(context);
  v1::SetBoundsResponse response;
  return FromGrpc(impl_->stub->SetBounds(&context, request, &response));
}

StatusOr<v1::SetBudgetResponse> AgentClient::SetBudget(const v1::SetBudgetRequest& request) {
  grpc::ClientContext context;
  impl_->Deadline(context);
  v1::SetBudgetResponse response;
  grpc::Status rpc = impl_->stub->SetBudget(&context, request, &response);
  if (!rpc.ok()) {
    return FromGrpc(rpc);
  }
  return response;
}

Status AgentClient::StreamFlows(const v1::StreamFlowsRequest& request,
                                const std::function<void(const v1::Flow&)>& on_flow) {
  grpc::ClientContext context;
  if (!request.follow()) {
    impl_->Deadline(context);
  }
  auto reader = impl_->stub->StreamFlows(&context, request);
  v1::Flow flow;
  while (reader->Read(&flow)) {
    on_flow(flow);
  }
  return FromGrpc(reader->Finish());
}

std::string DescribeCallError(const Status& status) {
  return fmt::format("{}: {}", absl::StatusCodeToString(status.code()), MessageOf(status));
}

}  // namespace bulkhead::cli
