#include "agent/netpol/antispoof.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>

#include "agent/netpol/map_layout.h"
#include "agent/netpol/node_addresses.h"
#include "antispoof.skel.h"
#include "common/bpf_owner.h"
#include "common/logging.h"
#include "common/netns.h"
#include "common/unique_fd.h"
#include "fmt/format.h"
#include "netpol/antispoof_structs.h"

namespace bulkhead::agent::netpol {
namespace {

using AntiSpoofSkeleton =
    BpfSkeleton<::antispoof, antispoof__open_opts, antispoof__load, antispoof__destroy>;

// BPF_TCX_INGRESS (Linux 6.6); the system's uapi headers may predate it.
constexpr int kTcxIngress = 46;

// The first process found in the cgroup or below it.
std::optional<pid_t> ProcessIn(const std::string& cgroup, int depth = 0) {
  std::ifstream procs(cgroup + "/cgroup.procs");
  pid_t pid = 0;
  if (procs >> pid && pid > 0) {
    return pid;
  }
  if (depth > 4) {
    return std::nullopt;
  }
  DIR* dir = ::opendir(cgroup.c_str());
  if (dir == nullptr) {
    return std::nullopt;
  }
  std::vector<std::string> children;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_type == DT_DIR && entry->d_name[0] != '.') {
      children.emplace_back(entry->d_name);
    }
  }
  ::closedir(dir);
  for (const std::string& child : children) {
    if (auto found = ProcessIn(fmt::format("{}/{}", cgroup, child), depth + 1)) {
      return found;
    }
  }
  return std::nullopt;
}

bool IsLinkLocal(const IpAddress& address) {
  const auto& b = address.bytes();
  return !address.is_v4() && b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

std::string PinOf(const std::string& bpf_root, int ifindex) {
  return fmt::format("{}/links/antispoof-if{}", bpf_root, ifindex);
}

}  // namespace

StatusOr<PodInterface> FindPodInterface(const std::string& cgroup,
                                        const std::vector<IpAddress>& addresses) {
  std::optional<pid_t> pid = ProcessIn(cgroup);
  if (!pid) {
    return absl::NotFoundError(fmt::format("no process in cgroup {} yet", cgroup));
  }
  std::string netns_path = fmt::format("/proc/{}/ns/net", *pid);
  UniqueFd netns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns) {
    return ErrnoError(errno, fmt::format("open {}", netns_path));
  }
  BH_ASSIGN_OR_RETURN(NetnsGuard guard, NetnsGuard::Enter(netns.get()));
  BH_ASSIGN_OR_RETURN(auto found, ReadInterfaceAddresses());
  std::set<IpAddress> wanted(addresses.begin(), addresses.end());
  int pod_ifindex = 0;
  for (const InterfaceAddress& entry : found) {
    if (wanted.contains(entry.address)) {
      pod_ifindex = entry.ifindex;
      break;
    }
  }
  if (pod_ifindex == 0) {
    return absl::NotFoundError(
        fmt::format("no interface of the pod's network namespace holds its addresses"));
  }
  PodInterface pod;
  BH_ASSIGN_OR_RETURN(pod.host_ifindex, VethPeerIndex(pod_ifindex));
  pod.sources = addresses;
  for (const InterfaceAddress& entry : found) {
    if (entry.ifindex == pod_ifindex && IsLinkLocal(entry.address)) {
      pod.sources.push_back(entry.address);
    }
  }
  return pod;
}

struct AntiSpoof::Impl {
  AntiSpoofSkeleton skel;
  std::string bpf_root;
  std::string node_netns;
  std::map<int, std::vector<IpAddress>> guarded;  // ifindex -> sources

  int map_fd() const { return bpf_map__fd(skel->maps.pod_sources); }

