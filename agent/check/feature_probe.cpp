#include "agent/check/feature_probe.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "agent/cgroups/layout.h"
#include "agent/check/attach_probe.h"
#include "common/file.h"
#include "google/protobuf/util/json_util.h"

namespace bulkhead::agent {
namespace {

constexpr int kCapSysAdmin = 21;
constexpr int kCapBpf = 39;
constexpr int kMinKernelMajor = 5;
constexpr int kMinKernelMinor = 10;

v1::KernelFeature* Add(v1::FeatureReport& report, std::string_view name, bool required) {
  v1::KernelFeature* feature = report.add_features();
  feature->set_name(std::string(name));
  feature->set_required(required);
  return feature;
}

void Set(v1::KernelFeature* feature, bool present, std::string_view detail,
         std::string_view remedy = "") {
  feature->set_present(present);
  feature->set_detail(std::string(detail));
  if (!present) {
    feature->set_remedy(std::string(remedy));
  }
}

StatusOr<unsigned long long> EffectiveCapabilities() {
  BH_ASSIGN_OR_RETURN(std::string status, ReadFile("/proc/self/status"));
  for (std::string_view line : SplitNonEmpty(status, "\n")) {
    if (ConsumePrefix(line, "CapEff:")) {
      if (auto caps = ParseInteger<unsigned long long>(TrimSpace(line), 16)) {
        return *caps;
      }
    }
  }
  return absl::InternalError("no CapEff line in /proc/self/status");
}

bool HasCap(unsigned long long caps, int cap) { return ((caps >> cap) & 1ULL) != 0; }

void ProbeKernelVersion(v1::FeatureReport& report, const std::string& release) {
  auto* feature = Add(report, "kernel_version", true);
  int major = 0;
  int minor = 0;
  if (std::sscanf(release.c_str(), "%d.%d", &major, &minor) != 2) {
    Set(feature, false, fmt::format("cannot parse kernel release \"{}\"", release),
        "run on Linux 5.10 or newer");
    return;
  }
  bool ok = major > kMinKernelMajor || (major == kMinKernelMajor && minor >= kMinKernelMinor);
  Set(feature, ok, fmt::format("Linux {}.{}{}", major, minor, ok ? "" : " (older than 5.10)"),
      "upgrade the node to Linux 5.10 or newer (bpf_link for cgroups, ring buffers, BTF)");
}

void ProbeBpfSyscall(v1::FeatureReport& report) {
  auto* feature = Add(report, "bpf_syscall", true);
  int result = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SOCKET_FILTER, nullptr);
  if (result == 1) {
    Set(feature, true, "bpf(2) loads programs");
  } else if (result == -EPERM || result == -EACCES) {
    Set(feature, false, "bpf(2) refused: no permission",
        "run the agent as root or with CAP_BPF and CAP_SYS_ADMIN");
  } else {
    Set(feature, false,
        fmt::format("bpf(2) unavailable ({})",
                    result < 0 ? std::strerror(-result) : "not supported"),
        "use a kernel built with CONFIG_BPF_SYSCALL=y");
  }
}

void ProbeBtf(v1::FeatureReport& report) {
  auto* feature = Add(report, "btf", true);
  if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    Set(feature, false, "/sys/kernel/btf/vmlinux is missing",
        "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu, RHEL and COS kernels "
        "have it)");
    return;
  }
  btf* vmlinux = btf__load_vmlinux_btf();
  if (vmlinux == nullptr) {
    Set(feature, false,
        fmt::format("/sys/kernel/btf/vmlinux does not parse ({})", std::strerror(errno)),
        "use a kernel built with CONFIG_DEBUG_INFO_BTF=y");
    return;
  }
  Set(feature, true, fmt::format("/sys/kernel/btf/vmlinux, {} types", btf__type_cnt(vmlinux)));
  btf__free(vmlinux);
}

void ProbeBpffs(v1::FeatureReport& report) {
  // Not required: the agent mounts bpffs itself when it starts.
  auto* feature = Add(report, "bpffs", false);
  struct statfs fs {};
  if (::statfs("/sys/fs/bpf", &fs) == 0 && static_cast<unsigned long>(fs.f_type) == BPF_FS_MAGIC) {
    Set(feature, true, "mounted at /sys/fs/bpf");
    return;
  }
  Set(feature, false, "/sys/fs/bpf is not a bpf filesystem",
      "mount -t bpf bpf /sys/fs/bpf (the agent mounts it itself when it starts)");
}

