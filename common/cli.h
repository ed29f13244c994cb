// Shared command-line behaviour for the bulkhead binaries (CLI11): one-line
// errors for bad flags, a log-level flag, and exit codes.
#ifndef BULKHEAD_COMMON_CLI_H_
#define BULKHEAD_COMMON_CLI_H_

#include <functional>
#include <string>

#include "CLI/CLI.hpp"

namespace bulkhead {

// Exit codes shared by every command.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,  // the command ran and failed, or found a problem
  kExitUsage = 2,    // bad flags or arguments
};

// Adds --log-level to `app`; the value is applied when ParseCli succeeds.
void AddLogLevelFlag(CLI::App& app, std::string& level);

// Parses argv. On --help or --version prints and returns kExitOk; on a bad
// flag prints "<prog>: <what is wrong>; see '<prog> --help'" on one line and
// returns kExitUsage. Returns -1 when parsing succeeded and the command
// should run.
int ParseCli(CLI::App& app, int argc, char** argv);

// Prints "<prog>: <message>" to stderr on one line.
void PrintError(const CLI::App& app, const std::string& message);

}  // namespace bulkhead

#endif  // BULKHEAD_COMMON_CLI_H_
