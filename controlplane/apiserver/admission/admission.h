// Admission: what runs on every create after the registry's own checks and
// defaults and before the store, whoever creates (an HTTP client or a
// controller in process), in the order Kubernetes runs it: mutating
// plugins first (ServiceAccount), then validating ones (PodSecurity).
// NamespaceLifecycle is the registry's own (no create in a missing or
// terminating namespace).
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_ADMISSION_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_ADMISSION_H_

#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "controlplane/apiserver/resource_target.h"

namespace bulkhead::controlplane {

class ObjectRegistry;

class AdmissionPlugin {
 public:
  virtual ~AdmissionPlugin() = default;
  // May change `object`; an error refuses the create (nothing is stored).
  // `warnings` are returned to the client as Warning headers.
  virtual Status AdmitCreate(ObjectRegistry& objects, const ResourceTarget& target,
                             boost::json::object& object, bool dry_run,
                             std::vector<std::string>& warnings) = 0;
};

class AdmissionChain {
 public:
  void Add(std::unique_ptr<AdmissionPlugin> plugin) { plugins_.push_back(std::move(plugin)); }
  Status AdmitCreate(ObjectRegistry& objects, const ResourceTarget& target,
                     boost::json::object& object, bool dry_run,
                     std::vector<std::string>& warnings) const {
    for (const auto& plugin : plugins_) {
      BH_RETURN_IF_ERROR(plugin->AdmitCreate(objects, target, object, dry_run, warnings));
    }
    return absl::OkStatus();
  }

 private:
  std::vector<std::unique_ptr<AdmissionPlugin>> plugins_;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_ADMISSION_H_
