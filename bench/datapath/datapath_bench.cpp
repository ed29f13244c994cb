// Datapath overhead: TCP connect+request+close (CRR) and request/response
// (RR) rates between two pods of one tenant, measured in one run under:
//   none          no isolation at all (the baseline)
//   bulkhead-10   the netpol programs with 10 endpoints loaded
//   bulkhead-10k  the netpol programs with 1,000 tenants and 10,000 endpoints
//   iptables-100  isolation as iptables rules, one per other tenant, 100 tenants
//   iptables-1k   the same with 1,000 tenants
// Configurations are interleaved round by round (the machine is shared and
// noisy), the order rotating each round, and the median of the rounds is
// reported. A ratio is the median of each round's ratio to that round's
// "none", so that a drift of the machine's speed between rounds cancels out
// instead of adding to the spread.
//
// Then, with the kernel's BPF run-time statistics on (only for that run),
// one more RR and CRR run under bulkhead-10k gives each program's own cost
// per run: the tc anti-spoofing program once per packet a pod sends, the
// cgroup programs once per packet or connect.
//
//   bulkhead-bench-datapath [--rounds N] [--seconds S]
//
// Needs root. Everything runs inside network namespaces and cgroups the
// program creates and removes; nothing leaves the machine.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "agent/netpol/datapath.h"
#include "common/logging.h"
#include "fmt/format.h"
#include "tests/support/test_node.h"

namespace {

using bulkhead::agent::netpol::Cidr;
using bulkhead::agent::netpol::Datapath;
using bulkhead::agent::netpol::DesiredState;
using bulkhead::agent::netpol::IpAddress;
using bulkhead::testing::TestNode;
using bulkhead::testing::TestPod;

constexpr int kServerPort = 7000;

// Synthetic tenant k owns 100.64.0.0 + 16k /28 (ten endpoints in it); the
// benchmark's own pods are in the real pod network.
IpAddress SyntheticAddress(int tenant, int endpoint) {
  std::uint32_t base = 0x64400000U + static_cast<std::uint32_t>(tenant) * 16U;
  return IpAddress::FromV4(htonl(base + static_cast<std::uint32_t>(endpoint)));
}

std::string SyntheticBlock(int tenant) {
  std::uint32_t base = 0x64400000U + static_cast<std::uint32_t>(tenant) * 16U;
  return fmt::format("{}.{}.{}.{}/28", base >> 24, (base >> 16) & 0xFF, (base >> 8) & 0xFF,
                     base & 0xFF);
}

DesiredState State(const TestPod& client, const TestPod& server, int tenants,
                   int endpoints_per_tenant, int total_endpoints) {
  DesiredState state;
  state.node.node_addresses = {*IpAddress::Parse(bulkhead::testing::kNodeV4)};
  state.node.pod_networks = {*Cidr::Parse(bulkhead::testing::kPodNetworkV4),
                             *Cidr::Parse("100.64.0.0/10")};
  state.node.denied = bulkhead::agent::netpol::DefaultDeniedDestinations(state.node.node_addresses);
  state.tenants.push_back({"bench"});
  for (const TestPod* pod : {&client, &server}) {
    state.endpoints.push_back({"bench", pod->name, {*IpAddress::Parse(pod->ipv4)}, pod->cgroup});
  }
  int made = 2;
  for (int t = 0; t < tenants && made < total_endpoints; ++t) {
    std::string name = fmt::format("tenant-{}", t);
    state.tenants.push_back({name});
    for (int e = 0; e < endpoints_per_tenant && made < total_endpoints; ++e, ++made) {
      state.endpoints.push_back({name, fmt::format("pod-{}", e), {SyntheticAddress(t, e + 1)}, ""});
    }
  }
  return state;
}

bulkhead::Status Iptables(const std::string& netns, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/sbin/ip", "netns", "exec", netns, "iptables"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = bulkhead::testing::RunCommand(argv);
  if (result.exit_code != 0) {
    return absl::InternalError(fmt::format("iptables failed: {}", result.err));
  }
  return absl::OkStatus();
}

// The isolation of the bench tenant as iptables rules in both pods'
// namespaces: drop to and from every other tenant's block, loaded with
// iptables-restore (one rule per other tenant and direction).
bulkhead::Status LoadIptables(const TestPod& pod, int tenants) {
  std::string rules = "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n";
  for (int t = 0; t < tenants; ++t) {
    rules += fmt::format("-A OUTPUT -d {} -j DROP\n-A INPUT -s {} -j DROP\n", SyntheticBlock(t),
                         SyntheticBlock(t));
  }
  rules += "COMMIT\n";
  std::string path = fmt::format("/tmp/bulkhead-bench-iptables-{}", ::getpid());
  FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) {
    return absl::InternalError("cannot write the iptables rules file");
  }
  std::fputs(rules.c_str(), file);
  std::fclose(file);
  auto result = bulkhead::testing::RunCommand(
      {"/bin/sh", "-c",
       fmt::format("ip netns exec {} iptables-restore < {}", pod.netns->name(), path)});
  ::unlink(path.c_str());
  if (result.exit_code != 0) {
    return absl::InternalError(fmt::format("iptables-restore failed: {}", result.err));
  }
  return absl::OkStatus();
}

