// bulkhead-agent: the node agent. Enforces per-tenant network isolation
// with eBPF and per-tenant budgets with cgroups on one host node.
#include <iostream>
#include <string>

#include "agent/check/feature_probe.h"
#include "agent/netpol/datapath.h"
#include "agent/runner.h"
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

  bulkhead::agent::RunOptions run_options;
  auto* run = app.add_subcommand(
      "run", "Enforce tenant isolation on this node and report cross-tenant flows");
  run->add_option("--endpoints-file", run_options.endpoints_file,
                  "YAML/JSON file of tenants, endpoints and grants; re-applied when it changes");
  run->add_option("--pods-cgroup", run_options.pods_cgroup,
                  "cgroup v2 directory holding the node's pods (default: kubepods.slice or "
                  "kubepods on the cgroup v2 mount)");
  run->add_option("--node-netns", run_options.node_netns,
                  "network namespace whose interfaces are the node's addresses (default: the "
                  "agent's own)");
  run->add_option("--bpf-root", run_options.bpf_root, "bpffs directory for pinned maps and links")
      ->capture_default_str();
  run->add_option("--node-name", run_options.node_name,
                  "This node's name: in flow records and the Node object whose taint the agent "
                  "removes (default: host name)");
  run->add_flag("--print-flows", run_options.print_flows,
                "Print each flow record as a JSON line on stdout");
  run->add_option("--listen", run_options.listen,
                  "host:port of the gRPC API (mutual TLS; port 0 picks a free one)")
      ->capture_default_str();
  run->add_option("--certs-dir", run_options.certs_dir,
                  "Directory with ca.crt, agent.crt and agent.key (from 'bulkhead certs'); "
                  "reloaded when they change. Without it the gRPC API is off");
  run->add_option("--metrics-listen", run_options.metrics_listen,
                  "IPv4 address:port for Prometheus metrics over plain HTTP, e.g. "
                  "127.0.0.1:9444 (off when not given); without the token only node-level "
                  "series, no tenant names");
  run->add_option("--metrics-token-file", run_options.metrics_token_file,
                  "File with the bearer token a scraper sends (Authorization: Bearer ...) to get "
                  "the tenant-labelled series too; re-read when it changes");
  run->add_option("--state-file", run_options.state_file,
                  "File that keeps the policies, bounds and budgets accepted over the API across "
                  "restarts (default: memory only)");
  run->add_option("--budgets", run_options.budgets,
                  "How tenant budgets reach the cgroups: kubelet (per-pod ceilings in the pods' "
                  "kubelet cgroups, found by uid and qos), placed (a parent cgroup per tenant "
                  "below --budget-cgroup-root, for pods the agent places) or off")
      ->check(CLI::IsMember({"kubelet", "placed", "off"}))
      ->capture_default_str();
  run->add_option("--kubelet-cgroup-driver", run_options.kubelet_cgroup_driver,
                  "The kubelet's cgroupDriver, cgroupfs or systemd (default: systemd when the "
                  "pods cgroup is kubepods.slice, else cgroupfs)")
      ->check(CLI::IsMember({"cgroupfs", "systemd"}));
  run->add_option("--kubelet-cgroup-root", run_options.kubelet_cgroup_root,
                  "The kubelet's --cgroup-root")
      ->capture_default_str();
  run->add_option("--budget-cgroup-root", run_options.budget_cgroup_root,
                  "With --budgets placed: the cgroup, in every hierarchy, holding one cgroup per "
                  "tenant")
      ->capture_default_str();
  run->add_option("--kubeconfig", run_options.kubeconfig,
                  "kubeconfig of the host cluster's API server: once its programs are attached "
                  "the agent removes the bulkhead.io/agent-not-ready taint from its Node "
                  "(--node-name). Default: the pod's service account when in a pod");
  run->add_option("--budget-resync", run_options.budget_resync_seconds,
                  "Seconds between re-reads of every budgeted pod's cgroups: a limit changed "
                  "behind the agent's back or a pod cgroup made again gets its ceiling back")
      ->check(CLI::Range(1U, 3600U))
      ->capture_default_str();
  run->footer(
      "Stopping the agent (even kill -9) leaves enforcement in place; a new agent takes over the\n"
      "pinned programs and maps without a gap.\n"
      "Example:\n  bulkhead-agent run --endpoints-file /etc/bulkhead/endpoints.yaml "
      "--pods-cgroup /sys/fs/cgroup/kubepods.slice \\\n"
      "      --certs-dir /etc/bulkhead/certs --metrics-listen 127.0.0.1:9444 \\\n"
      "      --metrics-token-file /etc/bulkhead/metrics.token "
      "--state-file /var/lib/bulkhead/agent-state.json");

  std::string uninstall_root = "/sys/fs/bpf/bulkhead";
  auto* uninstall = app.add_subcommand(
      "uninstall", "Remove every program, link, map and pin the agent installed on this node");
  uninstall->add_option("--bpf-root", uninstall_root, "bpffs directory the agent used")
      ->capture_default_str();
  uninstall->footer(
      "This opens the walls between tenants on this node.\n"
      "Example:\n  bulkhead-agent uninstall");

  auto* version = app.add_subcommand("version", "Print the agent's version");
  version->footer("Example:\n  bulkhead-agent version");

  if (int code = bulkhead::ParseCli(app, argc, argv); code >= 0) {
    return code;
  }
  if (check->parsed()) {
    return RunCheck(*check, output);
  }
  if (run->parsed() || uninstall->parsed()) {
    if (auto status = bulkhead::agent::CheckProbePrivileges(); !status.ok()) {
      bulkhead::PrintError(app, bulkhead::MessageOf(status));
      return bulkhead::kExitFailure;
    }
    auto status = run->parsed() ? bulkhead::agent::RunAgent(run_options)
                                : bulkhead::agent::netpol::Datapath::Uninstall(uninstall_root);
    if (!status.ok()) {
      bulkhead::PrintError(app, bulkhead::MessageOf(status));
      return bulkhead::kExitFailure;
    }
    return bulkhead::kExitOk;
  }
  if (version->parsed()) {
    std::cout << "bulkhead-agent " << bulkhead::kVersion << " (" << bulkhead::kGitCommit << ")\n";
    return bulkhead::kExitOk;
  }
  std::cout << app.help();
  return bulkhead::kExitOk;
}
