#include "controlplane/controllers/scheduling.h"

#include <algorithm>
#include <boost/json.hpp>

#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/controllers/node_fit.h"
#include "controlplane/controllers/object_helpers.h"
#include "fmt/format.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;

const json::array& ArrayAtPath(const json::object& object, std::string_view path) {
  static const json::array kEmpty;
  const json::value* value = PathValue(object, path);
  return value != nullptr && value->is_array() ? value->as_array() : kEmpty;
}

std::vector<std::string> HostPorts(const json::object& pod) {
  std::vector<std::string> out;
  for (const char* list : {".spec.containers", ".spec.initContainers"}) {
    for (const auto& container : ArrayAtPath(pod, list)) {
      if (!container.is_object()) {
        continue;
      }
      for (const auto& port : ArrayAtPath(container.as_object(), ".ports")) {
        if (!port.is_object()) {
          continue;
        }
        const int64_t host_port = IntAt(port.as_object(), ".hostPort", 0);
        if (host_port > 0) {
          std::string protocol = StringField(port.as_object(), "protocol");
          out.push_back(fmt::format("{}/{}", protocol.empty() ? "TCP" : protocol, host_port));
        }
      }
    }
  }
  return out;
}

// The node's taints, with not-ready added while its Ready condition is not
// True and nothing has tainted it yet for that.
json::object WithConditionTaints(const json::object& node) {
  const json::object* ready = FindCondition(PathValue(node, ".status.conditions"), "Ready");
  const bool is_ready = ready != nullptr && StringField(*ready, "status") == "True";
  if (is_ready) {
    return node;
  }
  json::object copy = node;
  json::value* taints = PathValue(copy, ".spec.taints", true);
  if (!taints->is_array()) {
    *taints = json::array();
  }
  for (const auto& taint : taints->as_array()) {
    const std::string key = taint.is_object() ? StringField(taint.as_object(), "key") : "";
    if (key == "node.kubernetes.io/not-ready" || key == "node.kubernetes.io/unreachable") {
      return copy;
    }
  }
  taints->as_array().push_back(
      json::object{{"key", "node.kubernetes.io/not-ready"}, {"effect", "NoSchedule"}});
  return copy;
}

ResourceList Allocatable(const json::object& node) {
  const json::value* allocatable = PathValue(node, ".status.allocatable");
  if (allocatable == nullptr || !allocatable->is_object()) {
    allocatable = PathValue(node, ".status.capacity");
  }
  return ReadResourceList(allocatable);
}

Quantity Have(const ResourceList& list, const std::string& name) {
  auto found = list.find(name);
  return found == list.end() ? Quantity{} : found->second;
}

}  // namespace

void AddToLoad(const json::object& pod, NodeLoad& load) {
  const json::value* spec = pod.if_contains("spec");
  if (spec == nullptr || !spec->is_object()) {
    return;
  }
  for (const auto& [name, q] : PodResources(spec->as_object(), "requests")) {
    load.requested[name] += q;
  }
  ++load.pods;
  for (std::string& port : HostPorts(pod)) {
    load.host_ports.insert(std::move(port));
  }
}

std::vector<std::string> UnfitReasons(const json::object& pod, const json::object& node,
                                      const NodeLoad& load) {
  static const json::object kNoSpec;
  const json::value* spec_value = pod.if_contains("spec");
  const json::object& spec =
      spec_value != nullptr && spec_value->is_object() ? spec_value->as_object() : kNoSpec;
  const json::array& tolerations = ArrayAtPath(pod, ".spec.tolerations");
  const json::value* unschedulable = PathValue(node, ".spec.unschedulable");
  if (unschedulable != nullptr && unschedulable->is_bool() && unschedulable->as_bool()) {
    const json::object marked{
        {"spec", json::object{{"taints",
                               json::array{json::object{{"key", "node.kubernetes.io/unschedulable"},
                                                        {"effect", "NoSchedule"}}}}}}};
    if (!ToleratesTaints(tolerations, marked)) {
      return {"node(s) were unschedulable"};
    }
  }
  const json::object tainted = WithConditionTaints(node);
  if (const json::object* taint = UntoleratedTaint(tolerations, tainted); taint != nullptr) {
    return {fmt::format("node(s) had untolerated taint {{{}: {}}}", StringField(*taint, "key"),
                        StringField(*taint, "value"))};
  }
  if (!NodeSelectionMatches(spec, node)) {
    return {"node(s) didn't match Pod's node affinity/selector"};
  }
  for (const std::string& port : HostPorts(pod)) {
    if (load.host_ports.contains(port)) {
      return {"node(s) didn't have free ports for the requested pod ports"};
    }
  }
  std::vector<std::string> reasons;
  const ResourceList allocatable = Allocatable(node);
  if (load.pods + 1 > Have(allocatable, "pods").milli / 1000) {
    reasons.emplace_back("Too many pods");
  }
  const ResourceList wanted = PodResources(spec, "requests");
  std::vector<std::string> names;
  for (const auto& [name, q] : wanted) {
    if (q.milli > 0) {
      names.push_back(name);
    }
  }
  // Kubernetes' order: cpu, memory, ephemeral-storage, then the others.
  const auto rank = [](const std::string& name) {
    return name == "cpu" ? 0 : name == "memory" ? 1 : name == "ephemeral-storage" ? 2 : 3;
  };
  std::stable_sort(names.begin(), names.end(),
                   [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  for (const std::string& name : names) {
    if (Have(load.requested, name) + wanted.at(name) > Have(allocatable, name)) {
      reasons.push_back("Insufficient " + name);
    }
  }
  return reasons;
}

double Score(const json::object& pod, const json::object& node, const NodeLoad& load) {
  const json::value* spec = pod.if_contains("spec");
  const ResourceList wanted = spec != nullptr && spec->is_object()
                                  ? PodResources(spec->as_object(), "requests")
                                  : ResourceList{};
  const ResourceList allocatable = Allocatable(node);
  double total = 0;
  for (const char* name : {"cpu", "memory"}) {
    const double have = static_cast<double>(Have(allocatable, name).milli);
    if (have <= 0) {
      continue;
    }
    const double used =
        static_cast<double>((Have(load.requested, name) + Have(wanted, name)).milli);
    total += std::max(0.0, (have - used) / have);
  }
  return total / 2;
}

std::string UnschedulableMessage(size_t nodes, const std::map<std::string, int>& reasons) {
  if (nodes == 0) {
    return "no nodes available to schedule pods";
  }
  std::vector<std::string> parts;
  parts.reserve(reasons.size());
  for (const auto& [reason, count] : reasons) {
    parts.push_back(fmt::format("{} {}", count, reason));
  }
  std::sort(parts.begin(), parts.end());
  std::string joined;
  for (size_t i = 0; i < parts.size(); ++i) {
    joined.append(i == 0 ? "" : ", ").append(parts[i]);
  }
  return fmt::format("0/{} nodes are available: {}.", nodes, joined);
}

}  // namespace bulkhead::controlplane::controllers
