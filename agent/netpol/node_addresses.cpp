#include "agent/netpol/node_addresses.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "common/netns.h"
#include "fmt/format.h"

// The rtnetlink macros (NLMSG_*, RTA_*, IFA_*) are C casts.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"

namespace bulkhead::agent::netpol {
namespace {

StatusOr<UniqueFd> NetlinkSocket(unsigned groups) {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) {
    return ErrnoError(errno, "open rtnetlink socket");
  }
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = groups;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {  // NOLINT
    return ErrnoError(errno, "bind rtnetlink socket");
  }
  return fd;
}

// An address attribute of one RTM_NEWADDR message (IFA_LOCAL for IPv4,
// which is the interface's own address on point-to-point links; else
// IFA_ADDRESS).
std::optional<IpAddress> AddressOf(const nlmsghdr* header) {
  const auto* ifa = static_cast<const ifaddrmsg*>(NLMSG_DATA(header));
  int length = static_cast<int>(IFA_PAYLOAD(header));
  std::optional<IpAddress> address;
  std::optional<IpAddress> local;
  for (const rtattr* attr = IFA_RTA(ifa); RTA_OK(attr, length); attr = RTA_NEXT(attr, length)) {
    if (attr->rta_type != IFA_ADDRESS && attr->rta_type != IFA_LOCAL) {
      continue;
    }
    IpAddress parsed;
    if (ifa->ifa_family == AF_INET && RTA_PAYLOAD(attr) == 4) {
      std::uint32_t v4 = 0;
      std::memcpy(&v4, RTA_DATA(attr), 4);
      parsed = IpAddress::FromV4(v4);
    } else if (ifa->ifa_family == AF_INET6 && RTA_PAYLOAD(attr) == 16) {
      IpAddress::Bytes bytes{};
      std::memcpy(bytes.data(), RTA_DATA(attr), 16);
      parsed = IpAddress(bytes);
    } else {
      continue;
    }
    (attr->rta_type == IFA_LOCAL ? local : address) = parsed;
  }
  return local ? local : address;
}

// Sends one request and hands every answer message to `visit` until the
// dump is done (or, for a plain request, the answer came).
template <typename Visit>
Status Exchange(int fd, const void* request, size_t length, unsigned sequence, Visit visit) {
  if (::send(fd, request, length, 0) < 0) {
    return ErrnoError(errno, "send rtnetlink request");
  }
  const auto* sent = static_cast<const nlmsghdr*>(request);
  bool dump = (sent->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  std::vector<char> buffer(size_t{64} * 1024);
  for (;;) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 5000) <= 0) {
      return absl::DeadlineExceededError("rtnetlink did not answer within 5 s");
    }
    ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      return ErrnoError(errno, "read rtnetlink answer");
    }
    auto remaining = static_cast<unsigned>(n);
    for (auto* header = reinterpret_cast<nlmsghdr*>(buffer.data());  // NOLINT: netlink API
         NLMSG_OK(header, remaining); header = NLMSG_NEXT(header, remaining)) {
      if (header->nlmsg_seq != sequence) {
        continue;
      }
      if (header->nlmsg_type == NLMSG_DONE) {
        return absl::OkStatus();
      }
      if (header->nlmsg_type == NLMSG_ERROR) {
        const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(header));
        return error->error == 0 ? absl::OkStatus()
                                 : ErrnoError(-error->error, "rtnetlink request");
      }
      visit(header);
      if (!dump) {
        return absl::OkStatus();
      }
    }
  }
}

StatusOr<std::vector<InterfaceAddress>> DumpAddresses(int fd, unsigned sequence) {
  struct {
    nlmsghdr header;
    ifaddrmsg message;
  } request{};
  request.header.nlmsg_len = sizeof(request);
  request.header.nlmsg_type = RTM_GETADDR;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = sequence;
  request.message.ifa_family = AF_UNSPEC;
  std::vector<InterfaceAddress> found;
  BH_RETURN_IF_ERROR(Exchange(fd, &request, sizeof(request), sequence, [&](const nlmsghdr* header) {
    if (header->nlmsg_type != RTM_NEWADDR) {
      return;
    }
    if (auto address = AddressOf(header)) {
      const auto* ifa = static_cast<const ifaddrmsg*>(NLMSG_DATA(header));
      found.push_back({static_cast<int>(ifa->ifa_index), *address});
    }
  }));
  return found;
}

}  // namespace

