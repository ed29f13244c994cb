// The node's client of a container runtime's CRI (runtime.v1) over its unix
// socket, as containerd's CRI plugin serves it.
//
// Every call is synchronous and carries a deadline. A failed call's status
// has the gRPC code and says which call failed ("CRI CreateContainer: ...");
// when nothing answers on the socket the status is UNAVAILABLE and asks
// whether containerd is running.
#ifndef BULKHEAD_NODE_CRI_CRI_CLIENT_H_
#define BULKHEAD_NODE_CRI_CRI_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "cri/runtime/v1/api.pb.h"

namespace bulkhead::node::cri {

class CriClient {
 public:
  // Connects to `socket_path` (a path, or "unix://PATH") and checks that the
  // runtime answers Version within `timeout`, which is then the deadline of
  // the short calls.
  static StatusOr<std::unique_ptr<CriClient>> Connect(
      const std::string& socket_path, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  CriClient(const CriClient&) = delete;
  CriClient& operator=(const CriClient&) = delete;
  ~CriClient();

  // The socket path, without "unix://".
  [[nodiscard]] const std::string& socket_path() const;

  StatusOr<runtime::v1::VersionResponse> Version();

  // Pod sandboxes. RunPodSandbox returns the sandbox id; it sets up the pod's
  // network (CNI), so its deadline is long.
  StatusOr<std::string> RunPodSandbox(const runtime::v1::PodSandboxConfig& config,
                                      const std::string& runtime_handler = "");
  // Stops the sandbox's containers and releases its network. Stops and
  // removals (of sandboxes, containers, images) are idempotent: an id the
  // runtime does not know (NOT_FOUND) is OK.
  Status StopPodSandbox(const std::string& id);
  Status RemovePodSandbox(const std::string& id);
  StatusOr<runtime::v1::PodSandboxStatus> PodSandboxStatus(const std::string& id);
  StatusOr<std::vector<runtime::v1::PodSandbox>> ListPodSandbox(
      const runtime::v1::PodSandboxFilter& filter = {});

  // Containers. CreateContainer returns the container id.
  StatusOr<std::string> CreateContainer(const std::string& sandbox_id,
                                        const runtime::v1::ContainerConfig& config,
                                        const runtime::v1::PodSandboxConfig& sandbox_config);
  Status StartContainer(const std::string& id);
  // SIGTERM, then SIGKILL after `timeout_seconds`; the deadline allows for it.
  Status StopContainer(const std::string& id, int64_t timeout_seconds);
  Status RemoveContainer(const std::string& id);
  StatusOr<std::vector<runtime::v1::Container>> ListContainers(
      const runtime::v1::ContainerFilter& filter = {});
  StatusOr<runtime::v1::ContainerStatus> ContainerStatus(const std::string& id);
  // Asks the runtime to reopen the container's log file (after rotation).
  Status ReopenContainerLog(const std::string& id);

  // Runs `cmd` in the container to its end or for at most `timeout`
  // (0: no limit on the command, the call's deadline is then 10 minutes).
  StatusOr<runtime::v1::ExecSyncResponse> ExecSync(const std::string& id,
                                                   const std::vector<std::string>& cmd,
                                                   std::chrono::seconds timeout);
  // The URLs of the runtime's streaming server for an exec, an attach or a
  // port forward.
  StatusOr<std::string> Exec(const runtime::v1::ExecRequest& request);
  StatusOr<std::string> Attach(const runtime::v1::AttachRequest& request);
  StatusOr<std::string> PortForward(const std::string& sandbox_id,
                                    const std::vector<int32_t>& ports);

  // Images. ImageStatus is nullopt when the image is not in the store.
  StatusOr<std::optional<runtime::v1::Image>> ImageStatus(const std::string& image);
  // Returns the image ref (its id). Long deadline: a pull downloads.
  StatusOr<std::string> PullImage(const std::string& image,
                                  const runtime::v1::PodSandboxConfig& sandbox_config);
  StatusOr<std::vector<runtime::v1::Image>> ListImages();
  Status RemoveImage(const std::string& image);

 private:
  struct Impl;
  explicit CriClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bulkhead::node::cri

#endif  // BULKHEAD_NODE_CRI_CRI_CLIENT_H_
