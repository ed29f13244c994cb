#include "controlplane/http/response_bytes.h"

#include <boost/beast/http/status.hpp>

#include "fmt/format.h"

namespace bulkhead::controlplane {

std::string ResponseBytes(const ResponseHead& head, std::string_view body) {
  auto status = static_cast<boost::beast::http::status>(head.status);
  std::string_view reason = boost::beast::http::obsolete_reason(status);
  size_t size = 64 + reason.size() + body.size();
  for (const auto& [name, value] : head.fields) {
    size += name.size() + value.size() + 4;
  }
  std::string out;
  out.reserve(size);
  fmt::format_to(std::back_inserter(out), "HTTP/{}.{} {} {}\r\n", head.version / 10,
                 head.version % 10, head.status, reason);
  for (const auto& [name, value] : head.fields) {
    out.append(name).append(": ").append(value).append("\r\n");
  }
  bool bodiless =
      (head.status >= 100 && head.status < 200) || head.status == 204 || head.status == 304;
  if (!bodiless) {
    fmt::format_to(std::back_inserter(out), "Content-Length: {}\r\n", body.size());
  }
  // HTTP/1.1 keeps the connection unless told; HTTP/1.0 closes it unless told.
  if (head.version >= 11 && !head.keep_alive) {
    out.append("Connection: close\r\n");
  } else if (head.version < 11 && head.keep_alive) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  if (!bodiless) {
    out.append(body);
  }
  return out;
}

}  // namespace bulkhead::controlplane