StatusOr<NodeAddressWatch> NodeAddressWatch::Open(const std::string& netns_path) {
  // A netlink socket belongs to the namespace it was created in.
  std::optional<NetnsGuard> guard;
  UniqueFd netns;
  if (!netns_path.empty()) {
    netns.reset(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns) {
      return ErrnoError(errno, fmt::format("open node network namespace {}", netns_path));
    }
    BH_ASSIGN_OR_RETURN(NetnsGuard entered, NetnsGuard::Enter(netns.get()));
    guard.emplace(std::move(entered));
  }
  BH_ASSIGN_OR_RETURN(UniqueFd dump, NetlinkSocket(0));
  BH_ASSIGN_OR_RETURN(UniqueFd events,
                      NetlinkSocket(RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_LINK));
  if (::fcntl(events.get(), F_SETFL, O_NONBLOCK) != 0) {
    return ErrnoError(errno, "set rtnetlink socket non-blocking");
  }
  return NodeAddressWatch(std::move(dump), std::move(events));
}

StatusOr<std::vector<IpAddress>> NodeAddressWatch::Read() {
  BH_ASSIGN_OR_RETURN(auto found, DumpAddresses(dump_.get(), ++sequence_));
  std::vector<IpAddress> addresses;
  addresses.reserve(found.size());
  for (const InterfaceAddress& entry : found) {
    addresses.push_back(entry.address);
  }
  std::sort(addresses.begin(), addresses.end());
  addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
  return addresses;
}

StatusOr<std::vector<InterfaceAddress>> ReadInterfaceAddresses() {
  BH_ASSIGN_OR_RETURN(UniqueFd fd, NetlinkSocket(0));
  return DumpAddresses(fd.get(), 1);
}

StatusOr<int> VethPeerIndex(int ifindex) {
  BH_ASSIGN_OR_RETURN(UniqueFd fd, NetlinkSocket(0));
  struct {
    nlmsghdr header;
    ifinfomsg message;
  } request{};
  request.header.nlmsg_len = sizeof(request);
  request.header.nlmsg_type = RTM_GETLINK;
  request.header.nlmsg_flags = NLM_F_REQUEST;
  request.header.nlmsg_seq = 1;
  request.message.ifi_family = AF_UNSPEC;
  request.message.ifi_index = ifindex;
  int peer = 0;
  BH_RETURN_IF_ERROR(Exchange(fd.get(), &request, sizeof(request), 1, [&](const nlmsghdr* header) {
    if (header->nlmsg_type != RTM_NEWLINK) {
      return;
    }
    const auto* info = static_cast<const ifinfomsg*>(NLMSG_DATA(header));
    int length = static_cast<int>(IFLA_PAYLOAD(header));
    for (const rtattr* attr = IFLA_RTA(info); RTA_OK(attr, length); attr = RTA_NEXT(attr, length)) {
      if (attr->rta_type == IFLA_LINK && RTA_PAYLOAD(attr) == 4) {
        std::memcpy(&peer, RTA_DATA(attr), 4);
      }
    }
  }));
  if (peer == 0 || peer == ifindex) {
    return absl::NotFoundError(
        fmt::format("interface {} has no peer in another namespace (not a veth)", ifindex));
  }
  return peer;
}

bool NodeAddressWatch::WaitForChange(std::chrono::milliseconds timeout) {
  pollfd pfd{events_.get(), POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) {
    return false;
  }
  std::array<char, 8192> buffer{};
  bool changed = false;
  for (;;) {
    ssize_t n = ::recv(events_.get(), buffer.data(), buffer.size(), 0);
    if (n < 0) {
      // ENOBUFS: notifications were lost, so something changed.
      return changed || errno == ENOBUFS;
    }
    changed = true;
  }
}

}  // namespace bulkhead::agent::netpol

#pragma GCC diagnostic pop
