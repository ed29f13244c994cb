// One host API (bulkhead-controlplane --host-mode) and one bulkhead-node
// with its own containerd per test binary, shared by its tests: started on
// first use, and at the binary's end the node stopped, its containerd torn
// down (sandboxes, shims, bridge, CNI files, mounts, state) and its cgroups
// removed, whether tests passed or not. Each test works in a namespace of
// its own and deletes it.
#ifndef BULKHEAD_TESTS_PRIVILEGED_NODE_FIXTURE_H_
#define BULKHEAD_TESTS_PRIVILEGED_NODE_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "node/containerd/containerd_process.h"
#include "tests/e2e/controlplane_harness.h"

namespace bulkhead::testing {

struct SharedNode {
  std::unique_ptr<ControlPlane> host;
  node::ContainerdOptions containerd;
  std::string cgroup_root;  // "/bulkhead-node-test-<pid>"
  std::string node_name;
  std::unique_ptr<Process> node;
  std::string node_log;  // the node's stderr, a file
  int serve_port = 0;    // the node's log endpoint, picked at the first start

  // (Re)starts bulkhead-node and waits until its Node is Ready.
  std::string StartNode();
  std::string LogTail() const;
  // SIGTERM and wait: containerd and the pods keep running.
  void StopNode();
};

// The shared node; "" in `error` when it runs.
SharedNode* GetSharedNode(std::string& error);

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // kubectl against the host, in this test's namespace unless `args`
  // names one; fails the test when it exits non-zero.
  CommandResult Ok(const std::vector<std::string>& args, int timeout_seconds = 90);
  CommandResult Run(const std::vector<std::string>& args, int timeout_seconds = 90);
  nlohmann::json Get(const std::string& what);
  // Applies YAML in the test's namespace.
  void Apply(const std::string& yaml);
  // Polls `what` (kubectl get -o json) until `done` holds or 60 s pass.
  nlohmann::json WaitFor(const std::string& what,
                         const std::function<bool(const nlohmann::json&)>& done,
                         int timeout_seconds = 60);

  SharedNode* shared_ = nullptr;
  std::string ns_;
  TempDir files_;
};

// The status of container `name` of `pod` (an empty object when absent).
nlohmann::json ContainerStatus(const nlohmann::json& pod, const std::string& name);

}  // namespace bulkhead::testing

#endif  // BULKHEAD_TESTS_PRIVILEGED_NODE_FIXTURE_H_
