// Where the agent learns which tenants and pods exist: the identity source.
// Today that is the endpoints file (file_source.h), used by tests and by
// single-machine mode; the host API source of a later issue implements the
// same interface.
#ifndef BULKHEAD_AGENT_ENDPOINTS_SOURCE_H_
#define BULKHEAD_AGENT_ENDPOINTS_SOURCE_H_

#include <optional>
#include <string>
#include <vector>

#include "agent/budgets/kubelet_paths.h"
#include "agent/netpol/datapath.h"
#include "common/status.h"

namespace bulkhead::agent {

// A pod on this node as the kubelet knows it, so its budget can find its
// cgroup (metadata.uid and status.qosClass).
struct PodIdentity {
  std::string tenant;
  std::string pod;
  std::string uid;
  budgets::QosClass qos = budgets::QosClass::kBurstable;
  bool operator==(const PodIdentity&) const = default;
};

struct SourceState {
  // Tenants, endpoints (with cgroups for this node's pods) and grants.
  netpol::DesiredState network;
  // The kubelet identities of this node's pods, where the source has them.
  std::vector<PodIdentity> identities;
};

class EndpointSource {
 public:
  EndpointSource() = default;
  EndpointSource(const EndpointSource&) = delete;
  EndpointSource& operator=(const EndpointSource&) = delete;
  virtual ~EndpointSource() = default;

  // For logs: "endpoints file /etc/bulkhead/endpoints.yaml".
  [[nodiscard]] virtual std::string Describe() const = 0;
  // The whole state when it changed since the last call (the first call
  // always returns it); nullopt when nothing changed. An error says why
  // the source could not be read; the caller keeps what it has.
  virtual StatusOr<std::optional<SourceState>> Poll() = 0;
};

}  // namespace bulkhead::agent

#endif  // BULKHEAD_AGENT_ENDPOINTS_SOURCE_H_
