// Budgets where the agent places the pods (the tenant is a parent cgroup):
// the kernel holds a tenant at its budget while another tenant keeps its own.
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "agent/budgets/tenant_cgroups.h"
#include "common/logging.h"
#include "common/strings.h"
#include "tests/privileged/budget_fixture.h"
#include "tests/support/privileged.h"

namespace bulkhead::agent::budgets {
namespace {

using testing::ForkBomb;
using testing::HoldMemory;
using testing::ReadCounter;
using testing::ReadNumber;
using testing::ReadTrimmed;
using testing::TestCgroupRoots;
using testing::TestProcess;

constexpr int64_t kMiB = int64_t{1} << 20;

// Spins on `threads` processes (itself and threads - 1 forked children).
int Spin(int /*go_fd*/, int report_fd, int threads) {
  for (int i = 1; i < threads; ++i) {
    if (::fork() == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
      break;
    }
  }
  testing::Report(report_fd, 1);
  volatile uint64_t counter = 0;
  while (true) {
    counter = counter + 1;
  }
}

class BudgetTenantTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BULKHEAD_REQUIRE_PRIVILEGES();
    testing::BecomeSubreaper();
    auto roots = TestCgroupRoots::Make();
    ASSERT_TRUE(roots.ok()) << roots.status();
    roots_.emplace(std::move(*roots));
    auto cgroups =
        TenantCgroups::Open(roots_->layout(), JoinCgroupPath(roots_->prefix(), "bulkhead"));
    ASSERT_TRUE(cgroups.ok()) << cgroups.status();
    cgroups_.emplace(std::move(*cgroups));
  }

  void TearDown() override {
    if (!roots_) {
      return;
    }
    std::vector<std::string> paths = roots_->Paths();
    processes_.clear();
    EXPECT_TRUE(roots_->Remove().ok());
    testing::ReapOrphans();
    for (const std::string& path : paths) {
      EXPECT_FALSE(testing::Exists(path)) << path << " left behind";
    }
  }

  // The tenant's or pod's directory in `controller`'s hierarchy.
  std::string Dir(const std::string& controller, const std::string& tenant,
                  const std::string& pod = "") {
    auto place = pod.empty() ? cgroups_->TenantPlace(tenant) : cgroups_->PodPlace(tenant, pod);
    EXPECT_TRUE(place.ok()) << place.status();
    if (!place.ok() || place->Find(controller) == nullptr) {
      return "/nonexistent";
    }
    return place->Find(controller)->path;
  }

  // Starts `body` in the pod's cgroups: it runs only once it is inside.
  TestProcess* StartIn(const std::string& tenant, const std::string& pod,
                       const TestProcess::Body& body) {
    auto process = TestProcess::Start(body);
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) {
      return nullptr;
    }
    Status added = cgroups_->AddProcess(tenant, pod, process->pid());
    EXPECT_TRUE(added.ok()) << added;
    if (!added.ok()) {
      return nullptr;
    }
    EXPECT_TRUE(process->Go().ok());
    processes_.push_back(std::make_unique<TestProcess>(std::move(*process)));
    return processes_.back().get();
  }

  static TenantBudget MemoryBudget(int64_t bytes) {
    TenantBudget budget;
    budget.total.memory_bytes = bytes;
    budget.pod_default.memory_bytes = bytes;
    return budget;
  }

  std::optional<TestCgroupRoots> roots_;
  std::optional<TenantCgroups> cgroups_;
  std::vector<std::unique_ptr<TestProcess>> processes_;
};

