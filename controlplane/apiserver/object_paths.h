// Values inside a JSON object by a ".a.b" path, and integers read the way
// Kubernetes objects carry them.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_OBJECT_PATHS_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_OBJECT_PATHS_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string_view>

namespace bulkhead::controlplane {

// The value at `path`; with `create`, made (with the objects above it) when
// absent or not an object. Null when absent and not created.
boost::json::value* PathValue(boost::json::object& object, std::string_view path, bool create);
// Read-only lookup.
const boost::json::value* PathValue(const boost::json::object& object, std::string_view path);

// An integer value, or `missing` when `value` is null or not an integer.
int64_t IntOf(const boost::json::value* value, int64_t missing);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_OBJECT_PATHS_H_
