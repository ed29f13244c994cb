// The cgroup files that carry limits and counters, on v1 and v2, and their
// formats.
//
//   limit        cgroup v1                                  cgroup v2
//   cpu quota    cpu.cfs_quota_us ("-1"), cpu.cfs_period_us   cpu.max ("max 100000")
//   cpu weight   cpu.shares (weight * 1024 / 100)             cpu.weight
//   memory       memory.limit_in_bytes ("-1")                 memory.max ("max")
//   swap         memory.memsw.limit_in_bytes = memory         memory.swap.max = 0
//                (memory plus swap; where the kernel accounts swap)
//   pids         pids.max ("max")                             pids.max ("max")
//
// Parsing is separate from reading so unit tests can feed the kernel's text.
#ifndef BULKHEAD_AGENT_BUDGETS_CGROUP_FILES_H_
#define BULKHEAD_AGENT_BUDGETS_CGROUP_FILES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/budgets/budget.h"
#include "agent/budgets/cgroup_place.h"
#include "common/status.h"

namespace bulkhead::agent::budgets {

// Which limits a caller manages. Under a kubelet, weights stay the kubelet's.
struct Knobs {
  bool cpu_quota = true;
  bool cpu_weight = true;
  bool memory = true;
  bool pids = true;
};

// One value for one file of one controller's directory.
struct CgroupValue {
  std::string controller;
  std::string dir;   // absolute directory of the cgroup in that controller's hierarchy
  std::string file;  // "cpu.cfs_quota_us"
  std::string value;

  [[nodiscard]] std::string path() const { return dir + "/" + file; }
  bool operator==(const CgroupValue&) const = default;
};

// The values that put `limits` on the cgroup at `place`, for the knobs
// asked; an unset limit is written as "unlimited", so the values say the
// whole state. v1 writes the period before the quota. Controllers missing
// from `place` are skipped (callers resolve the ones they need).
std::vector<CgroupValue> LimitValues(const CgroupPlace& place, const Limits& limits,
                                     const Knobs& knobs = {});

using FileReader = std::function<StatusOr<std::string>(const std::string& path)>;

// Reads the limits of the cgroup at `place` for the knobs asked.
StatusOr<Limits> ReadLimits(const CgroupPlace& place, const Knobs& knobs, const FileReader& read);

// v1 cpu.shares <-> weight in v2 units (100 <-> 1024).
int64_t SharesFromWeight(int64_t weight);
int64_t WeightFromShares(int64_t shares);

// "key value" lines (cpu.stat, memory.events, pids.events, memory.oom_control).
StatusOr<std::map<std::string, int64_t, std::less<>>> ParseKeyedCounters(std::string_view text);
// "max" (unlimited) or a non-negative integer: v2 memory.max, pids.max.
StatusOr<std::optional<int64_t>> ParseMaxOrNumber(std::string_view text);
// v1 memory.limit_in_bytes: the kernel shows "unlimited" as the largest page
// multiple (9223372036854771712), anything from 2^62 up is unlimited.
StatusOr<std::optional<int64_t>> ParseV1MemoryLimit(std::string_view text);
// v1 cpu.cfs_quota_us: "-1" is unlimited.
StatusOr<std::optional<int64_t>> ParseV1CpuQuota(std::string_view text);

struct CpuMax {
  std::optional<int64_t> quota_us;
  int64_t period_us = kDefaultCpuPeriodUs;
};
// v2 cpu.max: "max 100000" or "50000 100000".
StatusOr<CpuMax> ParseCpuMax(std::string_view text);

}  // namespace bulkhead::agent::budgets

#endif  // BULKHEAD_AGENT_BUDGETS_CGROUP_FILES_H_
