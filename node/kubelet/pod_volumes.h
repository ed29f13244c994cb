// A pod's volumes on the node: emptyDir, configMap, secret, downwardAPI,
// projected (service account token, configMap, secret, downwardAPI) and
// hostPath, each a directory under the pod's own directory (hostPath is the
// host's path) that the container mounts.
#ifndef BULKHEAD_NODE_KUBELET_POD_VOLUMES_H_
#define BULKHEAD_NODE_KUBELET_POD_VOLUMES_H_

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "common/status.h"
#include "node/kubelet/pod_config.h"

namespace bulkhead::node {

struct ServiceAccountToken {
  std::string token;
  std::chrono::system_clock::time_point expires;
};

struct VolumeSources {
  DataLookup lookup;  // ConfigMaps and Secrets of the pod's namespace
  // A token of the pod's service account bound to the pod.
  std::function<StatusOr<ServiceAccountToken>(const std::string& audience,
                                              int64_t expiration_seconds)>
      token;
};

struct PreparedVolumes {
  std::map<std::string, std::string> paths;  // volume name -> path on the node
  std::set<std::string> node_written;        // configMap, secret, downwardAPI, projected
  // When the earliest projected token should be written again (80 % of
  // its life, as a kubelet does); max() when there is none.
  std::chrono::system_clock::time_point refresh_at = std::chrono::system_clock::time_point::max();
};

// Writes every volume of `pod` under `pod_dir`/volumes (files replaced by
// rename, so a reader never sees half a file). FAILED_PRECONDITION naming
// the volume and object when a ConfigMap or Secret that is not optional is
// missing; UNIMPLEMENTED for volume types this node does not have.
StatusOr<PreparedVolumes> PrepareVolumes(const json& pod, const std::string& pod_dir,
                                         const VolumeSources& sources);

// Base64 (standard alphabet, padded) as Secrets carry their data.
std::optional<std::string> DecodeBase64(std::string_view text);

}  // namespace bulkhead::node

#endif  // BULKHEAD_NODE_KUBELET_POD_VOLUMES_H_
