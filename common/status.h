// One way to report errors across Bulkhead: absl::Status and absl::StatusOr.
//
// Every call that touches the OS, the network or the store returns one of
// them; exceptions never cross a module boundary. absl's canonical codes are
// the same as gRPC's, so a status maps to a grpc::Status without a table.
// Errors from system calls carry the errno (ErrnoOf) and the source location
// (LocationOf) as payloads, and their message says what failed and why.
#ifndef BULKHEAD_COMMON_STATUS_H_
#define BULKHEAD_COMMON_STATUS_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fmt/format.h"

namespace bulkhead {

using Status = absl::Status;
template <typename T>
using StatusOr = absl::StatusOr<T>;

// An error from a system call: `context` says what was attempted ("open
// /sys/fs/bpf"), `err` is the errno. The code follows the errno (EPERM and
// EACCES -> PERMISSION_DENIED, ENOENT -> NOT_FOUND, ENOSPC -> RESOURCE_EXHAUSTED...).
// The caller's file and line are recorded through compiler builtins.
Status ErrnoError(int err, std::string_view context, const char* file = __builtin_FILE(),
                  int line = __builtin_LINE());

// The errno carried by a status made by ErrnoError, if any.
std::optional<int> ErrnoOf(const Status& status);

// "file.cpp:123" where the status was made by ErrnoError, if known.
std::optional<std::string> LocationOf(const Status& status);

// Prefixes the message of a non-OK status with more context, keeping code
// and payloads: Annotate(s, "attach connect4") -> "attach connect4: <msg>".
Status Annotate(const Status& status, std::string_view context);

// The message of a status as a std::string (absl::string_view in Debian's
// Abseil is not std::string_view).
inline std::string MessageOf(const Status& status) { return std::string(status.message()); }

}  // namespace bulkhead

// Lets fmt and spdlog print absl::string_view and absl::Status.
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<std::string_view> {
  auto format(absl::string_view text, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(std::string_view(text.data(), text.size()),
                                                    ctx);
  }
};
template <>
struct fmt::formatter<absl::Status> : fmt::formatter<std::string_view> {
  auto format(const absl::Status& status, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(status.ToString(), ctx);
  }
};

#define BH_STATUS_CONCAT_INNER_(a, b) a##b
#define BH_STATUS_CONCAT_(a, b) BH_STATUS_CONCAT_INNER_(a, b)

// Returns from the current function if `expr` (a Status) is not OK.
#define BH_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status bh_status_ = (expr);      \
    if (!bh_status_.ok()) return bh_status_; \
  } while (false)

// `lhs = value of expr` (a StatusOr), or returns its status when not OK.
#define BH_ASSIGN_OR_RETURN(lhs, expr) \
  BH_ASSIGN_OR_RETURN_IMPL_(BH_STATUS_CONCAT_(bh_statusor_, __LINE__), lhs, expr)
// `lhs` is a declaration ("int x"), so it cannot be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define BH_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)

#endif  // BULKHEAD_COMMON_STATUS_H_
