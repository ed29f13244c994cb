// bulkhead-test-pod: the real processes that run inside test pods (network
// namespace + cgroup made by tests/support/test_node). One verb per run;
// results go to stdout as one line, errors name the errno ("error EPERM ...").
//
//   serve-tcp PORT              accept, read a line, answer "ok <line>", forever
//   serve-udp PORT              print "got <source> <payload>" per datagram, answer "ok"
//   connect-tcp ADDR PORT       connect, send "hello", print the answer
//   send-udp ADDR PORT PAYLOAD [WAIT_MS]   send; with WAIT_MS, print the answer
//   send-raw-udp SRC DST PORT PAYLOAD [options]   IPv4 raw socket with a chosen source;
//                               "options" adds 4 bytes of IP options (NOPs), so UDP starts at 24
//   send-packet-udp SRC DST PORT PAYLOAD   a whole frame through AF_PACKET on eth0 (IPv4 or
//                               IPv6 by the addresses), to the broadcast MAC
//   ADDR may name a link-local address with its interface: fe80::1%eth0
//   hammer-tcp ADDR PORT MILLISECONDS      connect in a loop; print attempts and successes
//   serve-echo PORT             echo every byte back, one connection after another
//   bench-crr ADDR PORT MILLISECONDS       connect, 1-byte request/response, close (RST); print
//   rate bench-rr ADDR PORT MILLISECONDS        1-byte request/response on one connection; print
//   rate
//   serve-udp-push PORT         as serve-udp; on SIGUSR1 sends "push" to the last sender
//   udp-session LOCALPORT ADDR PORT   from LOCALPORT send "hello", then print "got <source>
//                               <payload>" per datagram, forever
//   flood-udp ADDR PORT FIRST_LOCAL_PORT COUNT   one datagram from each of COUNT local ports
//                               (each a new flow); print "flooded <sent> errors <failed>"
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
};

// "10.0.0.1", "fd00::1", or a link-local address with its interface,
// "fe80::1%eth0".
bool ParseAddress(const char* text, int port, Address& out) {
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);   // NOLINT: sockaddr API
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);  // NOLINT: sockaddr API
  std::string host = text;
  size_t percent = host.find('%');
  if (percent != std::string::npos) {
    v6->sin6_scope_id = ::if_nametoindex(host.substr(percent + 1).c_str());
    host.resize(percent);
  }
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    out.length = sizeof(sockaddr_in);
    out.family = AF_INET;
    return true;
  }
  if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    out.length = sizeof(sockaddr_in6);
    out.family = AF_INET6;
    return true;
  }
  return false;
}

sockaddr* Raw(Address& a) { return reinterpret_cast<sockaddr*>(&a.storage); }  // NOLINT

const char* ErrnoName(int err) {
  switch (err) {
    case EPERM:
      return "EPERM";
    case ECONNREFUSED:
      return "ECONNREFUSED";
    case ETIMEDOUT:
      return "ETIMEDOUT";
    case ENETUNREACH:
      return "ENETUNREACH";
    case EHOSTUNREACH:
      return "EHOSTUNREACH";
    case ECONNRESET:
      return "ECONNRESET";
    case EAGAIN:
      return "EAGAIN";
    default:
      return "EOTHER";
  }
}

int Fail(const char* what) {
  int err = errno;
  std::printf("error %s %s: %s\n", ErrnoName(err), what, std::strerror(err));
  std::fflush(stdout);
  return 1;
}

