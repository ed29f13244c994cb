// Who may do what through the agent's API (decision 2): the admin
// everything; a tenant's or its control plane's certificate only its own
// tenant, and never the bounds; an agent's certificate nothing (it names a
// node, not a client). Every refusal is PERMISSION_DENIED and says why.
#ifndef BULKHEAD_AGENT_API_AUTHZ_H_
#define BULKHEAD_AGENT_API_AUTHZ_H_

#include <string_view>

#include "common/pki/role.h"
#include "common/status.h"

namespace bulkhead::agent::api {

enum class Action {
  kApplyPolicy,
  kSetBounds,
  kSetBudget,
  kReadStatus,
  kReadFlows,
  kReadCounters,
  kReadEvents,
};

std::string_view ActionName(Action action);

// `tenant` is the tenant acted on or read; empty for a read of "everything
// the caller may see" (the server then narrows it to the caller's tenant).
Status Authorize(const pki::Role& caller, Action action, std::string_view tenant);

}  // namespace bulkhead::agent::api

#endif  // BULKHEAD_AGENT_API_AUTHZ_H_
