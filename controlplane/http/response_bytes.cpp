#include "controlplane/http/response_bytes.h"

#include <array>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>

#include "fmt/format.h"

namespace bulkhead::controlplane {

WireResponse ResponseBytes(const ResponseHead& head, std::string body) {
  auto status = static_cast<boost::beast::http::status>(head.status);
  std::string_view reason = boost::beast::http::obsolete_reason(status);
  bool bodiless =
      (head.status >= 100 && head.status < 200) || head.status == 204 || head.status == 304;
  bool inline_body = !bodiless && body.size() <= kInlineBodyBytes;
  size_t size = 96 + reason.size() + (inline_body ? body.size() : 0);
  for (const auto& [name, value] : head.fields) {
    size += name.size() + value.size() + 4;
  }
  WireResponse out;
  out.head.reserve(size);
  fmt::format_to(std::back_inserter(out.head), "HTTP/{}.{} {} {}\r\n", head.version / 10,
                 head.version % 10, head.status, reason);
  for (const auto& [name, value] : head.fields) {
    out.head.append(name).append(": ").append(value).append("\r\n");
  }
  if (!bodiless) {
    fmt::format_to(std::back_inserter(out.head), "Content-Length: {}\r\n", body.size());
  }
  // HTTP/1.1 keeps the connection unless told; HTTP/1.0 closes it unless told.
  if (head.version >= 11 && !head.keep_alive) {
    out.head.append("Connection: close\r\n");
  } else if (head.version < 11 && head.keep_alive) {
    out.head.append("Connection: keep-alive\r\n");
  }
  out.head.append("\r\n");
  if (inline_body) {
    out.head.append(body);
  } else if (!bodiless) {
    out.body = std::move(body);
  }
  return out;
}

bool IsServerOwnedField(std::string_view name) {
  static constexpr std::array<std::string_view, 7> kOwned = {
      "Content-Length", "Transfer-Encoding", "Connection", "Content-Type",
      "Keep-Alive",     "Upgrade",           "Trailer"};
  for (std::string_view owned : kOwned) {
    if (boost::beast::iequals(name, owned)) {
      return true;
    }
  }
  return false;
}

bool IsFieldName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (char c : name) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

}  // namespace bulkhead::controlplane
