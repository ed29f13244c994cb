// bulkhead-agent: the node agent. Enforces per-tenant network isolation
// with eBPF and per-tenant budgets with cgroups on one host node.
#include <iostream>
#include <string>

#include "agent/check/feature_probe.h"
#include "common/cli.h"
#include "common/version.h"

namespace {

int RunCheck(const CLI::App& app, const std::string& output) {
  using namespace bulkhead::agent;  // NOLINT(google-build-using-namespace)
  if (auto status = CheckProbePrivileges(); !status.ok()) {
    bulkhead::PrintError(app, std::string(status.message()));
    return bulkhead::kExitFailure;
  }
  auto report = ProbeKernelFeatures();
  if (output == "json") {
    auto json = FeatureReportJson(report);
    if (!json.ok()) {
      bulkhead::PrintError(app, std::string(json.status().message()));
      return bulkhead::kExitFailure;
    }
    std::cout << *json << "\n";
  } else {
    std::cout << FormatFeatureReport(report);
  }
  return report.ready() ? bulkhead::kExitOk : bulkhead::kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "bulkhead-agent: the Bulkhead node agent (eBPF tenant isolation, cgroup budgets, "
      "cross-tenant flows)",
      "bulkhead-agent"};
  app.footer("Example:\n  bulkhead-agent check          # is this node able to run the agent?");
  std::string log_level = "warn";
  bulkhead::AddLogLevelFlag(app, log_level);

  auto* check = app.add_subcommand(
      "check", "Report the kernel features the agent needs and whether each is present");
  check->footer(
      "Exits 0 when every required feature is present, 1 otherwise.\n"
      "Example:\n  bulkhead-agent check -o json");
  std::string output = "table";
  check->add_option("-o,--output", output, "Output format: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();

  auto* version = app.add_subcommand("version", "Print the agent's version");
  version->footer("Example:\n  bulkhead-agent version");

  if (int code = bulkhead::ParseCli(app, argc, argv); code >= 0) {
    return code;
  }
  if (check->parsed()) {
    return RunCheck(*check, output);
  }
  if (version->parsed()) {
    std::cout << "bulkhead-agent " << bulkhead::kVersion << " (" << bulkhead::kGitCommit << ")\n";
    return bulkhead::kExitOk;
  }
  std::cout << app.help();
  return bulkhead::kExitOk;
}
