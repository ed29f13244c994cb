#include "node/images/run_program.h"

#include "common/program.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace bulkhead::node::images {

StatusOr<ProgramResult> RunProgram(const std::vector<std::string>& argv, int timeout_seconds) {
  ProgramOptions options;
  options.timeout_seconds = timeout_seconds;
  BH_ASSIGN_OR_RETURN(bulkhead::ProgramResult ran, bulkhead::RunProgram(argv, options));
  if (ran.timed_out) {
    return absl::DeadlineExceededError(
        fmt::format("{} did not finish within {} s and was killed", argv[0], timeout_seconds));
  }
  if (ran.exit_code == 127 && ran.out.empty() && ran.err.empty()) {
    return absl::NotFoundError(fmt::format("could not execute {}", argv[0]));
  }
  return ProgramResult{ran.exit_code, std::move(ran.out), std::move(ran.err)};
}

std::string LastLineOf(const ProgramResult& result) {
  for (const std::string* text : {&result.err, &result.out}) {
    auto lines = SplitNonEmpty(*text, "\n");
    for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
      std::string_view line = TrimSpace(*it);
      if (!line.empty()) {
        return std::string(line);
      }
    }
  }
  return result.exit_code < 0 ? "killed by a signal"
                              : fmt::format("exit code {}", result.exit_code);
}

}  // namespace bulkhead::node::images
