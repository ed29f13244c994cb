#include "controlplane/apiserver/registry/kinds/pod_deletion.h"

#include <boost/json.hpp>

#include "controlplane/apiserver/object_paths.h"

namespace bulkhead::controlplane {

namespace json = boost::json;

int64_t PodDeletionGracePeriod(const json::object& pod, std::optional<int64_t> requested) {
  const json::value* node = PathValue(pod, ".spec.nodeName");
  if (node == nullptr || !node->is_string() || node->as_string().empty()) {
    return 0;  // never started anywhere: nothing to stop
  }
  if (const json::value* phase = PathValue(pod, ".status.phase");
      phase != nullptr && phase->is_string() &&
      (phase->as_string() == "Succeeded" || phase->as_string() == "Failed")) {
    return 0;  // its containers are done
  }
  if (requested.has_value()) {
    return *requested;
  }
  const json::value* spec_grace = PathValue(pod, ".spec.terminationGracePeriodSeconds");
  return spec_grace != nullptr && spec_grace->is_int64() ? spec_grace->as_int64()
                                                         : kDefaultPodGracePeriodSeconds;
}

}  // namespace bulkhead::controlplane
