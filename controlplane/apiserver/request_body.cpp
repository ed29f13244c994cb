#include "controlplane/apiserver/request_body.h"

#include <boost/json.hpp>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/protobuf_body.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {

namespace json = boost::json;

StatusOr<json::object> ParseRequestObject(const HttpRequest& request, const char* what) {
  const std::string& body = request.body;
  if (request.content_type.starts_with(kProtobufContentType)) {
    auto decoded = DecodeProtobufObject(body);
    if (!decoded.ok()) {
      return BadRequest(fmt::format("{}: {}", what, MessageOf(decoded.status())));
    }
    return decoded;
  }
  boost::system::error_code ec;
  json::value value = ParseJson(body, ec);
  if (ec) {
    return BadRequest(fmt::format("{}: json parse error: {}", what, ec.message()));
  }
  if (!value.is_object()) {
    return BadRequest(fmt::format("{}: the body must be a JSON object", what));
  }
  return std::move(value.as_object());
}

}  // namespace bulkhead::controlplane
