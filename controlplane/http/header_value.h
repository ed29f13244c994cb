// A response header value made safe to write: CR, LF, NUL and the other
// control characters (all but horizontal tab) become "\xNN", so a value
// built from client input (a Warning naming an unknown field) can never end
// the header line and start another.
#ifndef BULKHEAD_CONTROLPLANE_HTTP_HEADER_VALUE_H_
#define BULKHEAD_CONTROLPLANE_HTTP_HEADER_VALUE_H_

#include <string>
#include <string_view>

namespace bulkhead::controlplane {

std::string SafeHeaderValue(std::string_view value);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_HTTP_HEADER_VALUE_H_
