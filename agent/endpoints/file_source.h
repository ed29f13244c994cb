// The endpoints file: tenants, endpoints, grants and node settings in one
// YAML (or JSON) document, read by `bulkhead-agent run --endpoints-file`
// in single-machine mode and tests, until the host API source exists.
//
//   node_address: 10.244.1.1         # or node_addresses: [...]; added to the addresses
//                                    # the agent reads from the node's interfaces
//   node_ports: [8472]               # added to the ports denied on every node address
//   dns: [10.96.0.10]
//   pod_networks: [10.244.0.0/16]    # unknown addresses here fail closed
//   tenants:                         # optional; tenants named below get defaults
//   - {name: team-a, mode: audit, egress_default: deny}
//   endpoints:
//   - {tenant: team-a, pod: web-1, addresses: [10.244.1.11], cgroup: /sys/fs/cgroup/...,
//      uid: 4f8e..., qos: Burstable,    # uid, qos: the pod under a kubelet (budgets)
//      probe_ports: [8080]}             # the node may open these (probes); nothing else
//   - {tenant: team-a, pod: agent-1, cgroup: ..., host_network: true}  # the node's class
//   grants:
//   - {tenant: team-b, destination: 10.244.1.11/32, port: 8080, protocol: tcp}
//   denied:                          # added to the default deny list
//   - {destination: 10.0.0.5/32, port: 0, protocol: any}
#ifndef BULKHEAD_AGENT_ENDPOINTS_FILE_SOURCE_H_
#define BULKHEAD_AGENT_ENDPOINTS_FILE_SOURCE_H_

#include <sys/types.h>

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "agent/endpoints/source.h"
#include "common/status.h"

namespace bulkhead::agent {

// Parses the document. Errors name the field ("endpoints[2].addresses[0]:
// ...") and nothing is returned for a partly valid file.
StatusOr<SourceState> ParseEndpointsDocument(std::string_view text);

StatusOr<SourceState> ReadEndpointsFile(const std::string& path);

// The endpoints file as the agent's identity source: Poll reads it again
// whenever its modification time, size or inode changed (an editor that
// writes a new file and renames it over the old one changes the inode).
class FileSource : public EndpointSource {
 public:
  explicit FileSource(std::string path) : path_(std::move(path)) {}
  [[nodiscard]] std::string Describe() const override { return "endpoints file " + path_; }
  StatusOr<std::optional<SourceState>> Poll() override;

 private:
  struct Stamp {
    time_t mtime_sec = 0;
    long mtime_nsec = 0;
    off_t size = -1;
    ino_t inode = 0;
    bool operator==(const Stamp&) const = default;
  };
  static Stamp StampOf(const std::string& path);

  const std::string path_;
  Stamp stamp_;
  bool read_once_ = false;
};

}  // namespace bulkhead::agent

#endif  // BULKHEAD_AGENT_ENDPOINTS_FILE_SOURCE_H_
