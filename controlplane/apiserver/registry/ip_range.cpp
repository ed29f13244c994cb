#include "controlplane/apiserver/registry/ip_range.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

constexpr int kMaxIpv6Bits = 20;

std::optional<std::array<uint8_t, 16>> ParseAddress(std::string_view text, bool ipv6) {
  std::array<uint8_t, 16> bytes{};
  std::string copy(text);
  if (copy.size() > INET6_ADDRSTRLEN ||
      inet_pton(ipv6 ? AF_INET6 : AF_INET, copy.c_str(), bytes.data()) != 1) {
    return std::nullopt;
  }
  return bytes;
}

// The low 64 bits of `bytes` (4 or 16 of them) read as one big-endian number.
uint64_t Low64(const std::array<uint8_t, 16>& bytes, size_t length) {
  uint64_t value = 0;
  for (size_t i = length > 8 ? length - 8 : 0; i < length; ++i) {
    value = (value << 8) | bytes[i];
  }
  return value;
}

}  // namespace

StatusOr<IpRange> IpRange::Parse(std::string_view cidr) {
  auto slash = cidr.find('/');
  if (slash == std::string_view::npos) {
    return absl::InvalidArgumentError(
        fmt::format("service CIDR \"{}\" is not a CIDR (like 10.96.0.0/12)", cidr));
  }
  IpRange range;
  range.ipv6_ = cidr.find(':') != std::string_view::npos;
  auto address = ParseAddress(cidr.substr(0, slash), range.ipv6_);
  int bits = -1;
  std::string_view prefix = cidr.substr(slash + 1);
  auto [end, ec] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), bits);
  const int width = range.ipv6_ ? 128 : 32;
  if (!address || ec != std::errc() || end != prefix.data() + prefix.size() || bits < 0 ||
      bits > width) {
    return absl::InvalidArgumentError(
        fmt::format("service CIDR \"{}\" is not a CIDR (like 10.96.0.0/12)", cidr));
  }
  const int host_bits = width - bits;
  if (host_bits < 3) {
    return absl::InvalidArgumentError(
        fmt::format("service CIDR \"{}\" is too small: it needs at least 8 addresses", cidr));
  }
  // The network address: host bits cleared.
  const size_t length = range.ipv6_ ? 16 : 4;
  for (size_t i = 0; i < length; ++i) {
    const int keep = std::clamp(bits - static_cast<int>(i) * 8, 0, 8);
    (*address)[i] &= static_cast<uint8_t>(0xff00U >> keep);
  }
  range.base_ = *address;
  range.cidr_ = std::string(cidr);
  const int usable_bits = range.ipv6_ ? std::min(host_bits, kMaxIpv6Bits) : host_bits;
  uint64_t count = uint64_t{1} << usable_bits;
  // Not the network address; for IPv4 not the broadcast address either.
  range.size_ = count - 1 - ((range.ipv6_ || usable_bits < host_bits) ? 0 : 1);
  return range;
}

std::string IpRange::At(uint64_t index) const {
  std::array<uint8_t, 16> bytes = base_;
  const size_t length = ipv6_ ? 16 : 4;
  uint64_t carry = index + 1;
  for (size_t i = length; i-- > 0 && carry != 0;) {
    uint64_t sum = bytes[i] + (carry & 0xff);
    bytes[i] = static_cast<uint8_t>(sum);
    carry = (carry >> 8) + (sum >> 8);
  }
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(ipv6_ ? AF_INET6 : AF_INET, bytes.data(), text, sizeof(text));
  return text;
}

std::optional<uint64_t> IpRange::IndexOf(std::string_view address) const {
  auto bytes = ParseAddress(address, ipv6_);
  if (!bytes) {
    return std::nullopt;
  }
  const size_t length = ipv6_ ? 16 : 4;
  // Every byte above the low 8 must be the base's (the range is < 2^32).
  for (size_t i = 0; i + 8 < length; ++i) {
    if ((*bytes)[i] != base_[i]) {
      return std::nullopt;
    }
  }
  const uint64_t value = Low64(*bytes, length);
  const uint64_t base = Low64(base_, length);
  if (value <= base || value - base > size_) {
    return std::nullopt;
  }
  return value - base - 1;
}

StatusOr<PortRange> PortRange::Parse(std::string_view text) {
  PortRange range;
  auto dash = text.find('-');
  auto number = [](std::string_view part, int& out) {
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), out);
    return ec == std::errc() && end == part.data() + part.size();
  };
  if (dash == std::string_view::npos || !number(text.substr(0, dash), range.first) ||
      !number(text.substr(dash + 1), range.last) || range.first < 1 || range.last > 65535 ||
      range.first > range.last) {
    return absl::InvalidArgumentError(fmt::format(
        "node port range \"{}\" is not FIRST-LAST within 1-65535 (like 30000-32767)", text));
  }
  return range;
}

}  // namespace bulkhead::controlplane