bulkhead::Status FlushIptables(const TestPod& pod) { return Iptables(pod.netns->name(), {"-F"}); }

double Measure(TestNode& node, const TestPod& client, const TestPod& server, const char* verb,
               int milliseconds) {
  auto result = node.Run(
      &client, {verb, server.ipv4, std::to_string(kServerPort), std::to_string(milliseconds)});
  double rate = 0;
  long transactions = 0;
  long errors = 0;
  if (std::sscanf(result.out.c_str(), "rate %lf transactions %ld errors %ld", &rate, &transactions,
                  &errors) != 3 ||
      errors > 0) {
    std::fprintf(stderr, "bench: %s failed: %s\n", verb, result.out.c_str());
    return 0;
  }
  return rate;
}

// run_time_ns and run_cnt of every loaded program whose name starts with
// "netpol_" (ours; the kernel keeps 15 characters of the name).
std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> ProgramStats() {
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> stats;
  std::uint32_t id = 0;
  while (bpf_prog_get_next_id(id, &id) == 0) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) {
      continue;
    }
    bpf_prog_info info{};
    std::uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
        std::string(info.name).rfind("netpol_", 0) == 0) {
      auto& [ns, runs] = stats[info.name];
      ns += info.run_time_ns;
      runs += info.run_cnt;
    }
    ::close(fd);
  }
  return stats;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

