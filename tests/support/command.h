// Runs a program as a user would, capturing its output and exit code.
#ifndef BULKHEAD_TESTS_SUPPORT_COMMAND_H_
#define BULKHEAD_TESTS_SUPPORT_COMMAND_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace bulkhead::testing {

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

struct CommandOptions {
  std::optional<uid_t> uid;  // drop to this uid (and gid) before exec
  int timeout_seconds = 60;  // killed after this
};

CommandResult RunCommand(const std::vector<std::string>& argv, const CommandOptions& options = {});

}  // namespace bulkhead::testing

#endif  // BULKHEAD_TESTS_SUPPORT_COMMAND_H_
