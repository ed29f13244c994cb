// Flow records as text: one JSON object per record (for `-o json` and
// --print-flows), with field names users filter on.
#ifndef BULKHEAD_AGENT_NETPOL_FLOW_FORMAT_H_
#define BULKHEAD_AGENT_NETPOL_FLOW_FORMAT_H_

#include <string>

#include "agent/netpol/model.h"

namespace bulkhead::agent::netpol {

// {"time":"2026-11-21T08:42:13.123456Z","node":"n1","verdict":"denied",
//  "reason":"cross-tenant","hook":"connect4","protocol":"tcp",
//  "source":{"tenant":"team-a","pod":"a1","address":"10.0.0.1","port":0},
//  "destination":{...}}
std::string FlowRecordJson(const FlowRecord& record);

// RFC 3339 UTC with microseconds.
std::string FormatTime(std::chrono::system_clock::time_point time);

}  // namespace bulkhead::agent::netpol

#endif  // BULKHEAD_AGENT_NETPOL_FLOW_FORMAT_H_
