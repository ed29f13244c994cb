// The budget code's one door to libcgroup: creating cgroups and writing
// their values.
//
// libcgroup (Debian libcgroup 2.0) knows the node's hierarchies from its own
// scan of the mounts at cgroup_init, and names a cgroup by its path below a
// controller's hierarchy root. On cgroup v2 cgroup_create_cgroup also enables
// the controller in the parents' cgroup.subtree_control. What libcgroup is
// not used for, and why:
//   - reading values and counters: cgroup_get_cgroup reads every file of
//     every controller; one plain read of the file we need is cheaper
//     (common/file.h);
//   - moving a process: cgroup_attach_task_pid writes the v1 "tasks" file,
//     which moves one thread; we write cgroup.procs, which moves the process;
//   - removing: libcgroup moves the tasks to the parent; a removed pod's
//     processes must die instead (common/cgroup_dir.h RemoveCgroupTree).
#ifndef BULKHEAD_AGENT_BUDGETS_LIBCGROUP_WRITER_H_
#define BULKHEAD_AGENT_BUDGETS_LIBCGROUP_WRITER_H_

#include <string>
#include <string_view>

#include "agent/budgets/cgroup_files.h"
#include "common/status.h"

namespace bulkhead::agent::budgets {

// Initializes libcgroup once per process and routes its log into the budget
// logger. FAILED_PRECONDITION when no cgroup hierarchy is mounted.
Status InitLibcgroup();

// Creates the cgroup `dir` (an absolute directory in `controller`'s
// hierarchy, parents included, like mkdir -p). OK if it exists.
Status CreateCgroup(std::string_view controller, const std::string& dir);

// Writes one value. NOT_FOUND when the cgroup or the file is gone; the errno
// of a refused write otherwise (EINVAL, EBUSY...).
Status WriteCgroupValue(const CgroupValue& value);

}  // namespace bulkhead::agent::budgets

#endif  // BULKHEAD_AGENT_BUDGETS_LIBCGROUP_WRITER_H_
