// The bulkhead CLI's commands. Each Add* function registers a subcommand
// (with its flags, help and example) and returns what runs it when parsed.
#ifndef BULKHEAD_CLI_COMMANDS_H_
#define BULKHEAD_CLI_COMMANDS_H_

#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace bulkhead::cli {

// Prints "bulkhead certs issue: <message>" on one line to stderr.
inline void PrintCommandError(const CLI::App& command, const std::string& message) {
  std::vector<std::string> names = {command.get_name()};
  for (const CLI::App* app = command.get_parent(); app != nullptr; app = app->get_parent()) {
    names.push_back(app->get_name());
  }
  std::string path;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    path += (path.empty() ? "" : " ") + *it;
  }
  std::cerr << path << ": " << message << "\n";
}

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// `bulkhead certs init|issue`.
std::vector<Command> AddCertsCommands(CLI::App& root);
// `bulkhead flows`.
std::vector<Command> AddFlowsCommands(CLI::App& root);
// `bulkhead node status|import`.
std::vector<Command> AddNodeCommands(CLI::App& root);
// `bulkhead node import` under `node` (node_import_command.cpp).
Command AddNodeImportCommand(CLI::App& node);
// `bulkhead tenant apply|budget|bounds`.
std::vector<Command> AddTenantCommands(CLI::App& root);

}  // namespace bulkhead::cli

#endif  // BULKHEAD_CLI_COMMANDS_H_
