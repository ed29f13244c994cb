#include "agent/netpol/map_layout.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/logging.h"
#include "common/unique_fd.h"
#include "fmt/format.h"
#include "netpol/netpol_structs.h"

namespace bulkhead::agent::netpol {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Layout 1's endpoint value: 32-bit pod ids.
struct EndpointV1 {
  __u32 tenant;
  __u32 pod;
  __u32 flags;
};

std::vector<std::string> PinsIn(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* entry = ::readdir(d)) {
      std::string name = entry->d_name;
      if (name != "." && name != "..") {
        names.push_back(name);
      }
    }
    ::closedir(d);
  }
  return names;
}

bool IsPerCpu(bpf_map_type type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

// The old value in the new map's value layout; nullopt when there is no
// known conversion (the map then starts empty).
std::optional<Bytes> ConvertValue(const std::string& map, int old_version, const Bytes& key,
                                  const Bytes& old_value, size_t new_size) {
  if (old_value.size() == new_size) {
    return old_value;
  }
  if (old_version == 1 && (map == "endpoints" || map == "local_endpoints") &&
      old_value.size() == sizeof(EndpointV1) && new_size == sizeof(netpol_endpoint)) {
    EndpointV1 old{};
    std::memcpy(&old, old_value.data(), sizeof(old));
    netpol_endpoint value{};
    value.tenant = old.tenant;
    value.flags = old.flags;
    value.pod = old.pod;  // the agent keeps a pod's id (Datapath: ids are sticky)
    Bytes out(sizeof(value));
    std::memcpy(out.data(), &value, sizeof(value));
    return out;
  }
  if (old_version == 1 && map == "granted_flows" && key.size() == sizeof(netpol_flow_key) &&
      new_size == sizeof(netpol_flow_value) && old_value.size() == sizeof(__u64)) {
    netpol_flow_key flow{};
    std::memcpy(&flow, key.data(), sizeof(flow));
    netpol_flow_value value{};
    std::memcpy(&value.last_seen_ns, old_value.data(), sizeof(__u64));
    value.charged = flow.tenant;  // layout 1 did not say who opened it
    Bytes out(sizeof(value));
    std::memcpy(out.data(), &value, sizeof(value));
    return out;
  }
  if (old_value.size() < new_size) {
    // Fields appended: zero means "default" for every appended field.
    Bytes out(new_size, 0);
    std::copy(old_value.begin(), old_value.end(), out.begin());
    return out;
  }
  return std::nullopt;
}

}  // namespace

int CurrentLayout() { return NETPOL_LAYOUT_VERSION; }

std::string MapsDir(const std::string& bpf_root, int version) {
  return version == 1 ? bpf_root + "/maps" : fmt::format("{}/maps-v{}", bpf_root, version);
}

StatusOr<std::optional<int>> FindOlderLayout(const std::string& bpf_root) {
  std::optional<int> older;
  for (const std::string& name : PinsIn(bpf_root)) {
    int version = 0;
    if (name == "maps") {
      version = 1;
    } else if (name.rfind("maps-v", 0) == 0) {
      version = std::atoi(name.c_str() + 6);
    } else {
      continue;
    }
    if (PinsIn(MapsDir(bpf_root, version)).empty()) {
      continue;  // an empty directory left behind holds nothing to migrate
    }
    if (version > CurrentLayout()) {
      return absl::FailedPreconditionError(fmt::format(
          "{} holds map layout {}, newer than this agent's layout {}: run the newer agent, or "
          "'bulkhead-agent uninstall' to start over",
          bpf_root, version, CurrentLayout()));
    }
    if (version < CurrentLayout() && (!older || version > *older)) {
      older = version;
    }
  }
  return older;
}

StatusOr<MigrationCount> CopyPinnedMaps(const std::string& old_dir, int old_version,
                                        bpf_object* object, bool only_new) {
  MigrationCount count;
  int cpus = std::max(libbpf_num_possible_cpus(), 1);
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, object) {
    std::string name = bpf_map__name(map);
    auto type = bpf_map__type(map);
    if (type == BPF_MAP_TYPE_RINGBUF) {
      continue;  // records in flight are not state
    }
    std::string pin = fmt::format("{}/{}", old_dir, name);
    if (::access(pin.c_str(), F_OK) != 0) {
      continue;  // new in this layout: starts empty
    }
    UniqueFd old_fd(bpf_obj_get(pin.c_str()));
    if (!old_fd) {
      return ErrnoError(errno, fmt::format("open pinned map {}", pin));
    }
    bpf_map_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(old_fd.get(), &info, &len) != 0) {
      return ErrnoError(errno, fmt::format("inspect pinned map {}", pin));
    }
    size_t key_size = bpf_map__key_size(map);
    if (info.key_size != key_size ||
        IsPerCpu(static_cast<bpf_map_type>(info.type)) != IsPerCpu(type)) {
      Logger(Component::kNetpol)
          .warn("map layout changed with no conversion; starts empty map={} old_layout={}", name,
                old_version);
      continue;
    }
    size_t copies = IsPerCpu(type) ? static_cast<size_t>(cpus) : 1;
    auto slot = [](size_t size) { return (size + 7) / 8 * 8; };
    size_t old_value = IsPerCpu(type) ? slot(info.value_size) * copies : info.value_size;
    size_t new_value =
        IsPerCpu(type) ? slot(bpf_map__value_size(map)) * copies : bpf_map__value_size(map);
    int new_fd = bpf_map__fd(map);
    Bytes key(key_size);
    Bytes next(key_size);
    Bytes value(old_value);
    Bytes existing(new_value);
    void* cursor = nullptr;
    size_t written = 0;
    size_t unconverted = 0;
    while (bpf_map_get_next_key(old_fd.get(), cursor, next.data()) == 0) {
      key = next;
      cursor = key.data();
      if (bpf_map_lookup_elem(old_fd.get(), key.data(), value.data()) != 0) {
        continue;  // removed meanwhile
      }
      if (only_new && bpf_map_lookup_elem(new_fd, key.data(), existing.data()) == 0) {
        continue;
      }
      std::optional<Bytes> converted =
          IsPerCpu(type) ? (old_value == new_value ? std::optional<Bytes>(value) : std::nullopt)
                         : ConvertValue(name, old_version, key, value, new_value);
      if (!converted) {
        ++unconverted;
        continue;
      }
      if (bpf_map_update_elem(new_fd, key.data(), converted->data(), BPF_ANY) != 0) {
        return ErrnoError(
            errno, fmt::format("copy an entry of map {} to layout {}", name, CurrentLayout()));
      }
      ++written;
    }
    if (unconverted > 0) {
      Logger(Component::kNetpol)
          .warn("map entries not converted map={} entries={} old_layout={}", name, unconverted,
                old_version);
    }
    ++count.maps;
    count.entries += written;
  }
  return count;
}

Status RemovePinnedMaps(const std::string& dir) {
  for (const std::string& name : PinsIn(dir)) {
    std::string pin = fmt::format("{}/{}", dir, name);
    if (::unlink(pin.c_str()) != 0 && errno != ENOENT) {
      return ErrnoError(errno, fmt::format("remove {}", pin));
    }
  }
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError(errno, fmt::format("remove {}", dir));
  }
  return absl::OkStatus();
}

}  // namespace bulkhead::agent::netpol
