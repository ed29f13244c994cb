// Runs a program with its output captured: stdin from /dev/null, stdout and
// stderr read to their end, killed at a deadline. Used by the node (ip,
// ctr, busybox) and by the tests (kubectl, curl, python3).
#ifndef BULKHEAD_COMMON_PROGRAM_H_
#define BULKHEAD_COMMON_PROGRAM_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace bulkhead {

struct ProgramOptions {
  int timeout_seconds = 120;  // killed (SIGKILL) after this
  std::optional<uid_t> uid;   // drop to this uid (and gid) before exec
};

struct ProgramResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
  bool timed_out = false;  // killed at the deadline; `out` and `err` hold what came before
};

// Runs argv[0] (a path; no PATH search). An error only when it could not be
// started (not executable, no pipe, no fork); any exit is a result. A
// program that exec could not run exits 127.
StatusOr<ProgramResult> RunProgram(const std::vector<std::string>& argv,
                                   const ProgramOptions& options = {});

}  // namespace bulkhead

#endif  // BULKHEAD_COMMON_PROGRAM_H_
