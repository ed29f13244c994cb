// Limits on what the control plane stores, checked on every write path
// (create, update, every patch format, protobuf bodies, status and scale
// subresources) on the object as it will be stored, so nothing is stored
// that cannot be read, patched or deleted again:
// - size: the serialized object at most `max_object_bytes` (413);
// - nesting: at most kMaxObjectDepth levels of objects and arrays (422);
// - text: valid UTF-8 throughout (422).
// Every reader of stored objects and request bodies parses with ParseJson,
// whose depth bound equals the write limit, so a document nested deeper
// costs one pass to refuse.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_OBJECT_LIMITS_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_OBJECT_LIMITS_H_

#include <cstddef>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/status.h"

namespace bulkhead::controlplane {

inline constexpr size_t kDefaultMaxObjectBytes = size_t{3} << 20;
inline constexpr int kMaxObjectDepth = 100;

// Parses with the depth bound of stored objects; `ec` says why not.
boost::json::value ParseJson(std::string_view text, boost::system::error_code& ec);

// OK when `serialized` (the JSON of the object about to be stored) is within
// the limits; otherwise the Kubernetes error to answer (413 or 422).
Status CheckStorable(std::string_view serialized, size_t max_object_bytes);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_OBJECT_LIMITS_H_
