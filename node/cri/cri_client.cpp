#include "node/cri/cri_client.h"

#include <grpcpp/grpcpp.h>

#include <string_view>
#include <utility>

#include "cri/runtime/v1/api.grpc.pb.h"
#include "fmt/format.h"

namespace bulkhead::node::cri {
namespace {

namespace v1 = runtime::v1;

// Deadlines of the calls that wait on more than containerd's own state.
constexpr std::chrono::minutes kSandboxDeadline{2};  // CNI setup or teardown
constexpr std::chrono::minutes kPullDeadline{10};    // a download
constexpr std::chrono::seconds kStopGrace{30};       // beyond a stop's own timeout
constexpr std::chrono::minutes kUnboundedExecDeadline{10};

// ExecSync may return up to 16 MiB each of stdout and stderr.
constexpr int kMaxMessageBytes = 64 << 20;

std::string WithoutScheme(const std::string& socket) {
  constexpr std::string_view kScheme = "unix://";
  if (socket.starts_with(kScheme)) {
    return socket.substr(kScheme.size());
  }
  return socket;
}

// The CRI makes stops and removals idempotent, but containerd 1.6 answers
// NOT_FOUND for a sandbox or container it no longer knows: that is done too.
Status IgnoreNotFound(const Status& status) {
  return absl::IsNotFound(status) ? absl::OkStatus() : status;
}

}  // namespace

struct CriClient::Impl {
  std::string socket_path;
  std::chrono::milliseconds timeout{};
  std::unique_ptr<v1::RuntimeService::Stub> runtime;
  std::unique_ptr<v1::ImageService::Stub> images;

  // The status of a failed call `name`, with its gRPC code.
  [[nodiscard]] Status FromGrpc(std::string_view name, const grpc::Status& status) const {
    auto code = static_cast<absl::StatusCode>(status.error_code());
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      return {code, fmt::format("CRI {}: {}; is containerd running? (socket {})", name,
                                status.error_message(), socket_path)};
    }
    return {code, fmt::format("CRI {}: {}", name, status.error_message())};
  }

  // Runs one unary call of `stub` with a deadline of `deadline` from now.
  template <typename Stub, typename Request, typename Response>
  Status Call(std::string_view name, Stub& stub,
              grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
              const Request& request, Response* response,
              std::chrono::milliseconds deadline) const {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    grpc::Status status = (stub.*method)(&context, request, response);
    if (!status.ok()) {
      return FromGrpc(name, status);
    }
    return absl::OkStatus();
  }

  template <typename Request, typename Response>
  Status Runtime(std::string_view name,
                 grpc::Status (v1::RuntimeService::Stub::*method)(grpc::ClientContext*,
                                                                  const Request&, Response*),
                 const Request& request, Response* response) const {
    return Call(name, *runtime, method, request, response, timeout);
  }
  template <typename Request, typename Response>
  Status Runtime(std::string_view name,
                 grpc::Status (v1::RuntimeService::Stub::*method)(grpc::ClientContext*,
                                                                  const Request&, Response*),
                 const Request& request, Response* response,
                 std::chrono::milliseconds deadline) const {
    return Call(name, *runtime, method, request, response, deadline);
  }
  template <typename Request, typename Response>
  Status Image(std::string_view name,
               grpc::Status (v1::ImageService::Stub::*method)(grpc::ClientContext*, const Request&,
                                                              Response*),
               const Request& request, Response* response,
               std::chrono::milliseconds deadline) const {
    return Call(name, *images, method, request, response, deadline);
  }
};

CriClient::CriClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CriClient::~CriClient() = default;

const std::string& CriClient::socket_path() const { return impl_->socket_path; }

StatusOr<std::unique_ptr<CriClient>> CriClient::Connect(const std::string& socket_path,
                                                        std::chrono::milliseconds timeout) {
  auto impl = std::make_unique<Impl>();
  impl->socket_path = WithoutScheme(socket_path);
  if (impl->socket_path.empty()) {
    return absl::InvalidArgumentError("CRI: empty socket path");
  }
  impl->timeout = timeout;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  // "unix:PATH" takes relative and absolute paths alike.
  auto channel = grpc::CreateCustomChannel("unix:" + impl->socket_path,
                                           grpc::InsecureChannelCredentials(), args);
  impl->runtime = v1::RuntimeService::NewStub(channel);
  impl->images = v1::ImageService::NewStub(channel);
  std::unique_ptr<CriClient> client(new CriClient(std::move(impl)));
  BH_RETURN_IF_ERROR(client->Version().status());
  return client;
}

StatusOr<v1::VersionResponse> CriClient::Version() {
  v1::VersionRequest request;
  request.set_version("v1");
  v1::VersionResponse response;
  BH_RETURN_IF_ERROR(
      impl_->Runtime("Version", &v1::RuntimeService::Stub::Version, request, &response));
  return response;
}

