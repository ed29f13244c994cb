#include "agent/budgets/kubelet_paths.h"

#include <algorithm>

#include "agent/budgets/cgroup_place.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace bulkhead::agent::budgets {
namespace {

constexpr std::string_view kSliceSuffix = ".slice";

std::string Replace(std::string_view text, char from, char to) {
  std::string out(text);
  std::replace(out.begin(), out.end(), from, to);
  return out;
}

}  // namespace

StatusOr<CgroupDriver> ParseCgroupDriver(std::string_view text) {
  if (text == "cgroupfs") {
    return CgroupDriver::kCgroupfs;
  }
  if (text == "systemd") {
    return CgroupDriver::kSystemd;
  }
  return absl::InvalidArgumentError(
      fmt::format("unknown cgroup driver \"{}\"; use cgroupfs or systemd, as the kubelet's "
                  "cgroupDriver says",
                  text));
}

StatusOr<QosClass> ParseQosClass(std::string_view text) {
  if (text == "Guaranteed") {
    return QosClass::kGuaranteed;
  }
  if (text == "Burstable") {
    return QosClass::kBurstable;
  }
  if (text == "BestEffort") {
    return QosClass::kBestEffort;
  }
  return absl::InvalidArgumentError(fmt::format(
      "unknown QoS class \"{}\"; use Guaranteed, Burstable or BestEffort (pod status.qosClass)",
      text));
}

std::string_view CgroupDriverName(CgroupDriver driver) {
  return driver == CgroupDriver::kSystemd ? "systemd" : "cgroupfs";
}

std::string_view QosClassName(QosClass qos) {
  switch (qos) {
    case QosClass::kGuaranteed:
      return "Guaranteed";
    case QosClass::kBurstable:
      return "Burstable";
    case QosClass::kBestEffort:
      return "BestEffort";
  }
  return "unknown";
}

std::vector<std::string> CgroupRootParts(const KubeletCgroupConfig& config) {
  std::vector<std::string> parts;
  std::vector<std::string_view> pieces = SplitNonEmpty(config.cgroup_root, "/");
  if (config.driver == CgroupDriver::kSystemd && !pieces.empty() &&
      pieces.back().ends_with(kSliceSuffix)) {
    // "/kubelet.slice/kubelet-kubepods.slice" names {"kubelet", "kubepods"}:
    // the last slice carries the whole chain.
    std::string_view last = pieces.back();
    last.remove_suffix(kSliceSuffix.size());
    for (std::string_view part : SplitNonEmpty(last, "-")) {
      parts.push_back(Replace(part, '_', '-'));
    }
    return parts;
  }
  for (std::string_view piece : pieces) {
    parts.emplace_back(piece);
  }
  return parts;
}

StatusOr<std::string> PodCgroupPath(const KubeletCgroupConfig& config, QosClass qos,
                                    std::string_view pod_uid) {
  bool valid = !pod_uid.empty() && pod_uid.size() <= 128;
  for (char c : pod_uid) {
    valid = valid && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-');
  }
  if (!valid) {
    return absl::InvalidArgumentError(
        fmt::format("pod UID \"{}\" is not a Kubernetes UID; pass metadata.uid of the pod "
                    "(letters, digits and '-')",
                    pod_uid));
  }
  std::vector<std::string> parts = CgroupRootParts(config);
  parts.emplace_back("kubepods");
  if (qos == QosClass::kBurstable) {
    parts.emplace_back("burstable");
  } else if (qos == QosClass::kBestEffort) {
    parts.emplace_back("besteffort");
  }
  parts.push_back(fmt::format("pod{}", pod_uid));

  std::string path;
  if (config.driver == CgroupDriver::kCgroupfs) {
    for (const std::string& part : parts) {
      path = JoinCgroupPath(path, part);
    }
  } else {
    std::string chain;
    for (const std::string& part : parts) {
      if (!chain.empty()) {
        chain += '-';
      }
      chain += Replace(part, '-', '_');
      std::string slice = chain;
      slice += kSliceSuffix;
      path = JoinCgroupPath(path, slice);
    }
  }
  return JoinCgroupPath(config.hierarchy_prefix, path);
}

}  // namespace bulkhead::agent::budgets
