#include "agent/runner.h"

#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>

#include "agent/api/budget_watch.h"
#include "agent/api/event_hub.h"
#include "agent/api/flow_hub.h"
#include "agent/api/node_backend.h"
#include "agent/api/server.h"
#include "agent/api/tenant_registry.h"
#include "agent/budgets/enforcer.h"
#include "agent/cgroups/layout.h"
#include "agent/endpoints/file_source.h"
#include "agent/hostapi/node_readiness.h"
#include "agent/metrics/http_server.h"
#include "agent/metrics/prometheus_text.h"
#include "agent/netpol/datapath.h"
#include "agent/netpol/flow_format.h"
#include "agent/netpol/flow_log.h"
#include "common/logging.h"
#include "fmt/format.h"

namespace bulkhead::agent {
namespace {

// How often the budget counters are read for events.
constexpr auto kBudgetReadInterval = std::chrono::seconds(2);
// Idle granted flows are removed (and each tenant's share recounted) this often.
constexpr auto kFlowSweepInterval = std::chrono::seconds(10);

std::string HostName() {
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

// The budget enforcer the options ask for; null for "off".
StatusOr<std::unique_ptr<budgets::BudgetEnforcer>> MakeBudgets(const RunOptions& options,
                                                               const CgroupLayout& layout,
                                                               const std::string& pods_cgroup) {
  if (options.budgets == "off") {
    return std::unique_ptr<budgets::BudgetEnforcer>();
  }
  if (options.budgets == "placed") {
    return budgets::MakePlacedEnforcer(layout, options.budget_cgroup_root);
  }
  if (options.budgets != "kubelet") {
    return absl::InvalidArgumentError(
        fmt::format("--budgets {}: use kubelet, placed or off", options.budgets));
  }
  budgets::KubeletCgroupConfig config;
  std::string driver = options.kubelet_cgroup_driver;
  if (driver.empty()) {
    driver = pods_cgroup.ends_with(".slice") ? "systemd" : "cgroupfs";
  }
  BH_ASSIGN_OR_RETURN(config.driver, budgets::ParseCgroupDriver(driver));
  config.cgroup_root = options.kubelet_cgroup_root;
  return budgets::MakeKubeletEnforcer(layout, config);
}

// The host API from --kubeconfig, else from the pod's service account;
// NOT_FOUND when there is neither.
StatusOr<::bulkhead::hostapi::HostApiConfig> HostApi(const RunOptions& options) {
  if (!options.kubeconfig.empty()) {
    return ::bulkhead::hostapi::LoadKubeconfig(options.kubeconfig);
  }
  return ::bulkhead::hostapi::InClusterConfig();
}

}  // namespace

StatusOr<std::string> DetectPodsCgroup(const std::string& unified_mount) {
  for (const char* candidate : {"kubepods.slice", "kubepods"}) {
    std::string path = fmt::format("{}/{}", unified_mount, candidate);
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return path;
    }
  }
  return absl::NotFoundError(fmt::format(
      "no kubepods cgroup under {}; pass --pods-cgroup with the cgroup v2 directory that holds "
      "the node's pods",
      unified_mount));
}

Status RunAgent(const RunOptions& options) {
  auto& log = Logger(Component::kAgent);
  BH_ASSIGN_OR_RETURN(CgroupLayout layout, DetectCgroupLayout());
  std::string pods_cgroup = options.pods_cgroup;
  if (pods_cgroup.empty()) {
    if (layout.unified_mount.empty()) {
      return absl::FailedPreconditionError(
          "no cgroup v2 mount: BPF isolation attaches to cgroup v2 (see 'bulkhead-agent check')");
    }
    BH_ASSIGN_OR_RETURN(pods_cgroup, DetectPodsCgroup(layout.unified_mount));
  }

  // Signals are taken synchronously by the main loop; block them first so
  // the flow thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  netpol::DatapathOptions datapath_options{
      options.bpf_root, pods_cgroup, options.node_name.empty() ? HostName() : options.node_name,
      options.node_netns};
  BH_ASSIGN_OR_RETURN(auto datapath, netpol::Datapath::Open(datapath_options));
  BH_ASSIGN_OR_RETURN(std::unique_ptr<budgets::BudgetEnforcer> budget_enforcer,
                      MakeBudgets(options, layout, pods_cgroup));
  api::TenantRegistry registry(
      datapath_options.node_name,
      [&datapath](const netpol::DesiredState& state) { return datapath->Replace(state); },
      options.state_file, budget_enforcer.get());
  BH_RETURN_IF_ERROR(registry.Load());

  std::unique_ptr<EndpointSource> source;
  if (!options.endpoints_file.empty()) {
    source = std::make_unique<FileSource>(options.endpoints_file);
    BH_ASSIGN_OR_RETURN(std::optional<SourceState> state, source->Poll());
    BH_RETURN_IF_ERROR(registry.SetSource(std::move(*state)));
  } else {
    log.warn(
        "no --endpoints-file: enforcing what the pinned maps hold until the host API source "
        "is configured");
  }

  // Parsing and applying a large file leaves freed heap behind; give it
  // back so the idle agent stays small (glibc keeps it otherwise).
  ::malloc_trim(0);

