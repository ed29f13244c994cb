#include "agent/api/authz.h"

#include "fmt/format.h"

namespace bulkhead::agent::api {
namespace {

bool IsRead(Action action) {
  return action == Action::kReadStatus || action == Action::kReadFlows ||
         action == Action::kReadCounters || action == Action::kReadEvents;
}

}  // namespace

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kApplyPolicy:
      return "apply a tenant policy";
    case Action::kSetBounds:
      return "set tenant bounds";
    case Action::kSetBudget:
      return "set a tenant budget";
    case Action::kReadStatus:
      return "read node status";
    case Action::kReadFlows:
      return "read flows";
    case Action::kReadCounters:
      return "read flow counters";
    case Action::kReadEvents:
      return "read events";
  }
  return "act";
}

Status Authorize(const pki::Role& caller, Action action, std::string_view tenant) {
  using Kind = pki::Role::Kind;
  switch (caller.kind) {
    case Kind::kAdmin:
      return absl::OkStatus();
    case Kind::kAgent:
      return absl::PermissionDeniedError(
          fmt::format("certificate role agent may not {}: an agent certificate names a node, "
                      "not a client; use an admin, tenant or controlplane certificate",
                      ActionName(action)));
    case Kind::kTenant:
    case Kind::kControlplane:
      break;
  }
  if (action == Action::kSetBounds) {
    return absl::PermissionDeniedError(fmt::format(
        "certificate role {} may not set tenant bounds: only the platform admin sets bounds",
        caller.ToString()));
  }
  if (tenant.empty() && IsRead(action)) {
    return absl::OkStatus();  // narrowed to the caller's tenant by the server
  }
  if (tenant != caller.tenant) {
    return absl::PermissionDeniedError(fmt::format(
        "certificate role {} may not {} of tenant {}: it acts on tenant {} alone",
        caller.ToString(), ActionName(action), tenant.empty() ? "(none)" : tenant, caller.tenant));
  }
  return absl::OkStatus();
}

}  // namespace bulkhead::agent::api
