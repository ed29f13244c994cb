#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "agent/budgets/cgroup_files.h"
#include "agent/budgets/events.h"
#include "agent/budgets/write_plan.h"

namespace bulkhead::agent::budgets {
namespace {

CgroupPlace V1Place(const std::string& relative) {
  CgroupPlace place;
  place.relative = relative;
  for (const char* c : {"cpu", "memory", "pids"}) {
    place.dirs.push_back({c, 1, fmt::format("/cg/{}", c), fmt::format("/cg/{}/{}", c, relative)});
  }
  return place;
}

CgroupPlace V2Place(const std::string& relative) {
  CgroupPlace place;
  place.relative = relative;
  for (const char* c : {"cpu", "memory", "pids"}) {
    place.dirs.push_back({c, 2, "/cg", fmt::format("/cg/{}", relative)});
  }
  return place;
}

Limits Some() {
  return {.cpu_quota_us = 20'000,
          .cpu_period_us = 100'000,
          .cpu_weight = 200,
          .memory_bytes = 64 << 20,
          .pids = 32};
}

std::vector<std::string> Render(const std::vector<CgroupValue>& values) {
  std::vector<std::string> out;
  out.reserve(values.size());
  for (const CgroupValue& v : values) {
    out.push_back(v.path() + "=" + v.value);
  }
  return out;
}

TEST(BudgetLimitValues, V1Files) {
  EXPECT_EQ(Render(LimitValues(V1Place("b/t"), Some())),
            (std::vector<std::string>{
                "/cg/cpu/b/t/cpu.cfs_period_us=100000", "/cg/cpu/b/t/cpu.cfs_quota_us=20000",
                "/cg/cpu/b/t/cpu.shares=2048", "/cg/memory/b/t/memory.limit_in_bytes=67108864",
                "/cg/pids/b/t/pids.max=32"}));
  EXPECT_EQ(Render(LimitValues(V1Place("b/t"), Limits{})),
            (std::vector<std::string>{
                "/cg/cpu/b/t/cpu.cfs_period_us=100000", "/cg/cpu/b/t/cpu.cfs_quota_us=-1",
                "/cg/cpu/b/t/cpu.shares=1024", "/cg/memory/b/t/memory.limit_in_bytes=-1",
                "/cg/pids/b/t/pids.max=max"}));
}

TEST(BudgetLimitValues, V2Files) {
  EXPECT_EQ(Render(LimitValues(V2Place("b/t"), Some())),
            (std::vector<std::string>{"/cg/b/t/cpu.max=20000 100000", "/cg/b/t/cpu.weight=200",
                                      "/cg/b/t/memory.max=67108864", "/cg/b/t/pids.max=32"}));
  EXPECT_EQ(Render(LimitValues(V2Place("b/t"), Limits{})),
            (std::vector<std::string>{"/cg/b/t/cpu.max=max 100000", "/cg/b/t/cpu.weight=100",
                                      "/cg/b/t/memory.max=max", "/cg/b/t/pids.max=max"}));
}

TEST(BudgetLimitValues, KnobsLeaveOtherFilesAlone) {
  Knobs knobs{.cpu_quota = false, .cpu_weight = false, .memory = true, .pids = false};
  EXPECT_EQ(Render(LimitValues(V2Place("p"), Some(), knobs)),
            (std::vector<std::string>{"/cg/p/memory.max=67108864"}));
}

FileReader Files(std::map<std::string, std::string> files) {
  return [files = std::move(files)](const std::string& path) -> StatusOr<std::string> {
    auto it = files.find(path);
    if (it == files.end()) {
      return absl::NotFoundError(path);
    }
    return it->second;
  };
}

TEST(BudgetReadLimits, V1AsTheKernelPrintsThem) {
  auto read = Files({{"/cg/cpu/p/cpu.cfs_period_us", "100000\n"},
                     {"/cg/cpu/p/cpu.cfs_quota_us", "-1\n"},
                     {"/cg/cpu/p/cpu.shares", "1024\n"},
                     {"/cg/memory/p/memory.limit_in_bytes", "9223372036854771712\n"},
                     {"/cg/pids/p/pids.max", "max\n"}});
  auto limits = ReadLimits(V1Place("p"), Knobs{}, read);
  ASSERT_TRUE(limits.ok()) << limits.status();
  EXPECT_EQ(*limits, (Limits{.cpu_quota_us = std::nullopt,
                             .cpu_period_us = 100'000,
                             .cpu_weight = 100,
                             .memory_bytes = std::nullopt,
                             .pids = std::nullopt}));
}

TEST(BudgetReadLimits, V2AsTheKernelPrintsThem) {
  auto read = Files({{"/cg/p/cpu.max", "50000 100000\n"},
                     {"/cg/p/cpu.weight", "79\n"},
                     {"/cg/p/memory.max", "134217728\n"},
                     {"/cg/p/pids.max", "100\n"}});
  auto limits = ReadLimits(V2Place("p"), Knobs{}, read);
  ASSERT_TRUE(limits.ok()) << limits.status();
  EXPECT_EQ(*limits, (Limits{.cpu_quota_us = 50'000,
                             .cpu_period_us = 100'000,
                             .cpu_weight = 79,
                             .memory_bytes = 134217728,
                             .pids = 100}));
}

TEST(BudgetReadLimits, MissingFileIsNotFound) {
  EXPECT_EQ(ReadLimits(V2Place("gone"), Knobs{}, Files({})).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(BudgetParse, LimitsAndMalformedText) {
  EXPECT_EQ(*ParseMaxOrNumber("max\n"), std::nullopt);
  EXPECT_EQ(*ParseMaxOrNumber("42\n"), 42);
  EXPECT_FALSE(ParseMaxOrNumber("-3").ok());
  EXPECT_FALSE(ParseMaxOrNumber("lots").ok());
  EXPECT_EQ(*ParseV1MemoryLimit("9223372036854771712\n"), std::nullopt);
  EXPECT_EQ(*ParseV1MemoryLimit("67108864\n"), 67108864);
  EXPECT_EQ(*ParseV1CpuQuota("-1\n"), std::nullopt);
  EXPECT_EQ(*ParseV1CpuQuota("20000\n"), 20000);
  auto max = ParseCpuMax("max 100000\n");
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max->quota_us, std::nullopt);
  EXPECT_EQ(max->period_us, 100000);
  EXPECT_FALSE(ParseCpuMax("100000").ok());
  EXPECT_EQ(ParseCpuMax("x 1").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(SharesFromWeight(100), 1024);
  EXPECT_EQ(SharesFromWeight(1), 10);
  EXPECT_EQ(WeightFromShares(1024), 100);
  EXPECT_EQ(WeightFromShares(2), 1);
}

// Counter files as Linux 6.x prints them.
constexpr std::string_view kV1OomControl = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
constexpr std::string_view kV2MemoryEvents =
    "low 0\nhigh 0\nmax 17\noom 2\noom_kill 2\noom_group_kill 0\n";
constexpr std::string_view kV1CpuStat =
    "nr_periods 120\nnr_throttled 80\nthrottled_time 4500000000\nnr_bursts 0\nburst_time 0\n";
constexpr std::string_view kV2CpuStat =
    "usage_usec 9000\nuser_usec 8000\nsystem_usec 1000\nnr_periods 50\nnr_throttled 7\n"
    "throttled_usec 123456\nnr_bursts 0\nburst_usec 0\n";

TEST(BudgetEvents, ParsesKernelCounters) {
  EXPECT_EQ(*ParseOomKills(1, kV1OomControl), 3U);
  EXPECT_EQ(*ParseOomKills(2, kV2MemoryEvents), 2U);
  auto v1 = ParseThrottling(1, kV1CpuStat);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->first, 80U);
  EXPECT_EQ(v1->second, 4'500'000U);  // ns -> us
  auto v2 = ParseThrottling(2, kV2CpuStat);
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->first, 7U);
  EXPECT_EQ(v2->second, 123456U);
  EXPECT_EQ(*ParsePidsRefusals("max 12\n"), 12U);
  EXPECT_EQ(ParsePidsRefusals("").status().code(), absl::StatusCode::kDataLoss);
  // A v2 cpu.stat without the cpu controller has no throttling lines.
  EXPECT_FALSE(ParseThrottling(2, "usage_usec 1\nuser_usec 1\nsystem_usec 0\n").ok());
}

TEST(BudgetEvents, Add) {
  TenantEvents a{1, 2, 3, 4};
  a += TenantEvents{10, 20, 30, 40};
  EXPECT_EQ(a, (TenantEvents{11, 22, 33, 44}));
}

PlannedWrite Write(std::string dir, std::string file, std::string previous, std::string next,
                   bool lowers) {
  return {
      {"memory", std::move(dir), std::move(file), std::move(next)}, std::move(previous), lowers};
}

TEST(BudgetOrderWrites, LowersDeepestFirstThenRaisesShallowestFirstAndSkipsUnchanged) {
  std::vector<PlannedWrite> writes = {
      Write("/cg/t", "memory.max", "100", "200", false),
      Write("/cg/t/p", "memory.max", "100", "50", true),
      Write("/cg/t", "pids.max", "10", "10", false),  // unchanged
      Write("/cg/t/p", "pids.max", "10", "20", false),
      Write("/cg/t", "cpu.max", "max 100000", "5000 100000", true),
  };
  std::vector<PlannedWrite> ordered = OrderWrites(writes);
  std::vector<std::string> order;
  order.reserve(ordered.size());
  for (const PlannedWrite& w : ordered) {
    order.push_back(w.next.path());
  }
  EXPECT_EQ(order, (std::vector<std::string>{"/cg/t/p/memory.max", "/cg/t/cpu.max",
                                             "/cg/t/memory.max", "/cg/t/p/pids.max"}));
}

TEST(BudgetLimitValues, SwapHeldAtTheMemoryLimitWhereTheKernelAccountsIt) {
  CgroupPlace v1 = V1Place("b/t");
  v1.dirs[1].swap = true;  // memory
  std::vector<std::string> values = Render(LimitValues(v1, Some()));
  EXPECT_NE(std::find(values.begin(), values.end(),
                      "/cg/memory/b/t/memory.memsw.limit_in_bytes=67108864"),
            values.end());
  values = Render(LimitValues(v1, Limits{}));
  EXPECT_NE(
      std::find(values.begin(), values.end(), "/cg/memory/b/t/memory.memsw.limit_in_bytes=-1"),
      values.end());
  CgroupPlace v2 = V2Place("b/t");
  v2.dirs[1].swap = true;
  values = Render(LimitValues(v2, Some()));
  EXPECT_NE(std::find(values.begin(), values.end(), "/cg/b/t/memory.swap.max=0"), values.end());
  values = Render(LimitValues(v2, Limits{}));
  EXPECT_NE(std::find(values.begin(), values.end(), "/cg/b/t/memory.swap.max=max"), values.end());
  // Not accounted: no swap file is written.
  for (const std::string& value : Render(LimitValues(V1Place("b/t"), Some()))) {
    EXPECT_EQ(value.find("memsw"), std::string::npos) << value;
  }
}

TEST(BudgetOrderWrites, V1MemoryStaysAtOrBelowMemoryPlusSwapAtEveryStep) {
  // Raising: memory plus swap first; lowering: memory first.
  std::vector<PlannedWrite> raise = {
      Write("/cg/t", "memory.limit_in_bytes", "100", "200", false),
      Write("/cg/t", "memory.memsw.limit_in_bytes", "100", "200", false),
  };
  std::vector<PlannedWrite> ordered = OrderWrites(raise);
  ASSERT_EQ(ordered.size(), 2U);
  EXPECT_EQ(ordered[0].next.file, "memory.memsw.limit_in_bytes");
  std::vector<PlannedWrite> lower = {
      Write("/cg/t", "memory.limit_in_bytes", "200", "100", true),
      Write("/cg/t", "memory.memsw.limit_in_bytes", "200", "100", true),
  };
  ordered = OrderWrites(lower);
  ASSERT_EQ(ordered.size(), 2U);
  EXPECT_EQ(ordered[0].next.file, "memory.limit_in_bytes");
}

TEST(BudgetApplyWrites, RestoresWhatWasWrittenWhenAWriteFails) {
  std::map<std::string, std::string> files = {
      {"/cg/a/memory.max", "100"}, {"/cg/b/memory.max", "100"}, {"/cg/c/memory.max", "100"}};
  std::vector<std::string> log;
  ValueWriter write = [&](const CgroupValue& value) -> Status {
    log.push_back(value.path() + "=" + value.value);
    if (value.dir == "/cg/c" && value.value == "50") {
      return absl::UnavailableError("write \"50\" to /cg/c/memory.max: Device or resource busy");
    }
    files[value.path()] = value.value;
    return absl::OkStatus();
  };
  Status status = ApplyWrites({Write("/cg/a", "memory.max", "100", "50", true),
                               Write("/cg/b", "memory.max", "100", "50", true),
                               Write("/cg/c", "memory.max", "100", "50", true)},
                              write);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(MessageOf(status).find("nothing applied, the previous limits are in force"),
            std::string::npos)
      << status;
  EXPECT_EQ(files["/cg/a/memory.max"], "100");
  EXPECT_EQ(files["/cg/b/memory.max"], "100");
  EXPECT_EQ(files["/cg/c/memory.max"], "100");
  EXPECT_EQ(log, (std::vector<std::string>{"/cg/a/memory.max=50", "/cg/b/memory.max=50",
                                           "/cg/c/memory.max=50", "/cg/b/memory.max=100",
                                           "/cg/a/memory.max=100"}));
}

TEST(BudgetApplyWrites, FailedRestoreIsDataLoss) {
  ValueWriter write = [](const CgroupValue& value) -> Status {
    return value.dir == "/cg/a" && value.value == "50" ? absl::OkStatus()
                                                       : absl::NotFoundError("gone");
  };
  Status status = ApplyWrites({Write("/cg/a", "memory.max", "100", "50", true),
                               Write("/cg/b", "memory.max", "100", "50", true)},
                              write);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(MessageOf(status).find("set the budget again"), std::string::npos) << status;
}

}  // namespace
}  // namespace bulkhead::agent::budgets