  // Recent records are kept by the hub (for the API); the flow log only
  // hands them over.
  api::FlowHub hub;
  api::EventHub events;
  BH_ASSIGN_OR_RETURN(auto flows, netpol::FlowLog::Create(*datapath, 1));
  // Printing never blocks the flow reader or shutdown: a line is written
  // only when stdout can take it whole (a pipe that says POLLOUT has room
  // for PIPE_BUF bytes), otherwise it is dropped and counted.
  std::atomic<std::uint64_t> unprinted{0};
  flows->SetListener([&unprinted, &hub,
                      print = options.print_flows](const netpol::FlowRecord& record) {
    hub.Publish(record);
    if (print) {
      std::string line = netpol::FlowRecordJson(record) + "\n";
      pollfd out{STDOUT_FILENO, POLLOUT, 0};
      if (line.size() > PIPE_BUF || ::poll(&out, 1, 0) != 1 || (out.revents & POLLOUT) == 0 ||
          ::write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        ++unprinted;
      }
    }
  });
  flows->Start();

  api::DatapathBackend backend(*datapath);
  std::unique_ptr<api::AgentServer> server;
  if (!options.certs_dir.empty()) {
    api::ServerOptions server_options{options.listen, options.certs_dir,
                                      options.cert_refresh_seconds};
    auto started = api::AgentServer::Start(server_options, registry, hub, events, backend);
    if (!started.ok()) {
      flows->Stop();
      return started.status();
    }
    server = std::move(*started);
  } else {
    log.warn("no --certs-dir: the gRPC API is off");
  }
  std::unique_ptr<metrics::MetricsServer> metrics_server;
  if (!options.metrics_listen.empty()) {
    metrics::MetricsServerOptions metrics_options;
    metrics_options.listen = options.metrics_listen;
    metrics_options.token_file = options.metrics_token_file;
    auto started = metrics::MetricsServer::Start(metrics_options, [&](metrics::MetricsScope scope) {
      return metrics::RenderMetrics({backend, hub, events, registry}, scope);
    });
    if (!started.ok()) {
      flows->Stop();
      return started.status();
    }
    metrics_server = std::move(*started);
  }

  auto summary = datapath->Summary();
  log.info(
      "agent ready node={} pods_cgroup={} tenants={} endpoints={} grants={} reused_pins={} "
      "api_port={} metrics_port={}",
      datapath_options.node_name, pods_cgroup, summary.tenants, summary.endpoints, summary.grants,
      summary.reused_pins, server ? server->port() : 0,
      metrics_server ? metrics_server->port() : 0);

  // The programs are attached and the source enforced: the node may take
  // pods now. Removing the taint runs on its own thread and never holds up
  // enforcement; a host API that cannot be reached is retried.
  std::unique_ptr<hostapi::NodeReadiness> readiness;
  if (auto host = HostApi(options); host.ok()) {
    readiness =
        std::make_unique<hostapi::NodeReadiness>(std::move(*host), datapath_options.node_name);
  } else if (!absl::IsNotFound(host.status())) {
    log.error("host API not usable; the node's {} taint stays error=\"{}\"",
              hostapi::kAgentNotReadyTaint, MessageOf(host.status()));
  }

  timespec wait{};
  wait.tv_sec = static_cast<time_t>(options.reload_interval.count() / 1000);
  wait.tv_nsec = static_cast<long>((options.reload_interval.count() % 1000) * 1000000);
  api::BudgetWatch budget_watch(events);
  auto budgets_read = std::chrono::steady_clock::now();
  auto flows_swept = std::chrono::steady_clock::now();
  auto budgets_resynced = std::chrono::steady_clock::now();
  const auto resync_interval = std::chrono::seconds(options.budget_resync_seconds);
  while (true) {
    int signal = sigtimedwait(&signals, nullptr, &wait);
    if (signal == SIGTERM || signal == SIGINT) {
      log.info("agent stopping signal={}; enforcement stays in place", signal);
      break;
    }
    if (std::chrono::steady_clock::now() - flows_swept >= kFlowSweepInterval) {
      flows_swept = std::chrono::steady_clock::now();
      datapath->SweepFlows();
    }
    if (budget_enforcer && std::chrono::steady_clock::now() - budgets_resynced >= resync_interval) {
      budgets_resynced = std::chrono::steady_clock::now();
      registry.ResyncBudgets();
    } else {
      registry.SyncBudgets();
    }
    if (budget_enforcer && std::chrono::steady_clock::now() - budgets_read >= kBudgetReadInterval) {
      budgets_read = std::chrono::steady_clock::now();
      budget_watch.Observe(registry.BudgetReports());
    }
    if (!source) {
      continue;
    }
    auto state = source->Poll();
    if (state.ok() && !state->has_value()) {
      continue;  // unchanged
    }
    Status status = state.ok() ? registry.SetSource(std::move(**state)) : state.status();
    state = std::optional<SourceState>();  // free the parsed state before trimming
    ::malloc_trim(0);
    if (status.ok()) {
      log.info("source applied source=\"{}\"", source->Describe());
      events.Publish({api::EventKind::kSourceChanged, "", source->Describe() + " applied"});
      for (const std::string& refused : datapath->Summary().refused) {
        events.Publish({api::EventKind::kRefused, "", refused});
      }
    } else {
      log.error("source not applied, previous state kept source=\"{}\" error=\"{}\"",
                source->Describe(), MessageOf(status));
    }
  }
  readiness.reset();
  metrics_server.reset();
  if (server) {
    server->Shutdown();
  }
  flows->Stop();
  if (unprinted > 0) {
    log.warn("flow records not printed because stdout was not read count={}", unprinted.load());
  }
  return absl::OkStatus();
}

}  // namespace bulkhead::agent
