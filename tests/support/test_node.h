// A node for real-kernel network tests: a "node" network namespace holding
// a bridge, and pods, each a network namespace with a veth on that bridge
// and its own cgroup v2 directory under a pods root cgroup. Processes run
// in a pod with the pod's netns and cgroup (bulkhead-test-pod).
//
// Addresses: pods 198.18.0.<10+i> and fd00:b0::<10+i> (benchmark and ULA
// ranges), the node 198.18.0.1 and fd00:b0::1. Nothing routes out of the
// node namespace. Destroying the TestNode kills every process it started
// and removes every namespace, veth and cgroup.
#ifndef BULKHEAD_TESTS_SUPPORT_TEST_NODE_H_
#define BULKHEAD_TESTS_SUPPORT_TEST_NODE_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/cgroup_dir.h"
#include "common/netns.h"
#include "common/status.h"
#include "tests/support/command.h"

namespace bulkhead::testing {

inline constexpr const char* kNodeV4 = "198.18.0.1";
inline constexpr const char* kNodeV6 = "fd00:b0::1";
inline constexpr const char* kPodNetworkV4 = "198.18.0.0/16";
inline constexpr const char* kPodNetworkV6 = "fd00:b0::/64";

struct TestPod {
  std::string tenant;
  std::string name;
  std::string ipv4;
  std::string ipv6;
  std::string cgroup;                       // cgroup v2 directory
  std::unique_ptr<NetworkNamespace> netns;  // null: a host-network pod (the node's)
  std::unique_ptr<CgroupDir> cgroup_dir;
};

// A process running in a pod or the node; killed when destroyed.
class PodProcess {
 public:
  PodProcess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}
  PodProcess(const PodProcess&) = delete;
  PodProcess& operator=(const PodProcess&) = delete;
  ~PodProcess();

  // Reads stdout until a line equal to `line` or the timeout.
  bool WaitForLine(const std::string& line, std::chrono::milliseconds timeout);
  // Reads output until it contains `text` or the timeout.
  bool WaitForText(const std::string& text, std::chrono::milliseconds timeout);
  // Everything printed so far (reads what is pending without blocking).
  std::string Output();
  [[nodiscard]] pid_t pid() const { return pid_; }
  // The caller reaped the process: do not signal it again.
  void MarkReaped() { reaped_ = true; }

 private:
  void Drain(int timeout_ms);
  pid_t pid_;
  int stdout_fd_;
  bool reaped_ = false;
  std::string buffer_;
};

class TestNode {
 public:
  // `tag` keeps names unique; the pods root is <cgroup2>/bulkhead-test-<pid>-<tag>/pods.
  static StatusOr<std::unique_ptr<TestNode>> Create(const std::string& tag);
  TestNode(const TestNode&) = delete;
  TestNode& operator=(const TestNode&) = delete;
  ~TestNode();

  // Adds pod number `index` (1..200) of `tenant`.
  StatusOr<TestPod*> AddPod(const std::string& tenant, const std::string& name, int index);

  // Adds a host-network pod: its own cgroup, the node's network namespace.
  StatusOr<TestPod*> AddHostNetworkPod(const std::string& tenant, const std::string& name);

  [[nodiscard]] const std::string& pods_cgroup() const { return pods_cgroup_; }
  [[nodiscard]] const std::string& root_cgroup() const { return root_->path(); }
  [[nodiscard]] const NetworkNamespace& node_netns() const { return *node_netns_; }

  // Runs bulkhead-test-pod in the pod (or, with pod == nullptr, in the node
  // namespace outside the pods cgroup) and waits for it.
  CommandResult Run(const TestPod* pod, const std::vector<std::string>& args,
                    int timeout_seconds = 20);
  // Starts bulkhead-test-pod in the background.
  std::unique_ptr<PodProcess> Start(const TestPod* pod, const std::vector<std::string>& args);

 private:
  TestNode() = default;
  pid_t Spawn(const TestPod* pod, const std::vector<std::string>& args, int* stdout_fd);

  std::string tag_;
  std::unique_ptr<CgroupDir> root_;
  std::string pods_cgroup_;
  std::unique_ptr<NetworkNamespace> node_netns_;
  std::vector<std::unique_ptr<TestPod>> pods_;
};

// Starts a program in the test's own namespaces and cgroup, stdout and
// stderr captured together.
std::unique_ptr<PodProcess> StartProcess(const std::vector<std::string>& argv);

// Runs `ip` with arguments; error on a non-zero exit.
Status Ip(const std::vector<std::string>& args);

// Path of bulkhead-test-pod (set by the build).
const char* PodToolPath();

}  // namespace bulkhead::testing

#endif  // BULKHEAD_TESTS_SUPPORT_TEST_NODE_H_
