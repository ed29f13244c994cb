// Small helpers on Kubernetes objects held as Boost.JSON values: metadata
// fields, timestamps, uids and generated names.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_OBJECT_META_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_OBJECT_META_H_

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace bulkhead::controlplane {

// The object's metadata, created empty if missing or not an object.
boost::json::object& Metadata(boost::json::object& object);
// A string field of metadata ("" when missing).
std::string MetaString(const boost::json::object& object, const char* field);
// A top-level string field ("" when missing).
std::string StringField(const boost::json::object& object, const char* field);
// A top-level list of strings (non-strings skipped; empty when missing).
std::vector<std::string> StringListField(const boost::json::object& object, const char* field);
// `values` as a JSON array of strings.
boost::json::array StringArray(const std::vector<std::string>& values);

// Now as RFC 3339 in UTC with seconds: "2026-11-21T08:40:00Z".
std::string NowRfc3339();
// `time` the same way (whole seconds, rounded down).
std::string FormatRfc3339(std::chrono::system_clock::time_point time);
// An RFC 3339 time ("2026-11-21T08:40:00Z", "...T10:40:00.5+02:00";
// fractions of a second are dropped); nothing when it does not read, has
// anything after its zone, or lies outside 1970..2200 (so time arithmetic
// on it never overflows).
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text);
// A random (version 4) UUID.
std::string NewUid();
// `count` characters from the alphabet Kubernetes uses for generateName.
std::string RandomNameSuffix(size_t count);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_OBJECT_META_H_
