// The request target of an HTTP request ("/api/v1/pods?watch=1&limit=5")
// split into a percent-decoded path and decoded query parameters. Pure: no
// I/O, no allocation beyond the result, total on any input (a malformed
// escape is kept as it is), so it can be fuzzed on its own.
#ifndef BULKHEAD_CONTROLPLANE_HTTP_REQUEST_TARGET_H_
#define BULKHEAD_CONTROLPLANE_HTTP_REQUEST_TARGET_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bulkhead::controlplane {

struct RequestTarget {
  std::string path;                                        // percent-decoded, without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order; empty pairs dropped
};

// "%41" becomes "A"; with `plus_is_space` (query parts) "+" becomes " ".
// A "%" not followed by two hex digits is kept literally.
std::string PercentDecode(std::string_view text, bool plus_is_space);

RequestTarget ParseRequestTarget(std::string_view target);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_HTTP_REQUEST_TARGET_H_
