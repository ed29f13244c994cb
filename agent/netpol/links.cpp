#include "agent/netpol/links.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>

#include "common/logging.h"
#include "common/unique_fd.h"
#include "fmt/format.h"

namespace bulkhead::agent::netpol {
namespace {

constexpr const char* kBpffs = "/sys/fs/bpf";

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError(errno, fmt::format("create {}", path));
  }
  return absl::OkStatus();
}

StatusOr<std::uint64_t> CgroupId(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return ErrnoError(errno, fmt::format("pods cgroup {}", path));
  }
  return static_cast<std::uint64_t>(st.st_ino);
}

StatusOr<std::uint64_t> LinkCgroupId(int link_fd) {
  bpf_link_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(link_fd, &info, &len) != 0) {
    return ErrnoError(errno, "inspect pinned link");
  }
  if (info.type != BPF_LINK_TYPE_CGROUP) {
    return absl::FailedPreconditionError("pinned link is not a cgroup link");
  }
  return static_cast<std::uint64_t>(info.cgroup.cgroup_id);
}

}  // namespace

Status PrepareBpfRoot(const std::string& root, const std::string& maps_dir) {
  if (root.rfind(kBpffs, 0) == 0) {
    struct statfs fs {};
    if (::statfs(kBpffs, &fs) != 0 || static_cast<unsigned long>(fs.f_type) != BPF_FS_MAGIC) {
      if (::mount("bpf", kBpffs, "bpf", 0, "mode=0700") != 0) {
        return ErrnoError(errno, "mount bpffs at /sys/fs/bpf (needed to pin maps and links)");
      }
      Logger(Component::kNetpol).info("mounted bpffs path={}", kBpffs);
    }
  }
  BH_RETURN_IF_ERROR(MakeDir(root));
  BH_RETURN_IF_ERROR(MakeDir(maps_dir));
  return MakeDir(root + "/links");
}

StatusOr<AttachResult> AttachOrReplace(const std::vector<bpf_program*>& programs,
                                       const std::string& cgroup_path,
                                       const std::string& links_dir) {
  BH_ASSIGN_OR_RETURN(std::uint64_t cgroup_id, CgroupId(cgroup_path));
  AttachResult result;
  // Open every pinned link first, so that a mismatch refuses before anything changes.
  std::vector<BpfLink> pinned(programs.size());
  bool any_pinned = false;
  for (size_t i = 0; i < programs.size(); ++i) {
    std::string pin = fmt::format("{}/{}", links_dir, bpf_program__name(programs[i]));
    if (::access(pin.c_str(), F_OK) != 0) {
      continue;
    }
    errno = 0;
    pinned[i].reset(bpf_link__open(pin.c_str()));
    if (!pinned[i]) {
      return ErrnoError(errno != 0 ? errno : EINVAL, fmt::format("open pinned link {}", pin));
    }
    BH_ASSIGN_OR_RETURN(std::uint64_t attached_to, LinkCgroupId(bpf_link__fd(pinned[i].get())));
    if (attached_to != cgroup_id) {
      return absl::FailedPreconditionError(
          fmt::format("pinned link {} is attached to another cgroup (id {}), not {}; run "
                      "'bulkhead-agent uninstall' first to move the datapath",
                      pin, attached_to, cgroup_path));
    }
    any_pinned = true;
  }
  UniqueFd cgroup(::open(cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup) {
    return ErrnoError(errno, fmt::format("open pods cgroup {}", cgroup_path));
  }
  for (size_t i = 0; i < programs.size(); ++i) {
    const char* name = bpf_program__name(programs[i]);
    if (pinned[i]) {
      BH_RETURN_IF_ERROR(CheckLibbpf(bpf_link__update_program(pinned[i].get(), programs[i]),
                                     fmt::format("replace program {} in its link", name)));
      result.links.push_back(std::move(pinned[i]));
      continue;
    }
    errno = 0;
    BpfLink link(bpf_program__attach_cgroup(programs[i], cgroup.get()));
    if (!link) {
      return ErrnoError(errno != 0 ? errno : EINVAL,
                        fmt::format("attach {} to {}", name, cgroup_path));
    }
    std::string pin = fmt::format("{}/{}", links_dir, name);
    BH_RETURN_IF_ERROR(
        CheckLibbpf(bpf_link__pin(link.get(), pin.c_str()), fmt::format("pin link {}", pin)));
    result.links.push_back(std::move(link));
  }
  result.replaced = any_pinned;
  return result;
}

Status DetachPinnedLinks(const std::string& links_dir) {
  DIR* dir = ::opendir(links_dir.c_str());
  if (dir == nullptr) {
    return errno == ENOENT ? absl::OkStatus()
                           : ErrnoError(errno, fmt::format("open {}", links_dir));
  }
  std::vector<std::string> pins;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") {
      pins.push_back(fmt::format("{}/{}", links_dir, name));
    }
  }
  ::closedir(dir);
  for (const std::string& pin : pins) {
    UniqueFd fd(bpf_obj_get(pin.c_str()));
    if (fd && bpf_link_detach(fd.get()) != 0) {
      Logger(Component::kNetpol).warn("detach link failed pin={} errno={}", pin, errno);
    }
    if (::unlink(pin.c_str()) != 0 && errno != ENOENT) {
      return ErrnoError(errno, fmt::format("remove {}", pin));
    }
  }
  return absl::OkStatus();
}

}  // namespace bulkhead::agent::netpol
