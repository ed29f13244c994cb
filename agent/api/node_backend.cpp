#include "agent/api/node_backend.h"

#include "netpol/netpol_structs.h"

namespace bulkhead::agent::api {

std::string DatapathBackend::NodeName() const { return datapath_.options().node_name; }

std::vector<MapFill> DatapathBackend::Maps() const {
  netpol::DatapathSummary summary = datapath_.Summary();
  return {
      {"tenants", summary.tenants, NETPOL_MAX_TENANTS},
      {"endpoints", summary.endpoint_addresses, NETPOL_MAX_ENDPOINT_ADDRS},
      {"local_endpoints", summary.local_endpoints, NETPOL_MAX_LOCAL_ENDPOINTS},
      {"grants", summary.grants, NETPOL_MAX_GRANTS},
  };
}

std::vector<netpol::FlowCounter> DatapathBackend::Counters() const { return datapath_.Counters(); }

netpol::FlowLoss DatapathBackend::Loss() const { return datapath_.Loss(); }

std::vector<netpol::TenantFlowUse> DatapathBackend::TenantFlows() const {
  return datapath_.TenantFlows();
}

}  // namespace bulkhead::agent::api
