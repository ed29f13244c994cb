// The three patch formats of the Kubernetes API:
// - JSON patch (RFC 6902): add, remove, replace, move, copy, test;
// - JSON merge patch (RFC 7386): objects merge, null removes, the rest replaces;
// - strategic merge patch for built-in kinds: like merge patch, but lists
//   with a merge key (containers by name, ports by containerPort, ...) merge
//   element by element, and the directives kubectl sends are honoured:
//   $patch (replace, delete, merge), $setElementOrder/<list>,
//   $deleteFromPrimitiveList/<list>, $retainKeys.
// Errors are INVALID_ARGUMENT with what went wrong.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_PATCH_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_PATCH_H_

#include <string>

#include <boost/json/value.hpp>

#include "common/status.h"

namespace bulkhead::controlplane {

StatusOr<boost::json::value> ApplyJsonPatch(boost::json::value document,
                                            const boost::json::value& patch);

boost::json::value ApplyMergePatch(boost::json::value document, const boost::json::value& patch);

// `kind` of the patched object decides list merge keys where a field name
// alone is ambiguous (Service spec.ports merge by port).
StatusOr<boost::json::value> ApplyStrategicMergePatch(boost::json::value document,
                                                      const boost::json::value& patch,
                                                      const std::string& kind);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_PATCH_H_
