// The first step of a delete for a kind whose objects are given time to go
// (KindStrategy::grace_period; pods), as Kubernetes 1.32's BeforeDelete
// takes it: a first delete with grace left marks the object with
// deletionTimestamp (now + grace) and deletionGracePeriodSeconds and keeps
// it; a later one may only shorten that grace (the timestamp moves earlier
// by as much), never lengthen it; a grace of 0 (asked, or the kind's rule)
// lets the delete go on to remove it (finalizers still hold it). A negative
// grace counts as 1 second.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_GRACEFUL_DELETION_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_GRACEFUL_DELETION_H_

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>

#include "controlplane/apiserver/registry/kinds/kind_strategy.h"

namespace bulkhead::controlplane {

enum class GracefulStep {
  kRemove,   // no grace left: removed now, unless finalizers hold it
  kMark,     // the object carries a new or shorter grace: written, and kept
  kPending,  // already going, and no shorter grace asked: nothing changes
};

// Decides a delete of `object` (whose kind's `strategy` has a grace period)
// asking for `requested` seconds (nullopt: none asked), and sets on it the
// deletion fields the step needs: kMark a deletionTimestamp and grace to
// write; kRemove (from a grace shortened to 0, or a first delete) a
// deletionTimestamp of `now` and grace 0, for finalizers to wait with.
GracefulStep BeginGracefulDelete(const KindStrategy& strategy, boost::json::object& object,
                                 std::optional<int64_t> requested,
                                 std::chrono::system_clock::time_point now);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_GRACEFUL_DELETION_H_