void SetTimeouts(int fd, int ms) {
  timeval tv{ms / 1000, static_cast<suseconds_t>(ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int Listen(int type, int port) {
  int fd = ::socket(AF_INET6, type, 0);
  int off = 0;
  int on = 1;
  ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_any;
  addr.sin6_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {  // NOLINT
    return -1;
  }
  if (type == SOCK_STREAM && ::listen(fd, 128) != 0) {
    return -1;
  }
  return fd;
}

std::string PeerName(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = {};
  if (peer.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&peer);  // NOLINT
    ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
    std::string s = text;
    if (s.rfind("::ffff:", 0) == 0) {
      s = s.substr(7);
    }
    return s;
  }
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(&peer);  // NOLINT
  ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
  return text;
}

int ServeTcp(int port) {
  int fd = Listen(SOCK_STREAM, port);
  if (fd < 0) {
    return Fail("listen");
  }
  std::printf("ready\n");
  std::fflush(stdout);
  while (true) {
    int conn = ::accept(fd, nullptr, nullptr);
    if (conn < 0) {
      continue;
    }
    SetTimeouts(conn, 2000);
    char buffer[256] = {};
    ssize_t n = ::read(conn, buffer, sizeof(buffer) - 1);
    if (n > 0) {
      std::string reply = std::string("ok ") + std::string(buffer, static_cast<size_t>(n));
      (void)::write(conn, reply.data(), reply.size());
    }
    ::close(conn);
  }
}

int ServeUdp(int port) {
  int fd = Listen(SOCK_DGRAM, port);
  if (fd < 0) {
    return Fail("bind");
  }
  std::printf("ready\n");
  std::fflush(stdout);
  while (true) {
    char buffer[512] = {};
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): sockaddr API
    ssize_t n = ::recvfrom(fd, buffer, sizeof(buffer) - 1, 0, reinterpret_cast<sockaddr*>(&peer),
                           &len);  // NOLINT
    if (n < 0) {
      continue;
    }
    std::printf("got %s %.*s\n", PeerName(peer).c_str(), static_cast<int>(n), buffer);
    std::fflush(stdout);
    (void)::sendto(fd, "ok", 2, 0, reinterpret_cast<sockaddr*>(&peer), len);  // NOLINT
  }
}

int ConnectTcp(const char* host, int port) {
  Address addr;
  if (!ParseAddress(host, port, addr)) {
    std::printf("error EOTHER bad address %s\n", host);
    return 2;
  }
  int fd = ::socket(addr.family, SOCK_STREAM, 0);
  SetTimeouts(fd, 3000);
  if (::connect(fd, Raw(addr), addr.length) != 0) {
    return Fail("connect");
  }
  if (::write(fd, "hello", 5) != 5) {
    return Fail("write");
  }
  char buffer[256] = {};
  ssize_t n = ::read(fd, buffer, sizeof(buffer) - 1);
  if (n <= 0) {
    if (n == 0) {
      errno = ECONNRESET;
    }
    return Fail("read");
  }
  std::printf("%.*s\n", static_cast<int>(n), buffer);
  return 0;
}

int SendUdp(const char* host, int port, const char* payload, int wait_ms) {
  Address addr;
  if (!ParseAddress(host, port, addr)) {
    std::printf("error EOTHER bad address %s\n", host);
    return 2;
  }
  int fd = ::socket(addr.family, SOCK_DGRAM, 0);
  if (::sendto(fd, payload, std::strlen(payload), 0, Raw(addr), addr.length) < 0) {
    return Fail("sendto");
  }
  if (wait_ms <= 0) {
    std::printf("sent\n");
    return 0;
  }
  SetTimeouts(fd, wait_ms);
  char buffer[64] = {};
  ssize_t n = ::recv(fd, buffer, sizeof(buffer) - 1, 0);
  if (n < 0) {
    return Fail("recv");
  }
  std::printf("%.*s\n", static_cast<int>(n), buffer);
  return 0;
}

std::uint32_t SumWords(const unsigned char* data, size_t length, std::uint32_t sum) {
  for (size_t i = 0; i + 1 < length; i += 2) {
    sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
  }
  if (length % 2 != 0) {
    sum += static_cast<std::uint32_t>(data[length - 1] << 8);
  }
  return sum;
}

std::uint16_t FoldChecksum(std::uint32_t sum) {
  while (sum >> 16 != 0) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return htons(static_cast<std::uint16_t>(~sum & 0xffff));
}

// An IPv4 or IPv6 UDP datagram with a chosen source, written as a whole
// frame through an AF_PACKET socket on eth0 to the broadcast MAC: the cgroup
// hooks never see it, only what sits where the frame leaves the pod.
int SendPacketUdp(const char* src, const char* dst, int port, const char* payload) {
  unsigned char packet[512] = {};
  size_t payload_len = std::strlen(payload);
  size_t udp_len = sizeof(udphdr) + payload_len;
  in6_addr src6{};
  in6_addr dst6{};
  bool v6 = ::inet_pton(AF_INET6, src, &src6) == 1 && ::inet_pton(AF_INET6, dst, &dst6) == 1;
  size_t ip_len = v6 ? sizeof(ip6_hdr) : sizeof(iphdr);
  auto* udp = reinterpret_cast<udphdr*>(packet + ip_len);  // NOLINT: packet layout
  std::memcpy(packet + ip_len + sizeof(udphdr), payload, payload_len);
  udp->source = htons(40000);
  udp->dest = htons(static_cast<uint16_t>(port));
  udp->len = htons(static_cast<uint16_t>(udp_len));
  std::uint16_t ethertype = 0;
  if (v6) {
    auto* ip6 = reinterpret_cast<ip6_hdr*>(packet);  // NOLINT: packet layout
    ip6->ip6_flow = htonl(6U << 28);
    ip6->ip6_plen = htons(static_cast<uint16_t>(udp_len));
    ip6->ip6_nxt = IPPROTO_UDP;
    ip6->ip6_hlim = 64;
    ip6->ip6_src = src6;
    ip6->ip6_dst = dst6;
    // The pseudo-header: addresses, length, next header.
    std::uint32_t sum = SumWords(reinterpret_cast<unsigned char*>(&src6), 16, 0);  // NOLINT
    sum = SumWords(reinterpret_cast<unsigned char*>(&dst6), 16, sum);              // NOLINT
    sum += static_cast<std::uint32_t>(udp_len) + IPPROTO_UDP;
    udp->check = FoldChecksum(SumWords(packet + ip_len, udp_len, sum));
    ethertype = ETH_P_IPV6;
  } else {
    auto* ip = reinterpret_cast<iphdr*>(packet);  // NOLINT: packet layout
    ip->version = 4;
    ip->ihl = 5;
    ip->ttl = 64;
    ip->protocol = IPPROTO_UDP;
    ip->tot_len = htons(static_cast<uint16_t>(ip_len + udp_len));
    if (::inet_pton(AF_INET, src, &ip->saddr) != 1 || ::inet_pton(AF_INET, dst, &ip->daddr) != 1) {
      std::printf("error EOTHER bad address %s or %s\n", src, dst);
      return 2;
    }
    ip->check = FoldChecksum(SumWords(packet, ip_len, 0));
    udp->check = 0;  // optional in IPv4
    ethertype = ETH_P_IP;
  }
  int fd = ::socket(AF_PACKET, SOCK_DGRAM, htons(ethertype));
  if (fd < 0) {
    return Fail("socket(AF_PACKET)");
  }
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ethertype);
  to.sll_ifindex = static_cast<int>(::if_nametoindex("eth0"));
  to.sll_halen = ETH_ALEN;
  std::memset(to.sll_addr, 0xff, ETH_ALEN);
  if (::sendto(fd, packet, ip_len + udp_len, 0, reinterpret_cast<sockaddr*>(&to),  // NOLINT
               sizeof(to)) < 0) {
    return Fail("sendto(AF_PACKET)");
  }
  std::printf("sent\n");
  return 0;
}

