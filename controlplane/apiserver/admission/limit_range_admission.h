// The LimitRanger admission plugin: the namespace's LimitRanges of type
// Container give a pod's containers their default limits (`default`) and
// requests (`defaultRequest`, else the limit) where they set none, and
// bound what they set (`min`, `max`, `maxLimitRequestRatio`); those of type
// Pod bound the pod's totals. A pod outside the bounds is refused (403)
// with Kubernetes' wording; what was defaulted is named in the pod's
// kubernetes.io/limit-ranger annotation.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_LIMIT_RANGE_ADMISSION_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_LIMIT_RANGE_ADMISSION_H_

#include "controlplane/apiserver/admission/admission.h"

namespace bulkhead::controlplane {

class LimitRangeAdmission : public AdmissionPlugin {
 public:
  Status AdmitCreate(ObjectRegistry& objects, const ResourceTarget& target,
                     boost::json::object& object, bool dry_run,
                     std::vector<std::string>& warnings) override;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_LIMIT_RANGE_ADMISSION_H_