// The median of the rounds' ratios of `values` to `base` (same round).
double RoundRatio(const std::vector<double>& values, const std::vector<double>& base) {
  std::vector<double> ratios;
  for (size_t i = 0; i < values.size() && i < base.size(); ++i) {
    if (base[i] > 0) {
      ratios.push_back(values[i] / base[i]);
    }
  }
  return Median(ratios);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  int seconds = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--rounds") {
      rounds = std::max(1, std::atoi(argv[i + 1]));
    } else if (flag == "--seconds") {
      seconds = std::max(1, std::atoi(argv[i + 1]));
    } else {
      std::fprintf(stderr, "bulkhead-bench-datapath: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "bulkhead-bench-datapath: needs root (namespaces, BPF, iptables)\n");
    return 1;
  }
  bulkhead::InitLogging({.level = spdlog::level::warn});
  auto node = TestNode::Create("bench");
  if (!node.ok()) {
    std::fprintf(stderr, "bench: %s\n", bulkhead::MessageOf(node.status()).c_str());
    return 1;
  }
  auto client = (*node)->AddPod("bench", "client", 1);
  auto server = (*node)->AddPod("bench", "server", 2);
  if (!client.ok() || !server.ok()) {
    std::fprintf(stderr, "bench: cannot create pods\n");
    return 1;
  }
  // Thousands of short connections a second: let the client reuse ports in
  // TIME_WAIT so the port range never runs out mid-measurement.
  for (const char* sysctl :
       {"net.ipv4.tcp_tw_reuse=1", "net.ipv4.ip_local_port_range=1024 65000"}) {
    auto set =
        bulkhead::testing::RunCommand({"/usr/sbin/ip", "netns", "exec", (*client)->netns->name(),
                                       "/usr/sbin/sysctl", "-qw", sysctl});
    if (set.exit_code != 0) {
      std::fprintf(stderr, "bench: sysctl %s failed: %s\n", sysctl, set.err.c_str());
      return 1;
    }
  }
  auto echo = (*node)->Start(*server, {"serve-echo", std::to_string(kServerPort)});
  if (!echo->WaitForLine("ready", std::chrono::seconds(5))) {
    std::fprintf(stderr, "bench: echo server did not start\n");
    return 1;
  }
  std::string bpf_root = fmt::format("/sys/fs/bpf/bulkhead-bench-{}", ::getpid());
  const std::vector<std::string> configs = {"none", "bulkhead-10", "bulkhead-10k", "iptables-100",
                                            "iptables-1k"};
  std::map<std::string, std::vector<double>> crr;
  std::map<std::string, std::vector<double>> rr;
  std::printf("datapath benchmark: %d rounds x %d s per test, 2 pods of one tenant\n", rounds,
              seconds);
  for (int round = 0; round < rounds; ++round) {
    // Rotate the order each round so no configuration always runs first.
    std::vector<std::string> order = configs;
    std::rotate(order.begin(), order.begin() + (round % static_cast<int>(order.size())),
                order.end());
    for (const std::string& config : order) {
      std::unique_ptr<Datapath> datapath;
      bulkhead::Status setup = absl::OkStatus();
      if (config.rfind("bulkhead", 0) == 0) {
        auto opened = Datapath::Open(
            {bpf_root, (*node)->pods_cgroup(), "bench", (*node)->node_netns().path()});
        if (!opened.ok()) {
          setup = opened.status();
        } else {
          datapath = std::move(*opened);
          setup = config == "bulkhead-10"
                      ? datapath->Replace(State(**client, **server, 1, 8, 10))
                      : datapath->Replace(State(**client, **server, 1000, 10, 10000));
        }
      } else if (config.rfind("iptables", 0) == 0) {
        int tenants = config == "iptables-100" ? 100 : 1000;
        setup = LoadIptables(**client, tenants);
        if (setup.ok()) {
          setup = LoadIptables(**server, tenants);
        }
      }
      if (!setup.ok()) {
        std::fprintf(stderr, "bench: %s setup failed: %s\n", config.c_str(),
                     bulkhead::MessageOf(setup).c_str());
        (void)Datapath::Uninstall(bpf_root);
        return 1;
      }
      crr[config].push_back(Measure(**node, **client, **server, "bench-crr", seconds * 1000));
      rr[config].push_back(Measure(**node, **client, **server, "bench-rr", seconds * 1000));
      datapath.reset();
      (void)Datapath::Uninstall(bpf_root);
      (void)FlushIptables(**client);
      (void)FlushIptables(**server);
    }
  }
  // Each program's own cost, from the kernel's run-time statistics (on only
  // for this run: they add a clock read to every program run).
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> costs;
  {
    int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    auto opened =
        Datapath::Open({bpf_root, (*node)->pods_cgroup(), "bench", (*node)->node_netns().path()});
    if (stats_fd >= 0 && opened.ok() &&
        (*opened)->Replace(State(**client, **server, 1000, 10, 10000)).ok()) {
      auto before = ProgramStats();
      Measure(**node, **client, **server, "bench-rr", seconds * 1000);
      Measure(**node, **client, **server, "bench-crr", seconds * 1000);
      for (const auto& [name, after] : ProgramStats()) {
        auto start = before[name];
        costs[name] = {after.first - start.first, after.second - start.second};
      }
    } else {
      std::fprintf(stderr, "bench: no per-program costs (BPF statistics or set-up failed)\n");
    }
    if (opened.ok()) {
      opened->reset();
    }
    (void)Datapath::Uninstall(bpf_root);
    if (stats_fd >= 0) {
      ::close(stats_fd);
    }
  }
  std::printf("%-14s %14s %8s %14s %8s\n", "config", "CRR/s (median)", "ratio", "RR/s (median)",
              "ratio");
  for (const std::string& config : configs) {
    double c = Median(crr[config]);
    double r = Median(rr[config]);
    std::printf("%-14s %14.0f %8.3f %14.0f %8.3f\n", config.c_str(), c,
                RoundRatio(crr[config], crr["none"]), r, RoundRatio(rr[config], rr["none"]));
  }
  double scale_crr = RoundRatio(crr["bulkhead-10k"], crr["bulkhead-10"]);
  double scale_rr = RoundRatio(rr["bulkhead-10k"], rr["bulkhead-10"]);
  std::printf("scaling 10k/10 endpoints: CRR %.3f, RR %.3f\n", scale_crr, scale_rr);
  std::printf("%-16s %12s %10s   (bulkhead-10k, one RR and one CRR run)\n", "program", "runs",
              "ns/run");
  for (const auto& [name, cost] : costs) {
    std::printf(
        "%-16s %12llu %10.0f\n", name.c_str(), static_cast<unsigned long long>(cost.second),
        cost.second > 0 ? static_cast<double>(cost.first) / static_cast<double>(cost.second) : 0.0);
  }
  std::printf("bulkhead-10k vs iptables-1k: CRR %.3f, RR %.3f\n",
              RoundRatio(crr["bulkhead-10k"], crr["iptables-1k"]),
              RoundRatio(rr["bulkhead-10k"], rr["iptables-1k"]));
  return 0;
}
