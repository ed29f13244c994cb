#include "agent/budgets/budget.h"

#include <algorithm>

#include "fmt/format.h"

namespace bulkhead::agent::budgets {
namespace {

// -Wpedantic knows no __int128; the extension is what GCC and Clang offer.
__extension__ typedef __int128 Int128;

std::string OrMax(std::optional<int64_t> value) {
  return value ? fmt::format("{}", *value) : std::string("max");
}

Status BelowMinimum(std::string_view what, std::string_view resource, int64_t value,
                    int64_t minimum, std::string_view unit) {
  return absl::InvalidArgumentError(
      fmt::format("{} {} {}{} is below the minimum {}{}; set at least {}{} or leave {} unlimited",
                  what, resource, value, unit, minimum, unit, minimum, unit, resource));
}

}  // namespace

Status ValidateLimits(const Limits& limits, std::string_view what) {
  if (limits.cpu_period_us < kMinCpuPeriodUs || limits.cpu_period_us > kMaxCpuPeriodUs) {
    return absl::InvalidArgumentError(fmt::format(
        "{} cpu period {}us is outside {}..{}us; use a period in that range (the "
        "kernel's default is {}us)",
        what, limits.cpu_period_us, kMinCpuPeriodUs, kMaxCpuPeriodUs, kDefaultCpuPeriodUs));
  }
  if (limits.cpu_quota_us && *limits.cpu_quota_us < kMinCpuQuotaUs) {
    return BelowMinimum(what, "cpu quota", *limits.cpu_quota_us, kMinCpuQuotaUs, "us");
  }
  if (limits.cpu_weight &&
      (*limits.cpu_weight < kMinCpuWeight || *limits.cpu_weight > kMaxCpuWeight)) {
    return absl::InvalidArgumentError(
        fmt::format("{} cpu weight {} is outside {}..{}; use a weight in that range (100 is the "
                    "default share)",
                    what, *limits.cpu_weight, kMinCpuWeight, kMaxCpuWeight));
  }
  if (limits.memory_bytes && *limits.memory_bytes < kMinMemoryBytes) {
    return BelowMinimum(what, "memory", *limits.memory_bytes, kMinMemoryBytes, " bytes");
  }
  if (limits.pids && *limits.pids < kMinPids) {
    return BelowMinimum(what, "pids", *limits.pids, kMinPids, "");
  }
  return absl::OkStatus();
}

Status ValidateBudget(const TenantBudget& budget) {
  BH_RETURN_IF_ERROR(ValidateLimits(budget.total, "tenant total"));
  BH_RETURN_IF_ERROR(ValidateLimits(budget.pod_default, "pod default"));
  const Limits& total = budget.total;
  const Limits& pod = budget.pod_default;
  // An unset pod default is fine: such pods share the total (or, below a
  // tenant parent cgroup, are held by it).
  if (pod.cpu_quota_us &&
      CpuRatioLess(total.cpu_quota_us, total.cpu_period_us, pod.cpu_quota_us, pod.cpu_period_us)) {
    return absl::InvalidArgumentError(fmt::format(
        "pod default cpu {}/{}us is more than the tenant total {}/{}us; lower the pod default",
        OrMax(pod.cpu_quota_us), pod.cpu_period_us, OrMax(total.cpu_quota_us),
        total.cpu_period_us));
  }
  if (pod.memory_bytes && MinLimit(total.memory_bytes, pod.memory_bytes) != pod.memory_bytes) {
    return absl::InvalidArgumentError(
        fmt::format("pod default memory {} is more than the tenant total {}; lower the pod default",
                    OrMax(pod.memory_bytes), OrMax(total.memory_bytes)));
  }
  if (pod.pids && MinLimit(total.pids, pod.pids) != pod.pids) {
    return absl::InvalidArgumentError(
        fmt::format("pod default pids {} is more than the tenant total {}; lower the pod default",
                    OrMax(pod.pids), OrMax(total.pids)));
  }
  return absl::OkStatus();
}

Status ValidateName(std::string_view kind, std::string_view name) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = !name.empty() && name.size() <= 63 && alnum(name.front()) && alnum(name.back());
  for (char c : name) {
    ok = ok && (alnum(c) || c == '-');
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        fmt::format("{} name \"{}\" is not a DNS label; use 1 to 63 lower-case letters, digits "
                    "and '-', starting and ending with a letter or digit",
                    kind, name));
  }
  return absl::OkStatus();
}

bool CpuRatioLess(std::optional<int64_t> quota_a, int64_t period_a, std::optional<int64_t> quota_b,
                  int64_t period_b) {
  if (!quota_a || !quota_b) {
    return quota_a.has_value() && !quota_b.has_value();
  }
  // Quotas and periods are at most about 2^40, so the products fit in 128 bits.
  return static_cast<Int128>(*quota_a) * period_b < static_cast<Int128>(*quota_b) * period_a;
}

std::optional<int64_t> MinLimit(std::optional<int64_t> a, std::optional<int64_t> b) {
  if (!a) {
    return b;
  }
  if (!b) {
    return a;
  }
  return std::min(*a, *b);
}

std::string DescribeLimits(const Limits& limits) {
  return fmt::format("cpu={}/{}us weight={} memory={} pids={}", OrMax(limits.cpu_quota_us),
                     limits.cpu_period_us, OrMax(limits.cpu_weight), OrMax(limits.memory_bytes),
                     OrMax(limits.pids));
}

}  // namespace bulkhead::agent::budgets
