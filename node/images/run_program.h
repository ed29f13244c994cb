// The node's way to run ip, ctr and busybox (common/program.h) where a
// timeout or a program that cannot run is an error.
#ifndef BULKHEAD_NODE_IMAGES_RUN_PROGRAM_H_
#define BULKHEAD_NODE_IMAGES_RUN_PROGRAM_H_

#include <string>
#include <vector>

#include "common/status.h"

namespace bulkhead::node::images {

struct ProgramResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] (a path; no PATH search) with stdin from /dev/null, killed
// after `timeout_seconds`. An error only when it could not run at all
// (missing program, fork failure) or timed out; a non-zero exit is a result.
StatusOr<ProgramResult> RunProgram(const std::vector<std::string>& argv, int timeout_seconds = 120);

// The last non-empty line of a program's stderr (or stdout), for errors.
std::string LastLineOf(const ProgramResult& result);

}  // namespace bulkhead::node::images

#endif  // BULKHEAD_NODE_IMAGES_RUN_PROGRAM_H_
