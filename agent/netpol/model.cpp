#include "agent/netpol/model.h"

#include <arpa/inet.h>

#include "fmt/format.h"

namespace bulkhead::agent::netpol {

std::vector<std::uint16_t> DefaultNodePorts() { return {10250, 10255, 9443, 9444, 6443}; }

std::vector<DeniedDestination> DefaultDeniedDestinations(const std::vector<IpAddress>& nodes) {
  std::vector<DeniedDestination> denied;
  // Cloud metadata services (AWS, GCP, Azure, OpenStack; and AWS's IPv6 one).
  denied.push_back({*Cidr::Parse("169.254.169.254/32"), 0, Protocol::kAny});
  denied.push_back({*Cidr::Parse("fd00:ec2::254/128"), 0, Protocol::kAny});
  for (const IpAddress& node : nodes) {
    for (std::uint16_t port : DefaultNodePorts()) {
      denied.push_back({Cidr::Host(node), port, Protocol::kTcp});
      denied.push_back({Cidr::Host(node), port, Protocol::kUdp});
    }
  }
  return denied;
}

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAllowed:
      return "allowed";
    case Verdict::kDenied:
      return "denied";
    case Verdict::kAudit:
      return "audit";
  }
  return "unknown";
}

std::string_view ReasonName(Reason reason) {
  switch (reason) {
    case Reason::kSameTenant:
      return "same-tenant";
    case Reason::kCrossTenant:
      return "cross-tenant";
    case Reason::kGrant:
      return "grant";
    case Reason::kGrantedFlow:
      return "granted-flow";
    case Reason::kDeniedDestination:
      return "denied-destination";
    case Reason::kUnknownSource:
      return "unknown-source";
    case Reason::kUnknownDestination:
      return "unknown-destination";
    case Reason::kSpoofedSource:
      return "spoofed-source";
    case Reason::kEgressDefault:
      return "egress-default";
    case Reason::kDns:
      return "dns";
    case Reason::kNode:
      return "node";
    case Reason::kExternal:
      return "external";
    case Reason::kProbe:
      return "probe";
    case Reason::kReply:
      return "reply";
  }
  return "unknown";
}

std::string_view HookName(Hook hook) {
  switch (hook) {
    case Hook::kConnect4:
      return "connect4";
    case Hook::kConnect6:
      return "connect6";
    case Hook::kSendmsg4:
      return "sendmsg4";
    case Hook::kSendmsg6:
      return "sendmsg6";
    case Hook::kIngress:
      return "ingress";
    case Hook::kEgress:
      return "egress";
  }
  return "unknown";
}

std::string_view ProtocolName(Protocol protocol) {
  switch (protocol) {
    case Protocol::kAny:
      return "any";
    case Protocol::kIcmp:
      return "icmp";
    case Protocol::kTcp:
      return "tcp";
    case Protocol::kUdp:
      return "udp";
    case Protocol::kIcmpV6:
      return "icmpv6";
  }
  return "other";
}

StatusOr<Protocol> ParseProtocol(std::string_view text) {
  for (Protocol p :
       {Protocol::kAny, Protocol::kIcmp, Protocol::kTcp, Protocol::kUdp, Protocol::kIcmpV6}) {
    if (text == ProtocolName(p)) {
      return p;
    }
  }
  return absl::InvalidArgumentError(
      fmt::format("unknown protocol \"{}\": use tcp, udp, icmp, icmpv6 or any", text));
}

}  // namespace bulkhead::agent::netpol
