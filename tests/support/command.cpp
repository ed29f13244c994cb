#include "tests/support/command.h"

#include "common/program.h"

namespace bulkhead::testing {

CommandResult RunCommand(const std::vector<std::string>& argv, const CommandOptions& options) {
  ProgramOptions program;
  program.timeout_seconds = options.timeout_seconds;
  program.uid = options.uid;
  auto ran = RunProgram(argv, program);
  CommandResult result;
  if (!ran.ok()) {
    // Not run at all: as a shell reports a program it cannot execute.
    result.exit_code = 127;
    result.err = std::string(ran.status().message());
    return result;
  }
  result.exit_code = ran->timed_out ? -1 : ran->exit_code;
  result.out = std::move(ran->out);
  result.err = std::move(ran->err);
  return result;
}

}  // namespace bulkhead::testing
