// Which verb a resource request asks for and what it names, decided from
// the method, the path and the query alone (never the body or the store):
// a pure function, unit-tested and fuzzed on its own. The verbs then read
// their own parameters.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_API_REQUEST_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_API_REQUEST_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "controlplane/apiserver/resource_registry.h"
#include "controlplane/apiserver/resource_target.h"

namespace bulkhead::controlplane {

enum class Verb {
  kGet,
  kList,
  kWatch,
  kCreate,
  kUpdate,
  kPatch,
  kDelete,
  kDeleteCollection,
  kGetScale,
  kUpdateScale,
  kReview,
  kCreateToken,  // serviceaccounts/token
  kBind,         // pods/binding
  kLog,          // pods/log
  kConnect,      // pods/exec, pods/attach, pods/portforward
};

struct ApiRequest {
  Verb verb = Verb::kGet;
  // For a watch of one object, the collection; `watch_name` is the object.
  ResourceTarget target;
  std::string watch_name;
};

// `rest`: the path's segments after /api/v1 or /apis/<group>/<version>
// ("namespaces", "default", "pods", "web"; "watch" first for the old watch
// paths). `query`: the decoded query. Errors are API errors: 404 for a path
// that names no resource (an unknown type, a namespace on a cluster-scoped
// one, an unknown subresource, extra segments), 405 for a method the target
// does not take.
StatusOr<ApiRequest> RouteResourceRequest(
    std::string_view method, const std::string& group, const std::string& version,
    std::vector<std::string> rest, const std::vector<std::pair<std::string, std::string>>& query,
    const ResourceRegistry& types);

// `?watch=true` (or 1, True).
bool IsWatchQuery(const std::vector<std::pair<std::string, std::string>>& query);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_API_REQUEST_H_
