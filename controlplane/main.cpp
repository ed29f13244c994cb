// bulkhead-controlplane: the control plane of one virtual cluster. Serves the
// Kubernetes API over HTTPS from a SQLite store under --data-dir.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/logging.h"
#include "common/strings.h"
#include "controlplane/apiserver/api_server.h"
#include "controlplane/controllers/controller_manager.h"
#include "controlplane/http/https_server.h"
#include "controlplane/pki/cluster_credentials.h"
#include "controlplane/store/sqlite_store.h"
#include "fmt/format.h"

namespace {

using namespace bulkhead;                // NOLINT(google-build-using-namespace)
using namespace bulkhead::controlplane;  // NOLINT(google-build-using-namespace)

struct Flags {
  std::string data_dir;
  std::string listen = "127.0.0.1:6443";
  std::string cluster_name = "bulkhead";
  std::vector<std::string> tls_names;
  std::string durability = "process-crash";
  HttpsServerLimits limits;
  int64_t handshake_timeout = 10;
  int64_t header_timeout = 10;
  int64_t body_timeout = 60;
  int64_t idle_timeout = 90;
  int64_t write_timeout = 60;
  int64_t compaction_interval = 300;
  int64_t bookmark_interval = 60;
  std::string service_cidr = "10.96.0.0/12";
  std::string node_port_range = "30000-32767";
  std::string pod_security_floor = "privileged";
  bool host_mode = false;
  int64_t node_monitor_grace = 40;
  int64_t terminated_pod_gc_threshold = 12500;
};

// --service-cidr (one CIDR, or an IPv4 and an IPv6 one, comma-separated)
// and --service-node-port-range.
StatusOr<ServiceNetwork> ParseServiceNetwork(const Flags& flags) {
  ServiceNetwork network;
  for (std::string_view cidr : SplitNonEmpty(flags.service_cidr, ",")) {
    auto range = IpRange::Parse(cidr);
    if (!range.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("--service-cidr: {}", range.status().message()));
    }
    network.cidrs.push_back(*range);
  }
  if (network.cidrs.empty() || network.cidrs.size() > 2 ||
      (network.cidrs.size() == 2 && network.cidrs[0].ipv6() == network.cidrs[1].ipv6())) {
    return absl::InvalidArgumentError(fmt::format(
        "--service-cidr {}: expected one CIDR, or one IPv4 and one IPv6 CIDR separated by a comma",
        flags.service_cidr));
  }
  auto ports = PortRange::Parse(flags.node_port_range);
  if (!ports.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("--service-node-port-range: {}", ports.status().message()));
  }
  network.node_ports = *ports;
  return network;
}

StatusOr<std::pair<std::string, uint16_t>> SplitListen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(fmt::format("--listen {}: expected HOST:PORT", listen));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  auto port = ParseInteger<uint16_t>(std::string_view(listen).substr(colon + 1));
  if (host.empty() || !port.has_value()) {
    return absl::InvalidArgumentError(fmt::format("--listen {}: expected HOST:PORT", listen));
  }
  return std::make_pair(host, *port);
}

