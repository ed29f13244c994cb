// IP addresses and prefixes as the datapath stores them: 16 bytes, IPv4 as
// IPv4-mapped IPv6 (::ffff:a.b.c.d), so one LPM trie serves both families.
#ifndef BULKHEAD_AGENT_NETPOL_ADDRESS_H_
#define BULKHEAD_AGENT_NETPOL_ADDRESS_H_

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace bulkhead::agent::netpol {

class IpAddress {
 public:
  using Bytes = std::array<std::uint8_t, 16>;

  IpAddress() = default;
  explicit IpAddress(const Bytes& bytes) : bytes_(bytes) {}

  // "10.0.0.1" or "fd00::1". Anything else is INVALID_ARGUMENT.
  static StatusOr<IpAddress> Parse(std::string_view text);
  static IpAddress FromV4(std::uint32_t network_order);

  [[nodiscard]] const Bytes& bytes() const { return bytes_; }
  [[nodiscard]] bool is_v4() const;
  [[nodiscard]] std::string ToString() const;

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const IpAddress&) const = default;

 private:
  Bytes bytes_{};
};

// An address with a prefix length counted in the family's own bits
// (0-32 for IPv4, 0-128 for IPv6).
class Cidr {
 public:
  // "10.244.0.0/16", "fd00::/64", or a bare address (a host prefix).
  // Host bits must be zero: "10.0.0.1/8" is INVALID_ARGUMENT.
  static StatusOr<Cidr> Parse(std::string_view text);
  static Cidr Host(const IpAddress& address);

  [[nodiscard]] const IpAddress& address() const { return address_; }
  [[nodiscard]] int prefix_len() const { return prefix_len_; }
  // Prefix length over the 16-byte form (IPv4 adds 96).
  [[nodiscard]] int mapped_prefix_len() const;
  [[nodiscard]] bool is_host() const;
  [[nodiscard]] bool Contains(const IpAddress& address) const;
  [[nodiscard]] bool Overlaps(const Cidr& other) const;
  [[nodiscard]] std::string ToString() const;

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const Cidr&) const = default;

 private:
  Cidr(IpAddress address, int prefix_len) : address_(address), prefix_len_(prefix_len) {}

  IpAddress address_;
  int prefix_len_ = 0;
};

}  // namespace bulkhead::agent::netpol

#endif  // BULKHEAD_AGENT_NETPOL_ADDRESS_H_
