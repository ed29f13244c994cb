// Kubernetes API errors (metav1.Status) carried in absl::Status, so that the
// API server reports errors the one way the project does. The absl code is
// the nearest canonical code; a payload keeps the Status document with the
// HTTP code, reason, details and causes that kubectl prints.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_API_ERRORS_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_API_ERRORS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace bulkhead::controlplane {

struct StatusCause {
  std::string type;  // FieldValueInvalid, FieldValueRequired, FieldValueNotSupported, ...
  std::string message;
  std::string field;
};

struct ApiErrorDetails {
  std::string name;
  std::string group;
  std::string kind;  // the resource (plural) as Kubernetes reports it
  std::vector<StatusCause> causes;
  int retry_after_seconds = 0;  // 0: not set
};

// An API error with HTTP `code` and `reason` (NotFound, AlreadyExists,
// Conflict, Invalid, BadRequest, ...).
Status ApiError(int code, const std::string& reason, const std::string& message,
                const ApiErrorDetails& details = {});

Status BadRequest(const std::string& message);
Status NotFoundError(const std::string& group, const std::string& resource,
                     const std::string& name);
Status AlreadyExistsError(const std::string& group, const std::string& resource,
                          const std::string& name);
Status ConflictError(const std::string& group, const std::string& resource, const std::string& name,
                     const std::string& why);
// 422 Invalid: `kind` is the Kind ("Pod"), as Kubernetes words it.
Status InvalidError(const std::string& group, const std::string& kind, const std::string& name,
                    std::vector<StatusCause> causes);

// 504 Timeout "Too large resource version", as Kubernetes answers a list or
// watch from a resourceVersion the store has not reached.
Status TooLargeResourceVersionError(int64_t requested, int64_t current);

// 403 Forbidden: `resource` "name" is forbidden: `why`.
Status ForbiddenError(const std::string& group, const std::string& resource,
                      const std::string& name, const std::string& why);

struct HttpError {
  int code = 500;
  std::string body;  // a metav1.Status document
};

// The HTTP answer for any non-OK status; statuses made without ApiError
// (store or internal errors) map by code.
HttpError ToHttpError(const Status& status);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_API_ERRORS_H_
