// bulkhead: the command-line tool for platform and security teams.
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "common/cli.h"
#include "common/version.h"
#include "nlohmann/json.hpp"

int main(int argc, char** argv) {
  CLI::App app{"bulkhead: virtual Kubernetes clusters with kernel-enforced walls between tenants",
               "bulkhead"};
  app.footer(
      "Example:\n  bulkhead version\n  bulkhead certs init --dir ./pki\n"
      "  bulkhead flows --verdict denied --follow");
  std::string log_level = "warn";
  bulkhead::AddLogLevelFlag(app, log_level);

  auto* version = app.add_subcommand("version", "Print the client version");
  std::string output = "text";
  version->add_option("-o,--output", output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  version->footer("Example:\n  bulkhead version -o json");

  std::vector<bulkhead::cli::Command> commands;
  for (auto add : {bulkhead::cli::AddCertsCommands, bulkhead::cli::AddFlowsCommands,
                   bulkhead::cli::AddNodeCommands, bulkhead::cli::AddTenantCommands}) {
    auto more = add(app);
    commands.insert(commands.end(), more.begin(), more.end());
  }

  if (int code = bulkhead::ParseCli(app, argc, argv); code >= 0) {
    return code;
  }
  for (const auto& command : commands) {
    if (command.app->parsed()) {
      return command.run();
    }
  }
  if (version->parsed()) {
    if (output == "json") {
      nlohmann::json doc = {
          {"clientVersion",
           {{"version", bulkhead::kVersion}, {"gitCommit", bulkhead::kGitCommit}}}};
      std::cout << doc.dump(2) << "\n";
    } else {
      std::cout << "Client Version: v" << bulkhead::kVersion << " (" << bulkhead::kGitCommit
                << ")\n";
    }
    return bulkhead::kExitOk;
  }
  std::cout << app.help();
  return bulkhead::kExitOk;
}
