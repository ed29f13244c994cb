// `bulkhead flows`: cross-tenant flows from an agent, as a table or JSON lines.
#include <ctime>
#include <iostream>
#include <memory>

#include "cli/agent_call.h"
#include "cli/commands.h"
#include "common/cli.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace bulkhead::cli {
namespace {

namespace v1 = agent::v1;

std::string Rfc3339(std::int64_t unix_nanos) {
  std::time_t seconds = static_cast<std::time_t>(unix_nanos / 1000000000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:06}Z", buf, (unix_nanos % 1000000000) / 1000);
}

std::string_view VerdictText(v1::Verdict verdict) {
  switch (verdict) {
    case v1::VERDICT_ALLOWED:
      return "allowed";
    case v1::VERDICT_DENIED:
      return "denied";
    case v1::VERDICT_AUDIT:
      return "audit";
    default:
      return "unknown";
  }
}

nlohmann::json PeerJson(const v1::FlowPeer& peer) {
  return {{"tenant", peer.tenant()},
          {"pod", peer.pod()},
          {"address", peer.address()},
          {"port", peer.port()}};
}

std::string PeerText(const v1::FlowPeer& peer) {
  std::string who = peer.tenant().empty() ? "-" : peer.tenant();
  if (!peer.pod().empty()) {
    who += "/" + peer.pod();
  }
  bool v6 = peer.address().find(':') != std::string::npos;
  return fmt::format("{} {}{}{}:{}", who, v6 ? "[" : "", peer.address(), v6 ? "]" : "",
                     peer.port());
}

// "30s", "5m", "2h", "1d" -> seconds.
std::optional<std::int64_t> ParseAge(std::string_view text) {
  if (text.size() < 2) {
    return std::nullopt;
  }
  auto number = ParseInteger<std::int64_t>(text.substr(0, text.size() - 1));
  if (!number || *number < 0) {
    return std::nullopt;
  }
  switch (text.back()) {
    case 's':
      return *number;
    case 'm':
      return *number * 60;
    case 'h':
      return *number * 3600;
    case 'd':
      return *number * 86400;
    default:
      return std::nullopt;
  }
}

struct FlowsFlags {
  AgentFlags agent;
  std::string tenant;
  std::string pod;
  std::string verdict;
  int port = 0;
  std::string protocol;
  std::string since;
  bool follow = false;
  unsigned limit = 0;
  std::string output = "table";
};

int RunFlows(const CLI::App& app, const FlowsFlags& flags) {
  v1::StreamFlowsRequest request;
  request.set_tenant(flags.tenant);
  request.set_pod(flags.pod);
  if (flags.verdict == "allowed") {
    request.set_verdict(v1::VERDICT_ALLOWED);
  } else if (flags.verdict == "denied") {
    request.set_verdict(v1::VERDICT_DENIED);
  } else if (flags.verdict == "audit") {
    request.set_verdict(v1::VERDICT_AUDIT);
  }
  request.set_port(static_cast<std::uint32_t>(flags.port));
  request.set_protocol(flags.protocol);
  request.set_follow(flags.follow);
  request.set_limit(flags.limit);
  if (!flags.since.empty()) {
    auto age = ParseAge(flags.since);
    if (!age) {
      PrintCommandError(
          app, fmt::format("--since {}: use a duration such as 30s, 5m, 2h or 1d", flags.since));
      return kExitUsage;
    }
    auto now = std::chrono::system_clock::now().time_since_epoch();
    request.set_since_unix_nanos(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() -
                                 *age * 1000000000);
  }
  bool table = flags.output == "table";
  size_t printed = 0;
  // The table's header comes with the first flow, so a call that fails
  // (refused, no agent) prints nothing but its error line.
  auto print_flow = [table, &printed](const v1::Flow& flow) {
    if (table) {
      if (printed == 0) {
        std::cout << fmt::format("{:<27} {:<8} {:<20} {:<6} {:<40} {}\n", "TIME", "VERDICT",
                                 "REASON", "PROTO", "SOURCE", "DESTINATION");
      }
      std::cout << fmt::format("{:<27} {:<8} {:<20} {:<6} {:<40} {}\n",
                               Rfc3339(flow.time_unix_nanos()), VerdictText(flow.verdict()),
                               flow.reason(), flow.protocol(), PeerText(flow.source()),
                               PeerText(flow.destination()));
    } else {
      nlohmann::json doc = {{"time", Rfc3339(flow.time_unix_nanos())},
                            {"node", flow.node()},
                            {"verdict", VerdictText(flow.verdict())},
                            {"reason", flow.reason()},
                            {"hook", flow.hook()},
                            {"protocol", flow.protocol()},
                            {"source", PeerJson(flow.source())},
                            {"destination", PeerJson(flow.destination())}};
      std::cout << doc.dump() << "\n";
    }
    ++printed;
    std::cout << std::flush;
  };
  return CallAgent(
      app, flags.agent,
      [&](AgentClient& client) { return client.StreamFlows(request, print_flow); },
      [&printed, table] {
        if (table && printed == 0) {
          std::cerr << "No flows found.\n";
        }
      });
}

}  // namespace

std::vector<Command> AddFlowsCommands(CLI::App& root) {
  auto flags = std::make_shared<FlowsFlags>();
  auto* flows = root.add_subcommand(
      "flows",
      "Show cross-tenant flows recorded by an agent (a tenant's certificate sees only flows "
      "that touch its tenant; an admin's sees all)");
  AddAgentFlags(*flows, flags->agent);
  flows->add_option("--tenant", flags->tenant, "Only flows with this tenant on either side");
  flows->add_option("--pod", flags->pod, "Only flows with this pod on either side");
  flows->add_option("--verdict", flags->verdict, "allowed, denied or audit")
      ->check(CLI::IsMember({"allowed", "denied", "audit"}));
  flows->add_option("--port", flags->port, "Only flows with this port on either side")
      ->check(CLI::Range(1, 65535));
  flows->add_option("--protocol", flags->protocol, "tcp, udp, icmp or icmpv6")
      ->check(CLI::IsMember({"tcp", "udp", "icmp", "icmpv6"}));
  flows->add_option("--since", flags->since, "Only flows newer than this (30s, 5m, 2h, 1d)");
  flows->add_option("--limit", flags->limit, "At most this many past flows (0: all kept)");
  flows->add_flag("-f,--follow", flags->follow, "Keep printing new flows as they happen");
  flows->add_option("-o,--output", flags->output, "table or json (one JSON object per line)")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  flows->footer(
      "Example:\n  bulkhead flows --agent 10.0.0.5:9443 --tenant team-a --verdict denied "
      "--follow -o json\n"
      "  (certificate files from --cert/--key/--ca or BULKHEAD_CERT/BULKHEAD_KEY/BULKHEAD_CA)");
  return {{flows, [flows, flags]() { return RunFlows(*flows, *flags); }}};
}

}  // namespace bulkhead::cli