void ProbeProgramType(v1::FeatureReport& report, std::string_view name, bpf_prog_type type,
                      std::string_view what) {
  auto* feature = Add(report, name, true);
  int result = libbpf_probe_bpf_prog_type(type, nullptr);
  Set(feature, result == 1,
      result == 1 ? fmt::format("{} programs load", what)
                  : fmt::format("{} programs are not supported", what),
      "use a kernel built with CONFIG_CGROUP_BPF=y");
}

void ProbeMapType(v1::FeatureReport& report, std::string_view name, bpf_map_type type,
                  std::string_view what, std::string_view remedy) {
  auto* feature = Add(report, name, true);
  int result = libbpf_probe_bpf_map_type(type, nullptr);
  Set(feature, result == 1,
      result == 1 ? fmt::format("{} maps are created", what)
                  : fmt::format("{} maps are not supported", what),
      remedy);
}

void ProbeCgroups(v1::FeatureReport& report, const StatusOr<CgroupLayout>& layout) {
  auto* v2 = Add(report, "cgroup_v2", true);
  auto* controllers = Add(report, "cgroup_controllers", true);
  if (!layout.ok()) {
    Set(v2, false, fmt::format("cannot read mounts: {}", layout.status().message()),
        "run the agent with the host's /proc");
    Set(controllers, false, "cannot read mounts", "run the agent with the host's /proc");
    return;
  }
  auto* cgroups = report.mutable_cgroups();
  cgroups->set_unified_mount(layout->unified_mount);
  switch (layout->mode) {
    case CgroupMode::kNone:
      cgroups->set_mode(v1::CGROUP_MODE_UNSPECIFIED);
      break;
    case CgroupMode::kV1:
      cgroups->set_mode(v1::CGROUP_MODE_V1);
      break;
    case CgroupMode::kHybrid:
      cgroups->set_mode(v1::CGROUP_MODE_HYBRID);
      break;
    case CgroupMode::kV2:
      cgroups->set_mode(v1::CGROUP_MODE_V2);
      break;
  }
  for (const auto& placement : layout->controllers) {
    auto* out = cgroups->add_controllers();
    out->set_controller(placement.controller);
    out->set_version(placement.version);
    out->set_mount_point(placement.mount_point);
  }

  if (layout->unified_mount.empty()) {
    Set(v2, false, fmt::format("mode {}, no cgroup2 mount", CgroupModeName(layout->mode)),
        "mount -t cgroup2 none /sys/fs/cgroup/unified (BPF cgroup hooks attach to cgroup v2)");
  } else {
    Set(v2, true,
        fmt::format("mode {}, cgroup2 at {}", CgroupModeName(layout->mode), layout->unified_mount));
  }

  std::vector<std::string> found;
  std::vector<std::string> missing;
  for (std::string_view name : {"cpu", "memory", "pids", "cpuset"}) {
    auto placement = layout->Find(name);
    if (placement) {
      found.push_back(fmt::format("{}=v{}:{}", name, placement->version, placement->mount_point));
    } else if (name != "cpuset") {
      missing.emplace_back(name);
    }
  }
  std::string detail = fmt::format("{}", fmt::join(found, " "));
  if (!missing.empty()) {
    detail += fmt::format("{}missing {}", detail.empty() ? "" : "; ", fmt::join(missing, ","));
  }
  Set(controllers, missing.empty(), detail,
      "enable the cpu, memory and pids controllers (cgroup v2: add them to cgroup.subtree_control "
      "of the root; v1: mount their hierarchies)");

  // Without swap accounting a tenant's pods can swap past their memory
  // budget; budgets still work, so it is not required.
  auto* swap = Add(report, "cgroup_swap_limit", false);
  auto memory = layout->Find("memory");
  if (!memory) {
    Set(swap, false, "no memory controller", "enable the memory controller");
  } else if (memory->swap) {
    Set(swap, true,
        memory->version == 1 ? "memory.memsw.limit_in_bytes: memory budgets hold memory plus swap"
                             : "memory.swap.max: memory budgets allow no swap");
  } else {
    Set(swap, false,
        fmt::format("the v{} memory controller does not account swap: pods may swap past their "
                    "memory budget",
                    memory->version),
        memory->version == 1 ? "boot with swapaccount=1 (a kernel with CONFIG_MEMCG_SWAP), or run "
                               "the node without swap"
                             : "boot without cgroup.memory=noswap (a kernel with CONFIG_SWAP), or "
                               "run the node without swap");
  }
}

