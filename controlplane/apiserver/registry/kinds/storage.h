// core/v1 PersistentVolume and PersistentVolumeClaim and storage.k8s.io/v1
// StorageClass, as Kubernetes 1.32's registry takes them.
//
// Defaults (before validation, as decoding defaults them): a volume's
// persistentVolumeReclaimPolicy Retain, a volume's and a claim's volumeMode
// Filesystem, a class's reclaimPolicy Delete and volumeBindingMode
// Immediate.
//
// Refused when written (422, worded as kube-apiserver words it): a volume
// with no capacity, no access modes, no volume source or more than one, an
// unknown access mode, reclaim policy or volume mode, a hostPath or local
// source without a path; a claim with no access modes or no storage
// request; a class with no provisioner or an unknown reclaim policy or
// binding mode.
//
// Refused when updated: a volume's source or volume mode changed; a claim's
// spec changed beyond volumeAttributesClassName, volumeName and a first
// storageClassName while unbound, and resources.requests.storage once
// bound (a smaller size is not refused yet); a class's provisioner,
// parameters, reclaimPolicy or volumeBindingMode changed.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_STORAGE_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_STORAGE_H_

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "controlplane/apiserver/api_errors.h"

namespace bulkhead::controlplane {

void DefaultStorage(const std::string& kind, boost::json::object& object);
std::vector<StatusCause> ValidateStorage(const std::string& kind,
                                         const boost::json::object& object);
// `next` replacing `current` (both defaulted).
std::vector<StatusCause> ValidateStorageUpdate(const std::string& kind,
                                               const boost::json::object& current,
                                               const boost::json::object& next);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_STORAGE_H_
