// HTTPS requests to the host API server: TLS with the server verified
// against the configured CA (and its name or address), a bearer token or a
// client certificate, a deadline for the whole exchange, and a bounded
// response. One connection per request ("Connection: close"): the agent
// makes a handful of calls at start, not a stream.
#ifndef BULKHEAD_COMMON_HOSTAPI_HTTPS_CLIENT_H_
#define BULKHEAD_COMMON_HOSTAPI_HTTPS_CLIENT_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include "common/hostapi/host_config.h"
#include "common/status.h"

namespace bulkhead::hostapi {

struct HttpsResponse {
  int status = 0;
  std::string body;
};

inline constexpr size_t kMaxResponseBytes = size_t{4} << 20;

// UNAVAILABLE when the server cannot be reached or the deadline passes;
// UNAUTHENTICATED when its certificate does not verify; INVALID_ARGUMENT
// for bad credentials in `config`. Any HTTP status is returned as it is.
StatusOr<HttpsResponse> HttpsRequest(const HostApiConfig& config, std::string_view method,
                                     std::string_view path, std::string_view content_type = "",
                                     std::string_view body = "",
                                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A GET whose answer is a stream of lines (a watch): `on_line` is called for
// each complete line as it arrives, until it returns false, the server ends
// the answer, `stop` is set (looked at every 200 ms) or nothing arrives for
// `idle_timeout`. Returns the HTTP status; an answer other than 200 is read
// whole and handed to `on_line` as one line.
StatusOr<int> HttpsStreamLines(const HostApiConfig& config, std::string_view path,
                               const std::function<bool(std::string_view line)>& on_line,
                               const std::atomic<bool>& stop,
                               std::chrono::milliseconds idle_timeout = std::chrono::seconds(60));

}  // namespace bulkhead::hostapi

#endif  // BULKHEAD_COMMON_HOSTAPI_HTTPS_CLIENT_H_
