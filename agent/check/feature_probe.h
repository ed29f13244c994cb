// `bulkhead-agent check`: finds which kernel features the agent needs are
// present on this node, each with what was found and what to do if missing.
#ifndef BULKHEAD_AGENT_CHECK_FEATURE_PROBE_H_
#define BULKHEAD_AGENT_CHECK_FEATURE_PROBE_H_

#include <string>

#include "bulkhead/agent/v1/features.pb.h"
#include "common/status.h"

namespace bulkhead::agent {

// Whether this process may probe BPF and cgroups at all (root, or CAP_BPF
// plus CAP_SYS_ADMIN). On failure the status says what to do.
Status CheckProbePrivileges();

// Runs every probe. Never fails as a whole: a probe that cannot run is a
// missing feature with its reason.
v1::FeatureReport ProbeKernelFeatures();

// The report as a table for people, and the remedies for what is missing.
std::string FormatFeatureReport(const v1::FeatureReport& report);

// The report as one JSON object (protobuf JSON mapping).
StatusOr<std::string> FeatureReportJson(const v1::FeatureReport& report);

}  // namespace bulkhead::agent

#endif  // BULKHEAD_AGENT_CHECK_FEATURE_PROBE_H_