void ProbeAttach(v1::FeatureReport& report, const StatusOr<CgroupLayout>& layout) {
  auto* attach = Add(report, "cgroup_bpf_attach", true);
  auto* update = Add(report, "bpf_link_update", true);
  if (!layout.ok() || layout->unified_mount.empty()) {
    Set(attach, false, "not tried: no cgroup v2 mount", "mount cgroup v2 first (see cgroup_v2)");
    Set(update, false, "not tried: no cgroup v2 mount", "mount cgroup v2 first (see cgroup_v2)");
    return;
  }
  auto result = RunAttachProbe(layout->unified_mount);
  if (!result.ok()) {
    std::string why(result.status().message());
    Set(attach, false, why, "use a kernel built with CONFIG_CGROUP_BPF=y, Linux 5.10 or newer");
    Set(update, false, "not tried: attach failed", "see cgroup_bpf_attach");
    return;
  }
  Set(attach, result->connect_calls > 0,
      result->connect_calls > 0
          ? fmt::format("connect4 program ran {} time(s) for a process in a scratch cgroup",
                        result->connect_calls)
          : "attached, but the program never ran for a process in the cgroup",
      "use a kernel built with CONFIG_CGROUP_BPF=y, Linux 5.10 or newer");
  Set(update, result->link_update,
      result->link_update ? "programs are replaced in place (no window without enforcement)"
                          : "BPF_LINK_UPDATE refused",
      "use Linux 5.10 or newer");
}

}  // namespace

Status CheckProbePrivileges() {
  auto caps = EffectiveCapabilities();
  if (!caps.ok()) {
    return caps.status();
  }
  bool bpf = HasCap(*caps, kCapBpf) || HasCap(*caps, kCapSysAdmin);
  if (!bpf || !HasCap(*caps, kCapSysAdmin)) {
    return absl::PermissionDeniedError(
        "needs root (CAP_BPF and CAP_SYS_ADMIN) to probe BPF and cgroups; run it as root");
  }
  return absl::OkStatus();
}

v1::FeatureReport ProbeKernelFeatures() {
  v1::FeatureReport report;
  utsname uts{};
  if (::uname(&uts) == 0) {
    report.set_node(uts.nodename);
    report.set_kernel_release(uts.release);
  }
  ProbeKernelVersion(report, report.kernel_release());
  ProbeBpfSyscall(report);
  ProbeBtf(report);
  ProbeBpffs(report);
  ProbeProgramType(report, "prog_cgroup_sock_addr", BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                   "cgroup connect/sendmsg");
  ProbeProgramType(report, "prog_cgroup_skb", BPF_PROG_TYPE_CGROUP_SKB, "cgroup_skb");
  ProbeMapType(report, "map_lpm_trie", BPF_MAP_TYPE_LPM_TRIE, "LPM trie",
               "use a kernel with LPM trie maps (Linux 4.11 or newer)");
  ProbeMapType(report, "map_ringbuf", BPF_MAP_TYPE_RINGBUF, "ring buffer",
               "use Linux 5.8 or newer (flow records use a BPF ring buffer)");
  auto layout = DetectCgroupLayout();
  ProbeCgroups(report, layout);
  ProbeAttach(report, layout);

  bool ready = true;
  for (const auto& feature : report.features()) {
    ready = ready && (feature.present() || !feature.required());
  }
  report.set_ready(ready);
  return report;
}

std::string FormatFeatureReport(const v1::FeatureReport& report) {
  std::string out = fmt::format("NODE {}  KERNEL {}\n\n", report.node(), report.kernel_release());
  out += fmt::format("{:<22} {:<8} {}\n", "FEATURE", "STATUS", "DETAIL");
  int missing_required = 0;
  for (const auto& feature : report.features()) {
    std::string status = feature.present() ? "ok" : (feature.required() ? "MISSING" : "missing");
    out += fmt::format("{:<22} {:<8} {}\n", feature.name(), status, feature.detail());
    if (!feature.present() && feature.required()) {
      ++missing_required;
    }
  }
  out += "\n";
  for (const auto& feature : report.features()) {
    if (!feature.present()) {
      out += fmt::format("{}: {}\n", feature.name(), feature.remedy());
    }
  }
  if (report.ready()) {
    out += "ready: this node has every kernel feature the agent needs\n";
  } else {
    out += fmt::format("not ready: {} required feature(s) missing\n", missing_required);
  }
  return out;
}

StatusOr<std::string> FeatureReportJson(const v1::FeatureReport& report) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  auto status = google::protobuf::util::MessageToJsonString(report, &json, options);
  if (!status.ok()) {
    return absl::InternalError(std::string(status.message()));
  }
  return json;
}

}  // namespace bulkhead::agent
