// A whole HTTP/1.x response with a body, as the bytes sent on the wire.
//
// Built into one string so that a response is one TLS write: Beast's
// serializer walks a buffer sequence of header fields and the body through
// several composed operations per response, which was the largest part of
// the server's own CPU per small request. Streamed responses (watches) keep
// Beast's serializer for their header, written once per stream.
#ifndef BULKHEAD_CONTROLPLANE_HTTP_RESPONSE_BYTES_H_
#define BULKHEAD_CONTROLPLANE_HTTP_RESPONSE_BYTES_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bulkhead::controlplane {

struct ResponseHead {
  int status = 200;
  unsigned version = 11;  // 10 or 11, as the request's
  bool keep_alive = true;
  // In order, after Content-Type; values already made safe (SafeHeaderValue).
  std::vector<std::pair<std::string, std::string>> fields;
};

// The status line ("HTTP/1.1 404 Not Found"), the fields, Content-Length
// (none for 1xx, 204 and 304), the Connection field the version and
// keep_alive need, and the body.
std::string ResponseBytes(const ResponseHead& head, std::string_view body);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_HTTP_RESPONSE_BYTES_H_
