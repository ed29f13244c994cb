// One private containerd per test binary, shared by its tests: started on
// first use in a fresh state directory under /tmp, with a bridge (bht<pid>),
// CNI network and pod CIDR (10.246.<pid % 250>.0/24) of its own, and torn
// down with node::Teardown when the binary ends, whether tests passed or not.
#ifndef BULKHEAD_TESTS_PRIVILEGED_CONTAINERD_FIXTURE_H_
#define BULKHEAD_TESTS_PRIVILEGED_CONTAINERD_FIXTURE_H_

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "cri/runtime/v1/api.pb.h"
#include "node/containerd/containerd_process.h"
#include "node/cri/cri_client.h"

namespace bulkhead::testing {

// Options of a containerd for this test process: state dir made with
// mkdtemp under /tmp; `tag` distinguishes several instances of one process
// ("t" for the shared one): bridge and network "bh<tag><pid>", pod CIDR
// 10.<second_octet>.<pid % 250>.0/24.
StatusOr<node::ContainerdOptions> TestContainerdOptions(const std::string& tag, int second_octet);

struct SharedContainerd {
  node::ContainerdOptions options;
  std::unique_ptr<node::Containerd> containerd;
  std::unique_ptr<node::cri::CriClient> client;
  std::chrono::milliseconds start_time{};  // StartOrFind, measured
  // Set once the builtin pause and busybox images are imported.
  bool images_imported = false;
};

// The shared containerd, started on the first call; its error when it
// could not start (every later call returns the same error).
StatusOr<SharedContainerd*> GetSharedContainerd();

// Imports bulkhead.local/pause:1 and bulkhead.local/busybox:1.35 into `shared`
// (once).
Status ImportBuiltinImages(SharedContainerd& shared);

// The cgroup parent of test pods, "/bulkhead-cri-test-<pid>" in every
// hierarchy; removed (when empty) with the shared containerd.
std::string TestCgroupParent();

// A sandbox config for pod `name` in namespace "default", logging under
// `log_dir`, in TestCgroupParent().
runtime::v1::PodSandboxConfig TestSandboxConfig(const std::string& name,
                                                const std::string& log_dir);

// Tests on the shared containerd: skip (or fail with
// BULKHEAD_REQUIRE_PRIVILEGED=1) when not root, else shared_ and client_ are set.
class ContainerdTest : public ::testing::Test {
 protected:
  void SetUp() override;

  SharedContainerd* shared_ = nullptr;
  node::cri::CriClient* client_ = nullptr;
};

}  // namespace bulkhead::testing

#endif  // BULKHEAD_TESTS_PRIVILEGED_CONTAINERD_FIXTURE_H_
