// The ResourceQuota admission plugin, last in the chain: a create that
// would take any of its namespace's quotas past `spec.hard` is refused
// (403 "exceeded quota: NAME, requested: ..., used: ..., limited: ...");
// a pod that leaves out a request or limit a quota bounds is refused
// ("must specify ..."). An admitted create is charged to each quota's
// status.used by a conditional write of the quota first, so two creates
// at once can never both take the last unit. The quota controller
// recounts status.used from the objects (a create charged and then not
// stored is given back there).
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_RESOURCE_QUOTA_ADMISSION_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_RESOURCE_QUOTA_ADMISSION_H_

#include "controlplane/apiserver/admission/admission.h"

namespace bulkhead::controlplane {

class ResourceQuotaAdmission : public AdmissionPlugin {
 public:
  Status AdmitCreate(ObjectRegistry& objects, const ResourceTarget& target,
                     boost::json::object& object, bool dry_run,
                     std::vector<std::string>& warnings) override;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_RESOURCE_QUOTA_ADMISSION_H_
