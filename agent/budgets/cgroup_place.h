// Where one logical cgroup lives across the hierarchies of a node.
//
// On cgroup v1 each controller has its own hierarchy, so "bulkhead/tenant-a"
// is one directory per controller (/sys/fs/cgroup/memory/bulkhead/tenant-a,
// /sys/fs/cgroup/pids/bulkhead/tenant-a, ...). On cgroup v2 it is one
// directory holding every controller. A hybrid node can mix both. The
// layout detected at start (agent/cgroups/layout.h) says which.
#ifndef BULKHEAD_AGENT_BUDGETS_CGROUP_PLACE_H_
#define BULKHEAD_AGENT_BUDGETS_CGROUP_PLACE_H_

#include <string>
#include <string_view>
#include <vector>

#include "agent/cgroups/layout.h"
#include "common/status.h"

namespace bulkhead::agent::budgets {

struct ControllerDir {
  std::string controller;  // "cpu", "memory", "pids", "cpuacct"
  int version = 0;         // 1 or 2
  std::string mount;       // root of the hierarchy holding the controller
  std::string path;        // the cgroup's directory in that hierarchy
  bool swap = false;       // memory: swap is limited with memory (layout.h)

  bool operator==(const ControllerDir&) const = default;
};

struct CgroupPlace {
  std::string relative;  // below every hierarchy root: "bulkhead/tenant-a"
  std::vector<ControllerDir> dirs;

  // The directory holding `controller`, or nullptr when not resolved.
  [[nodiscard]] const ControllerDir* Find(std::string_view controller) const;
  // Each distinct directory once (one on v2, one per hierarchy on v1).
  [[nodiscard]] std::vector<std::string> Paths() const;
};

// Resolves `relative` for each of `controllers` (all required) and of
// `optional_controllers` (skipped when absent). FAILED_PRECONDITION names a
// missing controller, the cgroup mode and what to do; INVALID_ARGUMENT for a
// relative path that is absolute or holds "." or "..".
StatusOr<CgroupPlace> ResolveCgroupPlace(const CgroupLayout& layout, std::string_view relative,
                                         const std::vector<std::string>& controllers,
                                         const std::vector<std::string>& optional_controllers = {});

// `dir` and every cgroup directory below it, parents before children.
// Directories that vanish during the walk are left out.
std::vector<std::string> CgroupSubtree(const std::string& dir);

// "a/b" + "c" -> "a/b/c", leaving out empty parts.
std::string JoinCgroupPath(std::string_view parent, std::string_view child);

}  // namespace bulkhead::agent::budgets

#endif  // BULKHEAD_AGENT_BUDGETS_CGROUP_PLACE_H_