StatusOr<std::string> CriClient::RunPodSandbox(const v1::PodSandboxConfig& config,
                                               const std::string& runtime_handler) {
  v1::RunPodSandboxRequest request;
  *request.mutable_config() = config;
  request.set_runtime_handler(runtime_handler);
  v1::RunPodSandboxResponse response;
  BH_RETURN_IF_ERROR(impl_->Runtime("RunPodSandbox", &v1::RuntimeService::Stub::RunPodSandbox,
                                    request, &response, kSandboxDeadline));
  return response.pod_sandbox_id();
}

Status CriClient::StopPodSandbox(const std::string& id) {
  v1::StopPodSandboxRequest request;
  request.set_pod_sandbox_id(id);
  v1::StopPodSandboxResponse response;
  return IgnoreNotFound(impl_->Runtime("StopPodSandbox", &v1::RuntimeService::Stub::StopPodSandbox,
                                       request, &response, kSandboxDeadline));
}

Status CriClient::RemovePodSandbox(const std::string& id) {
  v1::RemovePodSandboxRequest request;
  request.set_pod_sandbox_id(id);
  v1::RemovePodSandboxResponse response;
  return IgnoreNotFound(impl_->Runtime("RemovePodSandbox",
                                       &v1::RuntimeService::Stub::RemovePodSandbox, request,
                                       &response, kSandboxDeadline));
}

StatusOr<v1::PodSandboxStatus> CriClient::PodSandboxStatus(const std::string& id) {
  v1::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id(id);
  v1::PodSandboxStatusResponse response;
  BH_RETURN_IF_ERROR(impl_->Runtime("PodSandboxStatus", &v1::RuntimeService::Stub::PodSandboxStatus,
                                    request, &response));
  return std::move(*response.mutable_status());
}

StatusOr<std::vector<v1::PodSandbox>> CriClient::ListPodSandbox(
    const v1::PodSandboxFilter& filter) {
  v1::ListPodSandboxRequest request;
  *request.mutable_filter() = filter;
  v1::ListPodSandboxResponse response;
  BH_RETURN_IF_ERROR(impl_->Runtime("ListPodSandbox", &v1::RuntimeService::Stub::ListPodSandbox,
                                    request, &response));
  return std::vector<v1::PodSandbox>(std::make_move_iterator(response.mutable_items()->begin()),
                                     std::make_move_iterator(response.mutable_items()->end()));
}

StatusOr<std::string> CriClient::CreateContainer(const std::string& sandbox_id,
                                                 const v1::ContainerConfig& config,
                                                 const v1::PodSandboxConfig& sandbox_config) {
  v1::CreateContainerRequest request;
  request.set_pod_sandbox_id(sandbox_id);
  *request.mutable_config() = config;
  *request.mutable_sandbox_config() = sandbox_config;
  v1::CreateContainerResponse response;
  BH_RETURN_IF_ERROR(impl_->Runtime("CreateContainer", &v1::RuntimeService::Stub::CreateContainer,
                                    request, &response));
  return response.container_id();
}

Status CriClient::StartContainer(const std::string& id) {
  v1::StartContainerRequest request;
  request.set_container_id(id);
  v1::StartContainerResponse response;
  return impl_->Runtime("StartContainer", &v1::RuntimeService::Stub::StartContainer, request,
                        &response);
}

Status CriClient::StopContainer(const std::string& id, int64_t timeout_seconds) {
  v1::StopContainerRequest request;
  request.set_container_id(id);
  request.set_timeout(timeout_seconds);
  v1::StopContainerResponse response;
  auto deadline = std::chrono::seconds(std::max<int64_t>(timeout_seconds, 0)) + kStopGrace;
  return IgnoreNotFound(
      impl_->Runtime("StopContainer", &v1::RuntimeService::Stub::StopContainer, request, &response,
                     std::max<std::chrono::milliseconds>(deadline, impl_->timeout)));
}

Status CriClient::RemoveContainer(const std::string& id) {
  v1::RemoveContainerRequest request;
  request.set_container_id(id);
  v1::RemoveContainerResponse response;
  // Removing a running container kills it first.
  return IgnoreNotFound(
      impl_->Runtime("RemoveContainer", &v1::RuntimeService::Stub::RemoveContainer, request,
                     &response, std::max<std::chrono::milliseconds>(kStopGrace, impl_->timeout)));
}

StatusOr<std::vector<v1::Container>> CriClient::ListContainers(const v1::ContainerFilter& filter) {
  v1::ListContainersRequest request;
  *request.mutable_filter() = filter;
  v1::ListContainersResponse response;
  BH_RETURN_IF_ERROR(impl_->Runtime("ListContainers", &v1::RuntimeService::Stub::ListContainers,
                                    request, &response));
  return std::vector<v1::Container>(std::make_move_iterator(response.mutable_containers()->begin()),
                                    std::make_move_iterator(response.mutable_containers()->end()));
}

