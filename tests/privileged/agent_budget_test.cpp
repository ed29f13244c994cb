// Budgets through the whole agent: the agent binary on a real netns test
// node takes a tenant's budget over the gRPC API (`bulkhead tenant budget`),
// writes it into real cgroups (v1 on this machine), and reports what the
// kernel then does (refused forks, OOM kills) in its metrics, its events
// and `bulkhead node status`. Both placements: pods under a kubelet's
// cgroupfs tree (per-pod ceilings) and pods placed below tenant parents.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/strings.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "tests/privileged/agent_fixture.h"
#include "tests/privileged/budget_fixture.h"

namespace bulkhead::testing {
namespace {

using agent::budgets::testing::ForkBomb;
using agent::budgets::testing::HoldMemory;
using agent::budgets::testing::ReadNumber;
using agent::budgets::testing::ReadTrimmed;
using agent::budgets::testing::TestCgroupRoots;
using agent::budgets::testing::TestProcess;

constexpr int64_t kMiB = int64_t{1} << 20;

// A test node whose agent writes budgets into cgroups below a prefix of
// the test's own in every v1 hierarchy (removed in TearDown, with anything
// still running there).
class AgentBudgetTest : public AgentProcessTest {
 protected:
  void BeforeAgent() override {
    agent::budgets::testing::BecomeSubreaper();
    auto roots = TestCgroupRoots::Make();
    ASSERT_TRUE(roots.ok()) << roots.status();
    roots_.emplace(std::move(*roots));
    for (const char* controller : {"cpu", "cpuacct", "memory", "pids"}) {
      auto placement = roots_->layout().Find(controller);
      if (!placement || placement->version != 1) {
        // The v2 files and paths are covered by budget_kubelet_test as far as
        // a node's v2 mount allows; this test reads v1 files.
        GTEST_SKIP() << "these cases read cgroup v1 files and " << controller
                     << " is not a v1 controller on this node";
      }
    }
  }

  void TearDown() override {
    processes_.clear();  // kill and reap them first
    AgentProcessTest::TearDown();
    if (roots_) {
      Status removed = roots_->Remove();
      EXPECT_TRUE(removed.ok()) << removed;
    }
    agent::budgets::testing::ReapOrphans();
  }

  // The directory of `relative` (below the prefix) in `controller`'s hierarchy.
  std::string Dir(const std::string& controller, const std::string& relative) const {
    auto placement = roots_->layout().Find(controller);
    return placement ? fmt::format("{}/{}/{}", placement->mount_point, roots_->prefix(), relative)
                     : "/nonexistent";
  }

  // Starts `body` in the cgroup `relative` of every hierarchy, then lets it run.
  TestProcess* StartIn(const std::string& relative, const TestProcess::Body& body) {
    auto process = TestProcess::Start(body);
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) {
      return nullptr;
    }
    for (const char* controller : {"cpu", "cpuacct", "memory", "pids"}) {
      std::ofstream(Dir(controller, relative) + "/cgroup.procs") << process->pid();
    }
    EXPECT_TRUE(process->Go().ok());
    processes_.push_back(std::make_unique<TestProcess>(std::move(*process)));
    return processes_.back().get();
  }

  CommandResult SetBudget(const std::string& stem, const std::string& yaml) {
    std::string file = dir_ + "/budget.yaml";
    std::ofstream(file) << yaml;
    return Cli(stem, {"tenant", "budget", "-f", file});
  }

  // The admin's bounds of `tenant` with this budget ceiling ("{pids: 16}").
  CommandResult SetCeiling(const std::string& tenant, const std::string& ceiling) {
    std::string file = dir_ + "/bounds.yaml";
    std::ofstream(file) << fmt::format("tenant: {}\nbudget_ceiling: {}\n", tenant, ceiling);
    return Cli("admin", {"tenant", "bounds", "-f", file});
  }

  // Polls `path` until it reads `want` or `limit` passes; what it read last.
  static std::string WaitForContent(const std::string& path, const std::string& want,
                                    std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    std::string seen = ReadTrimmed(path);
    while (seen != want && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      seen = ReadTrimmed(path);
    }
    return seen;
  }

