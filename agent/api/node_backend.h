// What the API reads from the node's enforcement: the datapath's summary,
// counters and losses. The agent passes its Datapath (DatapathBackend);
// tests without privileges pass their own.
#ifndef BULKHEAD_AGENT_API_NODE_BACKEND_H_
#define BULKHEAD_AGENT_API_NODE_BACKEND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "agent/netpol/datapath.h"
#include "agent/netpol/model.h"

namespace bulkhead::agent::api {

struct MapFill {
  std::string map;
  std::uint64_t entries = 0;
  std::uint64_t capacity = 0;
};

class NodeBackend {
 public:
  NodeBackend() = default;
  NodeBackend(const NodeBackend&) = delete;
  NodeBackend& operator=(const NodeBackend&) = delete;
  virtual ~NodeBackend() = default;

  [[nodiscard]] virtual std::string NodeName() const = 0;
  // "datapath" when the kernel enforces.
  [[nodiscard]] virtual std::string Mode() const = 0;
  [[nodiscard]] virtual std::vector<MapFill> Maps() const = 0;
  [[nodiscard]] virtual std::vector<netpol::FlowCounter> Counters() const = 0;
  [[nodiscard]] virtual netpol::FlowLoss Loss() const = 0;
  // Each tenant's share of the flow table and of the flow records.
  [[nodiscard]] virtual std::vector<netpol::TenantFlowUse> TenantFlows() const = 0;
};

// The real node: counters and losses from the pinned maps.
class DatapathBackend : public NodeBackend {
 public:
  explicit DatapathBackend(const netpol::Datapath& datapath) : datapath_(datapath) {}
  [[nodiscard]] std::string NodeName() const override;
  [[nodiscard]] std::string Mode() const override { return "datapath"; }
  [[nodiscard]] std::vector<MapFill> Maps() const override;
  [[nodiscard]] std::vector<netpol::FlowCounter> Counters() const override;
  [[nodiscard]] netpol::FlowLoss Loss() const override;
  [[nodiscard]] std::vector<netpol::TenantFlowUse> TenantFlows() const override;

 private:
  const netpol::Datapath& datapath_;
};

}  // namespace bulkhead::agent::api

#endif  // BULKHEAD_AGENT_API_NODE_BACKEND_H_
