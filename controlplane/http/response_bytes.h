// A whole HTTP/1.x response with a body, as the bytes sent on the wire.
//
// A small response (the usual case) is one string, written in one TLS
// write; a large body stays the string the handler made, written after the
// head, never copied (a LIST of many megabytes would otherwise need twice
// its size at its peak). Beast's serializer walks a buffer sequence of header fields and the body
// through several composed operations per response, which was the largest
// part of the server's own CPU per small request. Streamed responses
// (watches) keep Beast's serializer for their header, written once per
// stream.
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

// What goes on the wire: `head`, then `body` (empty when the body is small
// enough to be part of the head's string: kInlineBodyBytes).
struct WireResponse {
  std::string head;
  std::string body;
};
inline constexpr size_t kInlineBodyBytes = size_t{16} * 1024;

// The status line ("HTTP/1.1 404 Not Found"), the fields, Content-Length
// (none for 1xx, 204 and 304, which also drop the body), the Connection
// field the version and keep_alive need; the body is moved, not copied.
WireResponse ResponseBytes(const ResponseHead& head, std::string body);

// Fields the server writes itself from the response it sends (length,
// framing, the connection's fate): a handler may not set them. Compared
// without regard to case.
bool IsServerOwnedField(std::string_view name);

// An RFC 9110 token: what a field name must be.
bool IsFieldName(std::string_view name);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_HTTP_RESPONSE_BYTES_H_