TEST_F(BudgetTenantTest, MemoryHogIsHeldAtItsTenantBudgetWhileOtherTenantKeepsItsMemory) {
  ASSERT_TRUE(cgroups_->SetBudget("tenant-a", MemoryBudget(64 * kMiB)).ok());
  ASSERT_TRUE(cgroups_->SetBudget("tenant-b", MemoryBudget(96 * kMiB)).ok());
  ASSERT_TRUE(cgroups_->AddPod("tenant-a", "hog").ok());
  ASSERT_TRUE(cgroups_->AddPod("tenant-b", "keeper").ok());
  EXPECT_EQ(ReadNumber(Dir("memory", "tenant-a") + "/memory.limit_in_bytes"), 64 * kMiB);

  TestProcess* keeper = StartIn("tenant-b", "keeper", [](int go, int report) {
    return HoldMemory(go, report, 48 * kMiB, 0x5a);
  });
  ASSERT_NE(keeper, nullptr);
  ASSERT_EQ(keeper->ReadReport().value_or(0), 1) << "tenant B could not get its 48 MiB";

  // The hog tries to touch 256 MiB, four times its tenant's budget.
  TestProcess* hog = StartIn("tenant-a", "hog", [](int go, int report) {
    return HoldMemory(go, report, 256 * kMiB, 0x11);
  });
  ASSERT_NE(hog, nullptr);
  int status = hog->Wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << "the hog was not stopped; wait status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  int64_t peak = ReadNumber(Dir("memory", "tenant-a") + "/memory.max_usage_in_bytes");
  EXPECT_GT(peak, 32 * kMiB) << "the hog never ran up to its budget";
  EXPECT_LE(peak, 64 * kMiB) << "tenant A used more than its budget";
  auto events_a = cgroups_->Events("tenant-a");
  ASSERT_TRUE(events_a.ok()) << events_a.status();
  EXPECT_GE(events_a->oom_kills, 1U) << "the OOM kill was not reported";
  auto events_b = cgroups_->Events("tenant-b");
  ASSERT_TRUE(events_b.ok()) << events_b.status();
  EXPECT_EQ(events_b->oom_kills, 0U);

  // Tenant B's process is alive, still holds its memory and its pattern.
  EXPECT_TRUE(keeper->Running());
  EXPECT_GE(ReadNumber(Dir("memory", "tenant-b") + "/memory.usage_in_bytes"), 48 * kMiB);
  ASSERT_TRUE(keeper->Go().ok());
  int keeper_status = keeper->Wait();
  EXPECT_TRUE(WIFEXITED(keeper_status) && WEXITSTATUS(keeper_status) == 0)
      << "tenant B's memory was disturbed; wait status " << keeper_status;
  Logger(Component::kBudget)
      .info("figure memory_hog tenant_a_peak_bytes={} budget_bytes={} oom_kills={}", peak,
            64 * kMiB, events_a->oom_kills);
}

TEST_F(BudgetTenantTest, ForkBombStopsAtItsTenantPidsBudgetWhileOtherTenantCanFork) {
  TenantBudget budget;
  budget.total.pids = 16;
  budget.pod_default.pids = 16;
  ASSERT_TRUE(cgroups_->SetBudget("tenant-a", budget).ok());
  ASSERT_TRUE(cgroups_->SetBudget("tenant-b", budget).ok());
  ASSERT_TRUE(cgroups_->AddPod("tenant-a", "bomb").ok());
  ASSERT_TRUE(cgroups_->AddPod("tenant-b", "worker").ok());

  constexpr int kAttempts = 64;
  TestProcess* bomb = StartIn("tenant-a", "bomb",
                              [](int go, int report) { return ForkBomb(go, report, kAttempts); });
  ASSERT_NE(bomb, nullptr);
  auto forked = bomb->ReadReport();
  auto refused = bomb->ReadReport();
  ASSERT_TRUE(forked.ok() && refused.ok());
  // The bomb itself is one of the 16.
  EXPECT_EQ(*forked, 15);
  EXPECT_EQ(*refused, kAttempts - 15);
  EXPECT_EQ(ReadNumber(Dir("pids", "tenant-a") + "/pids.current"), 16);

  // Tenant B forks while tenant A sits at its limit.
  TestProcess* worker = StartIn("tenant-b", "worker", [](int /*go*/, int report) {
    int64_t ok = 0;
    for (int i = 0; i < 4; ++i) {
      pid_t child = ::fork();
      if (child == 0) {
        ::_exit(0);
      }
      if (child > 0 && ::waitpid(child, nullptr, 0) == child) {
        ++ok;
      }
    }
    testing::Report(report, ok);
    return 0;
  });
  ASSERT_NE(worker, nullptr);
  EXPECT_EQ(worker->ReadReport().value_or(-1), 4) << "tenant B could not fork";

  auto events_a = cgroups_->Events("tenant-a");
  ASSERT_TRUE(events_a.ok()) << events_a.status();
  EXPECT_EQ(events_a->pids_refusals, static_cast<uint64_t>(*refused));
  auto events_b = cgroups_->Events("tenant-b");
  ASSERT_TRUE(events_b.ok());
  EXPECT_EQ(events_b->pids_refusals, 0U);
  Logger(Component::kBudget)
      .info("figure fork_bomb pids_budget=16 forked={} refused={} reported_refusals={}", *forked,
            *refused, events_a->pids_refusals);
}

