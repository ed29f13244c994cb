#include "agent/budgets/write_plan.h"

#include <algorithm>

#include "common/logging.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace bulkhead::agent::budgets {
namespace {

size_t Depth(const std::string& dir) { return SplitNonEmpty(dir, "/").size(); }

// v1 keeps memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every
// step: lowering writes the memory limit first (as listed), raising writes
// memory plus swap first.
int RaiseRank(const PlannedWrite& write) {
  return write.next.file == "memory.memsw.limit_in_bytes" ? 0 : 1;
}

// The same status (code, errno and location payloads) saying nothing changed.
Status NothingApplied(const Status& status) {
  Status out(status.code(), fmt::format("{}; nothing applied, the previous limits are in force",
                                        status.message()));
  status.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

}  // namespace

StatusOr<std::vector<PlannedWrite>> PlanLimits(const CgroupPlace& place, const Limits& next,
                                               const Knobs& knobs, const FileReader& read) {
  BH_ASSIGN_OR_RETURN(Limits current, ReadLimits(place, knobs, read));
  auto less = [](std::optional<int64_t> a, std::optional<int64_t> b) {
    return a.has_value() && (!b.has_value() || *a < *b);
  };
  std::vector<PlannedWrite> writes;
  for (CgroupValue& value : LimitValues(place, next, knobs)) {
    BH_ASSIGN_OR_RETURN(std::string previous, read(value.path()));
    bool lowers = false;
    if (value.file.starts_with("cpu.cfs_") || value.file == "cpu.max") {
      lowers = CpuRatioLess(next.cpu_quota_us, next.cpu_period_us, current.cpu_quota_us,
                            current.cpu_period_us);
    } else if (value.file == "cpu.shares" || value.file == "cpu.weight") {
      lowers = next.cpu_weight.value_or(100) < current.cpu_weight.value_or(100);
    } else if (value.file == "memory.memsw.limit_in_bytes") {
      // Compared with its own content: it may differ from the memory limit.
      auto before = ParseV1MemoryLimit(previous);
      BH_ASSIGN_OR_RETURN(std::optional<int64_t> parsed, ParseV1MemoryLimit(value.value));
      lowers = before.ok() && less(parsed, *before);
    } else if (value.file == "memory.swap.max") {
      auto before = ParseMaxOrNumber(previous);
      BH_ASSIGN_OR_RETURN(std::optional<int64_t> parsed, ParseMaxOrNumber(value.value));
      lowers = before.ok() && less(parsed, *before);
    } else if (value.file.starts_with("memory.")) {
      lowers = less(next.memory_bytes, current.memory_bytes);
    } else if (value.file == "pids.max") {
      lowers = less(next.pids, current.pids);
    }
    writes.push_back({std::move(value), std::string(TrimSpace(previous)), lowers});
  }
  return writes;
}

std::vector<PlannedWrite> OrderWrites(std::vector<PlannedWrite> writes) {
  std::erase_if(writes, [](const PlannedWrite& w) {
    return TrimSpace(w.previous) == TrimSpace(w.next.value);
  });
  std::stable_sort(writes.begin(), writes.end(), [](const PlannedWrite& a, const PlannedWrite& b) {
    if (a.lowers != b.lowers) {
      return a.lowers;
    }
    size_t da = Depth(a.next.dir);
    size_t db = Depth(b.next.dir);
    if (da != db) {
      return a.lowers ? da > db : da < db;
    }
    return !a.lowers && RaiseRank(a) < RaiseRank(b);
  });
  return writes;
}

Status ApplyWrites(std::vector<PlannedWrite> writes, const ValueWriter& write) {
  std::vector<PlannedWrite> ordered = OrderWrites(std::move(writes));
  for (size_t i = 0; i < ordered.size(); ++i) {
    Status status = write(ordered[i].next);
    if (status.ok()) {
      continue;
    }
    for (size_t j = i; j-- > 0;) {
      CgroupValue back = ordered[j].next;
      back.value = std::string(TrimSpace(ordered[j].previous));
      Status restored = write(back);
      if (!restored.ok()) {
        Logger(Component::kBudget)
            .error("budget rollback failed path={} value=\"{}\" error=\"{}\"", back.path(),
                   back.value, restored.message());
        return absl::DataLossError(fmt::format(
            "{}; restoring {} to \"{}\" failed too ({}): limits are partly applied, set the "
            "budget again",
            status.message(), back.path(), back.value, restored.message()));
      }
    }
    return NothingApplied(status);
  }
  return absl::OkStatus();
}

}  // namespace bulkhead::agent::budgets