int SendRawUdp(const char* src, const char* dst, int port, const char* payload, bool options) {
  int fd = ::socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) {
    return Fail("socket(SOCK_RAW)");
  }
  size_t payload_len = std::strlen(payload);
  size_t ip_len = sizeof(iphdr) + (options ? 4 : 0);
  unsigned char packet[512] = {};
  auto* ip = reinterpret_cast<iphdr*>(packet);             // NOLINT: packet layout
  auto* udp = reinterpret_cast<udphdr*>(packet + ip_len);  // NOLINT
  std::memset(packet + sizeof(iphdr), IPOPT_NOP, ip_len - sizeof(iphdr));
  std::memcpy(packet + ip_len + sizeof(udphdr), payload, payload_len);
  ip->version = 4;
  ip->ihl = static_cast<unsigned int>(ip_len / 4);
  ip->ttl = 64;
  ip->protocol = IPPROTO_UDP;
  ip->tot_len = htons(static_cast<uint16_t>(ip_len + sizeof(udphdr) + payload_len));
  ::inet_pton(AF_INET, src, &ip->saddr);
  ::inet_pton(AF_INET, dst, &ip->daddr);
  udp->source = htons(40000);
  udp->dest = htons(static_cast<uint16_t>(port));
  udp->len = htons(static_cast<uint16_t>(sizeof(udphdr) + payload_len));
  udp->check = 0;  // optional in IPv4
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = ip->daddr;
  if (::sendto(fd, packet, ntohs(ip->tot_len), 0, reinterpret_cast<sockaddr*>(&to),  // NOLINT
               sizeof(to)) < 0) {
    return Fail("sendto(raw)");
  }
  std::printf("sent\n");
  return 0;
}

