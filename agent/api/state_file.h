// The agent's state file: the policies, bounds and budgets it accepted over
// the API, as JSON, so a restarted agent enforces them again before any
// client reconnects. Written atomically (temp file, then rename), 0600.
#ifndef BULKHEAD_AGENT_API_STATE_FILE_H_
#define BULKHEAD_AGENT_API_STATE_FILE_H_

#include <map>
#include <string>

#include "agent/api/tenant_registry.h"
#include "common/status.h"

namespace bulkhead::agent::api {

std::string EncodeState(const std::map<std::string, TenantPolicy>& policies,
                        const std::map<std::string, TenantBounds>& bounds,
                        const std::map<std::string, budgets::TenantBudget>& budgets);

// Fills the maps from `text`; on error they are left unchanged.
Status DecodeState(const std::string& text, std::map<std::string, TenantPolicy>& policies,
                   std::map<std::string, TenantBounds>& bounds,
                   std::map<std::string, budgets::TenantBudget>& budgets);

Status WriteStateFile(const std::string& path, const std::string& text);

}  // namespace bulkhead::agent::api

#endif  // BULKHEAD_AGENT_API_STATE_FILE_H_
