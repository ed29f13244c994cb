#include "agent/netpol/address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "common/strings.h"
#include "fmt/format.h"

namespace bulkhead::agent::netpol {
namespace {

constexpr int kV4MappedBits = 96;

bool PrefixEqual(const IpAddress::Bytes& a, const IpAddress::Bytes& b, int bits) {
  int whole = bits / 8;
  if (std::memcmp(a.data(), b.data(), static_cast<size_t>(whole)) != 0) {
    return false;
  }
  int rest = bits % 8;
  if (rest == 0) {
    return true;
  }
  auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (a[static_cast<size_t>(whole)] & mask) == (b[static_cast<size_t>(whole)] & mask);
}

}  // namespace

StatusOr<IpAddress> IpAddress::Parse(std::string_view text) {
  std::string s(TrimSpace(text));
  Bytes bytes{};
  in_addr v4{};
  if (s.find(':') == std::string::npos && ::inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    return FromV4(v4.s_addr);
  }
  if (::inet_pton(AF_INET6, s.c_str(), bytes.data()) == 1) {
    return IpAddress(bytes);
  }
  return absl::InvalidArgumentError(
      fmt::format("\"{}\" is not an IPv4 or IPv6 address", std::string(text)));
}

IpAddress IpAddress::FromV4(std::uint32_t network_order) {
  Bytes bytes{};
  bytes[10] = 0xFF;
  bytes[11] = 0xFF;
  std::memcpy(&bytes[12], &network_order, 4);
  return IpAddress(bytes);
}

bool IpAddress::is_v4() const {
  return std::all_of(bytes_.begin(), bytes_.begin() + 10, [](std::uint8_t b) { return b == 0; }) &&
         bytes_[10] == 0xFF && bytes_[11] == 0xFF;
}

std::string IpAddress::ToString() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (is_v4()) {
    ::inet_ntop(AF_INET, &bytes_[12], buffer, sizeof(buffer));
  } else {
    ::inet_ntop(AF_INET6, bytes_.data(), buffer, sizeof(buffer));
  }
  return buffer;
}

StatusOr<Cidr> Cidr::Parse(std::string_view text) {
  std::string_view trimmed = TrimSpace(text);
  size_t slash = trimmed.find('/');
  BH_ASSIGN_OR_RETURN(IpAddress address, IpAddress::Parse(trimmed.substr(0, slash)));
  int max_bits = address.is_v4() ? 32 : 128;
  int prefix = max_bits;
  if (slash != std::string_view::npos) {
    auto parsed = ParseInteger<int>(trimmed.substr(slash + 1));
    if (!parsed || *parsed < 0 || *parsed > max_bits) {
      return absl::InvalidArgumentError(
          fmt::format("\"{}\": prefix length must be 0 to {}", std::string(trimmed), max_bits));
    }
    prefix = *parsed;
  }
  Cidr cidr(address, prefix);
  // Host bits must be zero.
  IpAddress::Bytes masked = address.bytes();
  int bits = cidr.mapped_prefix_len();
  for (int i = bits; i < 128; ++i) {
    masked[static_cast<size_t>(i / 8)] &= static_cast<std::uint8_t>(~(0x80 >> (i % 8)));
  }
  if (masked != address.bytes()) {
    return absl::InvalidArgumentError(fmt::format("\"{}\" has host bits set; did you mean {}/{}?",
                                                  std::string(trimmed),
                                                  IpAddress(masked).ToString(), prefix));
  }
  return cidr;
}

Cidr Cidr::Host(const IpAddress& address) { return {address, address.is_v4() ? 32 : 128}; }

int Cidr::mapped_prefix_len() const {
  return address_.is_v4() ? prefix_len_ + kV4MappedBits : prefix_len_;
}

bool Cidr::is_host() const { return prefix_len_ == (address_.is_v4() ? 32 : 128); }

bool Cidr::Contains(const IpAddress& address) const {
  return PrefixEqual(address_.bytes(), address.bytes(), mapped_prefix_len());
}

bool Cidr::Overlaps(const Cidr& other) const {
  int bits = std::min(mapped_prefix_len(), other.mapped_prefix_len());
  return PrefixEqual(address_.bytes(), other.address_.bytes(), bits);
}

std::string Cidr::ToString() const {
  return fmt::format("{}/{}", address_.ToString(), prefix_len_);
}

}  // namespace bulkhead::agent::netpol
