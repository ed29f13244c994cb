// The client a connection counts against for the per-client connection cap:
// its IPv4 address (an IPv4-mapped IPv6 address is the IPv4 one), or the /64
// of its IPv6 address, since one host is routinely given a whole /64 and
// could otherwise open connections from 2^64 addresses.
#ifndef BULKHEAD_CONTROLPLANE_HTTP_CLIENT_KEY_H_
#define BULKHEAD_CONTROLPLANE_HTTP_CLIENT_KEY_H_

#include <boost/asio/ip/address.hpp>
#include <string>

namespace bulkhead::controlplane {

std::string ClientKey(const boost::asio::ip::address& address);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_HTTP_CLIENT_KEY_H_
