#include "controlplane/controllers/controller_ref_manager.h"

#include <boost/json.hpp>
#include <memory>
#include <optional>

#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/controllers/object_helpers.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;

bool Selects(const json::value* selector, const json::object& object) {
  return selector != nullptr && selector->is_object() &&
         SelectorMatches(selector, LabelsOf(object));
}

json::array& ReferencesOf(json::object& object) {
  json::value* refs = PathValue(object, ".metadata.ownerReferences", true);
  if (!refs->is_array()) {
    *refs = json::array();
  }
  return refs->as_array();
}

}  // namespace

bool MayAdopt(const json::value* selector, const json::object& object) {
  return !ControllerOf(object).has_value() && !IsTerminating(object) && Selects(selector, object);
}

std::vector<ObjectPtr> ClaimControlled(Client& client, const Claimant& claimant,
                                       const std::vector<ObjectPtr>& candidates,
                                       Status& first_error) {
  const std::string uid = MetaString(claimant.owner, "uid");
  const std::string ns = MetaString(claimant.owner, "namespace");
  const bool owner_terminating = IsTerminating(claimant.owner);
  std::optional<bool> owner_current;  // read once, before the first adoption
  const auto keep_error = [&](const Status& status) {
    if (!Settles(status) && first_error.ok()) {
      first_error = status;
    }
  };
  std::vector<ObjectPtr> controlled;
  for (const ObjectPtr& object : candidates) {
    // Most candidates are another owner's: skipped before anything costs.
    const std::string_view controller = ControllerUid(*object);
    if (!controller.empty() && controller != uid) {
      continue;
    }
    const std::string name = MetaString(*object, "name");
    const std::string object_uid = MetaString(*object, "uid");
    if (!controller.empty()) {
      if (Selects(claimant.selector, *object)) {
        controlled.push_back(object);
      } else if (!owner_terminating) {
        auto released = client.Mutate(In(claimant.collection, ns, name), [&](json::object& next) {
          if (MetaString(next, "uid") != object_uid) {
            return absl::FailedPreconditionError("another object by that name");
          }
          json::array& refs = ReferencesOf(next);
          json::array kept;
          for (const json::value& ref : refs) {
            if (!ref.is_object() || StringField(ref.as_object(), "uid") != uid) {
              kept.push_back(ref);
            }
          }
          if (kept.size() == refs.size()) {
            return absl::FailedPreconditionError("released already");
          }
          if (kept.empty()) {
            Metadata(next).erase("ownerReferences");
          } else {
            refs = std::move(kept);
          }
          return absl::OkStatus();
        });
        keep_error(released.status());
      }
      continue;
    }
    if (owner_terminating || !MayAdopt(claimant.selector, *object)) {
      continue;
    }
    if (!owner_current.has_value()) {
      auto fresh =
          client.Get(In(claimant.owner_collection, ns, MetaString(claimant.owner, "name")));
      owner_current = fresh.ok() && MetaString(*fresh, "uid") == uid && !IsTerminating(*fresh);
    }
    if (!*owner_current) {
      continue;
    }
    auto adopted = client.Mutate(In(claimant.collection, ns, name), [&](json::object& next) {
      if (MetaString(next, "uid") != object_uid || !Selects(claimant.selector, next)) {
        return absl::FailedPreconditionError("no longer an object this owner selects");
      }
      // Adopted by an earlier pass the cache has not shown yet: ours, and
      // nothing to write.
      if (const std::string_view now_controller = ControllerUid(next); !now_controller.empty()) {
        return now_controller == uid ? absl::OkStatus()
                                     : absl::FailedPreconditionError("taken by another owner");
      }
      if (IsTerminating(next)) {
        return absl::FailedPreconditionError("being deleted");
      }
      ReferencesOf(next).push_back(ControllerReference(claimant.owner));
      return absl::OkStatus();
    });
    if (adopted.ok()) {
      controlled.push_back(std::make_shared<const json::object>(std::move(*adopted)));
    } else {
      keep_error(adopted.status());
    }
  }
  return controlled;
}

}  // namespace bulkhead::controlplane::controllers
