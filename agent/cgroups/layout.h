// Which cgroup layout a node has (v1, hybrid, v2) and where each resource
// controller lives. The agent detects it at start; budgets and the BPF
// attach point follow from it.
#ifndef BULKHEAD_AGENT_CGROUPS_LAYOUT_H_
#define BULKHEAD_AGENT_CGROUPS_LAYOUT_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace bulkhead::agent {

enum class CgroupMode {
  kNone,    // no cgroup filesystem mounted at all
  kV1,      // cgroup v1 hierarchies only
  kHybrid,  // v1 resource controllers plus a v2 mount for BPF
  kV2,      // pure cgroup v2
};

std::string_view CgroupModeName(CgroupMode mode);

struct ControllerPlacement {
  std::string controller;
  int version = 0;          // 1 or 2
  std::string mount_point;  // root of the hierarchy holding it
  // memory only: the kernel accounts swap, so memory plus swap can be
  // limited (v1 memory.memsw.*, v2 memory.swap.*). Set by DetectCgroupLayout.
  bool swap = false;
};

struct CgroupLayout {
  CgroupMode mode = CgroupMode::kNone;
  std::string unified_mount;  // the cgroup v2 mount, empty when none
  std::vector<ControllerPlacement> controllers;

  // Where `controller` lives, if anywhere.
  [[nodiscard]] std::optional<ControllerPlacement> Find(std::string_view controller) const;
};

// Reads the controllers enabled at a cgroup v2 root (its cgroup.controllers).
using ControllersReader = std::function<StatusOr<std::string>(const std::string& mount)>;

// Builds the layout from the text of /proc/self/mountinfo. v1 controllers
// come from the super options of each cgroup mount; v2 controllers from
// `read_controllers` on the v2 mount. Controllers bound to a v1 hierarchy
// are listed there even if the v2 root also names them (they cannot be used
// in both).
StatusOr<CgroupLayout> ParseCgroupLayout(std::string_view mountinfo,
                                         const ControllersReader& read_controllers);

// Whether the memory controller at `memory` accounts swap: v1 has
// memory.memsw.limit_in_bytes at its root; v2 has memory.swap.max in the
// cgroups below the root (the root has none), so a first-level cgroup with
// the memory controller is looked for. False when the kernel was built
// without swap accounting or booted with it off (swapaccount=0,
// cgroup.memory=noswap).
bool DetectSwapAccounting(const ControllerPlacement& memory);

// Detects the layout of this machine, swap accounting included.
StatusOr<CgroupLayout> DetectCgroupLayout();

}  // namespace bulkhead::agent

#endif  // BULKHEAD_AGENT_CGROUPS_LAYOUT_H_
