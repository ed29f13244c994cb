// What the kinds' validation reads off an object and how it words a
// refusal, as Kubernetes' field errors do ("Unsupported value: ...").
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_FIELD_CHECKS_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_FIELD_CHECKS_H_

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/apiserver/api_errors.h"

namespace bulkhead::controlplane {

// A string member, `fallback` when absent or not a string.
std::string Text(const boost::json::object& object, std::string_view key,
                 const char* fallback = "");
const boost::json::object* ObjectAt(const boost::json::object& object, std::string_view key);
const boost::json::array* ArrayAt(const boost::json::object& object, std::string_view key);

// `text` as a JSON string, as Kubernetes quotes values in its messages.
std::string Quoted(const std::string& text);
// An IANA service name, as a named port: 1-15 characters of [a-z0-9-], a
// letter among them, no '-' at either end or twice in a row.
bool IsPortName(const std::string& name);
// An integer port within [1, 65535], or nullopt.
std::optional<int64_t> PortNumber(const boost::json::value& value);

// FieldValueNotSupported: `value` is none of `supported` (sorted, as
// Kubernetes lists them).
StatusCause Unsupported(const std::string& field, const boost::json::value& value,
                        std::initializer_list<const char*> supported);
// An optional string member that must be one of `supported`.
void CheckEnum(const boost::json::object& object, std::string_view key, const std::string& field,
               std::initializer_list<const char*> supported, std::vector<StatusCause>& causes);
// The same for a member decoding defaults when absent or "": "" is absent.
void CheckDefaultedEnum(const boost::json::object& object, std::string_view key,
                        const std::string& field, std::initializer_list<const char*> supported,
                        std::vector<StatusCause>& causes);
// An optional integer member of at least `minimum` (and within int32).
void CheckAtLeast(const boost::json::object& object, std::string_view key, const std::string& field,
                  int64_t minimum, std::vector<StatusCause>& causes);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_FIELD_CHECKS_H_
