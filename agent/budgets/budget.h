// A tenant's resource budget on one node, and the limits of one cgroup.
//
// The budget is what all of a tenant's pods on the node may use together
// (CPU bandwidth and weight, memory, pids), plus the limits a pod gets when it
// sets none of its own. Validation rejects values below sane minimums before
// anything touches the kernel.
#ifndef BULKHEAD_AGENT_BUDGETS_BUDGET_H_
#define BULKHEAD_AGENT_BUDGETS_BUDGET_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace bulkhead::agent::budgets {

inline constexpr int64_t kDefaultCpuPeriodUs = 100'000;

// Limits on one cgroup. An empty optional means "no limit".
struct Limits {
  // CFS bandwidth: the cgroup may run `cpu_quota_us` of CPU time every
  // `cpu_period_us` (cpu.cfs_quota_us / cpu.cfs_period_us on v1, cpu.max on v2).
  std::optional<int64_t> cpu_quota_us;
  int64_t cpu_period_us = kDefaultCpuPeriodUs;
  // Weight against sibling cgroups, in cgroup v2 units (1..10000, 100 is the
  // kernel's default); written on v1 as cpu.shares = weight * 1024 / 100.
  std::optional<int64_t> cpu_weight;
  std::optional<int64_t> memory_bytes;
  std::optional<int64_t> pids;

  bool operator==(const Limits&) const = default;
};

struct TenantBudget {
  // What all of the tenant's pods on this node may use together.
  Limits total;
  // What a pod that sets no limit of its own gets.
  Limits pod_default;

  bool operator==(const TenantBudget&) const = default;
};

// Sane minimums. Below them a cgroup cannot run a process usefully, so a
// budget asking for less is a mistake rather than a policy.
inline constexpr int64_t kMinCpuQuotaUs = 1'000;  // the kernel's own minimum
inline constexpr int64_t kMinCpuPeriodUs = 1'000;
inline constexpr int64_t kMaxCpuPeriodUs = 1'000'000;
inline constexpr int64_t kMinCpuWeight = 1;
inline constexpr int64_t kMaxCpuWeight = 10'000;
inline constexpr int64_t kMinMemoryBytes = int64_t{16} << 20;  // 16 MiB
inline constexpr int64_t kMinPids = 8;

// Checks every set value against the minimums and maximums above.
// INVALID_ARGUMENT names the value, the limit and what to do. `what` says
// whose limits these are ("tenant total", "pod default").
Status ValidateLimits(const Limits& limits, std::string_view what);

// ValidateLimits on both parts, and a pod default (where set) no larger than
// the total.
Status ValidateBudget(const TenantBudget& budget);

// Tenant and pod names become cgroup directory names: a DNS label (RFC 1123:
// lower-case letters, digits and '-', starting and ending with a letter or
// digit, at most 63 characters), which is what a host namespace name is.
// `kind` is "tenant" or "pod" for the message.
Status ValidateName(std::string_view kind, std::string_view name);

// CPU bandwidth as a fraction of one CPU, for comparing quotas with
// different periods: quota_a/period_a < quota_b/period_b. An unset quota is
// unlimited (larger than any set one).
bool CpuRatioLess(std::optional<int64_t> quota_a, int64_t period_a, std::optional<int64_t> quota_b,
                  int64_t period_b);

// The smaller of two limits where unset means unlimited.
std::optional<int64_t> MinLimit(std::optional<int64_t> a, std::optional<int64_t> b);

// For logs: "cpu=20000/100000us weight=100 memory=67108864 pids=64", with
// "max" for unset values.
std::string DescribeLimits(const Limits& limits);

}  // namespace bulkhead::agent::budgets

#endif  // BULKHEAD_AGENT_BUDGETS_BUDGET_H_
