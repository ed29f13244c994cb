// What a built-in kind adds to the generic registry's create and update:
// the defaults its decoder gives, what a new one gets (a Job's selector),
// the validation kube-apiserver runs on it, what may not change once it
// exists, and how long a deleted one is given to go (a pod's grace). The registry asks the type's
// strategy instead of comparing kinds; a custom resource, and a built-in
// kind with no rules of its own, get one that adds nothing.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_KIND_STRATEGY_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_KIND_STRATEGY_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/resource_registry.h"

namespace bulkhead::controlplane {

struct KindStrategy {
  // Fills what decoding defaults, before validation (on every write).
  std::function<void(boost::json::object& object)> defaults;
  // What a new object gets once admitted, knowing its uid.
  std::function<void(boost::json::object& object, const std::string& uid)> prepare_for_create;
  // The causes to refuse `object` as written; `creating` on create.
  std::function<void(const boost::json::object& object, bool creating,
                     std::vector<StatusCause>& causes)>
      validate;
  // The causes to refuse `next` replacing `current` (both defaulted).
  std::function<void(const boost::json::object& current, const boost::json::object& next,
                     std::vector<StatusCause>& causes)>
      validate_update;
  // For a kind whose objects are given time to go when deleted (pods): the
  // seconds `object` gets from a delete asking for `requested` (nullopt:
  // none asked); 0 removes it at once. Unset: every delete is at once.
  std::function<int64_t(const boost::json::object& object, std::optional<int64_t> requested)>
      grace_period;

  void Default(boost::json::object& object) const {
    if (defaults) {
      defaults(object);
    }
  }
  void PrepareForCreate(boost::json::object& object, const std::string& uid) const {
    if (prepare_for_create) {
      prepare_for_create(object, uid);
    }
  }
  void Validate(const boost::json::object& object, bool creating,
                std::vector<StatusCause>& causes) const {
    if (validate) {
      validate(object, creating, causes);
    }
  }
  [[nodiscard]] bool DeletesGracefully() const { return static_cast<bool>(grace_period); }
  [[nodiscard]] int64_t GracePeriod(const boost::json::object& object,
                                    std::optional<int64_t> requested) const {
    return grace_period ? grace_period(object, requested) : 0;
  }
  void ValidateUpdate(const boost::json::object& current, const boost::json::object& next,
                      std::vector<StatusCause>& causes) const {
    if (validate_update) {
      validate_update(current, next, causes);
    }
  }
};

// The strategy of `type`: by its group and kind for built-in types.
const KindStrategy& StrategyFor(const ResourceType& type);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_KIND_STRATEGY_H_