int HammerTcp(const char* host, int port, int milliseconds) {
  Address addr;
  if (!ParseAddress(host, port, addr)) {
    return 2;
  }
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(milliseconds);
  long attempts = 0;
  long successes = 0;
  long refused = 0;
  while (std::chrono::steady_clock::now() < end) {
    int fd = ::socket(addr.family, SOCK_STREAM, 0);
    SetTimeouts(fd, 200);
    ++attempts;
    if (::connect(fd, Raw(addr), addr.length) == 0) {
      ++successes;
    } else if (errno == EPERM) {
      ++refused;
    }
    ::close(fd);
  }
  std::printf("attempts %ld successes %ld eperm %ld\n", attempts, successes, refused);
  return 0;
}

int ServeEcho(int port) {
  int fd = Listen(SOCK_STREAM, port);
  if (fd < 0) {
    return Fail("listen");
  }
  std::printf("ready\n");
  std::fflush(stdout);
  while (true) {
    int conn = ::accept(fd, nullptr, nullptr);
    if (conn < 0) {
      continue;
    }
    int on = 1;
    ::setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    char buffer[64];
    ssize_t n = 0;
    while ((n = ::read(conn, buffer, sizeof(buffer))) > 0) {
      if (::write(conn, buffer, static_cast<size_t>(n)) != n) {
        break;
      }
    }
    ::close(conn);
  }
}

bool RoundTrip(int fd) {
  char byte = 'x';
  return ::write(fd, &byte, 1) == 1 && ::read(fd, &byte, 1) == 1;
}

int BenchTcp(const char* host, int port, int milliseconds, bool reconnect) {
  Address addr;
  if (!ParseAddress(host, port, addr)) {
    return 2;
  }
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::milliseconds(milliseconds);
  long transactions = 0;
  long errors = 0;
  int fd = -1;
  int on = 1;
  while (std::chrono::steady_clock::now() < end) {
    if (fd < 0) {
      fd = ::socket(addr.family, SOCK_STREAM, 0);
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
      if (::connect(fd, Raw(addr), addr.length) != 0) {
        ++errors;
        ::close(fd);
        fd = -1;
        continue;
      }
    }
    if (RoundTrip(fd)) {
      ++transactions;
    } else {
      ++errors;
      ::close(fd);
      fd = -1;
      continue;
    }
    if (reconnect) {
      // Abortive close (RST): no TIME_WAIT piles up across measurements.
      linger abort{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
      ::close(fd);
      fd = -1;
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("rate %.1f transactions %ld errors %ld\n",
              static_cast<double>(transactions) / seconds, transactions, errors);
  return 0;
}

volatile sig_atomic_t push_requested = 0;
void OnPush(int /*signal*/) { push_requested = 1; }

int ServeUdpPush(int port) {
  struct sigaction action {};
  action.sa_handler = OnPush;  // no SA_RESTART: recvfrom returns EINTR
  ::sigaction(SIGUSR1, &action, nullptr);
  int fd = Listen(SOCK_DGRAM, port);
  if (fd < 0) {
    return Fail("bind");
  }
  std::printf("ready\n");
  std::fflush(stdout);
  sockaddr_storage last{};
  socklen_t last_len = 0;
  while (true) {
    if (push_requested != 0) {
      push_requested = 0;
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): sockaddr API
      ssize_t sent = ::sendto(fd, "push", 4, 0, reinterpret_cast<sockaddr*>(&last), last_len);
      std::printf(sent == 4 ? "pushed\n" : "push failed\n");
      std::fflush(stdout);
    }
    char buffer[512] = {};
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): sockaddr API
    auto* from = reinterpret_cast<sockaddr*>(&peer);
    ssize_t n = ::recvfrom(fd, buffer, sizeof(buffer) - 1, 0, from, &len);
    if (n < 0) {
      continue;
    }
    last = peer;
    last_len = len;
    std::printf("got %s %.*s\n", PeerName(peer).c_str(), static_cast<int>(n), buffer);
    std::fflush(stdout);
    (void)::sendto(fd, "ok", 2, 0, reinterpret_cast<sockaddr*>(&peer), len);  // NOLINT
  }
}

int BindLocal(int family, int type, int port) {
  int fd = ::socket(family, type, 0);
  int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_storage local{};
  socklen_t len = 0;
  if (family == AF_INET6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&local);  // NOLINT
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v6);
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&local);  // NOLINT
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v4);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), len) != 0) {  // NOLINT
    ::close(fd);
    return -1;
  }
  return fd;
}

