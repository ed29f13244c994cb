#include "common/status.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

#include <cstring>
#include <filesystem>

#include "absl/strings/cord.h"

namespace bulkhead {
namespace {

constexpr const char* kErrnoPayload = "bulkhead.dev/errno";
constexpr const char* kLocationPayload = "bulkhead.dev/location";

absl::StatusCode CodeForErrno(int err) {
  switch (err) {
    case EPERM:
    case EACCES:
      return absl::StatusCode::kPermissionDenied;
    case ENOENT:
    case ESRCH:
    case ENXIO:
      return absl::StatusCode::kNotFound;
    case EEXIST:
      return absl::StatusCode::kAlreadyExists;
    case EINVAL:
    case E2BIG:
    case ENAMETOOLONG:
      return absl::StatusCode::kInvalidArgument;
    case ENOSPC:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case EDQUOT:
      return absl::StatusCode::kResourceExhausted;
    case EBUSY:
    case EAGAIN:
    case EINTR:
    case ETIMEDOUT:
    case ECONNREFUSED:
      return absl::StatusCode::kUnavailable;
    case ENOSYS:
    case EOPNOTSUPP:
      return absl::StatusCode::kUnimplemented;
    case ENOTEMPTY:
    case ENOTDIR:
    case EISDIR:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

Status ErrnoError(int err, std::string_view context, const char* file, int line) {
  Status status(CodeForErrno(err),
                fmt::format("{}: {} (errno {})", context, std::strerror(err), err));
  status.SetPayload(kErrnoPayload, absl::Cord(fmt::format("{}", err)));
  status.SetPayload(
      kLocationPayload,
      absl::Cord(fmt::format("{}:{}", std::filesystem::path(file).filename().string(), line)));
  return status;
}

std::optional<int> ErrnoOf(const Status& status) {
  auto payload = status.GetPayload(kErrnoPayload);
  if (!payload) {
    return std::nullopt;
  }
  return ParseInteger<int>(std::string(*payload));
}

std::optional<std::string> LocationOf(const Status& status) {
  auto payload = status.GetPayload(kLocationPayload);
  if (!payload) {
    return std::nullopt;
  }
  return std::string(*payload);
}

Status Annotate(const Status& status, std::string_view context) {
  if (status.ok()) {
    return status;
  }
  Status annotated(status.code(), fmt::format("{}: {}", context, status.message()));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    annotated.SetPayload(url, payload);
  });
  return annotated;
}

}  // namespace bulkhead
