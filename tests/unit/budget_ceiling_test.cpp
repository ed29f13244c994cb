#include <gtest/gtest.h>

#include <numeric>

#include "agent/budgets/ceiling.h"

namespace bulkhead::agent::budgets {
namespace {

using Demands = std::vector<std::optional<int64_t>>;

int64_t Sum(const Demands& values) {
  int64_t sum = 0;
  for (const auto& value : values) {
    sum += value.value_or(0);
  }
  return sum;
}

TEST(BudgetShareMaxMinFair, DemandsThatFitAreKept) {
  Demands demands = {100, 200, std::nullopt};
  EXPECT_EQ(ShareMaxMinFair(demands, std::nullopt), demands);
  // With a total, an unlimited demand gets what is left.
  EXPECT_EQ(ShareMaxMinFair({100, 200, std::nullopt}, 1000), (Demands{100, 200, 700}));
  EXPECT_EQ(ShareMaxMinFair({100, 200}, 1000), (Demands{100, 200}));
}

TEST(BudgetShareMaxMinFair, WaterFillsWhenDemandsExceedTotal) {
  // Level L with min(100, L) + min(500, L) + min(900, L) = 900: L = 400.
  EXPECT_EQ(ShareMaxMinFair({900, 100, 500}, 900), (Demands{400, 100, 400}));
  // Everyone above the equal split: an equal split.
  EXPECT_EQ(ShareMaxMinFair({std::nullopt, std::nullopt, std::nullopt}, 900),
            (Demands{300, 300, 300}));
  EXPECT_EQ(ShareMaxMinFair({}, 900), Demands{});
}

TEST(BudgetShareMaxMinFair, PropertiesHoldOnManyInputs) {
  // Never above a demand, never above the total in sum, and when cut, cut to
  // one level (max-min fairness).
  for (int64_t total : {0, 1, 7, 100, 999, 12345}) {
    for (int n = 1; n <= 6; ++n) {
      Demands demands;
      for (int i = 0; i < n; ++i) {
        demands.push_back(i % 3 == 2 ? std::nullopt : std::optional<int64_t>((i * 37 + 11) % 400));
      }
      Demands shares = ShareMaxMinFair(demands, total);
      ASSERT_EQ(shares.size(), demands.size());
      EXPECT_LE(Sum(shares), total);
      std::optional<int64_t> level;
      for (size_t i = 0; i < shares.size(); ++i) {
        ASSERT_TRUE(shares[i].has_value());
        if (demands[i]) {
          EXPECT_LE(*shares[i], *demands[i]);
        }
        if (shares[i] != demands[i]) {
          if (level) {
            EXPECT_EQ(*shares[i], *level) << "cut pods share one level";
          }
          level = shares[i];
        }
      }
      if (level) {
        for (size_t i = 0; i < shares.size(); ++i) {
          if (shares[i] == demands[i]) {
            EXPECT_LE(*demands[i], *level) << "a pod kept whole asked for no more than the level";
          }
        }
      }
    }
  }
}

TenantBudget Budget() {
  TenantBudget budget;
  budget.total.cpu_quota_us = 100'000;
  budget.total.memory_bytes = int64_t{300} << 20;
  budget.total.pids = 90;
  budget.pod_default.cpu_quota_us = 80'000;
  budget.pod_default.memory_bytes = int64_t{200} << 20;
  budget.pod_default.pids = 60;
  return budget;
}

TEST(BudgetComputeCeilings, OnePodGetsItsDemandCappedByTotal) {
  auto ceilings = ComputeCeilings(Budget(), {{"p1", {}}});
  ASSERT_TRUE(ceilings.ok()) << ceilings.status();
  ASSERT_EQ(ceilings->size(), 1U);
  EXPECT_EQ((*ceilings)[0].uid, "p1");
  EXPECT_EQ((*ceilings)[0].ceiling.cpu_quota_us, 80'000);  // the default fits
  EXPECT_EQ((*ceilings)[0].ceiling.memory_bytes, int64_t{200} << 20);
  EXPECT_EQ((*ceilings)[0].ceiling.pids, 60);
}

TEST(BudgetComputeCeilings, PodsTogetherStayWithinTotalAndOwnLimitsAreNeverRaised) {
  Limits small;  // the pod set tight limits for itself
  small.cpu_quota_us = 10'000;
  small.memory_bytes = int64_t{32} << 20;
  small.pids = 10;
  Limits big;  // and one set limits above the whole budget
  big.cpu_quota_us = 400'000;
  big.memory_bytes = int64_t{4} << 30;
  big.pids = 10'000;
  auto ceilings = ComputeCeilings(Budget(), {{"small", small}, {"big", big}, {"none", {}}});
  ASSERT_TRUE(ceilings.ok()) << ceilings.status();
  const Limits& s = (*ceilings)[0].ceiling;
  const Limits& b = (*ceilings)[1].ceiling;
  const Limits& d = (*ceilings)[2].ceiling;
  EXPECT_EQ(s.cpu_quota_us, 10'000);
  EXPECT_EQ(s.memory_bytes, int64_t{32} << 20);
  EXPECT_EQ(s.pids, 10);
  // 100 ms - 10 ms left for two pods: 45 ms each.
  EXPECT_EQ(b.cpu_quota_us, 45'000);
  EXPECT_EQ(d.cpu_quota_us, 45'000);
  // 300 MiB - 32 MiB = 268 MiB for two: 134 MiB each.
  EXPECT_EQ(b.memory_bytes, int64_t{134} << 20);
  EXPECT_EQ(d.memory_bytes, int64_t{134} << 20);
  EXPECT_EQ(b.pids, 40);
  EXPECT_EQ(d.pids, 40);
  EXPECT_LE(*s.cpu_quota_us + *b.cpu_quota_us + *d.cpu_quota_us, 100'000);
  EXPECT_LE(*s.memory_bytes + *b.memory_bytes + *d.memory_bytes, int64_t{300} << 20);
  EXPECT_LE(*s.pids + *b.pids + *d.pids, 90);
}

TEST(BudgetComputeCeilings, CpuIsComparedAcrossPeriodsAndWrittenInThePodsPeriod) {
  TenantBudget budget;
  budget.total.cpu_quota_us = 100'000;  // one CPU
  Limits fast;                          // 1.5 CPU in a 10 ms period
  fast.cpu_quota_us = 15'000;
  fast.cpu_period_us = 10'000;
  Limits slow;  // 1 CPU in a 200 ms period
  slow.cpu_quota_us = 200'000;
  slow.cpu_period_us = 200'000;
  auto ceilings = ComputeCeilings(budget, {{"fast", fast}, {"slow", slow}});
  ASSERT_TRUE(ceilings.ok()) << ceilings.status();
  // Half a CPU each, in each pod's own period.
  EXPECT_EQ((*ceilings)[0].ceiling.cpu_period_us, 10'000);
  EXPECT_EQ((*ceilings)[0].ceiling.cpu_quota_us, 5'000);
  EXPECT_EQ((*ceilings)[1].ceiling.cpu_period_us, 200'000);
  EXPECT_EQ((*ceilings)[1].ceiling.cpu_quota_us, 100'000);
}

TEST(BudgetComputeCeilings, MemoryIsRoundedDownToPages) {
  TenantBudget budget;
  budget.total.memory_bytes = (int64_t{100} << 20) + 5;
  auto ceilings = ComputeCeilings(budget, {{"a", {}}, {"b", {}}, {"c", {}}}, 4096);
  ASSERT_TRUE(ceilings.ok()) << ceilings.status();
  for (const PodCeiling& ceiling : *ceilings) {
    ASSERT_TRUE(ceiling.ceiling.memory_bytes.has_value());
    EXPECT_EQ(*ceiling.ceiling.memory_bytes % 4096, 0);
    EXPECT_GT(*ceiling.ceiling.memory_bytes, (int64_t{33} << 20));
  }
}

TEST(BudgetComputeCeilings, NoTotalLeavesOwnLimitsAndDefaults) {
  TenantBudget budget;
  budget.pod_default.pids = 50;
  Limits own;
  own.pids = 500;
  auto ceilings = ComputeCeilings(budget, {{"a", own}, {"b", {}}});
  ASSERT_TRUE(ceilings.ok());
  EXPECT_EQ((*ceilings)[0].ceiling.pids, 500);
  EXPECT_EQ((*ceilings)[1].ceiling.pids, 50);
  EXPECT_EQ((*ceilings)[1].ceiling.memory_bytes, std::nullopt);
  EXPECT_EQ((*ceilings)[1].ceiling.cpu_quota_us, std::nullopt);
}

TEST(BudgetComputeCeilings, TooManyPodsForTheBudgetIsResourceExhausted) {
  TenantBudget budget;
  budget.total.memory_bytes = int64_t{64} << 20;  // 5 pods would get 12.8 MiB each
  std::vector<PodDemand> pods;
  pods.reserve(5);
  for (int i = 0; i < 5; ++i) {
    pods.push_back({fmt::format("p{}", i), {}});
  }
  auto ceilings = ComputeCeilings(budget, pods);
  ASSERT_FALSE(ceilings.ok());
  EXPECT_EQ(ceilings.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(MessageOf(ceilings.status()).find("raise the tenant's budget"), std::string::npos)
      << ceilings.status();

  TenantBudget cpu;
  cpu.total.cpu_quota_us = 2'000;  // 1 ms each for 3 pods is below the kernel's minimum
  EXPECT_EQ(ComputeCeilings(cpu, {{"a", {}}, {"b", {}}, {"c", {}}}).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(BudgetComputeCeilings, PodsOwnTinyLimitIsKeptEvenBelowMinimum) {
  // The minimum applies to what the agent imposes, not to what a pod chose.
  TenantBudget budget;
  budget.total.pids = 20;
  Limits own;
  own.pids = 2;
  auto ceilings = ComputeCeilings(budget, {{"a", own}, {"b", {}}});
  ASSERT_TRUE(ceilings.ok()) << ceilings.status();
  EXPECT_EQ((*ceilings)[0].ceiling.pids, 2);
  EXPECT_EQ((*ceilings)[1].ceiling.pids, 18);
}

}  // namespace
}  // namespace bulkhead::agent::budgets