struct CpuSample {
  int64_t usage_ns = 0;
  int64_t periods = 0;
  int64_t throttled = 0;
};

TEST_F(BudgetTenantTest, CpuHogGetsNoMoreThanItsQuotaWhileOtherTenantGetsItsShare) {
  TenantBudget a;
  a.total.cpu_quota_us = 10'000;  // a tenth of a CPU
  a.pod_default.cpu_quota_us = 10'000;
  TenantBudget b;
  b.total.cpu_quota_us = 100'000;  // one CPU
  b.pod_default.cpu_quota_us = 100'000;
  ASSERT_TRUE(cgroups_->SetBudget("tenant-a", a).ok());
  ASSERT_TRUE(cgroups_->SetBudget("tenant-b", b).ok());
  ASSERT_TRUE(cgroups_->AddPod("tenant-a", "hog").ok());
  ASSERT_TRUE(cgroups_->AddPod("tenant-b", "hog").ok());
  std::string accounting = roots_->layout().Find("cpuacct") ? "cpuacct" : "cpu";
  ASSERT_EQ(accounting, "cpuacct") << "this test reads cpuacct.usage (cgroup v1)";

  auto sample = [&](const std::string& tenant) {
    return CpuSample{ReadNumber(Dir("cpuacct", tenant) + "/cpuacct.usage"),
                     ReadCounter(Dir("cpu", tenant) + "/cpu.stat", "nr_periods"),
                     ReadCounter(Dir("cpu", tenant) + "/cpu.stat", "nr_throttled")};
  };
  for (const char* tenant : {"tenant-a", "tenant-b"}) {
    TestProcess* hog =
        StartIn(tenant, "hog", [](int go, int report) { return Spin(go, report, 2); });
    ASSERT_NE(hog, nullptr);
    ASSERT_EQ(hog->ReadReport().value_or(0), 1);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CpuSample a0 = sample("tenant-a");
  CpuSample b0 = sample("tenant-b");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CpuSample a1 = sample("tenant-a");
  CpuSample b1 = sample("tenant-b");

  int64_t a_usage_us = (a1.usage_ns - a0.usage_ns) / 1000;
  int64_t a_periods = a1.periods - a0.periods;
  int64_t b_usage_us = (b1.usage_ns - b0.usage_ns) / 1000;
  ASSERT_GT(a_periods, 5) << "tenant A's bandwidth timer did not run";
  // The kernel's own accounting: per enforcement period, A ran at most its
  // quota (a generous 25% plus two periods for slices handed out at the
  // edges of the sample).
  EXPECT_LE(a_usage_us, (a_periods + 2) * 10'000 * 5 / 4)
      << "tenant A used more than its quota: " << a_usage_us << "us in " << a_periods << " periods";
  EXPECT_GE(a_usage_us, a_periods * 10'000 / 2) << "tenant A did not even get its quota";
  EXPECT_GT(a1.throttled - a0.throttled, a_periods / 2) << "tenant A was not throttled";
  EXPECT_GE(b_usage_us, 2 * a_usage_us) << "tenant B did not get its larger share";
  auto events = cgroups_->Events("tenant-a");
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_GE(events->cpu_throttled_periods, static_cast<uint64_t>(a1.throttled));
  EXPECT_GT(events->cpu_throttled_usec, 0U);
  Logger(Component::kBudget)
      .info(
          "figure cpu_hog tenant_a_us={} periods={} quota_us_per_period=10000 "
          "tenant_a_share={:.3f} tenant_b_us={} tenant_b_share={:.3f} throttled_periods={}",
          a_usage_us, a_periods,
          static_cast<double>(a_usage_us) / (static_cast<double>(a_periods) * 100'000.0),
          b_usage_us,
          static_cast<double>(b_usage_us) / (static_cast<double>(a_periods) * 100'000.0),
          a1.throttled - a0.throttled);
}

TEST_F(BudgetTenantTest, BadInputIsAClearErrorAndChangesNothing) {
  TenantBudget sane;
  sane.total = {.cpu_quota_us = 50'000,
                .cpu_period_us = 100'000,
                .cpu_weight = 100,
                .memory_bytes = 64 * kMiB,
                .pids = 32};
  sane.pod_default = sane.total;
  ASSERT_TRUE(cgroups_->SetBudget("tenant-a", sane).ok());
  std::string memory_limit = Dir("memory", "tenant-a") + "/memory.limit_in_bytes";

  // A budget below the minimum.
  TenantBudget tiny = sane;
  tiny.total.memory_bytes = kMiB;
  Status status = cgroups_->SetBudget("tenant-a", tiny);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(MessageOf(status).find("below the minimum"), std::string::npos) << status;
  EXPECT_EQ(ReadNumber(memory_limit), 64 * kMiB);
  EXPECT_EQ(*cgroups_->Budget("tenant-a"), sane);

  // A bad tenant name and a budget for a new tenant that is refused: nothing made.
  EXPECT_EQ(cgroups_->SetBudget("Tenant/../x", sane).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cgroups_->SetBudget("tenant-c", tiny).code(), absl::StatusCode::kInvalidArgument);
  std::string tenant_c = fmt::format(
      "{}/{}/bulkhead/tenant-c", roots_->layout().Find("memory")->mount_point, roots_->prefix());
  EXPECT_FALSE(testing::Exists(tenant_c));

  // An unknown tenant.
  auto pod = cgroups_->AddPod("nobody", "p");
  EXPECT_EQ(pod.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(MessageOf(pod.status()).find("set its budget"), std::string::npos) << pod.status();
  EXPECT_EQ(cgroups_->Events("nobody").status().code(), absl::StatusCode::kNotFound);

  // A missing controller: a node without pids, and the cgroup v2 mount of
  // this machine, which has no controllers at all.
  CgroupLayout no_pids = roots_->layout();
  std::erase_if(no_pids.controllers, [](const auto& c) { return c.controller == "pids"; });
  auto opened = TenantCgroups::Open(no_pids, JoinCgroupPath(roots_->prefix(), "other"));
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(MessageOf(opened.status()).find("pids controller"), std::string::npos)
      << opened.status();
  if (!roots_->layout().unified_mount.empty()) {
    CgroupLayout v2;
    v2.mode = CgroupMode::kV2;
    v2.unified_mount = roots_->layout().unified_mount;
    auto controllers = ReadTrimmed(v2.unified_mount + "/cgroup.controllers");
    for (std::string_view name : SplitNonEmpty(controllers, " ")) {
      v2.controllers.push_back({std::string(name), 2, v2.unified_mount});
    }
    auto on_v2 = TenantCgroups::Open(v2, JoinCgroupPath(roots_->prefix(), "bulkhead"));
    if (controllers.empty()) {
      EXPECT_EQ(on_v2.status().code(), absl::StatusCode::kFailedPrecondition) << on_v2.status();
    }
  }
}

TEST_F(BudgetTenantTest, RefusedMemoryLimitRollsBackEveryValueAlreadyWritten) {
  TenantBudget before;
  before.total = {.cpu_quota_us = 50'000,
                  .cpu_period_us = 100'000,
                  .cpu_weight = 100,
                  .memory_bytes = 128 * kMiB,
                  .pids = 64};
  before.pod_default = before.total;
  ASSERT_TRUE(cgroups_->SetBudget("tenant-a", before).ok());
  ASSERT_TRUE(cgroups_->AddPod("tenant-a", "p").ok());
  TestProcess* holder = StartIn(
      "tenant-a", "p", [](int go, int report) { return HoldMemory(go, report, 48 * kMiB, 0x33); });
  ASSERT_NE(holder, nullptr);
  ASSERT_EQ(holder->ReadReport().value_or(0), 1);

  // 24 MiB is below what the pod holds; without swap the kernel cannot
  // reclaim it and refuses (cgroup v1: EBUSY). The CPU and pids values
  // before it in the plan were written and must be rolled back.
  TenantBudget after = before;
  after.total.memory_bytes = 24 * kMiB;
  after.total.cpu_quota_us = 20'000;
  after.total.pids = 32;
  after.pod_default = after.total;
  Status status = cgroups_->SetBudget("tenant-a", after);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(MessageOf(status).find("nothing applied, the previous limits are in force"),
            std::string::npos)
      << status;
  EXPECT_NE(MessageOf(status).find("uses more memory"), std::string::npos) << status;
  Logger(Component::kBudget).info("refused as expected: {}", status);
  for (const std::string pod : {"", "p"}) {
    SCOPED_TRACE(pod.empty() ? "tenant" : "pod");
    EXPECT_EQ(ReadNumber(Dir("memory", "tenant-a", pod) + "/memory.limit_in_bytes"), 128 * kMiB);
    EXPECT_EQ(ReadNumber(Dir("cpu", "tenant-a", pod) + "/cpu.cfs_quota_us"), 50'000);
    EXPECT_EQ(ReadNumber(Dir("pids", "tenant-a", pod) + "/pids.max"), 64);
  }
  EXPECT_EQ(*cgroups_->Budget("tenant-a"), before);
  EXPECT_TRUE(holder->Running());

  // A limit above the usage works, and the pod follows its tenant down.
  after.total.memory_bytes = 96 * kMiB;
  after.pod_default = after.total;
  ASSERT_TRUE(cgroups_->SetBudget("tenant-a", after).ok());
  EXPECT_EQ(ReadNumber(Dir("memory", "tenant-a") + "/memory.limit_in_bytes"), 96 * kMiB);
  EXPECT_EQ(ReadNumber(Dir("memory", "tenant-a", "p") + "/memory.limit_in_bytes"), 96 * kMiB);
  EXPECT_EQ(ReadNumber(Dir("cpu", "tenant-a", "p") + "/cpu.cfs_quota_us"), 20'000);
  EXPECT_EQ(ReadNumber(Dir("pids", "tenant-a", "p") + "/pids.max"), 32);
  auto events = cgroups_->Events("tenant-a");
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->oom_kills, 0U) << "a refused limit must not kill";
}

TEST_F(BudgetTenantTest, PodLimitsAreItsOwnOrTheDefaultCappedAtTheTenantAndRemovalCleansUp) {
  TenantBudget budget;
  budget.total = {.cpu_quota_us = 100'000,
                  .cpu_period_us = 100'000,
                  .cpu_weight = 300,
                  .memory_bytes = 128 * kMiB,
                  .pids = 64};
  budget.pod_default = {.cpu_quota_us = 20'000,
                        .cpu_period_us = 100'000,
                        .cpu_weight = 100,
                        .memory_bytes = 32 * kMiB,
                        .pids = 16};
  ASSERT_TRUE(cgroups_->SetBudget("tenant-a", budget).ok());
  EXPECT_EQ(ReadNumber(Dir("cpu", "tenant-a") + "/cpu.shares"), 3072);
  auto defaults = cgroups_->AddPod("tenant-a", "plain");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(*defaults, budget.pod_default);
  Limits own;
  own.memory_bytes = 512 * kMiB;  // more than the tenant: capped
  own.pids = 20;
  auto capped = cgroups_->AddPod("tenant-a", "greedy", own);
  ASSERT_TRUE(capped.ok()) << capped.status();
  EXPECT_EQ(ReadNumber(Dir("memory", "tenant-a", "greedy") + "/memory.limit_in_bytes"), 128 * kMiB);
  EXPECT_EQ(ReadNumber(Dir("pids", "tenant-a", "greedy") + "/pids.max"), 20);
  EXPECT_EQ(ReadNumber(Dir("cpu", "tenant-a", "greedy") + "/cpu.cfs_quota_us"), 20'000);
  EXPECT_EQ(cgroups_->AddPod("tenant-a", "plain").status().code(),
            absl::StatusCode::kAlreadyExists);

  std::string greedy_dir = Dir("memory", "tenant-a", "greedy");
  ASSERT_TRUE(cgroups_->RemovePod("tenant-a", "greedy").ok());
  EXPECT_FALSE(testing::Exists(greedy_dir));
  std::string tenant_dir = Dir("pids", "tenant-a");
  ASSERT_TRUE(cgroups_->RemoveTenant("tenant-a").ok());
  EXPECT_FALSE(testing::Exists(tenant_dir));
  EXPECT_TRUE(cgroups_->Tenants().empty());
}

}  // namespace
}  // namespace bulkhead::agent::budgets
