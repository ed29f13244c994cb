#include "agent/budgets/cgroup_place.h"

#include <dirent.h>

#include <algorithm>

#include "common/strings.h"
#include "fmt/format.h"

namespace bulkhead::agent::budgets {
namespace {

Status MissingController(const CgroupLayout& layout, std::string_view controller) {
  std::string where =
      layout.unified_mount.empty()
          ? std::string("no cgroup v2 mount")
          : fmt::format("not in {}/cgroup.controllers either", layout.unified_mount);
  return absl::FailedPreconditionError(fmt::format(
      "the {} controller is not available on this node (cgroup mode {}: no cgroup v1 hierarchy "
      "for it, {}); mount its v1 hierarchy or enable it in cgroup v2, or leave that resource "
      "unlimited in the budget",
      controller, CgroupModeName(layout.mode), where));
}

}  // namespace

const ControllerDir* CgroupPlace::Find(std::string_view controller) const {
  auto it = std::find_if(dirs.begin(), dirs.end(),
                         [&](const ControllerDir& dir) { return dir.controller == controller; });
  return it == dirs.end() ? nullptr : &*it;
}

std::vector<std::string> CgroupPlace::Paths() const {
  std::vector<std::string> paths;
  for (const ControllerDir& dir : dirs) {
    if (std::find(paths.begin(), paths.end(), dir.path) == paths.end()) {
      paths.push_back(dir.path);
    }
  }
  return paths;
}

std::vector<std::string> CgroupSubtree(const std::string& dir) {
  std::vector<std::string> dirs{dir};
  for (size_t i = 0; i < dirs.size(); ++i) {
    DIR* handle = ::opendir(dirs[i].c_str());
    if (handle == nullptr) {
      continue;
    }
    while (dirent* entry = ::readdir(handle)) {
      std::string_view name(entry->d_name);
      if (entry->d_type == DT_DIR && name != "." && name != "..") {
        dirs.push_back(fmt::format("{}/{}", dirs[i], name));
      }
    }
    ::closedir(handle);
  }
  return dirs;
}

std::string JoinCgroupPath(std::string_view parent, std::string_view child) {
  std::string out;
  for (std::string_view part : {parent, child}) {
    for (std::string_view piece : SplitNonEmpty(part, "/")) {
      if (!out.empty()) {
        out.push_back('/');
      }
      out.append(piece);
    }
  }
  return out;
}

StatusOr<CgroupPlace> ResolveCgroupPlace(const CgroupLayout& layout, std::string_view relative,
                                         const std::vector<std::string>& controllers,
                                         const std::vector<std::string>& optional_controllers) {
  if (!relative.empty() && relative.front() == '/') {
    return absl::InvalidArgumentError(
        fmt::format("cgroup path \"{}\" must be relative to the hierarchy roots", relative));
  }
  for (std::string_view piece : SplitNonEmpty(relative, "/")) {
    if (piece == "." || piece == "..") {
      return absl::InvalidArgumentError(
          fmt::format("cgroup path \"{}\" must not hold \".\" or \"..\"", relative));
    }
  }
  CgroupPlace place;
  place.relative = JoinCgroupPath(relative, "");
  auto add = [&](const std::string& controller, bool required) -> Status {
    std::optional<ControllerPlacement> placement = layout.Find(controller);
    if (!placement) {
      return required ? MissingController(layout, controller) : absl::OkStatus();
    }
    place.dirs.push_back({controller, placement->version, placement->mount_point,
                          fmt::format("{}/{}", placement->mount_point, place.relative),
                          placement->swap});
    if (place.relative.empty()) {
      place.dirs.back().path = placement->mount_point;
    }
    return absl::OkStatus();
  };
  for (const std::string& controller : controllers) {
    BH_RETURN_IF_ERROR(add(controller, true));
  }
  for (const std::string& controller : optional_controllers) {
    BH_RETURN_IF_ERROR(add(controller, false));
  }
  return place;
}

}  // namespace bulkhead::agent::budgets
