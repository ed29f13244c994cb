// A range of addresses or ports handed out to services: an IPv4 or IPv6
// CIDR (a service CIDR) or a port range (the node port range), with its
// items numbered 0..size-1 so an allocator can pick by number.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_IP_RANGE_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_IP_RANGE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace bulkhead::controlplane {

class IpRange {
 public:
  // "10.96.0.0/12" or "fd00:10:96::/108". An IPv4 range needs at least 8
  // addresses (/29); an IPv6 range is used up to its first 2^20 addresses.
  static StatusOr<IpRange> Parse(std::string_view cidr);

  [[nodiscard]] bool ipv6() const { return ipv6_; }
  [[nodiscard]] const std::string& cidr() const { return cidr_; }
  // Addresses that may be handed out: not the network address (nor, for
  // IPv4, the broadcast address).
  [[nodiscard]] uint64_t size() const { return size_; }
  // The address numbered `index` (0 is the first after the network address).
  [[nodiscard]] std::string At(uint64_t index) const;
  // The number of `address` in the range, or nullopt when it is outside
  // (or not an address of this family). The address is read in any valid
  // spelling; At() gives the canonical one.
  [[nodiscard]] std::optional<uint64_t> IndexOf(std::string_view address) const;

 private:
  bool ipv6_ = false;
  std::string cidr_;
  std::array<uint8_t, 16> base_{};  // the network address
  uint64_t size_ = 0;
};

// The node port range, "30000-32767".
struct PortRange {
  static StatusOr<PortRange> Parse(std::string_view text);
  [[nodiscard]] uint64_t size() const { return static_cast<uint64_t>(last - first) + 1; }
  [[nodiscard]] bool Contains(int64_t port) const { return port >= first && port <= last; }
  int first = 30000;
  int last = 32767;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_IP_RANGE_H_
