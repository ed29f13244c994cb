// All or nothing: applying a set of cgroup values so that either every one
// is in force or none is.
//
// Each write knows the value it replaces. Values that lower a limit go
// first, deepest cgroup first; values that raise one go after, shallowest
// first. That order keeps a tenant within its budget at every step and
// satisfies cgroup v1's rule that a child's CPU quota may not exceed its
// parent's. When a write fails (a pod's cgroup vanished, the kernel refused a
// memory limit below usage with EBUSY, ...), the values already written are
// put back in reverse order and the error says so.
#ifndef BULKHEAD_AGENT_BUDGETS_WRITE_PLAN_H_
#define BULKHEAD_AGENT_BUDGETS_WRITE_PLAN_H_

#include <functional>
#include <string>
#include <vector>

#include "agent/budgets/cgroup_files.h"
#include "common/status.h"

namespace bulkhead::agent::budgets {

struct PlannedWrite {
  CgroupValue next;      // the value to write
  std::string previous;  // the file's content before, written back on failure
  bool lowers = false;   // true when `next` is a tighter limit than `previous`

  bool operator==(const PlannedWrite&) const = default;
};

using ValueWriter = std::function<Status(const CgroupValue&)>;

// The writes that move the cgroup at `place` to `next` for `knobs`, each
// with the content it replaces (read through `read`) and whether it lowers
// a limit.
StatusOr<std::vector<PlannedWrite>> PlanLimits(const CgroupPlace& place, const Limits& next,
                                               const Knobs& knobs, const FileReader& read);

// The order in which ApplyWrites writes (unchanged values left out).
std::vector<PlannedWrite> OrderWrites(std::vector<PlannedWrite> writes);

// Writes the plan in OrderWrites order through `write` (WriteCgroupValue on a
// node). On failure restores what was written and returns the failure,
// saying that nothing was applied; if a restore fails too the code is
// DATA_LOSS and the message names the value left in place.
Status ApplyWrites(std::vector<PlannedWrite> writes, const ValueWriter& write);

}  // namespace bulkhead::agent::budgets

#endif  // BULKHEAD_AGENT_BUDGETS_WRITE_PLAN_H_
