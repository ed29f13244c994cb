// The node's client of the host API: JSON objects over the shared HTTPS
// client, HTTP answers turned into Status codes, and list + watch of a
// collection that survives dropped streams and expired resource versions.
#ifndef BULKHEAD_NODE_KUBELET_HOST_CLIENT_H_
#define BULKHEAD_NODE_KUBELET_HOST_CLIENT_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "common/hostapi/host_config.h"
#include "common/status.h"
#include "nlohmann/json.hpp"

namespace bulkhead::node {

using nlohmann::json;

class HostClient {
 public:
  explicit HostClient(hostapi::HostApiConfig config);

  // NOT_FOUND (404), ALREADY_EXISTS (409 on create), ABORTED (409
  // conflict), PERMISSION_DENIED (403), UNAUTHENTICATED (401),
  // INVALID_ARGUMENT (400, 422), UNAVAILABLE (unreachable, 5xx), each with
  // the server's message.
  StatusOr<json> Get(const std::string& path) const;
  StatusOr<json> Create(const std::string& collection, const json& object) const;
  StatusOr<json> Update(const std::string& path, const json& object) const;
  StatusOr<json> MergePatch(const std::string& path, const json& patch) const;
  StatusOr<json> StrategicPatch(const std::string& path, const json& patch) const;
  Status Delete(const std::string& path, const json& options = json::object()) const;

  struct WatchHandlers {
    // The whole collection, at start and after every relist.
    std::function<void(const std::vector<json>& items)> on_list;
    // ADDED, MODIFIED or DELETED with the object.
    std::function<void(const std::string& type, const json& object)> on_event;
  };
  // Lists `collection` (with `query`, e.g. "fieldSelector=..."), then
  // watches from the list's revision; relists on 410 and after errors
  // (with back-off up to 5 s). Returns when `stop` is set.
  void ListWatch(const std::string& collection, const std::string& query,
                 const WatchHandlers& handlers, const std::atomic<bool>& stop) const;

  const hostapi::HostApiConfig& config() const { return config_; }

 private:
  StatusOr<json> Call(const std::string& method, const std::string& path,
                      const std::string& content_type, const std::string& body) const;

  hostapi::HostApiConfig config_;
};

// "/api/v1/namespaces/NS/pods/NAME" and friends.
std::string PodPath(const std::string& ns, const std::string& name);

}  // namespace bulkhead::node

#endif  // BULKHEAD_NODE_KUBELET_HOST_CLIENT_H_