  Status WriteSources(int ifindex, const std::vector<IpAddress>& sources) {
    std::set<IpAddress> keep(sources.begin(), sources.end());
    auto previous = guarded.find(ifindex);
    std::uint8_t one = 1;
    for (const IpAddress& address : keep) {
      netpol_pod_source key{};
      key.ifindex = static_cast<__u32>(ifindex);
      std::memcpy(key.addr, address.bytes().data(), NETPOL_ADDR_LEN);
      if (bpf_map_update_elem(map_fd(), &key, &one, BPF_ANY) != 0) {
        return ErrnoError(errno, "write pod_sources");
      }
    }
    if (previous != guarded.end()) {
      for (const IpAddress& address : previous->second) {
        if (!keep.contains(address)) {
          netpol_pod_source key{};
          key.ifindex = static_cast<__u32>(ifindex);
          std::memcpy(key.addr, address.bytes().data(), NETPOL_ADDR_LEN);
          (void)bpf_map_delete_elem(map_fd(), &key);
        }
      }
    }
    guarded[ifindex] = sources;
    return absl::OkStatus();
  }
};

AntiSpoof::AntiSpoof(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AntiSpoof::~AntiSpoof() = default;

StatusOr<std::unique_ptr<AntiSpoof>> AntiSpoof::Open(const std::string& bpf_root,
                                                     const std::string& node_netns) {
  // With the netpol maps of this layout (a new map needs no layout bump);
  // <bpf_root>/maps is layout 1's, which an agent migrates and removes.
  std::string maps_dir = MapsDir(bpf_root, CurrentLayout());
  bpf_object_open_opts open_opts{};
  open_opts.sz = sizeof(open_opts);
  open_opts.pin_root_path = maps_dir.c_str();
  BH_ASSIGN_OR_RETURN(AntiSpoofSkeleton skel, AntiSpoofSkeleton::Open("antispoof", &open_opts));
  BH_RETURN_IF_ERROR(Annotate(skel.Load(), "load the antispoof program"));
  auto impl = std::make_unique<Impl>(Impl{std::move(skel), bpf_root, node_netns, {}});
  return std::unique_ptr<AntiSpoof>(new AntiSpoof(std::move(impl)));
}

int AntiSpoof::pod_sources_fd() const { return impl_->map_fd(); }

Status AntiSpoof::Guard(const PodInterface& pod) {
  // Sources first: the program never runs on the interface without them.
  BH_RETURN_IF_ERROR(impl_->WriteSources(pod.host_ifindex, pod.sources));
  int prog_fd = bpf_program__fd(impl_->skel->progs.netpol_antispoof);
  std::string pin = PinOf(impl_->bpf_root, pod.host_ifindex);
  UniqueFd pinned(bpf_obj_get(pin.c_str()));
  if (pinned) {
    if (bpf_link_update(pinned.get(), prog_fd, nullptr) == 0) {
      return absl::OkStatus();
    }
    // The interface that link was on is gone (its index is reused): start over.
    (void)::unlink(pin.c_str());
  }
  // The ifindex is the node namespace's: attach from there.
  std::optional<NetnsGuard> guard;
  UniqueFd netns;
  if (!impl_->node_netns.empty()) {
    netns.reset(::open(impl_->node_netns.c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns) {
      return ErrnoError(errno, fmt::format("open node network namespace {}", impl_->node_netns));
    }
    BH_ASSIGN_OR_RETURN(NetnsGuard entered, NetnsGuard::Enter(netns.get()));
    guard.emplace(std::move(entered));
  }
  UniqueFd link(bpf_link_create(prog_fd, pod.host_ifindex,
                                static_cast<bpf_attach_type>(kTcxIngress), nullptr));
  if (!link) {
    return ErrnoError(
        errno, fmt::format("attach antispoof (tcx ingress) to interface {}", pod.host_ifindex));
  }
  if (bpf_obj_pin(link.get(), pin.c_str()) != 0) {
    int err = errno;
    (void)bpf_link_detach(link.get());
    return ErrnoError(err, fmt::format("pin link {}", pin));
  }
  return absl::OkStatus();
}

Status AntiSpoof::Release(int host_ifindex) {
  std::string pin = PinOf(impl_->bpf_root, host_ifindex);
  UniqueFd pinned(bpf_obj_get(pin.c_str()));
  if (pinned) {
    (void)bpf_link_detach(pinned.get());
    if (::unlink(pin.c_str()) != 0 && errno != ENOENT) {
      return ErrnoError(errno, fmt::format("remove {}", pin));
    }
  }
  BH_RETURN_IF_ERROR(impl_->WriteSources(host_ifindex, {}));
  impl_->guarded.erase(host_ifindex);
  return absl::OkStatus();
}

}  // namespace bulkhead::agent::netpol
