#include "agent/budgets/cgroup_files.h"

#include <algorithm>

#include "common/strings.h"
#include "fmt/format.h"

namespace bulkhead::agent::budgets {
namespace {

std::string NumberOr(std::optional<int64_t> value, std::string_view unlimited) {
  return value ? fmt::format("{}", *value) : std::string(unlimited);
}

Status Malformed(std::string_view what, std::string_view text) {
  return absl::DataLossError(fmt::format("malformed {}: \"{}\"", what, TrimSpace(text)));
}

StatusOr<int64_t> ParseNumber(std::string_view what, std::string_view text) {
  std::optional<int64_t> value = ParseInteger<int64_t>(TrimSpace(text));
  if (!value) {
    return Malformed(what, text);
  }
  return *value;
}

}  // namespace

int64_t SharesFromWeight(int64_t weight) { return std::max<int64_t>(2, weight * 1024 / 100); }

int64_t WeightFromShares(int64_t shares) {
  return std::clamp<int64_t>(shares * 100 / 1024, kMinCpuWeight, kMaxCpuWeight);
}

std::vector<CgroupValue> LimitValues(const CgroupPlace& place, const Limits& limits,
                                     const Knobs& knobs) {
  std::vector<CgroupValue> values;
  auto add = [&](const ControllerDir& dir, std::string file, std::string value) {
    values.push_back({dir.controller, dir.path, std::move(file), std::move(value)});
  };
  if (const ControllerDir* cpu = place.Find("cpu")) {
    if (knobs.cpu_quota && cpu->version == 1) {
      add(*cpu, "cpu.cfs_period_us", fmt::format("{}", limits.cpu_period_us));
      add(*cpu, "cpu.cfs_quota_us", NumberOr(limits.cpu_quota_us, "-1"));
    } else if (knobs.cpu_quota) {
      add(*cpu, "cpu.max",
          fmt::format("{} {}", NumberOr(limits.cpu_quota_us, "max"), limits.cpu_period_us));
    }
    if (knobs.cpu_weight) {
      int64_t weight = limits.cpu_weight.value_or(100);
      if (cpu->version == 1) {
        add(*cpu, "cpu.shares", fmt::format("{}", SharesFromWeight(weight)));
      } else {
        add(*cpu, "cpu.weight", fmt::format("{}", weight));
      }
    }
  }
  if (const ControllerDir* memory = place.Find("memory"); memory && knobs.memory) {
    // Swap never adds to a memory limit: on v1 memory plus swap is held at
    // the memory limit, on v2 (which limits swap on its own) a memory limit
    // means no swap. Unlimited memory leaves swap unlimited too.
    if (memory->version == 1) {
      add(*memory, "memory.limit_in_bytes", NumberOr(limits.memory_bytes, "-1"));
      if (memory->swap) {
        add(*memory, "memory.memsw.limit_in_bytes", NumberOr(limits.memory_bytes, "-1"));
      }
    } else {
      add(*memory, "memory.max", NumberOr(limits.memory_bytes, "max"));
      if (memory->swap) {
        add(*memory, "memory.swap.max", limits.memory_bytes ? "0" : "max");
      }
    }
  }
  if (const ControllerDir* pids = place.Find("pids"); pids && knobs.pids) {
    add(*pids, "pids.max", NumberOr(limits.pids, "max"));
  }
  return values;
}

StatusOr<Limits> ReadLimits(const CgroupPlace& place, const Knobs& knobs, const FileReader& read) {
  Limits limits;
  if (const ControllerDir* cpu = place.Find("cpu")) {
    if (knobs.cpu_quota && cpu->version == 1) {
      BH_ASSIGN_OR_RETURN(std::string period, read(cpu->path + "/cpu.cfs_period_us"));
      BH_ASSIGN_OR_RETURN(limits.cpu_period_us, ParseNumber("cpu.cfs_period_us", period));
      BH_ASSIGN_OR_RETURN(std::string quota, read(cpu->path + "/cpu.cfs_quota_us"));
      BH_ASSIGN_OR_RETURN(limits.cpu_quota_us, ParseV1CpuQuota(quota));
    } else if (knobs.cpu_quota) {
      BH_ASSIGN_OR_RETURN(std::string text, read(cpu->path + "/cpu.max"));
      BH_ASSIGN_OR_RETURN(CpuMax max, ParseCpuMax(text));
      limits.cpu_quota_us = max.quota_us;
      limits.cpu_period_us = max.period_us;
    }
    if (knobs.cpu_weight && cpu->version == 1) {
      BH_ASSIGN_OR_RETURN(std::string text, read(cpu->path + "/cpu.shares"));
      BH_ASSIGN_OR_RETURN(int64_t shares, ParseNumber("cpu.shares", text));
      limits.cpu_weight = WeightFromShares(shares);
    } else if (knobs.cpu_weight) {
      BH_ASSIGN_OR_RETURN(std::string text, read(cpu->path + "/cpu.weight"));
      BH_ASSIGN_OR_RETURN(limits.cpu_weight, ParseNumber("cpu.weight", text));
    }
  }
  if (const ControllerDir* memory = place.Find("memory"); memory && knobs.memory) {
    if (memory->version == 1) {
      BH_ASSIGN_OR_RETURN(std::string text, read(memory->path + "/memory.limit_in_bytes"));
      BH_ASSIGN_OR_RETURN(limits.memory_bytes, ParseV1MemoryLimit(text));
    } else {
      BH_ASSIGN_OR_RETURN(std::string text, read(memory->path + "/memory.max"));
      BH_ASSIGN_OR_RETURN(limits.memory_bytes, ParseMaxOrNumber(text));
    }
  }
  if (const ControllerDir* pids = place.Find("pids"); pids && knobs.pids) {
    BH_ASSIGN_OR_RETURN(std::string text, read(pids->path + "/pids.max"));
    BH_ASSIGN_OR_RETURN(limits.pids, ParseMaxOrNumber(text));
  }
  return limits;
}

StatusOr<std::map<std::string, int64_t, std::less<>>> ParseKeyedCounters(std::string_view text) {
  std::map<std::string, int64_t, std::less<>> counters;
  for (std::string_view line : SplitNonEmpty(text, "\n")) {
    std::vector<std::string_view> fields = SplitNonEmpty(line, " \t");
    if (fields.size() != 2) {
      return Malformed("counter line", line);
    }
    BH_ASSIGN_OR_RETURN(int64_t value, ParseNumber("counter", fields[1]));
    counters[std::string(fields[0])] = value;
  }
  return counters;
}

StatusOr<std::optional<int64_t>> ParseMaxOrNumber(std::string_view text) {
  if (TrimSpace(text) == "max") {
    return std::optional<int64_t>();
  }
  BH_ASSIGN_OR_RETURN(int64_t value, ParseNumber("limit", text));
  if (value < 0) {
    return Malformed("limit", text);
  }
  return std::optional<int64_t>(value);
}

StatusOr<std::optional<int64_t>> ParseV1MemoryLimit(std::string_view text) {
  BH_ASSIGN_OR_RETURN(int64_t value, ParseNumber("memory.limit_in_bytes", text));
  if (value < 0 || value >= (int64_t{1} << 62)) {
    return std::optional<int64_t>();
  }
  return std::optional<int64_t>(value);
}

StatusOr<std::optional<int64_t>> ParseV1CpuQuota(std::string_view text) {
  BH_ASSIGN_OR_RETURN(int64_t value, ParseNumber("cpu.cfs_quota_us", text));
  if (value < 0) {
    return std::optional<int64_t>();
  }
  return std::optional<int64_t>(value);
}

StatusOr<CpuMax> ParseCpuMax(std::string_view text) {
  std::vector<std::string_view> fields = SplitNonEmpty(text, " \n");
  if (fields.size() != 2) {
    return Malformed("cpu.max", text);
  }
  CpuMax max;
  if (fields[0] != "max") {
    BH_ASSIGN_OR_RETURN(int64_t quota, ParseNumber("cpu.max quota", fields[0]));
    max.quota_us = quota;
  }
  BH_ASSIGN_OR_RETURN(max.period_us, ParseNumber("cpu.max period", fields[1]));
  return max;
}

}  // namespace bulkhead::agent::budgets
