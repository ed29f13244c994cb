// Budgets under a kubelet: a kubepods tree laid out as the kubelet lays it
// out (cgroupfs and systemd drivers), made below the test's own prefix in the
// real hierarchies, gets the computed per-pod ceilings.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "agent/budgets/cgroup_files.h"
#include "agent/budgets/kubelet_budgets.h"
#include "common/file.h"
#include "common/strings.h"
#include "tests/privileged/budget_fixture.h"
#include "tests/support/privileged.h"

namespace bulkhead::agent::budgets {
namespace {

using testing::ReadNumber;
using testing::ReadTrimmed;
using testing::TestCgroupRoots;

constexpr int64_t kMiB = int64_t{1} << 20;

const KubeletPod kGuaranteed{"11111111-aaaa-4bbb-8ccc-000000000001", QosClass::kGuaranteed,
                             std::nullopt};
const KubeletPod kBurstable{"11111111-aaaa-4bbb-8ccc-000000000002", QosClass::kBurstable,
                            std::nullopt};
const KubeletPod kBestEffort{"11111111-aaaa-4bbb-8ccc-000000000003", QosClass::kBestEffort,
                             std::nullopt};
const KubeletPod kNewcomer{"11111111-aaaa-4bbb-8ccc-000000000004", QosClass::kBurstable,
                           std::nullopt};

bool MakeDirs(const std::string& path) {
  std::string partial;
  for (std::string_view piece : SplitNonEmpty(path, "/")) {
    partial += "/";
    partial += piece;
    if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
      return false;
    }
  }
  return true;
}

class BudgetKubeletTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BULKHEAD_REQUIRE_PRIVILEGES();
    auto roots = TestCgroupRoots::Make(/*with_unified=*/true);
    ASSERT_TRUE(roots.ok()) << roots.status();
    roots_.emplace(std::move(*roots));
  }

  void TearDown() override {
    if (!roots_) {
      return;
    }
    std::vector<std::string> paths = roots_->Paths();
    EXPECT_TRUE(roots_->Remove().ok());
    for (const std::string& path : paths) {
      EXPECT_FALSE(testing::Exists(path)) << path << " left behind";
    }
  }

  KubeletCgroupConfig Config(CgroupDriver driver) const { return {driver, "/", roots_->prefix()}; }

  // Does what the kubelet does for a pod: makes its cgroup in every
  // hierarchy and writes the pod's own limits (and, with a container quota,
  // a container cgroup below it on cgroup v1).
  void MakePod(const KubeletBudgets& budgets, const KubeletPod& pod, const Limits& own,
               std::optional<int64_t> container_quota = std::nullopt) {
    auto place = budgets.PodPlace(pod);
    ASSERT_TRUE(place.ok()) << place.status();
    ASSERT_FALSE(place->dirs.empty());
    for (const std::string& dir : place->Paths()) {
      ASSERT_TRUE(MakeDirs(dir)) << dir;
    }
    Knobs knobs;
    knobs.cpu_weight = false;
    for (const CgroupValue& value : LimitValues(*place, own, knobs)) {
      ASSERT_TRUE(WriteFile(value.path(), value.value).ok()) << value.path();
    }
    if (container_quota) {
      std::string container = place->Find("cpu")->path + "/container-1";
      ASSERT_TRUE(MakeDirs(container));
      ASSERT_TRUE(
          WriteFile(container + "/cpu.cfs_quota_us", fmt::format("{}", *container_quota)).ok());
    }
  }

  static std::string File(const KubeletBudgets& budgets, const KubeletPod& pod,
                          const std::string& controller, const std::string& file) {
    auto place = budgets.PodPlace(pod);
    if (!place.ok() || place->Find(controller) == nullptr) {
      return "/nonexistent";
    }
    return place->Find(controller)->path + "/" + file;
  }

  // Removes a pod's cgroups the way the kubelet does when the pod is gone.
  static void RemovePod(const KubeletBudgets& budgets, const KubeletPod& pod) {
    auto place = budgets.PodPlace(pod);
    ASSERT_TRUE(place.ok());
    for (const std::string& dir : place->Paths()) {
      ASSERT_TRUE(RemoveCgroupTree(dir).ok()) << dir;
    }
  }

  static TenantBudget Budget() {
    TenantBudget budget;
    budget.total.cpu_quota_us = 100'000;
    budget.total.memory_bytes = 256 * kMiB;
    budget.total.pids = 150;
    budget.pod_default.cpu_quota_us = 40'000;
    budget.pod_default.memory_bytes = 64 * kMiB;
    budget.pod_default.pids = 40;
    return budget;
  }

  static Limits GuaranteedOwn() {
    Limits own;
    own.cpu_quota_us = 60'000;
    own.memory_bytes = 128 * kMiB;
    own.pids = 100;
    return own;
  }

  static Limits BurstableOwn() {
    Limits own;
    own.memory_bytes = 512 * kMiB;
    own.pids = 20;
    return own;
  }

  // Makes the three pods of the cgroupfs tree and applies Budget().
  void MakeCgroupfsTenant(KubeletBudgets& budgets) {
    MakePod(budgets, kGuaranteed, GuaranteedOwn(), 60'000);
    MakePod(budgets, kBurstable, BurstableOwn());
    MakePod(budgets, kBestEffort, Limits{});
    ASSERT_TRUE(budgets.SetBudget("tenant-a", Budget()).ok());
    Status synced = budgets.SyncPods("tenant-a", {kGuaranteed, kBurstable, kBestEffort});
    ASSERT_TRUE(synced.ok()) << synced;
  }

  std::optional<TestCgroupRoots> roots_;
};