  // `bulkhead node status -o json` as `stem`.
  nlohmann::json NodeStatus(const std::string& stem) {
    auto result = Cli(stem, {"node", "status", "-o", "json"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return nlohmann::json::parse(result.out, nullptr, false);
  }

  static nlohmann::json TenantIn(const nlohmann::json& status, const std::string& tenant) {
    for (const auto& entry : status.value("tenants", nlohmann::json::array())) {
      if (entry.value("name", "") == tenant) {
        return entry;
      }
    }
    return nlohmann::json::object();
  }

  std::optional<TestCgroupRoots> roots_;
  std::vector<std::unique_ptr<TestProcess>> processes_;
};

// Under a kubelet (cgroupfs driver, --cgroup-root /<prefix>): each pod has
// its own cgroup kubepods/burstable/pod<uid>, made here as the kubelet
// would, and the endpoints file gives every pod's uid and QoS class.
class AgentKubeletBudgetTest : public AgentBudgetTest {
 protected:
  static std::string Uid(const TestPod& pod) { return "0e57-" + pod.name; }
  static std::string PodCgroup(const TestPod& pod) { return "kubepods/burstable/pod" + Uid(pod); }

  void BeforeAgent() override {
    AgentBudgetTest::BeforeAgent();
    if (HasFatalFailure()) {
      return;
    }
    for (const char* controller : {"cpu", "cpuacct", "memory", "pids"}) {
      for (const TestPod* pod : {a1_, a2_, b1_, b2_, c1_}) {
        std::error_code error;
        std::filesystem::create_directories(Dir(controller, PodCgroup(*pod)), error);
        ASSERT_FALSE(error) << Dir(controller, PodCgroup(*pod)) << ": " << error.message();
      }
    }
  }
  [[nodiscard]] std::vector<std::string> AgentFlags() const override {
    return {"--budgets",
            "kubelet",
            "--kubelet-cgroup-driver",
            "cgroupfs",
            "--kubelet-cgroup-root",
            "/" + roots_->prefix()};
  }
  [[nodiscard]] std::string EndpointFields(const TestPod& pod) const override {
    return fmt::format(", uid: {}, qos: Burstable", Uid(pod));
  }
};

TEST_F(AgentKubeletBudgetTest, BudgetBecomesPodCeilingsAndTheKernelsRefusalsAreReported) {
  // Without a ceiling from the admin a tenant may not set its own budget
  // (it would be unlimited), and no cgroup is written.
  auto unbounded =
      SetBudget("tenant-team-a", "tenant: team-a\ntotal: {memory_bytes: 134217728, pids: 16}\n");
  EXPECT_EQ(unbounded.exit_code, 1) << unbounded.out;
  EXPECT_NE(unbounded.err.find("PERMISSION_DENIED: tenant team-a has no budget ceiling"),
            std::string::npos)
      << unbounded.err;
  EXPECT_NE(unbounded.err.find("ask the admin"), std::string::npos) << unbounded.err;
  EXPECT_EQ(ReadTrimmed(Dir("pids", PodCgroup(*a1_)) + "/pids.max"), "max");

  auto ceiling = SetCeiling("team-a", "{memory_bytes: 268435456, pids: 32}");
  ASSERT_EQ(ceiling.exit_code, 0) << ceiling.err;
  auto set =
      SetBudget("tenant-team-a", "tenant: team-a\ntotal: {memory_bytes: 134217728, pids: 16}\n");
  ASSERT_EQ(set.exit_code, 0) << set.err << agent_->Output();
  EXPECT_EQ(set.out, "tenant team-a budget set\n");

  // Two pods of team-a on this node share the budget: 8 pids and 64 MiB each.
  for (const TestPod* pod : {a1_, a2_}) {
    EXPECT_EQ(ReadTrimmed(Dir("pids", PodCgroup(*pod)) + "/pids.max"), "8") << pod->name;
    EXPECT_EQ(ReadNumber(Dir("memory", PodCgroup(*pod)) + "/memory.limit_in_bytes"), 64 * kMiB)
        << pod->name;
  }
  // Other tenants' pods are not touched.
  EXPECT_EQ(ReadTrimmed(Dir("pids", PodCgroup(*b1_)) + "/pids.max"), "max");

  // A bounded fork bomb in a1 stops at its ceiling: itself and 7 children.
  constexpr int kAttempts = 40;
  TestProcess* bomb =
      StartIn(PodCgroup(*a1_), [](int go, int report) { return ForkBomb(go, report, kAttempts); });
  ASSERT_NE(bomb, nullptr);
  auto forked = bomb->ReadReport();
  auto refused = bomb->ReadReport();
  ASSERT_TRUE(forked.ok() && refused.ok());
  EXPECT_EQ(*forked, 7);
  ASSERT_EQ(*refused, kAttempts - 7);

  // The metrics count every refusal, and the agent raised an event.
  double counted = WaitForMetric(
      "bulkhead_tenant_budget_events_total{node=\"test-node\",tenant=\"team-a\","
      "event=\"pids_refused\"}",
      static_cast<double>(*refused));
  EXPECT_EQ(counted, static_cast<double>(*refused)) << Metrics();
  EXPECT_GE(WaitForMetric("bulkhead_agent_events_total{node=\"test-node\",tenant=\"team-a\","
                          "kind=\"pids-refused\"}",
                          1),
            1)
      << Metrics();
  EXPECT_GE(WaitForMetric("bulkhead_tenant_budget_usage{node=\"test-node\",tenant=\"team-a\","
                          "resource=\"pids\"}",
                          8),
            8)
      << Metrics();

  // `bulkhead node status` shows the same to the tenant.
  auto status = NodeStatus("tenant-team-a");
  EXPECT_EQ(status.value("budget_mode", ""), "kubelet") << status.dump();
  auto team_a = TenantIn(status, "team-a");
  EXPECT_EQ(team_a["budget_events"].value("pids_refusals", "0"), std::to_string(*refused))
      << status.dump();
  EXPECT_FALSE(team_a.contains("budget_error")) << status.dump();
  auto text = Cli("tenant-team-a", {"node", "status"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("budgets: kubelet\n"), std::string::npos) << text.out;
  std::string row;
  for (std::string_view line : SplitNonEmpty(text.out, "\n")) {
    if (line.starts_with("team-a ") && line.ends_with("in force")) {
      row = std::string(line);
    }
  }
  // Memory used of 134217728, pids used of 16, then OOM kills 0 and the refusals.
  EXPECT_NE(row.find("/134217728"), std::string::npos) << text.out;
  EXPECT_NE(row.find("/16 "), std::string::npos) << text.out;
  EXPECT_NE(row.find(fmt::format(" 0 {:>12} ", *refused)), std::string::npos) << text.out;

  // Memory budgets hold swap too: memory plus swap at the ceiling.
  if (roots_->layout().Find("memory")->swap) {
    for (const TestPod* pod : {a1_, a2_}) {
      EXPECT_EQ(ReadNumber(Dir("memory", PodCgroup(*pod)) + "/memory.memsw.limit_in_bytes"),
                64 * kMiB)
          << pod->name;
    }
    EXPECT_TRUE(status.value("budget_swap_limited", false)) << status.dump();
  }

  // A budget too small for the pods is refused and every ceiling stays.
  auto small =
      SetBudget("tenant-team-a", "tenant: team-a\ntotal: {memory_bytes: 134217728, pids: 9}\n");
  EXPECT_EQ(small.exit_code, 1) << small.out;
  EXPECT_NE(small.err.find("pids"), std::string::npos) << small.err;
  EXPECT_EQ(ReadTrimmed(Dir("pids", PodCgroup(*a2_)) + "/pids.max"), "8");
  EXPECT_EQ(TenantIn(NodeStatus("admin"), "team-a")["budget"]["total"].value("pids", ""), "16");
}

TEST_F(AgentKubeletBudgetTest, LoweringTheCeilingLowersTheBudgetInTheKernel) {
  ASSERT_EQ(SetCeiling("team-a", "{memory_bytes: 268435456, pids: 64}").exit_code, 0);
  auto set =
      SetBudget("tenant-team-a", "tenant: team-a\ntotal: {memory_bytes: 268435456, pids: 64}\n");
  ASSERT_EQ(set.exit_code, 0) << set.err << agent_->Output();
  EXPECT_EQ(ReadTrimmed(Dir("pids", PodCgroup(*a1_)) + "/pids.max"), "32");
  EXPECT_EQ(ReadNumber(Dir("memory", PodCgroup(*a1_)) + "/memory.limit_in_bytes"), 128 * kMiB);

  // The admin lowers the ceiling: the budget under it follows, and so do the
  // pods' cgroups, without the tenant doing anything.
  auto lowered = SetCeiling("team-a", "{memory_bytes: 67108864, pids: 16}");
  ASSERT_EQ(lowered.exit_code, 0) << lowered.err << agent_->Output();
  for (const TestPod* pod : {a1_, a2_}) {
    EXPECT_EQ(ReadTrimmed(Dir("pids", PodCgroup(*pod)) + "/pids.max"), "8") << pod->name;
    EXPECT_EQ(ReadNumber(Dir("memory", PodCgroup(*pod)) + "/memory.limit_in_bytes"), 32 * kMiB)
        << pod->name;
  }
  auto total = TenantIn(NodeStatus("tenant-team-a"), "team-a")["budget"]["total"];
  EXPECT_EQ(total.value("pids", ""), "16") << total.dump();
  EXPECT_EQ(total.value("memory_bytes", ""), "67108864") << total.dump();
  // And the tenant cannot go back above it.
  auto above =
      SetBudget("tenant-team-a", "tenant: team-a\ntotal: {memory_bytes: 268435456, pids: 64}\n");
  EXPECT_EQ(above.exit_code, 1);
  EXPECT_NE(above.err.find("PERMISSION_DENIED"), std::string::npos) << above.err;

  // A ceiling the pods cannot fit under (16 pids shared by two pods is the
  // floor; 9 is not) is refused and changes nothing.
  auto tight = SetCeiling("team-a", "{pids: 9}");
  EXPECT_EQ(tight.exit_code, 1) << tight.out;
  EXPECT_NE(tight.err.find("the bounds were not changed"), std::string::npos) << tight.err;
  EXPECT_EQ(ReadTrimmed(Dir("pids", PodCgroup(*a1_)) + "/pids.max"), "8");
}

// The agent runs with --budget-resync 1: a pod cgroup changed or made again
// behind its back gets its ceiling back within a few resyncs.
class AgentKubeletResyncTest : public AgentKubeletBudgetTest {
 protected:
  [[nodiscard]] std::vector<std::string> AgentFlags() const override {
    std::vector<std::string> flags = AgentKubeletBudgetTest::AgentFlags();
    flags.insert(flags.end(), {"--budget-resync", "1"});
    return flags;
  }
};

TEST_F(AgentKubeletResyncTest, PodCgroupsChangedBehindTheAgentsBackGetTheirCeilingsBack) {
  auto set = SetBudget("admin", "tenant: team-a\ntotal: {memory_bytes: 134217728, pids: 16}\n");
  ASSERT_EQ(set.exit_code, 0) << set.err << agent_->Output();
  std::string pids = Dir("pids", PodCgroup(*a1_)) + "/pids.max";
  std::string memory = Dir("memory", PodCgroup(*a1_)) + "/memory.limit_in_bytes";
  ASSERT_EQ(ReadTrimmed(pids), "8");

  // A limit lifted in place (as a resize or a stray write would).
  std::ofstream(pids) << "max";
  if (roots_->layout().Find("memory")->swap) {
    // v1 keeps memory at or below memory plus swap: lift that first.
    std::ofstream(Dir("memory", PodCgroup(*a1_)) + "/memory.memsw.limit_in_bytes") << "-1";
  }
  std::ofstream(memory) << "-1";
  ASSERT_EQ(ReadTrimmed(pids), "max");
  ASSERT_GE(ReadNumber(memory), int64_t{1} << 62) << "the memory limit was not lifted";
  EXPECT_EQ(WaitForContent(pids, "8", std::chrono::seconds(20)), "8") << agent_->Output();
  EXPECT_EQ(WaitForContent(memory, std::to_string(64 * kMiB), std::chrono::seconds(20)),
            std::to_string(64 * kMiB));

  // The pod's cgroup made again (a new sandbox): fresh, unlimited values.
  for (const char* controller : {"cpu", "cpuacct", "memory", "pids"}) {
    std::string dir = Dir(controller, PodCgroup(*a2_));
    ASSERT_EQ(::rmdir(dir.c_str()), 0) << dir << ": " << std::strerror(errno);
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir << ": " << std::strerror(errno);
  }
  std::string a2_pids = Dir("pids", PodCgroup(*a2_)) + "/pids.max";
  ASSERT_EQ(ReadTrimmed(a2_pids), "max");
  EXPECT_EQ(WaitForContent(a2_pids, "8", std::chrono::seconds(20)), "8") << agent_->Output();
  // Other tenants' pods stay untouched.
  EXPECT_EQ(ReadTrimmed(Dir("pids", PodCgroup(*b1_)) + "/pids.max"), "max");
}

// Pods placed by the agent's runtime: each tenant is a parent cgroup below
// --budget-cgroup-root and the kernel enforces the tenant's sum.
class AgentPlacedBudgetTest : public AgentBudgetTest {
 protected:
  [[nodiscard]] std::vector<std::string> AgentFlags() const override {
    return {"--budgets", "placed", "--budget-cgroup-root", roots_->prefix()};
  }
};

TEST_F(AgentPlacedBudgetTest, MemoryHogIsKilledAtItsTenantBudgetAndTheKillIsReported) {
  auto set = SetBudget("admin", "tenant: team-b\ntotal: {memory_bytes: 67108864}\n");
  ASSERT_EQ(set.exit_code, 0) << set.err << agent_->Output();
  EXPECT_EQ(ReadNumber(Dir("memory", "team-b") + "/memory.limit_in_bytes"), 64 * kMiB);
  if (roots_->layout().Find("memory")->swap) {
    // Swap cannot take the tenant past its memory budget.
    EXPECT_EQ(ReadNumber(Dir("memory", "team-b") + "/memory.memsw.limit_in_bytes"), 64 * kMiB);
  }
  // The source's pods of team-b got their cgroups below the tenant.
  EXPECT_TRUE(std::filesystem::is_directory(Dir("memory", "team-b/b1")));
  EXPECT_TRUE(std::filesystem::is_directory(Dir("memory", "team-b/b2")));
  EXPECT_FALSE(std::filesystem::exists(Dir("memory", "team-a")));

  // The hog asks for four times the budget.
  TestProcess* hog = StartIn(
      "team-b/b1", [](int go, int report) { return HoldMemory(go, report, 256 * kMiB, 0x11); });
  ASSERT_NE(hog, nullptr);
  int wait_status = hog->Wait();
  ASSERT_TRUE(WIFSIGNALED(wait_status)) << "the hog was not stopped; wait status " << wait_status;
  EXPECT_EQ(WTERMSIG(wait_status), SIGKILL);

  EXPECT_GE(WaitForMetric("bulkhead_tenant_budget_events_total{node=\"test-node\","
                          "tenant=\"team-b\",event=\"oom_kill\"}",
                          1),
            1)
      << Metrics();
  EXPECT_GE(WaitForMetric("bulkhead_agent_events_total{node=\"test-node\",tenant=\"team-b\","
                          "kind=\"oom-kill\"}",
                          1),
            1)
      << Metrics();
  auto status = NodeStatus("tenant-team-b");
  EXPECT_EQ(status.value("budget_mode", ""), "placed") << status.dump();
  EXPECT_GE(std::stoi(TenantIn(status, "team-b")["budget_events"].value("oom_kills", "0")), 1)
      << status.dump();
  // A tenant's certificate does not see another tenant's budget.
  EXPECT_TRUE(TenantIn(NodeStatus("tenant-team-a"), "team-b").empty());

  // The source stops listing both of team-b's pods while b2 runs a process:
  // the empty b1 loses its cgroup, b2 keeps it and its process lives on.
  TestProcess* sleeper = StartIn("team-b/b2", [](int go, int /*report*/) {
    agent::budgets::testing::AwaitGo(go);
    return 0;
  });
  ASSERT_NE(sleeper, nullptr);
  std::string text =
      fmt::format("node_address: {}\npod_networks: [{}]\nendpoints:\n", kNodeV4, kPodNetworkV4);
  for (const TestPod* pod : {a1_, a2_, c1_}) {
    text += fmt::format("- {{tenant: {}, pod: {}, addresses: [{}], cgroup: {}}}\n", pod->tenant,
                        pod->name, pod->ipv4, pod->cgroup);
  }
  std::ofstream(dir_ + "/endpoints.yaml.new") << text;
  std::filesystem::rename(dir_ + "/endpoints.yaml.new", dir_ + "/endpoints.yaml");
  ASSERT_TRUE(agent_->WaitForText("source applied", kAgentReady)) << agent_->Output();
  ASSERT_TRUE(agent_->WaitForText("processes still run in its cgroup", kAgentReady))
      << agent_->Output();
  EXPECT_FALSE(std::filesystem::exists(Dir("memory", "team-b/b1")));
  EXPECT_TRUE(std::filesystem::is_directory(Dir("memory", "team-b/b2")));
  EXPECT_TRUE(sleeper->Running()) << "the agent killed a pod the source stopped listing";
}

}  // namespace
}  // namespace bulkhead::testing
