#include "agent/budgets/usage.h"

#include "agent/budgets/cgroup_files.h"
#include "common/file.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace bulkhead::agent::budgets {
namespace {

StatusOr<uint64_t> ReadCount(const std::string& path) {
  BH_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto value = ParseInteger<uint64_t>(TrimSpace(text));
  if (!value) {
    return absl::DataLossError(fmt::format("{}: not a number: \"{}\"", path, TrimSpace(text)));
  }
  return *value;
}

StatusOr<uint64_t> ReadCpuUsec(const CgroupPlace& place) {
  if (const ControllerDir* acct = place.Find("cpuacct"); acct != nullptr && acct->version == 1) {
    BH_ASSIGN_OR_RETURN(uint64_t ns, ReadCount(acct->path + "/cpuacct.usage"));
    return ns / 1000;
  }
  const ControllerDir* cpu = place.Find("cpu");
  if (cpu == nullptr) {
    return uint64_t{0};
  }
  if (cpu->version == 1) {
    // cpu and cpuacct mounted together: the accounting file sits in the cpu dir.
    BH_ASSIGN_OR_RETURN(uint64_t ns, ReadCount(cpu->path + "/cpuacct.usage"));
    return ns / 1000;
  }
  BH_ASSIGN_OR_RETURN(std::string text, ReadFile(cpu->path + "/cpu.stat"));
  BH_ASSIGN_OR_RETURN(auto counters, ParseKeyedCounters(text));
  auto usage = counters.find("usage_usec");
  if (usage == counters.end() || usage->second < 0) {
    return absl::DataLossError(fmt::format("{}/cpu.stat has no usage_usec", cpu->path));
  }
  return static_cast<uint64_t>(usage->second);
}

}  // namespace

TenantUsage& TenantUsage::operator+=(const TenantUsage& other) {
  cpu_usec += other.cpu_usec;
  memory_bytes += other.memory_bytes;
  pids += other.pids;
  return *this;
}

StatusOr<TenantUsage> ReadCgroupUsage(const CgroupPlace& place) {
  TenantUsage usage;
  BH_ASSIGN_OR_RETURN(usage.cpu_usec, ReadCpuUsec(place));
  if (const ControllerDir* memory = place.Find("memory")) {
    BH_ASSIGN_OR_RETURN(usage.memory_bytes,
                        ReadCount(memory->path + (memory->version == 1 ? "/memory.usage_in_bytes"
                                                                       : "/memory.current")));
  }
  if (const ControllerDir* pids = place.Find("pids")) {
    BH_ASSIGN_OR_RETURN(usage.pids, ReadCount(pids->path + "/pids.current"));
  }
  return usage;
}

}  // namespace bulkhead::agent::budgets