StatusOr<v1::ContainerStatus> CriClient::ContainerStatus(const std::string& id) {
  v1::ContainerStatusRequest request;
  request.set_container_id(id);
  v1::ContainerStatusResponse response;
  BH_RETURN_IF_ERROR(impl_->Runtime("ContainerStatus", &v1::RuntimeService::Stub::ContainerStatus,
                                    request, &response));
  return std::move(*response.mutable_status());
}

Status CriClient::ReopenContainerLog(const std::string& id) {
  v1::ReopenContainerLogRequest request;
  request.set_container_id(id);
  v1::ReopenContainerLogResponse response;
  return impl_->Runtime("ReopenContainerLog", &v1::RuntimeService::Stub::ReopenContainerLog,
                        request, &response);
}

StatusOr<v1::ExecSyncResponse> CriClient::ExecSync(const std::string& id,
                                                   const std::vector<std::string>& cmd,
                                                   std::chrono::seconds timeout) {
  v1::ExecSyncRequest request;
  request.set_container_id(id);
  for (const auto& arg : cmd) {
    request.add_cmd(arg);
  }
  request.set_timeout(timeout.count());
  v1::ExecSyncResponse response;
  std::chrono::milliseconds deadline = timeout.count() > 0
                                           ? std::chrono::milliseconds(timeout + kStopGrace)
                                           : kUnboundedExecDeadline;
  BH_RETURN_IF_ERROR(impl_->Runtime("ExecSync", &v1::RuntimeService::Stub::ExecSync, request,
                                    &response, deadline));
  return response;
}

StatusOr<std::string> CriClient::Exec(const v1::ExecRequest& request) {
  v1::ExecResponse response;
  BH_RETURN_IF_ERROR(impl_->Runtime("Exec", &v1::RuntimeService::Stub::Exec, request, &response));
  return response.url();
}

StatusOr<std::string> CriClient::Attach(const v1::AttachRequest& request) {
  v1::AttachResponse response;
  BH_RETURN_IF_ERROR(
      impl_->Runtime("Attach", &v1::RuntimeService::Stub::Attach, request, &response));
  return response.url();
}

StatusOr<std::string> CriClient::PortForward(const std::string& sandbox_id,
                                             const std::vector<int32_t>& ports) {
  v1::PortForwardRequest request;
  request.set_pod_sandbox_id(sandbox_id);
  for (int32_t port : ports) {
    request.add_port(port);
  }
  v1::PortForwardResponse response;
  BH_RETURN_IF_ERROR(
      impl_->Runtime("PortForward", &v1::RuntimeService::Stub::PortForward, request, &response));
  return response.url();
}

StatusOr<std::optional<v1::Image>> CriClient::ImageStatus(const std::string& image) {
  v1::ImageStatusRequest request;
  request.mutable_image()->set_image(image);
  v1::ImageStatusResponse response;
  BH_RETURN_IF_ERROR(impl_->Image("ImageStatus", &v1::ImageService::Stub::ImageStatus, request,
                                  &response, impl_->timeout));
  if (!response.has_image()) {
    return std::optional<v1::Image>();
  }
  return std::optional<v1::Image>(std::move(*response.mutable_image()));
}

StatusOr<std::string> CriClient::PullImage(const std::string& image,
                                           const v1::PodSandboxConfig& sandbox_config) {
  v1::PullImageRequest request;
  request.mutable_image()->set_image(image);
  *request.mutable_sandbox_config() = sandbox_config;
  v1::PullImageResponse response;
  BH_RETURN_IF_ERROR(impl_->Image("PullImage", &v1::ImageService::Stub::PullImage, request,
                                  &response, kPullDeadline));
  return response.image_ref();
}

StatusOr<std::vector<v1::Image>> CriClient::ListImages() {
  v1::ListImagesRequest request;
  v1::ListImagesResponse response;
  BH_RETURN_IF_ERROR(impl_->Image("ListImages", &v1::ImageService::Stub::ListImages, request,
                                  &response, impl_->timeout));
  return std::vector<v1::Image>(std::make_move_iterator(response.mutable_images()->begin()),
                                std::make_move_iterator(response.mutable_images()->end()));
}

Status CriClient::RemoveImage(const std::string& image) {
  v1::RemoveImageRequest request;
  request.mutable_image()->set_image(image);
  v1::RemoveImageResponse response;
  return IgnoreNotFound(impl_->Image("RemoveImage", &v1::ImageService::Stub::RemoveImage, request,
                                     &response, impl_->timeout));
}

}  // namespace bulkhead::node::cri