int UdpSession(int local_port, const char* host, int port) {
  Address addr;
  if (!ParseAddress(host, port, addr)) {
    std::printf("error EOTHER bad address %s\n", host);
    return 2;
  }
  int fd = BindLocal(addr.family, SOCK_DGRAM, local_port);
  if (fd < 0) {
    return Fail("bind");
  }
  if (::sendto(fd, "hello", 5, 0, Raw(addr), addr.length) < 0) {
    return Fail("sendto");
  }
  while (true) {
    char buffer[512] = {};
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): sockaddr API
    auto* from = reinterpret_cast<sockaddr*>(&peer);
    ssize_t n = ::recvfrom(fd, buffer, sizeof(buffer) - 1, 0, from, &len);
    if (n < 0) {
      continue;
    }
    std::printf("got %s %.*s\n", PeerName(peer).c_str(), static_cast<int>(n), buffer);
    std::fflush(stdout);
  }
}

int FloodUdp(const char* host, int port, int first_local_port, int count) {
  Address addr;
  if (!ParseAddress(host, port, addr)) {
    std::printf("error EOTHER bad address %s\n", host);
    return 2;
  }
  long sent = 0;
  long failed = 0;
  for (int i = 0; i < count; ++i) {
    int fd = BindLocal(addr.family, SOCK_DGRAM, first_local_port + i);
    if (fd < 0 || ::sendto(fd, "f", 1, 0, Raw(addr), addr.length) != 1) {
      ++failed;
    } else {
      ++sent;
    }
    if (fd >= 0) {
      ::close(fd);
    }
  }
  std::printf("flooded %ld errors %ld\n", sent, failed);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string verb = argc > 1 ? argv[1] : "";
  if (verb == "serve-tcp" && argc == 3) {
    return ServeTcp(std::atoi(argv[2]));
  }
  if (verb == "serve-udp" && argc == 3) {
    return ServeUdp(std::atoi(argv[2]));
  }
  if (verb == "connect-tcp" && argc == 4) {
    return ConnectTcp(argv[2], std::atoi(argv[3]));
  }
  if (verb == "send-udp" && (argc == 5 || argc == 6)) {
    return SendUdp(argv[2], std::atoi(argv[3]), argv[4], argc == 6 ? std::atoi(argv[5]) : 0);
  }
  if (verb == "send-raw-udp" && (argc == 6 || (argc == 7 && std::string(argv[6]) == "options"))) {
    return SendRawUdp(argv[2], argv[3], std::atoi(argv[4]), argv[5], argc == 7);
  }
  if (verb == "send-packet-udp" && argc == 6) {
    return SendPacketUdp(argv[2], argv[3], std::atoi(argv[4]), argv[5]);
  }
  if (verb == "hammer-tcp" && argc == 5) {
    return HammerTcp(argv[2], std::atoi(argv[3]), std::atoi(argv[4]));
  }
  if (verb == "serve-echo" && argc == 3) {
    return ServeEcho(std::atoi(argv[2]));
  }
  if ((verb == "bench-crr" || verb == "bench-rr") && argc == 5) {
    return BenchTcp(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), verb == "bench-crr");
  }
  if (verb == "serve-udp-push" && argc == 3) {
    return ServeUdpPush(std::atoi(argv[2]));
  }
  if (verb == "udp-session" && argc == 5) {
    return UdpSession(std::atoi(argv[2]), argv[3], std::atoi(argv[4]));
  }
  if (verb == "flood-udp" && argc == 6) {
    return FloodUdp(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), std::atoi(argv[5]));
  }
  std::fprintf(stderr, "bulkhead-test-pod: unknown verb or arguments; see the file header\n");
  return 2;
}
