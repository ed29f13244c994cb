#include <gtest/gtest.h>

#include "agent/budgets/cgroup_place.h"
#include "agent/budgets/enforcer.h"
#include "agent/budgets/kubelet_paths.h"

namespace bulkhead::agent::budgets {
namespace {

constexpr std::string_view kUid = "1b2c3d4e-0000-4a5b-8c9d-0123456789ab";

std::string Path(CgroupDriver driver, QosClass qos, std::string root = "/",
                 std::string prefix = "") {
  KubeletCgroupConfig config{driver, std::move(root), std::move(prefix)};
  auto path = PodCgroupPath(config, qos, kUid);
  EXPECT_TRUE(path.ok()) << path.status();
  return path.ok() ? *path : "";
}

TEST(BudgetPodCgroupPath, CgroupfsDriverForEachQosClass) {
  EXPECT_EQ(Path(CgroupDriver::kCgroupfs, QosClass::kGuaranteed),
            "kubepods/pod1b2c3d4e-0000-4a5b-8c9d-0123456789ab");
  EXPECT_EQ(Path(CgroupDriver::kCgroupfs, QosClass::kBurstable),
            "kubepods/burstable/pod1b2c3d4e-0000-4a5b-8c9d-0123456789ab");
  EXPECT_EQ(Path(CgroupDriver::kCgroupfs, QosClass::kBestEffort),
            "kubepods/besteffort/pod1b2c3d4e-0000-4a5b-8c9d-0123456789ab");
}

TEST(BudgetPodCgroupPath, SystemdDriverForEachQosClass) {
  EXPECT_EQ(Path(CgroupDriver::kSystemd, QosClass::kGuaranteed),
            "kubepods.slice/kubepods-pod1b2c3d4e_0000_4a5b_8c9d_0123456789ab.slice");
  EXPECT_EQ(Path(CgroupDriver::kSystemd, QosClass::kBurstable),
            "kubepods.slice/kubepods-burstable.slice/"
            "kubepods-burstable-pod1b2c3d4e_0000_4a5b_8c9d_0123456789ab.slice");
  EXPECT_EQ(Path(CgroupDriver::kSystemd, QosClass::kBestEffort),
            "kubepods.slice/kubepods-besteffort.slice/"
            "kubepods-besteffort-pod1b2c3d4e_0000_4a5b_8c9d_0123456789ab.slice");
}

TEST(BudgetPodCgroupPath, NestedKubeletCgroupRootAndTestPrefix) {
  EXPECT_EQ(Path(CgroupDriver::kCgroupfs, QosClass::kBurstable, "/kubelet", "bulkhead-test-7"),
            "bulkhead-test-7/kubelet/kubepods/burstable/pod1b2c3d4e-0000-4a5b-8c9d-0123456789ab");
  // The kubelet's --cgroup-root given as a slice under systemd...
  EXPECT_EQ(Path(CgroupDriver::kSystemd, QosClass::kBestEffort, "/kubelet.slice"),
            "kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
            "kubelet-kubepods-besteffort-pod1b2c3d4e_0000_4a5b_8c9d_0123456789ab.slice");
  // ... or in the cgroupfs form: the same place.
  EXPECT_EQ(Path(CgroupDriver::kSystemd, QosClass::kBestEffort, "/kubelet"),
            Path(CgroupDriver::kSystemd, QosClass::kBestEffort, "/kubelet.slice"));
  // A root part with '-' is escaped like the kubelet does.
  EXPECT_EQ(Path(CgroupDriver::kSystemd, QosClass::kGuaranteed, "/my-root"),
            "my_root.slice/my_root-kubepods.slice/"
            "my_root-kubepods-pod1b2c3d4e_0000_4a5b_8c9d_0123456789ab.slice");
  KubeletCgroupConfig nested{CgroupDriver::kSystemd, "/a.slice/a-b_c.slice", ""};
  EXPECT_EQ(CgroupRootParts(nested), (std::vector<std::string>{"a", "b-c"}));
}

TEST(BudgetPodCgroupPath, RejectsUidsThatAreNotUids) {
  KubeletCgroupConfig config;
  for (const char* bad : {"", "../../etc", "a/b", "pod uid", "x.y"}) {
    EXPECT_EQ(PodCgroupPath(config, QosClass::kBurstable, bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

// Under a kubelet a pod is found by its uid; a budget that would leave a
// local pod out is refused before any cgroup is read or written.
TEST(BudgetKubeletEnforcer, PodsWithoutUidAreRefusedByName) {
  auto enforcer = MakeKubeletEnforcer(CgroupLayout{}, KubeletCgroupConfig{});
  TenantBudget budget;
  budget.total.pids = 64;
  Status status = enforcer->Apply("team-a", budget,
                                  {{"web-1", "", QosClass::kBurstable},
                                   {"web-2", "0e57-aa", QosClass::kBurstable},
                                   {"web-3", "", QosClass::kGuaranteed}});
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_NE(MessageOf(status).find("pod(s) web-1, web-3 of tenant team-a have no uid"),
            std::string::npos)
      << status;
  EXPECT_TRUE(enforcer->Tenants().empty());
  EXPECT_EQ(enforcer->Mode(), "kubelet");
}

TEST(BudgetParseNames, DriverAndQosClass) {
  EXPECT_EQ(*ParseCgroupDriver("systemd"), CgroupDriver::kSystemd);
  EXPECT_EQ(*ParseCgroupDriver("cgroupfs"), CgroupDriver::kCgroupfs);
  EXPECT_EQ(ParseCgroupDriver("docker").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*ParseQosClass("Guaranteed"), QosClass::kGuaranteed);
  EXPECT_EQ(*ParseQosClass("Burstable"), QosClass::kBurstable);
  EXPECT_EQ(*ParseQosClass("BestEffort"), QosClass::kBestEffort);
  EXPECT_EQ(ParseQosClass("besteffort").status().code(), absl::StatusCode::kInvalidArgument);
}

CgroupLayout HybridLayout() {  // this project's CI machine: v1 controllers, empty v2 mount
  CgroupLayout layout;
  layout.mode = CgroupMode::kHybrid;
  layout.unified_mount = "/sys/fs/cgroup/unified";
  for (const char* c : {"cpu", "cpuacct", "memory", "pids"}) {
    layout.controllers.push_back({c, 1, fmt::format("/sys/fs/cgroup/{}", c)});
  }
  return layout;
}

CgroupLayout V2Layout() {
  CgroupLayout layout;
  layout.mode = CgroupMode::kV2;
  layout.unified_mount = "/sys/fs/cgroup";
  for (const char* c : {"cpu", "io", "memory", "pids"}) {
    layout.controllers.push_back({c, 2, "/sys/fs/cgroup"});
  }
  return layout;
}

TEST(BudgetResolveCgroupPlace, V1HasOneDirectoryPerController) {
  auto place = ResolveCgroupPlace(HybridLayout(), "kubepods/burstable/podx", {"cpu", "memory"},
                                  {"pids", "hugetlb"});
  ASSERT_TRUE(place.ok()) << place.status();
  EXPECT_EQ(place->relative, "kubepods/burstable/podx");
  ASSERT_EQ(place->dirs.size(), 3U);
  EXPECT_EQ(place->Find("cpu")->path, "/sys/fs/cgroup/cpu/kubepods/burstable/podx");
  EXPECT_EQ(place->Find("memory")->path, "/sys/fs/cgroup/memory/kubepods/burstable/podx");
  EXPECT_EQ(place->Find("pids")->version, 1);
  EXPECT_EQ(place->Find("hugetlb"), nullptr);
  EXPECT_EQ(place->Paths().size(), 3U);
}

TEST(BudgetResolveCgroupPlace, V2HasOneDirectoryForAll) {
  KubeletCgroupConfig config{CgroupDriver::kSystemd, "/", ""};
  auto path = PodCgroupPath(config, QosClass::kGuaranteed, kUid);
  ASSERT_TRUE(path.ok());
  auto place = ResolveCgroupPlace(V2Layout(), *path, {"cpu", "memory", "pids"}, {"cpuacct"});
  ASSERT_TRUE(place.ok()) << place.status();
  EXPECT_EQ(place->Find("memory")->path,
            "/sys/fs/cgroup/kubepods.slice/kubepods-pod1b2c3d4e_0000_4a5b_8c9d_0123456789ab.slice");
  EXPECT_EQ(place->Find("cpu")->version, 2);
  EXPECT_EQ(place->Paths().size(), 1U);
  EXPECT_EQ(place->Find("cpuacct"), nullptr) << "v2 has no cpuacct; cpu.stat accounts";
}

TEST(BudgetResolveCgroupPlace, MissingControllerIsFailedPreconditionWithWhatToDo) {
  CgroupLayout layout = HybridLayout();
  std::erase_if(layout.controllers, [](const auto& c) { return c.controller == "pids"; });
  auto place = ResolveCgroupPlace(layout, "bulkhead/a", {"cpu", "pids"});
  ASSERT_FALSE(place.ok());
  EXPECT_EQ(place.status().code(), absl::StatusCode::kFailedPrecondition);
  std::string message = MessageOf(place.status());
  EXPECT_NE(message.find("the pids controller is not available"), std::string::npos) << message;
  EXPECT_NE(message.find("cgroup mode hybrid"), std::string::npos) << message;
  EXPECT_NE(message.find("/sys/fs/cgroup/unified/cgroup.controllers"), std::string::npos)
      << message;
}

TEST(BudgetResolveCgroupPlace, RejectsEscapingPaths) {
  EXPECT_EQ(ResolveCgroupPlace(HybridLayout(), "bulkhead/../etc", {"cpu"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveCgroupPlace(HybridLayout(), "/abs", {"cpu"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BudgetJoinCgroupPath, DropsEmptyParts) {
  EXPECT_EQ(JoinCgroupPath("", "a"), "a");
  EXPECT_EQ(JoinCgroupPath("a/", "/b/c"), "a/b/c");
  EXPECT_EQ(JoinCgroupPath("", ""), "");
}

}  // namespace
}  // namespace bulkhead::agent::budgets