int Run(const CLI::App& app, const Flags& flags) {
  auto fail = [&app](const Status& status) {
    PrintError(app, MessageOf(status));
    return kExitFailure;
  };
  auto listen = SplitListen(flags.listen);
  if (!listen.ok()) {
    PrintError(app, MessageOf(listen.status()));
    return kExitUsage;
  }
  // Signals are taken by sigtimedwait below, never by a handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::error_code error;
  std::filesystem::create_directories(flags.data_dir, error);
  if (error) {
    return fail(ErrnoError(error.value(), fmt::format("create {}", flags.data_dir)));
  }
  ::chmod(flags.data_dir.c_str(), 0700);
  std::vector<std::string> names = flags.tls_names;
  if (listen->first != "0.0.0.0" && listen->first != "::") {
    names.push_back(listen->first);
  }
  auto credentials = EnsureClusterCredentials(flags.data_dir, names);
  if (!credentials.ok()) {
    return fail(credentials.status());
  }
  auto service_network = ParseServiceNetwork(flags);
  if (!service_network.ok()) {
    return fail(service_network.status());
  }
  SqliteStoreOptions store_options;
  // A page of a watch's backlog fits the watch's writer queue several times.
  store_options.watch_backlog_page_bytes =
      std::max<size_t>(flags.limits.max_stream_queue_bytes / 4, 1);
  // A watcher falls behind when a writer queue's worth of events waits for it
  // in the store's hub too.
  store_options.watch_max_queue_bytes = flags.limits.max_stream_queue_bytes;
  // One reader for every thread that may read at once (IO threads answer
  // reads themselves and must never wait for a reader), and one for the
  // watches' backlog pages. Readers open only when they are needed.
  store_options.read_connections = flags.limits.io_threads + flags.limits.handler_threads + 1;
  store_options.durability =
      flags.durability == "power-loss" ? Durability::kPowerLoss : Durability::kProcessCrash;
  auto store = SqliteStore::Open(flags.data_dir + "/state.db", store_options);
  if (!store.ok()) {
    return fail(store.status());
  }
  ApiServerOptions api_options;
  api_options.admin_token = credentials->admin_token;
  api_options.service_account_key_pem = credentials->service_account_key_pem;
  api_options.bookmark_interval = std::chrono::seconds(flags.bookmark_interval);
  api_options.max_object_bytes = flags.limits.max_body_bytes;
  api_options.service_network = *service_network;
  api_options.pod_security_floor =
      ParsePodSecurityLevel(flags.pod_security_floor).value_or(PodSecurityLevel::kRestricted);
  ApiServer api(**store, api_options);
  if (Status status = api.Bootstrap(); !status.ok()) {
    return fail(status);
  }
  HttpsServerOptions http_options;
  http_options.host = listen->first;
  http_options.port = listen->second;
  http_options.certificate_pem = credentials->serving.cert_pem;
  http_options.key_pem = credentials->serving.key_pem;
  http_options.client_authority_pem = credentials->client_authority.cert_pem;
  http_options.limits = flags.limits;
  http_options.limits.handshake_timeout = std::chrono::seconds(flags.handshake_timeout);
  http_options.limits.header_timeout = std::chrono::seconds(flags.header_timeout);
  http_options.limits.body_timeout = std::chrono::seconds(flags.body_timeout);
  http_options.limits.idle_timeout = std::chrono::seconds(flags.idle_timeout);
  http_options.limits.write_timeout = std::chrono::seconds(flags.write_timeout);
  http_options.quick = &ApiServer::Quick;
  auto server = HttpsServer::Start(
      http_options, [&api](HttpRequest& request) { return api.Authenticate(request); },
      [&api](HttpRequest& request, ResponseWriter& writer) { api.Handle(request, writer); });
  if (!server.ok()) {
    return fail(server.status());
  }
  std::string host = listen->first == "0.0.0.0" ? "127.0.0.1" : listen->first;
  if (host.find(':') != std::string::npos) {
    host = "[" + host + "]";
  }
  std::string url = fmt::format("https://{}:{}", host, (*server)->port());
  std::string kubeconfig = flags.data_dir + "/kubeconfig";
  if (Status status = WriteKubeconfig(kubeconfig, flags.cluster_name, url, *credentials);
      !status.ok()) {
    // Serving matters more than the convenience file (a full disk, say):
    // the credentials under pki/ are intact.
    Logger(Component::kControlplane)
        .error("kubeconfig not written path={} error=\"{}\"", kubeconfig, MessageOf(status));
  }
  // The controllers start once the API serves: a large cluster's first
  // lists never keep its API from answering.
  controllers::ControllerOptions controller_options;
  controller_options.root_ca_pem = credentials->serving_authority.cert_pem;
  controller_options.tokens = &api.tokens();
  controller_options.host_mode = flags.host_mode;
  controller_options.node_monitor_grace = std::chrono::seconds(flags.node_monitor_grace);
  controller_options.pod_gc.terminated_threshold = flags.terminated_pod_gc_threshold;
  controllers::ControllerManager controllers(api.objects(), controller_options);
  if (Status status = controllers.Start(); !status.ok()) {
    return fail(status);
  }
  api.set_ready(true);
  Logger(Component::kControlplane)
      .info("serving url={} kubeconfig={} revision={} new_credentials={}", url, kubeconfig,
            (*store)->Revision(), credentials->created);
  std::cout << fmt::format("serving {} kubeconfig={}", url, kubeconfig) << std::endl;

  // Compaction keeps one interval of history: each tick compacts to the
  // revision the previous tick saw.
  int64_t previous_revision = 0;
  while (true) {
    timespec wait{flags.compaction_interval > 0 ? flags.compaction_interval : 3600, 0};
    int signal = sigtimedwait(&signals, nullptr, &wait);
    if (signal == SIGTERM || signal == SIGINT) {
      break;
    }
    if (signal < 0 && errno == EAGAIN && flags.compaction_interval > 0) {
      if (previous_revision > (*store)->CompactedRevision()) {
        if (Status status = (*store)->Compact(previous_revision); !status.ok()) {
          Logger(Component::kStore).warn("compaction failed: {}", status);
        }
      }
      previous_revision = (*store)->Revision();
    }
  }
  Logger(Component::kControlplane).info("stopping");
  (*server)->Stop();
  spdlog::shutdown();
  std::fflush(nullptr);
  // Handler threads may still be inside a request; every acknowledged
  // write is already committed, so leave without unwinding under them.
  ::_exit(kExitOk);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "bulkhead-controlplane: the control plane of one virtual cluster (a Kubernetes 1.32 API "
      "server over HTTPS with its own SQLite store)",
      "bulkhead-controlplane"};
  app.footer(
      "On first start it makes the cluster's certificates, client CA, admin client certificate "
      "and bearer token under --data-dir and writes DIR/kubeconfig; started again on the same "
      "directory it serves the same cluster.\n"
      "Example:\n  bulkhead-controlplane --data-dir /var/lib/bulkhead/team-a --listen "
      "127.0.0.1:6443\n  kubectl --kubeconfig /var/lib/bulkhead/team-a/kubeconfig get ns");
  Flags flags;
  std::string log_level = "info";
  AddLogLevelFlag(app, log_level);
  app.add_option("--data-dir", flags.data_dir,
                 "Directory holding the cluster's store and credentials")
      ->required();
  app.add_option("--service-cidr", flags.service_cidr,
                 "Range of Services' cluster IPs: a CIDR, or an IPv4 and an IPv6 CIDR separated "
                 "by a comma (dual-stack)")
      ->capture_default_str();
  app.add_option("--service-node-port-range", flags.node_port_range,
                 "Range of Services' node ports, FIRST-LAST")
      ->capture_default_str();
  app.add_option("--listen", flags.listen, "HOST:PORT to serve HTTPS on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--cluster-name", flags.cluster_name, "Cluster and context name in the kubeconfig")
      ->capture_default_str();
  app.add_option("--tls-san", flags.tls_names,
                 "Extra DNS name or IP for the serving certificate (repeatable; used on first "
                 "start)");
  app.add_option("--pod-security-floor", flags.pod_security_floor,
                 "Pod Security level that no namespace's enforce label can lower: every pod is "
                 "judged at least at this level (the tenant is admin of its cluster, not of the "
                 "host)")
      ->check(CLI::IsMember({"privileged", "baseline", "restricted"}))
      ->capture_default_str();
  app.add_flag("--host-mode", flags.host_mode,
               "Serve a host cluster rather than a virtual one: also run the scheduler, which "
               "binds pods to Ready nodes, the node lifecycle controller and the pod garbage "
               "collector");
  app.add_option("--node-monitor-grace-period", flags.node_monitor_grace,
                 "Seconds a node may go without a heartbeat (its Lease or Ready condition) "
                 "before it is marked NotReady (host mode)")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--terminated-pod-gc-threshold", flags.terminated_pod_gc_threshold,
                 "Succeeded or Failed pods kept before the pod garbage collector deletes the "
                 "oldest; 0 keeps them all (host mode)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--durability", flags.durability,
                 "process-crash: a write is acknowledged once in the WAL (survives kill -9); "
                 "power-loss: also fsync each commit")
      ->check(CLI::IsMember({"process-crash", "power-loss"}))
      ->capture_default_str();
  app.add_option("--max-body-bytes", flags.limits.max_body_bytes,
                 "Largest request body accepted, and largest object stored after any update "
                 "or patch; larger ones get 413")
      ->capture_default_str();
  app.add_option("--max-bodies-in-flight-bytes", flags.limits.max_bodies_in_flight_bytes,
                 "Request bodies being read or waiting for a handler, all clients together; a "
                 "request past it gets 429 with Retry-After")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-header-bytes", flags.limits.max_header_bytes,
                 "Largest request header block accepted; larger ones get 431")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-connections", flags.limits.max_connections,
                 "Open client connections in total; new ones past it are closed at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-connections-per-client", flags.limits.max_connections_per_client,
                 "Open connections from one client address; new ones past it are closed at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--tls-handshake-timeout", flags.handshake_timeout,
                 "Seconds a new connection has to complete the TLS handshake")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--request-header-timeout", flags.header_timeout,
                 "Seconds a client has to send a request's headers")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--request-body-timeout", flags.body_timeout,
                 "Seconds a client has to send a request's body")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--idle-timeout", flags.idle_timeout,
                 "Seconds a keep-alive connection may wait for its next request")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--write-timeout", flags.write_timeout,
                 "Seconds a client has to take each response write")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--watch-queue-bytes", flags.limits.max_stream_queue_bytes,
                 "Unsent bytes a watch may queue; a watcher that falls further behind is ended "
                 "(it lists again)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--io-threads", flags.limits.io_threads,
                 "Threads serving every connection (TLS, reads, writes)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--handler-threads", flags.limits.handler_threads,
                 "Threads running requests (they may wait on the store); watches hold none")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--compaction-interval", flags.compaction_interval,
                 "Seconds between store compactions (0: never)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--watch-bookmark-interval", flags.bookmark_interval,
                 "Seconds between BOOKMARK events to watchers that allow them")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  if (int code = ParseCli(app, argc, argv); code >= 0) {
    return code;
  }
  return Run(app, flags);
}
