#include "agent/budgets/libcgroup_writer.h"

#include <libcgroup.h>

#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "common/logging.h"
#include "fmt/format.h"

namespace bulkhead::agent::budgets {
namespace {

void LogFromLibcgroup(void* /*userdata*/, int level, const char* format, va_list args) {
  std::array<char, 512> line{};
  // libcgroup hands us its own printf format.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  std::vsnprintf(line.data(), line.size(), format, args);
#pragma GCC diagnostic pop
  std::string_view text(line.data());
  while (!text.empty() && text.back() == '\n') {
    text.remove_suffix(1);
  }
  auto spd_level = level <= CGROUP_LOG_ERROR     ? spdlog::level::err
                   : level <= CGROUP_LOG_WARNING ? spdlog::level::warn
                                                 : spdlog::level::debug;
  Logger(Component::kBudget).log(spd_level, "libcgroup: {}", text);
}

struct CgroupDeleter {
  void operator()(cgroup* group) const { cgroup_free(&group); }
};
using CgroupPtr = std::unique_ptr<cgroup, CgroupDeleter>;

Status FromLibcgroup(int code, std::string_view context) {
  switch (code) {
    case 0:
      return absl::OkStatus();
    case ECGOTHER:
      return ErrnoError(cgroup_get_last_errno(), context);
    case ECGROUPVALUENOTEXIST:
      return absl::NotFoundError(
          fmt::format("{}: the cgroup or its file does not exist (libcgroup: {})", context,
                      cgroup_strerror(code)));
    case ECGROUPNOTOWNER:
    case ECGROUPNOTALLOWED:
      return absl::PermissionDeniedError(
          fmt::format("{}: {} (the agent must run as root)", context, cgroup_strerror(code)));
    case ECGROUPSUBSYSNOTMOUNTED:
    case ECGROUPNOTMOUNTED:
      return absl::FailedPreconditionError(
          fmt::format("{}: {}; mount the controller's hierarchy", context, cgroup_strerror(code)));
    default:
      return absl::InternalError(
          fmt::format("{}: libcgroup error {}: {}", context, code, cgroup_strerror(code)));
  }
}

// libcgroup's name for `dir`: its path below the controller's mount point as
// libcgroup found it. A mismatch with our own layout detection is a bug.
StatusOr<std::string> NameInHierarchy(std::string_view controller, const std::string& dir) {
  char* mount = nullptr;
  std::string controller_name(controller);
  int code = cgroup_get_subsys_mount_point(controller_name.c_str(), &mount);
  if (code == ECGROUPNOTEXIST || (code == 0 && mount == nullptr)) {
    return absl::FailedPreconditionError(fmt::format(
        "libcgroup knows no {} hierarchy on this node; mount the controller", controller));
  }
  BH_RETURN_IF_ERROR(FromLibcgroup(code, fmt::format("find the {} hierarchy", controller)));
  std::string root(mount);
  std::free(mount);  // NOLINT(cppcoreguidelines-no-malloc): libcgroup allocates it
  if (dir != root &&
      !(dir.starts_with(root) && dir.size() > root.size() && dir[root.size()] == '/')) {
    return absl::InternalError(fmt::format(
        "cgroup {} is not below the {} hierarchy libcgroup knows ({})", dir, controller, root));
  }
  std::string name = dir.substr(root.size());
  return name.empty() ? std::string("/") : name;
}

StatusOr<CgroupPtr> NewCgroup(std::string_view controller, const std::string& dir,
                              cgroup_controller** out) {
  BH_RETURN_IF_ERROR(InitLibcgroup());
  BH_ASSIGN_OR_RETURN(std::string name, NameInHierarchy(controller, dir));
  CgroupPtr group(cgroup_new_cgroup(name.c_str()));
  if (!group) {
    return absl::ResourceExhaustedError("libcgroup: cgroup_new_cgroup failed");
  }
  std::string controller_name(controller);
  *out = cgroup_add_controller(group.get(), controller_name.c_str());
  if (*out == nullptr) {
    return absl::InternalError(fmt::format("libcgroup: cannot add controller {}", controller));
  }
  return group;
}

}  // namespace

Status InitLibcgroup() {
  static std::once_flag once;
  static int code = 0;
  std::call_once(once, [] {
    cgroup_set_logger(&LogFromLibcgroup, CGROUP_LOG_WARNING, nullptr);
    code = cgroup_init();
  });
  return FromLibcgroup(code, "initialize libcgroup");
}

Status CreateCgroup(std::string_view controller, const std::string& dir) {
  cgroup_controller* handle = nullptr;
  BH_ASSIGN_OR_RETURN(CgroupPtr group, NewCgroup(controller, dir, &handle));
  return FromLibcgroup(cgroup_create_cgroup(group.get(), /*ignore_ownership=*/1),
                       fmt::format("create cgroup {}", dir));
}

Status WriteCgroupValue(const CgroupValue& value) {
  cgroup_controller* handle = nullptr;
  BH_ASSIGN_OR_RETURN(CgroupPtr group, NewCgroup(value.controller, value.dir, &handle));
  std::string context = fmt::format("write \"{}\" to {}", value.value, value.path());
  BH_RETURN_IF_ERROR(FromLibcgroup(
      cgroup_add_value_string(handle, value.file.c_str(), value.value.c_str()), context));
  Status status = FromLibcgroup(cgroup_modify_cgroup(group.get()), context);
  if (ErrnoOf(status) == EBUSY && value.file.starts_with("memory.")) {
    // cgroup v1 refuses a memory limit below what it cannot reclaim.
    Status hinted(status.code(),
                  fmt::format("{}: the cgroup uses more memory than that and the kernel could "
                              "not reclaim it; free memory there or choose a higher limit",
                              status.message()));
    status.ForEachPayload(
        [&](absl::string_view url, const absl::Cord& payload) { hinted.SetPayload(url, payload); });
    return hinted;
  }
  return status;
}

}  // namespace bulkhead::agent::budgets
