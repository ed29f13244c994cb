#include "agent/budgets/events.h"

#include <unistd.h>

#include "agent/budgets/cgroup_files.h"
#include "common/file.h"
#include "fmt/format.h"

namespace bulkhead::agent::budgets {
namespace {

StatusOr<uint64_t> Counter(std::string_view text, std::string_view key, std::string_view file) {
  BH_ASSIGN_OR_RETURN(auto counters, ParseKeyedCounters(text));
  auto it = counters.find(key);
  if (it == counters.end() || it->second < 0) {
    return absl::DataLossError(fmt::format("{} has no \"{}\" counter", file, key));
  }
  return static_cast<uint64_t>(it->second);
}

}  // namespace

TenantEvents& TenantEvents::operator+=(const TenantEvents& other) {
  oom_kills += other.oom_kills;
  cpu_throttled_periods += other.cpu_throttled_periods;
  cpu_throttled_usec += other.cpu_throttled_usec;
  pids_refusals += other.pids_refusals;
  return *this;
}

StatusOr<uint64_t> ParseOomKills(int version, std::string_view text) {
  return Counter(text, "oom_kill", version == 1 ? "memory.oom_control" : "memory.events");
}

StatusOr<std::pair<uint64_t, uint64_t>> ParseThrottling(int version, std::string_view cpu_stat) {
  BH_ASSIGN_OR_RETURN(uint64_t periods, Counter(cpu_stat, "nr_throttled", "cpu.stat"));
  if (version == 1) {
    BH_ASSIGN_OR_RETURN(uint64_t nanoseconds, Counter(cpu_stat, "throttled_time", "cpu.stat"));
    return std::make_pair(periods, nanoseconds / 1000);
  }
  BH_ASSIGN_OR_RETURN(uint64_t microseconds, Counter(cpu_stat, "throttled_usec", "cpu.stat"));
  return std::make_pair(periods, microseconds);
}

StatusOr<uint64_t> ParsePidsRefusals(std::string_view pids_events) {
  return Counter(pids_events, "max", "pids.events");
}

StatusOr<TenantEvents> ReadCgroupEvents(const CgroupPlace& place) {
  TenantEvents events;
  if (const ControllerDir* memory = place.Find("memory")) {
    // v1 counts an OOM kill in the victim's cgroup only; v2 also in every
    // ancestor, and memory.events.local (Linux 5.2+) counts it once.
    bool summed = memory->version == 1 ||
                  ::access((memory->path + "/memory.events.local").c_str(), R_OK) == 0;
    std::string file = memory->version == 1 ? "/memory.oom_control"
                       : summed             ? "/memory.events.local"
                                            : "/memory.events";
    BH_ASSIGN_OR_RETURN(std::string top, ReadFile(memory->path + file));
    BH_ASSIGN_OR_RETURN(events.oom_kills, ParseOomKills(memory->version, top));
    std::vector<std::string> dirs =
        summed ? CgroupSubtree(memory->path) : std::vector<std::string>();
    for (size_t i = 1; i < dirs.size(); ++i) {
      auto text = ReadFile(dirs[i] + file);
      if (!text.ok()) {
        continue;  // a cgroup below that just went away
      }
      BH_ASSIGN_OR_RETURN(uint64_t kills, ParseOomKills(memory->version, *text));
      events.oom_kills += kills;
    }
  }
  if (const ControllerDir* cpu = place.Find("cpu")) {
    BH_ASSIGN_OR_RETURN(std::string top, ReadFile(cpu->path + "/cpu.stat"));
    (void)top;  // the top must exist; cgroups below may vanish while we walk
    for (const std::string& dir : CgroupSubtree(cpu->path)) {
      auto text = ReadFile(dir + "/cpu.stat");
      if (!text.ok()) {
        continue;
      }
      BH_ASSIGN_OR_RETURN(auto throttling, ParseThrottling(cpu->version, *text));
      events.cpu_throttled_periods += throttling.first;
      events.cpu_throttled_usec += throttling.second;
    }
  }
  if (const ControllerDir* pids = place.Find("pids")) {
    BH_ASSIGN_OR_RETURN(std::string top, ReadFile(pids->path + "/pids.max"));
    (void)top;
    // v2 on Linux 6.13+ counts "max" in every ancestor of the limited cgroup;
    // pids.events.local counts it once, where the limit was hit.
    bool local = ::access((pids->path + "/pids.events.local").c_str(), R_OK) == 0;
    std::string file = local ? "/pids.events.local" : "/pids.events";
    for (const std::string& dir : CgroupSubtree(pids->path)) {
      auto text = ReadFile(dir + file);
      if (!text.ok()) {
        continue;
      }
      BH_ASSIGN_OR_RETURN(uint64_t refusals, ParsePidsRefusals(*text));
      events.pids_refusals += refusals;
    }
  }
  return events;
}

}  // namespace bulkhead::agent::budgets
