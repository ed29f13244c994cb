// The endpoints file: tenants, endpoints, grants and node settings in one
// YAML (or JSON) document, read by `bulkhead-agent run --endpoints-file`
// in single-machine mode and tests, until the host API source exists.
//
//   node_address: 10.244.1.1         # or node_addresses: [...]
//   dns: [10.96.0.10]
//   pod_networks: [10.244.0.0/16]    # unknown addresses here fail closed
//   tenants:                         # optional; tenants named below get defaults
//   - {name: team-a, mode: audit, egress_default: deny}
//   endpoints:
//   - {tenant: team-a, pod: web-1, addresses: [10.244.1.11], cgroup: /sys/fs/cgroup/...}
//   grants:
//   - {tenant: team-b, destination: 10.244.1.11/32, port: 8080, protocol: tcp}
//   denied:                          # added to the default deny list
//   - {destination: 10.0.0.5/32, port: 0, protocol: any}
#ifndef BULKHEAD_AGENT_ENDPOINTS_FILE_SOURCE_H_
#define BULKHEAD_AGENT_ENDPOINTS_FILE_SOURCE_H_

#include <string>
#include <string_view>

#include "agent/netpol/datapath.h"
#include "common/status.h"

namespace bulkhead::agent {

// Parses the document. Errors name the field ("endpoints[2].addresses[0]:
// ...") and nothing is returned for a partly valid file.
StatusOr<netpol::DesiredState> ParseEndpointsDocument(std::string_view text);

StatusOr<netpol::DesiredState> ReadEndpointsFile(const std::string& path);

}  // namespace bulkhead::agent

#endif  // BULKHEAD_AGENT_ENDPOINTS_FILE_SOURCE_H_
