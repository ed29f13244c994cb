#include "controlplane/apiserver/object_limits.h"

#include <boost/json.hpp>

#include "common/strings.h"
#include "controlplane/apiserver/api_errors.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {

namespace json = boost::json;

json::value ParseJson(std::string_view text, boost::system::error_code& ec) {
  json::parse_options options;
  options.max_depth = kMaxObjectDepth;
  return json::parse(json::string_view(text.data(), text.size()), ec, {}, options);
}

Status CheckStorable(std::string_view serialized, size_t max_object_bytes) {
  if (serialized.size() > max_object_bytes) {
    return ApiError(413, "RequestEntityTooLarge",
                    fmt::format("Request entity too large: the object would be {} bytes, the "
                                "limit is {} bytes",
                                serialized.size(), max_object_bytes));
  }
  if (!IsValidUtf8(serialized)) {
    return ApiError(422, "Invalid", "the object contains text that is not valid UTF-8");
  }
  boost::system::error_code ec;
  ParseJson(serialized, ec);
  if (ec == json::error::too_deep) {
    return ApiError(422, "Invalid",
                    fmt::format("the object is nested more than {} levels deep", kMaxObjectDepth));
  }
  if (ec) {
    return absl::InternalError(fmt::format("the object does not read back: {}", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace bulkhead::controlplane
