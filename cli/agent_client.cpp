#include "cli/agent_client.h"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "bulkhead/agent/v1/agent_service.grpc.pb.h"
#include "cli/handshake_diagnosis.h"
#include "common/file.h"
#include "common/logging.h"
#include "fmt/format.h"

namespace bulkhead::cli {
namespace {

namespace v1 = agent::v1;

// gRPC's own error lines repeat, less clearly, what a failed call's status
// says, and the CLI prints that once in one line; --log-level debug keeps
// them.
void QuietGrpcErrors() {
  spdlog::logger& grpc = Logger(Component::kGrpc);
  if (!grpc.should_log(spdlog::level::debug)) {
    grpc.set_level(spdlog::level::off);
  }
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
  std::string address;
  TlsFiles files;
  int timeout_seconds = 10;

  void Deadline(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_seconds));
  }

  // The call's status with its gRPC code; an UNAVAILABLE one says why.
  [[nodiscard]] Status FromGrpc(const grpc::Status& status) const {
    std::string message = status.error_message();
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      message = ExplainUnavailable(address, files, message);
    }
    return {static_cast<absl::StatusCode>(status.error_code()), message};
  }
};

AgentClient::AgentClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AgentClient::~AgentClient() = default;

StatusOr<std::unique_ptr<AgentClient>> AgentClient::Connect(const AgentFlags& flags) {
  TlsFiles files;
  files.cert_path = flags.cert;
  files.key_path = flags.key;
  files.ca_path = flags.ca;
  for (const auto& [name, path, out] :
       {std::tuple{"--cert (BULKHEAD_CERT)", &files.cert_path, &files.cert_pem},
        std::tuple{"--key (BULKHEAD_KEY)", &files.key_path, &files.key_pem},
        std::tuple{"--ca (BULKHEAD_CA)", &files.ca_path, &files.ca_pem}}) {
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
  BH_RETURN_IF_ERROR(CheckTlsFiles(files));
  QuietGrpcErrors();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_cert_chain = files.cert_pem;
  ssl.pem_private_key = files.key_pem;
  ssl.pem_root_certs = files.ca_pem;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto impl = std::make_unique<Impl>();
  impl->stub = v1::AgentService::NewStub(
      grpc::CreateCustomChannel(flags.agent, grpc::SslCredentials(ssl), args));
  impl->address = flags.agent;
  impl->files = std::move(files);
  impl->timeout_seconds = flags.timeout_seconds;
  return std::unique_ptr<AgentClient>(new AgentClient(std::move(impl)));
}

StatusOr<v1::NodeStatus> AgentClient::GetNodeStatus() {
  grpc::ClientContext context;
  impl_->Deadline(context);
  v1::NodeStatus status;
  grpc::Status rpc = impl_->stub->GetNodeStatus(&context, v1::GetNodeStatusRequest(), &status);
  if (!rpc.ok()) {
    return impl_->FromGrpc(rpc);
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
    return impl_->FromGrpc(rpc);
  }
  return response;
}

StatusOr<v1::SetBoundsResponse> AgentClient::SetBounds(const v1::SetBoundsRequest& request) {
  grpc::ClientContext context;
  impl_->Deadline(context);
  v1::SetBoundsResponse response;
  grpc::Status rpc = impl_->stub->SetBounds(&context, request, &response);
  if (!rpc.ok()) {
    return impl_->FromGrpc(rpc);
  }
  return response;
}

StatusOr<v1::SetBudgetResponse> AgentClient::SetBudget(const v1::SetBudgetRequest& request) {
  grpc::ClientContext context;
  impl_->Deadline(context);
  v1::SetBudgetResponse response;
  grpc::Status rpc = impl_->stub->SetBudget(&context, request, &response);
  if (!rpc.ok()) {
    return impl_->FromGrpc(rpc);
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
  return impl_->FromGrpc(reader->Finish());
}

std::string DescribeCallError(const Status& status) {
  return fmt::format("{}: {}", absl::StatusCodeToString(status.code()), MessageOf(status));
}

}  // namespace bulkhead::cli
