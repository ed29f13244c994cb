// The three patch formats of the Kubernetes API:
// - JSON patch (RFC 6902): add, remove, replace, move, copy, test;
// - JSON merge patch (RFC 7386): objects merge, null removes, the rest replaces;
// - strategic merge patch for built-in kinds: like merge patch, but lists
//   with a merge key (containers by name, ports by containerPort, ...) merge
//   element by element, and the directives kubectl sends are honoured:
//   $patch (replace, delete, merge), $setElementOrder/<list>,
//   $deleteFromPrimitiveList/<list>, $retainKeys.
// Errors are INVALID_ARGUMENT with what went wrong.
//
// A JSON patch can grow a document without bound (each `copy` may double
// it), so it is applied within limits: RESOURCE_EXHAUSTED once the document
// may exceed `max_bytes` (its JSON size, counted as copies are made, before
// the copy is kept), INVALID_ARGUMENT once it may be nested deeper than
// `max_depth`. Merge patches cannot grow a document past its patch.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_PATCH_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_PATCH_H_

#include <cstddef>
#include <limits>
#include <string>

#include <boost/json/value.hpp>

#include "common/status.h"

namespace bulkhead::controlplane {

struct JsonPatchLimits {
  size_t max_bytes = std::numeric_limits<size_t>::max();
  size_t max_depth = std::numeric_limits<size_t>::max();
};

StatusOr<boost::json::value> ApplyJsonPatch(boost::json::value document,
                                            const boost::json::value& patch,
                                            const JsonPatchLimits& limits = {});

// An upper bound of the JSON size of `value` and its nesting depth
// (a scalar is 0, `{}` is 1), measured without recursion.
struct JsonExtent {
  size_t bytes = 0;
  size_t depth = 0;
};
JsonExtent MeasureJson(const boost::json::value& value);

boost::json::value ApplyMergePatch(boost::json::value document, const boost::json::value& patch);

// `kind` of the patched object decides list merge keys where a field name
// alone is ambiguous (Service spec.ports merge by port).
StatusOr<boost::json::value> ApplyStrategicMergePatch(boost::json::value document,
                                                      const boost::json::value& patch,
                                                      const std::string& kind);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_PATCH_H_