TEST_F(BudgetKubeletTest, CgroupfsTreeGetsCeilingsRecomputedAsPodsComeAndGo) {
  KubeletBudgets budgets(roots_->layout(), Config(CgroupDriver::kCgroupfs));
  MakeCgroupfsTenant(budgets);
  std::string g_dir =
      fmt::format("{}/{}/kubepods/pod{}", roots_->layout().Find("memory")->mount_point,
                  roots_->prefix(), kGuaranteed.uid);
  EXPECT_TRUE(testing::Exists(g_dir)) << "the cgroupfs layout is kubepods/pod<uid>";

  // CPU: demands 60, 40, 40 ms of a 100 ms total: one level, 33.333 ms each.
  // Memory: 128, 512, 64 MiB of 256: best-effort keeps its 64, the others 96.
  // Pids: 100, 20, 40 of 150: 20 and 40 are kept, the guaranteed pod gets 90.
  auto g = [&](const char* c, const char* f) {
    return ReadNumber(File(budgets, kGuaranteed, c, f));
  };
  auto b = [&](const char* c, const char* f) {
    return ReadNumber(File(budgets, kBurstable, c, f));
  };
  auto e = [&](const char* c, const char* f) {
    return ReadNumber(File(budgets, kBestEffort, c, f));
  };
  EXPECT_EQ(g("cpu", "cpu.cfs_quota_us"), 33'333);
  EXPECT_EQ(b("cpu", "cpu.cfs_quota_us"), 33'333);
  EXPECT_EQ(e("cpu", "cpu.cfs_quota_us"), 33'333);
  std::string container = File(budgets, kGuaranteed, "cpu", "container-1/cpu.cfs_quota_us");
  EXPECT_EQ(ReadNumber(container), 33'333) << "v1 needs the container below its pod's quota";
  EXPECT_EQ(g("memory", "memory.limit_in_bytes"), 96 * kMiB);
  EXPECT_EQ(b("memory", "memory.limit_in_bytes"), 96 * kMiB);
  EXPECT_EQ(e("memory", "memory.limit_in_bytes"), 64 * kMiB);
  EXPECT_EQ(g("pids", "pids.max"), 90);
  EXPECT_EQ(b("pids", "pids.max"), 20) << "a pod's own lower limit is never raised";
  EXPECT_EQ(e("pids", "pids.max"), 40);
  auto ceilings = budgets.Ceilings("tenant-a");
  ASSERT_TRUE(ceilings.ok());
  int64_t memory_sum = 0;
  for (const PodCeiling& ceiling : *ceilings) {
    memory_sum += ceiling.ceiling.memory_bytes.value_or(0);
  }
  EXPECT_LE(memory_sum, 256 * kMiB);

  // The burstable pod leaves the tenant's list (its cgroup is still there:
  // it gets its own limits back); the others fit and get their own demands.
  ASSERT_TRUE(budgets.SyncPods("tenant-a", {kGuaranteed, kBestEffort}).ok());
  EXPECT_EQ(g("cpu", "cpu.cfs_quota_us"), 60'000);
  EXPECT_EQ(ReadNumber(container), 60'000) << "the container's own quota is restored";
  EXPECT_EQ(e("cpu", "cpu.cfs_quota_us"), 40'000);
  EXPECT_EQ(g("memory", "memory.limit_in_bytes"), 128 * kMiB) << "never above its own limit";
  EXPECT_EQ(g("pids", "pids.max"), 100);
  EXPECT_EQ(b("cpu", "cpu.cfs_quota_us"), -1);
  EXPECT_EQ(b("memory", "memory.limit_in_bytes"), 512 * kMiB);
  EXPECT_EQ(b("pids", "pids.max"), 20);

  // A new pod comes: pids 100, 40, 40 of 150 -> 70, 40, 40.
  MakePod(budgets, kNewcomer, Limits{});
  ASSERT_TRUE(budgets.SyncPods("tenant-a", {kGuaranteed, kBestEffort, kNewcomer}).ok());
  auto n = [&](const char* c, const char* f) { return ReadNumber(File(budgets, kNewcomer, c, f)); };
  EXPECT_EQ(g("pids", "pids.max"), 70);
  EXPECT_EQ(n("pids", "pids.max"), 40);
  EXPECT_EQ(n("memory", "memory.limit_in_bytes"), 64 * kMiB);
  EXPECT_EQ(g("memory", "memory.limit_in_bytes"), 128 * kMiB);
  EXPECT_EQ(g("cpu", "cpu.cfs_quota_us"), 33'333);

  // The kubelet resizes the guaranteed pod to 100 MiB: that is its own limit now.
  ASSERT_TRUE(
      WriteFile(File(budgets, kGuaranteed, "memory", "memory.limit_in_bytes"), "104857600").ok());
  ASSERT_TRUE(budgets.SyncPods("tenant-a", {kGuaranteed, kBestEffort, kNewcomer}).ok());
  EXPECT_EQ(g("memory", "memory.limit_in_bytes"), 100 * kMiB);

  auto events = budgets.Events("tenant-a");
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ(events->oom_kills, 0U);
  EXPECT_EQ(events->pids_refusals, 0U);

  // Removing the tenant lifts every ceiling.
  ASSERT_TRUE(budgets.RemoveTenant("tenant-a").ok());
  EXPECT_EQ(g("pids", "pids.max"), 100);
  EXPECT_EQ(n("pids", "pids.max"), -1) << "\"max\" again";
  EXPECT_EQ(ReadTrimmed(File(budgets, kNewcomer, "pids", "pids.max")), "max");
  EXPECT_EQ(g("cpu", "cpu.cfs_quota_us"), 60'000);
  EXPECT_EQ(ReadNumber(container), 60'000);
}

TEST_F(BudgetKubeletTest, SystemdTreeGetsCeilings) {
  KubeletBudgets budgets(roots_->layout(), Config(CgroupDriver::kSystemd));
  Limits own;
  own.memory_bytes = 64 * kMiB;
  MakePod(budgets, kGuaranteed, own);
  MakePod(budgets, kBurstable, Limits{});
  std::string burstable_dir = fmt::format(
      "{}/{}/kubepods.slice/kubepods-burstable.slice/"
      "kubepods-burstable-pod11111111_aaaa_4bbb_8ccc_000000000002.slice",
      roots_->layout().Find("pids")->mount_point, roots_->prefix());
  ASSERT_TRUE(testing::Exists(burstable_dir)) << "the systemd layout";

  TenantBudget budget;
  budget.total.memory_bytes = 96 * kMiB;
  budget.total.pids = 50;
  budget.pod_default.memory_bytes = 64 * kMiB;
  budget.pod_default.pids = 40;
  ASSERT_TRUE(budgets.SetBudget("tenant-s", budget).ok());
  Status synced = budgets.SyncPods("tenant-s", {kGuaranteed, kBurstable});
  ASSERT_TRUE(synced.ok()) << synced;
  for (const KubeletPod& pod : {kGuaranteed, kBurstable}) {
    SCOPED_TRACE(pod.uid);
    EXPECT_EQ(ReadNumber(File(budgets, pod, "memory", "memory.limit_in_bytes")), 48 * kMiB);
    EXPECT_EQ(ReadNumber(File(budgets, pod, "pids", "pids.max")), 25);
    EXPECT_EQ(ReadNumber(File(budgets, pod, "cpu", "cpu.cfs_quota_us")), -1)
        << "the budget sets no CPU: the pod's CPU files are left alone";
  }
  EXPECT_EQ(ReadNumber(burstable_dir + "/pids.max"), 25);

  // A fresh agent (after a restart) finds 48 MiB in the cgroups, which it
  // wrote itself. Told the pods' declared limits, it does not mistake them
  // for the pods' own: with one pod gone, the other gets its 64 MiB back.
  KubeletBudgets restarted(roots_->layout(), Config(CgroupDriver::kSystemd));
  ASSERT_TRUE(restarted.SetBudget("tenant-s", budget).ok());
  KubeletPod declared = kGuaranteed;
  declared.declared = own;
  ASSERT_TRUE(restarted.SyncPods("tenant-s", {declared}).ok());
  EXPECT_EQ(ReadNumber(File(budgets, kGuaranteed, "memory", "memory.limit_in_bytes")), 64 * kMiB);
  EXPECT_EQ(ReadNumber(File(budgets, kGuaranteed, "pids", "pids.max")), 40);
}

TEST_F(BudgetKubeletTest, BadInputIsAClearErrorAndEveryPodKeepsItsLimits) {
  KubeletBudgets budgets(roots_->layout(), Config(CgroupDriver::kCgroupfs));
  MakeCgroupfsTenant(budgets);
  auto snapshot = [&] {
    std::vector<int64_t> values;
    for (const KubeletPod& pod : {kGuaranteed, kBurstable}) {
      values.push_back(ReadNumber(File(budgets, pod, "cpu", "cpu.cfs_quota_us")));
      values.push_back(ReadNumber(File(budgets, pod, "memory", "memory.limit_in_bytes")));
      values.push_back(ReadNumber(File(budgets, pod, "pids", "pids.max")));
    }
    return values;
  };
  const std::vector<int64_t> before = snapshot();
  auto ceilings_before = budgets.Ceilings("tenant-a");
  ASSERT_TRUE(ceilings_before.ok());

  // A pod whose cgroup vanished.
  RemovePod(budgets, kBestEffort);
  Status status = budgets.SyncPods("tenant-a", {kGuaranteed, kBurstable, kBestEffort});
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_NE(MessageOf(status).find("resync the tenant's pod list"), std::string::npos) << status;
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(*budgets.Ceilings("tenant-a"), *ceilings_before);

  // A pod listed under the wrong QoS class is not found either.
  KubeletPod wrong = kGuaranteed;
  wrong.qos = QosClass::kBurstable;
  EXPECT_EQ(budgets.SyncPods("tenant-a", {wrong, kBurstable}).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(snapshot(), before);

  // A budget too small for the pods: every pod would get less than 16 MiB.
  TenantBudget small = Budget();
  small.total.memory_bytes = 24 * kMiB;
  small.pod_default.memory_bytes = 16 * kMiB;
  ASSERT_TRUE(budgets.SyncPods("tenant-a", {kGuaranteed, kBurstable}).ok());
  const std::vector<int64_t> two_pods = snapshot();
  status = budgets.SetBudget("tenant-a", small);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_EQ(snapshot(), two_pods);

  // A budget below the minimum, an unknown tenant.
  small.total.memory_bytes = kMiB;
  EXPECT_EQ(budgets.SetBudget("tenant-a", small).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(snapshot(), two_pods);
  status = budgets.SyncPods("nobody", {kGuaranteed});
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(MessageOf(status).find("set its budget"), std::string::npos) << status;

  // A node without the pids controller.
  CgroupLayout no_pids = roots_->layout();
  std::erase_if(no_pids.controllers, [](const auto& c) { return c.controller == "pids"; });
  KubeletBudgets without(no_pids, Config(CgroupDriver::kCgroupfs));
  status = without.SetBudget("tenant-a", Budget());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_NE(MessageOf(status).find("pids controller"), std::string::npos) << status;
  EXPECT_EQ(snapshot(), two_pods);
}

// How far cgroup v2 goes on this machine: its v2 mount has no controllers
// (they are all bound to v1 hierarchies), so budgets there must be refused
// clearly. Where v2 has them, the same test applies a budget on v2.
TEST_F(BudgetKubeletTest, CgroupV2AsFarAsThisMachineAllows) {
  const std::string unified = roots_->layout().unified_mount;
  if (unified.empty()) {
    // CI machines have one: there a missing mount is a failure, not a skip.
    if (::bulkhead::testing::PrivilegedRequired()) {
      FAIL() << "BULKHEAD_REQUIRE_PRIVILEGED=1 but there is no cgroup v2 mount";
    }
    GTEST_SKIP() << "no cgroup v2 mount on this machine";
  }
  CgroupLayout v2;
  v2.mode = CgroupMode::kV2;
  v2.unified_mount = unified;
  std::string enabled = ReadTrimmed(unified + "/cgroup.controllers");
  for (std::string_view name : SplitNonEmpty(enabled, " ")) {
    v2.controllers.push_back({std::string(name), 2, unified});
  }
  KubeletBudgets budgets(v2, Config(CgroupDriver::kSystemd));
  auto place = budgets.PodPlace(kBurstable);
  ASSERT_TRUE(place.ok());
  std::string pod_dir = fmt::format(
      "{}/{}/kubepods.slice/kubepods-burstable.slice/"
      "kubepods-burstable-pod11111111_aaaa_4bbb_8ccc_000000000002.slice",
      unified, roots_->prefix());
  ASSERT_TRUE(MakeDirs(pod_dir));

  // The kernel's v2 files in a real v2 cgroup: cpu.stat always has usage.
  auto cpu_stat = ReadFile(pod_dir + "/cpu.stat");
  ASSERT_TRUE(cpu_stat.ok()) << cpu_stat.status();
  auto counters = ParseKeyedCounters(*cpu_stat);
  ASSERT_TRUE(counters.ok()) << counters.status();
  EXPECT_TRUE(counters->contains("usage_usec"));

  bool has_all = v2.Find("memory") && v2.Find("pids");
  if (!has_all) {
    for (const char* resource : {"memory", "pids", "cpu"}) {
      TenantBudget budget;
      if (std::string_view(resource) == "memory") {
        budget.total.memory_bytes = 64 * kMiB;
      } else if (std::string_view(resource) == "pids") {
        budget.total.pids = 64;
      } else {
        budget.total.cpu_quota_us = 50'000;
      }
      Status status = budgets.SetBudget("tenant-v2", budget);
      EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
      EXPECT_NE(MessageOf(status).find(fmt::format("the {} controller is not available", resource)),
                std::string::npos)
          << status;
      EXPECT_NE(MessageOf(status).find(unified + "/cgroup.controllers"), std::string::npos)
          << status;
    }
    EXPECT_TRUE(budgets.Tenants().empty()) << "nothing half applied";
    return;
  }
  // A v2 node: enable memory and pids down the tree as systemd would.
  std::string dir = unified;
  for (std::string_view piece : SplitNonEmpty(pod_dir.substr(unified.size()), "/")) {
    ASSERT_TRUE(WriteFile(dir + "/cgroup.subtree_control", "+memory +pids").ok()) << dir;
    dir += "/";
    dir += piece;
  }
  TenantBudget budget;
  budget.total.memory_bytes = 64 * kMiB;
  budget.total.pids = 32;
  ASSERT_TRUE(budgets.SetBudget("tenant-v2", budget).ok());
  ASSERT_TRUE(budgets.SyncPods("tenant-v2", {kBurstable}).ok());
  EXPECT_EQ(ReadNumber(pod_dir + "/memory.max"), 64 * kMiB);
  EXPECT_EQ(ReadNumber(pod_dir + "/pids.max"), 32);
}

}  // namespace
}  // namespace bulkhead::agent::budgets
