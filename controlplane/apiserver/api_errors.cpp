#include "controlplane/apiserver/api_errors.h"

#include <boost/json.hpp>

#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

constexpr const char* kPayloadUrl = "type.bulkhead.dev/k8s.status";

absl::StatusCode CodeFor(int http) {
  switch (http) {
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 405:
    case 406:
    case 415:
      return absl::StatusCode::kUnimplemented;
    case 409:
      return absl::StatusCode::kAborted;
    case 410:
      return absl::StatusCode::kOutOfRange;
    case 413:
      return absl::StatusCode::kResourceExhausted;
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 503:
      return absl::StatusCode::kUnavailable;
    default:
      return http >= 500 ? absl::StatusCode::kInternal : absl::StatusCode::kFailedPrecondition;
  }
}

std::string StatusDocument(int code, const std::string& reason, const std::string& message,
                           const ApiErrorDetails& details) {
  json::object doc{{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
                   {"status", "Failure"}, {"message", message}, {"reason", reason},
                   {"code", code}};
  if (!details.name.empty() || !details.kind.empty() || !details.causes.empty() ||
      details.retry_after_seconds != 0) {
    json::object detail;
    if (!details.name.empty()) {
      detail["name"] = details.name;
    }
    if (!details.group.empty()) {
      detail["group"] = details.group;
    }
    if (!details.kind.empty()) {
      detail["kind"] = details.kind;
    }
    if (!details.causes.empty()) {
      json::array causes;
      for (const auto& cause : details.causes) {
        json::object item{{"reason", cause.type}, {"message", cause.message}};
        if (!cause.field.empty()) {
          item["field"] = cause.field;
        }
        causes.push_back(std::move(item));
      }
      detail["causes"] = std::move(causes);
    }
    if (details.retry_after_seconds != 0) {
      detail["retryAfterSeconds"] = details.retry_after_seconds;
    }
    doc["details"] = std::move(detail);
  }
  return json::serialize(doc);
}

}  // namespace

Status ApiError(int code, const std::string& reason, const std::string& message,
                const ApiErrorDetails& details) {
  Status status(CodeFor(code), message);
  status.SetPayload(kPayloadUrl, absl::Cord(StatusDocument(code, reason, message, details)));
  return status;
}

Status BadRequest(const std::string& message) { return ApiError(400, "BadRequest", message); }

Status NotFoundError(const std::string& group, const std::string& resource,
                     const std::string& name) {
  std::string qualified = group.empty() ? resource : resource + "." + group;
  return ApiError(404, "NotFound", fmt::format("{} \"{}\" not found", qualified, name),
                  {name, group, resource, {}});
}

Status AlreadyExistsError(const std::string& group, const std::string& resource,
                          const std::string& name) {
  std::string qualified = group.empty() ? resource : resource + "." + group;
  return ApiError(409, "AlreadyExists", fmt::format("{} \"{}\" already exists", qualified, name),
                  {name, group, resource, {}});
}

Status ConflictError(const std::string& group, const std::string& resource, const std::string& name,
                     const std::string& why) {
  std::string qualified = group.empty() ? resource : resource + "." + group;
  return ApiError(
      409, "Conflict",
      fmt::format("Operation cannot be fulfilled on {} \"{}\": {}", qualified, name, why),
      {name, group, resource, {}});
}

Status TooLargeResourceVersionError(int64_t requested, int64_t current) {
  ApiErrorDetails details;
  details.causes.push_back({"ResourceVersionTooLarge", "Too large resource version", ""});
  details.retry_after_seconds = 1;
  return ApiError(
      504, "Timeout",
      fmt::format("Timeout: Too large resource version: {}, current: {}", requested, current),
      details);
}

Status ForbiddenError(const std::string& group, const std::string& resource,
                      const std::string& name, const std::string& why) {
  std::string qualified = group.empty() ? resource : resource + "." + group;
  return ApiError(403, "Forbidden", fmt::format("{} \"{}\" is forbidden: {}", qualified, name, why),
                  {name, group, resource, {}});
}

Status InvalidError(const std::string& group, const std::string& kind, const std::string& name,
                    std::vector<StatusCause> causes) {
  std::string qualified = group.empty() ? kind : kind + "." + group;
  std::string list;
  for (const auto& cause : causes) {
    list += (list.empty() ? "" : ", ") +
            (cause.field.empty() ? cause.message : cause.field + ": " + cause.message);
  }
  std::string message = fmt::format("{} \"{}\" is invalid: {}", qualified, name,
                                    causes.size() == 1 ? list : "[" + list + "]");
  return ApiError(422, "Invalid", message, {name, group, kind, std::move(causes)});
}

HttpError ToHttpError(const Status& status) {
  if (auto payload = status.GetPayload(kPayloadUrl); payload.has_value()) {
    std::string body(*payload);
    boost::system::error_code ec;
    auto doc = json::parse(body, ec);
    int code = 500;
    if (!ec && doc.is_object()) {
      if (const auto* value = doc.as_object().if_contains("code"); value != nullptr) {
        code = static_cast<int>(value->to_number<int64_t>());
      }
    }
    return {code, std::move(body)};
  }
  int code = 500;
  std::string reason = "InternalError";
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      code = 404;
      reason = "NotFound";
      break;
    case absl::StatusCode::kAlreadyExists:
      code = 409;
      reason = "AlreadyExists";
      break;
    case absl::StatusCode::kAborted:
      code = 409;
      reason = "Conflict";
      break;
    case absl::StatusCode::kOutOfRange:
      code = 410;
      reason = "Expired";
      break;
    case absl::StatusCode::kInvalidArgument:
      code = 400;
      reason = "BadRequest";
      break;
    case absl::StatusCode::kUnavailable:
      code = 503;
      reason = "ServiceUnavailable";
      break;
    case absl::StatusCode::kResourceExhausted:
      // The store's disk is full (API errors such as 413 carry their own code).
      code = 507;
      reason = "InsufficientStorage";
      break;
    default:
      break;
  }
  return {code, StatusDocument(code, reason, MessageOf(status), {})};
}

}  // namespace bulkhead::controlplane
