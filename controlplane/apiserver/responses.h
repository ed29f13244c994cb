// Answers in the forms the Kubernetes API uses: JSON documents, metav1.Status
// errors, and the content negotiation for Table output.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_RESPONSES_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_RESPONSES_H_

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "common/status.h"
#include "controlplane/apiserver/table.h"
#include "controlplane/http/http_message.h"

namespace bulkhead::controlplane {

inline constexpr std::string_view kJson = "application/json";
inline constexpr std::string_view kTableContentType =
    "application/json;as=Table;v=v1;g=meta.k8s.io";
inline constexpr std::string_view kDiscoveryContentType =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

void SendJson(ResponseWriter& writer, int code, const boost::json::value& document);
void SendRawJson(ResponseWriter& writer, int code, std::string body);
void SendError(ResponseWriter& writer, const Status& status);
// Warning headers ("299 - \"unknown field ...\"").
void AddWarnings(ResponseWriter& writer, const std::vector<std::string>& warnings);

bool WantsTable(const HttpRequest& request);
bool WantsAggregatedDiscovery(const HttpRequest& request);
IncludeObject IncludeObjectOf(const HttpRequest& request);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_RESPONSES_H_
