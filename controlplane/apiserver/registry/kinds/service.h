// The Service kind's own rules: what a valid Service is (Kubernetes 1.32:
// types, ports, protocols, target ports, names), and the cluster IPs and
// node ports a Service holds, handed out from the service CIDRs and the
// node port range and given back when it lets them go.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_SERVICE_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_SERVICE_H_

#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/registry/ip_range.h"
#include "controlplane/apiserver/registry/range_allocator.h"
#include "controlplane/store/store.h"

namespace bulkhead::controlplane {

// Where services' addresses and node ports come from (--service-cidr,
// --service-node-port-range). The first CIDR's family is the primary one.
struct ServiceNetwork {
  std::vector<IpRange> cidrs;
  PortRange node_ports;
  // 10.96.0.0/12 and 30000-32767, as Kubernetes.
  static ServiceNetwork Default();
};

// The problems of a Service's spec that need nothing but the object.
std::vector<StatusCause> ValidateService(const boost::json::object& service);

class ServiceAllocations {
 public:
  ServiceAllocations(Store& store, ServiceNetwork network);

  // What one write reserved: given back when dropped, kept once committed
  // (after the write that uses it is stored).
  class Reserved {
   public:
    Reserved() = default;
    Reserved(Reserved&& other) noexcept { *this = std::move(other); }
    Reserved& operator=(Reserved&& other) noexcept;
    Reserved(const Reserved&) = delete;
    Reserved& operator=(const Reserved&) = delete;
    ~Reserved();
    void Commit() { items_.clear(); }

   private:
    friend class ServiceAllocations;
    std::string holder_;
    std::vector<std::pair<RangeAllocator*, std::string>> items_;
  };

  // Fills in the cluster IPs and node ports `next` holds: kept from
  // `current` (nullptr on create) where `next` leaves them out, allocated
  // where it asks for new ones, its own where it names free ones. A 422 for
  // a changed cluster IP, an address or port outside the ranges or held by
  // another Service, or a full range. A dry run checks and reserves nothing.
  StatusOr<Reserved> Reserve(const boost::json::object* current, boost::json::object& next,
                             bool dry_run);
  // After `current` was replaced by `next` (nullptr: deleted): gives back
  // what `current` held and `next` does not.
  void ReleaseDropped(const boost::json::object& current, const boost::json::object* next);
  // Makes what is held match `services` (every stored Service): after a
  // crash between a write and its reservation, or a store from before
  // allocation was done here. A Service that holds an address another
  // holds keeps it (and is logged): nothing stored is rewritten.
  Status Repair(const std::vector<boost::json::object>& services);

  [[nodiscard]] const ServiceNetwork& network() const { return network_; }

 private:
  // The allocator of the CIDR an address belongs to, or nullptr.
  RangeAllocator* AddressRange(const std::string& address);

  ServiceNetwork network_;
  std::vector<std::unique_ptr<RangeAllocator>> address_ranges_;  // one per CIDR
  RangeAllocator node_ports_;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_SERVICE_H_
