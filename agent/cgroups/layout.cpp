#include "agent/cgroups/layout.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "common/file.h"

namespace bulkhead::agent {
namespace {

// Resource controllers Bulkhead knows about; named cgroup v1 hierarchies
// ("name=systemd") and other mount options are not controllers.
const std::set<std::string, std::less<>> kKnownControllers = {
    "cpu",     "cpuacct", "cpuset",   "memory",     "pids",    "blkio", "io",  "devices",
    "freezer", "net_cls", "net_prio", "perf_event", "hugetlb", "rdma",  "misc"};

// Mount points in mountinfo escape space, tab, newline and backslash as \ooo.
std::string Unescape(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      int value = 0;
      bool octal = true;
      for (size_t j = 1; j <= 3; ++j) {
        char c = field[i + j];
        if (c < '0' || c > '7') {
          octal = false;
          break;
        }
        value = value * 8 + (c - '0');
      }
      if (octal) {
        out.push_back(static_cast<char>(value));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

}  // namespace

std::string_view CgroupModeName(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::kNone:
      return "none";
    case CgroupMode::kV1:
      return "v1";
    case CgroupMode::kHybrid:
      return "hybrid";
    case CgroupMode::kV2:
      return "v2";
  }
  return "unknown";
}

std::optional<ControllerPlacement> CgroupLayout::Find(std::string_view controller) const {
  auto it = std::find_if(controllers.begin(), controllers.end(),
                         [&](const ControllerPlacement& p) { return p.controller == controller; });
  if (it == controllers.end()) {
    return std::nullopt;
  }
  return *it;
}

StatusOr<CgroupLayout> ParseCgroupLayout(std::string_view mountinfo,
                                         const ControllersReader& read_controllers) {
  CgroupLayout layout;
  bool have_v1 = false;
  std::set<std::string, std::less<>> v1_controllers;
  for (std::string_view line : SplitNonEmpty(mountinfo, "\n")) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    std::vector<std::string_view> fields = SplitNonEmpty(line, " ");
    auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 5 || dash == fields.end() || std::distance(dash, fields.end()) < 3) {
      return absl::InvalidArgumentError(fmt::format("malformed mountinfo line: {}", line));
    }
    std::string_view fstype = *(dash + 1);
    std::string_view super_options = std::distance(dash, fields.end()) >= 4 ? *(dash + 3) : "";
    std::string mount_point = Unescape(fields[4]);
    if (fstype == "cgroup2") {
      if (layout.unified_mount.empty()) {
        layout.unified_mount = mount_point;
      }
    } else if (fstype == "cgroup") {
      have_v1 = true;
      for (std::string_view option : SplitNonEmpty(super_options, ",")) {
        if (kKnownControllers.contains(option) && !v1_controllers.contains(option)) {
          v1_controllers.insert(std::string(option));
          layout.controllers.push_back({std::string(option), 1, mount_point});
        }
      }
    }
  }
  if (!layout.unified_mount.empty()) {
    auto text = read_controllers(layout.unified_mount);
    if (text.ok()) {
      for (std::string_view name : SplitNonEmpty(*text, " \n")) {
        if (!v1_controllers.contains(name)) {
          layout.controllers.push_back({std::string(name), 2, layout.unified_mount});
        }
      }
    }
  }
  std::sort(layout.controllers.begin(), layout.controllers.end(),
            [](const auto& a, const auto& b) { return a.controller < b.controller; });
  if (have_v1 && !layout.unified_mount.empty()) {
    layout.mode = CgroupMode::kHybrid;
  } else if (have_v1) {
    layout.mode = CgroupMode::kV1;
  } else if (!layout.unified_mount.empty()) {
    layout.mode = CgroupMode::kV2;
  }
  return layout;
}

bool DetectSwapAccounting(const ControllerPlacement& memory) {
  if (memory.controller != "memory") {
    return false;
  }
  if (memory.version == 1) {
    return ::access((memory.mount_point + "/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0;
  }
  DIR* handle = ::opendir(memory.mount_point.c_str());
  if (handle == nullptr) {
    return false;
  }
  bool found = false;
  while (dirent* entry = ::readdir(handle)) {
    std::string_view name(entry->d_name);
    if (entry->d_type == DT_DIR && name != "." && name != ".." &&
        ::access(fmt::format("{}/{}/memory.swap.max", memory.mount_point, name).c_str(), F_OK) ==
            0) {
      found = true;
      break;
    }
  }
  ::closedir(handle);
  return found;
}

StatusOr<CgroupLayout> DetectCgroupLayout() {
  BH_ASSIGN_OR_RETURN(std::string mountinfo, ReadFile("/proc/self/mountinfo"));
  BH_ASSIGN_OR_RETURN(CgroupLayout layout,
                      ParseCgroupLayout(mountinfo, [](const std::string& mount) {
                        return ReadFile(mount + "/cgroup.controllers");
                      }));
  for (ControllerPlacement& placement : layout.controllers) {
    placement.swap = DetectSwapAccounting(placement);
  }
  return layout;
}

}  // namespace bulkhead::agent
