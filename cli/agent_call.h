// One call to an agent as every command makes it: connect, call, print the
// answer or one line on stderr, and return the exit code.
#ifndef BULKHEAD_CLI_AGENT_CALL_H_
#define BULKHEAD_CLI_AGENT_CALL_H_

#include <type_traits>

#include "CLI/CLI.hpp"
#include "cli/agent_client.h"
#include "cli/commands.h"
#include "common/cli.h"

namespace bulkhead::cli {

// `call(client)` returns a Status or a StatusOr<T>; when it succeeds,
// `print` runs (with the T, for a StatusOr) and the exit code is 0. Flags or
// certificate files that cannot make a connection exit 2; a failed call
// (refused, or the agent not reached) exits 1 with its gRPC code.
template <typename Call, typename Print>
int CallAgent(const CLI::App& app, const AgentFlags& flags, Call call, Print print) {
  auto client = AgentClient::Connect(flags);
  if (!client.ok()) {
    PrintCommandError(app, MessageOf(client.status()));
    return kExitUsage;
  }
  auto answer = call(**client);
  if constexpr (std::is_same_v<decltype(answer), Status>) {
    if (!answer.ok()) {
      PrintCommandError(app, DescribeCallError(answer));
      return kExitFailure;
    }
    print();
  } else {
    if (!answer.ok()) {
      PrintCommandError(app, DescribeCallError(answer.status()));
      return kExitFailure;
    }
    print(*answer);
  }
  return kExitOk;
}

}  // namespace bulkhead::cli

#endif  // BULKHEAD_CLI_AGENT_CALL_H_
