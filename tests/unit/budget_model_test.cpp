#include <gtest/gtest.h>

#include "agent/budgets/budget.h"

namespace bulkhead::agent::budgets {
namespace {

TenantBudget Sane() {
  TenantBudget budget;
  budget.total = {.cpu_quota_us = 200'000,
                  .cpu_period_us = 100'000,
                  .cpu_weight = 200,
                  .memory_bytes = int64_t{1} << 30,
                  .pids = 512};
  budget.pod_default = {.cpu_quota_us = 50'000,
                        .cpu_period_us = 100'000,
                        .cpu_weight = 100,
                        .memory_bytes = int64_t{256} << 20,
                        .pids = 128};
  return budget;
}

TEST(BudgetValidateBudget, AcceptsSaneBudgetAndUnlimitedResources) {
  EXPECT_TRUE(ValidateBudget(Sane()).ok());
  EXPECT_TRUE(ValidateBudget(TenantBudget{}).ok()) << "everything unlimited is a valid budget";
}

TEST(BudgetValidateBudget, RejectsValuesBelowMinimumsWithWhatToDo) {
  TenantBudget budget = Sane();
  budget.total.memory_bytes = 1 << 20;
  Status status = ValidateBudget(budget);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(MessageOf(status).find("tenant total memory 1048576 bytes is below the minimum"),
            std::string::npos)
      << status;
  EXPECT_NE(MessageOf(status).find("set at least"), std::string::npos) << status;

  budget = Sane();
  budget.total.pids = 2;
  EXPECT_EQ(ValidateBudget(budget).code(), absl::StatusCode::kInvalidArgument);

  budget = Sane();
  budget.pod_default.cpu_quota_us = 500;  // the kernel refuses < 1 ms
  status = ValidateBudget(budget);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(MessageOf(status).find("pod default cpu quota"), std::string::npos) << status;

  budget = Sane();
  budget.total.cpu_period_us = 5'000'000;
  EXPECT_EQ(ValidateBudget(budget).code(), absl::StatusCode::kInvalidArgument);

  budget = Sane();
  budget.total.cpu_weight = 0;
  EXPECT_EQ(ValidateBudget(budget).code(), absl::StatusCode::kInvalidArgument);
}

TEST(BudgetValidateBudget, PodDefaultMayNotExceedTotal) {
  TenantBudget budget = Sane();
  budget.pod_default.memory_bytes = int64_t{2} << 30;
  EXPECT_EQ(ValidateBudget(budget).code(), absl::StatusCode::kInvalidArgument);

  budget = Sane();
  budget.pod_default.pids = std::nullopt;  // pods without a default share the total
  budget.pod_default.memory_bytes = std::nullopt;
  budget.pod_default.cpu_quota_us = std::nullopt;
  EXPECT_TRUE(ValidateBudget(budget).ok());

  budget = Sane();  // 30 ms per 10 ms period is 3 CPUs, more than the 2 of the total
  budget.pod_default.cpu_quota_us = 30'000;
  budget.pod_default.cpu_period_us = 10'000;
  EXPECT_EQ(ValidateBudget(budget).code(), absl::StatusCode::kInvalidArgument);
}

TEST(BudgetValidateName, AcceptsDnsLabelsOnly) {
  EXPECT_TRUE(ValidateName("tenant", "team-a").ok());
  EXPECT_TRUE(ValidateName("tenant", "a1").ok());
  for (const char* bad : {"", "-a", "a-", "A", "a/b", "..", "a.b", "a_b"}) {
    EXPECT_EQ(ValidateName("tenant", bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ValidateName("tenant", std::string(64, 'a')).ok());
}

TEST(BudgetCpuRatio, ComparesAcrossPeriodsAndTreatsUnsetAsUnlimited) {
  EXPECT_TRUE(CpuRatioLess(10'000, 100'000, 2'000, 10'000));   // 0.1 < 0.2 CPU
  EXPECT_FALSE(CpuRatioLess(20'000, 100'000, 2'000, 10'000));  // equal
  EXPECT_TRUE(CpuRatioLess(1'000'000, 100'000, std::nullopt, 100'000));
  EXPECT_FALSE(CpuRatioLess(std::nullopt, 100'000, 1'000, 100'000));
  EXPECT_FALSE(CpuRatioLess(std::nullopt, 100'000, std::nullopt, 100'000));
}

TEST(BudgetMinLimit, UnsetIsUnlimited) {
  EXPECT_EQ(MinLimit(std::nullopt, 5), 5);
  EXPECT_EQ(MinLimit(7, std::nullopt), 7);
  EXPECT_EQ(MinLimit(7, 5), 5);
  EXPECT_EQ(MinLimit(std::nullopt, std::nullopt), std::nullopt);
}

}  // namespace
}  // namespace bulkhead::agent::budgets
