#include "agent/hostapi/node_readiness.h"

#include <algorithm>

#include "common/hostapi/https_client.h"
#include "common/logging.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace bulkhead::agent::hostapi {

using ::bulkhead::hostapi::HttpsRequest;
using ::bulkhead::hostapi::HttpsResponse;
namespace {

// A Node name is a DNS subdomain: it becomes part of the request path.
Status ValidateNodeName(const std::string& node) {
  bool ok = !node.empty() && node.size() <= 253;
  for (char c : node) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.');
  }
  if (!ok) {
    return absl::InvalidArgumentError(fmt::format(
        "node name \"{}\" is not a DNS subdomain (lower-case letters, digits, '-' and '.'); "
        "pass --node-name with the name of this node's Node object",
        node));
  }
  return absl::OkStatus();
}

Status FromHttp(const HttpsResponse& response, std::string_view what, const std::string& node) {
  std::string detail = response.body.substr(0, 300);
  switch (response.status) {
    case 401:
      return absl::UnauthenticatedError(
          fmt::format("{} node {}: the host API refused the agent's credentials", what, node));
    case 403:
      return absl::PermissionDeniedError(
          fmt::format("{} node {}: the host API forbids it; the agent's service account needs "
                      "get and patch on nodes ({})",
                      what, node, detail));
    case 404:
      return absl::NotFoundError(
          fmt::format("{} node {}: no such Node in the host API (yet)", what, node));
    case 409:
    case 422:
      return absl::AbortedError(
          fmt::format("{} node {}: the taints changed meanwhile ({})", what, node, detail));
    default:
      return absl::UnavailableError(
          fmt::format("{} node {}: HTTP {} ({})", what, node, response.status, detail));
  }
}

}  // namespace

Status RemoveAgentNotReadyTaint(const HostApiConfig& config, const std::string& node) {
  BH_RETURN_IF_ERROR(ValidateNodeName(node));
  std::string path = "/api/v1/nodes/" + node;
  BH_ASSIGN_OR_RETURN(HttpsResponse got, HttpsRequest(config, "GET", path));
  if (got.status != 200) {
    return FromHttp(got, "reading", node);
  }
  nlohmann::json doc = nlohmann::json::parse(got.body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::UnavailableError(fmt::format("reading node {}: the answer is not JSON", node));
  }
  const nlohmann::json* taints = nullptr;
  if (auto spec = doc.find("spec"); spec != doc.end() && spec->is_object()) {
    if (auto found = spec->find("taints"); found != spec->end() && found->is_array()) {
      taints = &*found;
    }
  }
  if (taints == nullptr) {
    return absl::OkStatus();
  }
  for (size_t i = 0; i < taints->size(); ++i) {
    const nlohmann::json& taint = (*taints)[i];
    if (!taint.is_object() || taint.value("key", "") != kAgentNotReadyTaint) {
      continue;
    }
    nlohmann::json patch =
        nlohmann::json::array({{{"op", "test"},
                                {"path", fmt::format("/spec/taints/{}/key", i)},
                                {"value", kAgentNotReadyTaint}},
                               {{"op", "remove"}, {"path", fmt::format("/spec/taints/{}", i)}}});
    BH_ASSIGN_OR_RETURN(
        HttpsResponse patched,
        HttpsRequest(config, "PATCH", path, "application/json-patch+json", patch.dump()));
    if (patched.status != 200) {
      return FromHttp(patched, "removing the taint from", node);
    }
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

NodeReadiness::NodeReadiness(HostApiConfig config, std::string node, Backoff backoff)
    : config_(std::move(config)), node_(std::move(node)), backoff_(backoff) {
  thread_ = std::thread([this] { Run(); });
}

NodeReadiness::~NodeReadiness() {
  {
    std::scoped_lock lock(mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
}

void NodeReadiness::Run() {
  auto& log = Logger(Component::kAgent);
  std::chrono::milliseconds wait = backoff_.first;
  std::string last_error;
  for (int attempt = 1;; ++attempt) {
    Status status = RemoveAgentNotReadyTaint(config_, node_);
    if (status.ok()) {
      log.info("node ready: taint {} removed or absent node={} attempts={}", kAgentNotReadyTaint,
               node_, attempt);
      return;
    }
    std::string message = MessageOf(status);
    if (message != last_error) {  // once per distinct error, not once per retry
      log.warn("node taint not removed yet; retrying node={} error=\"{}\" retry_in_ms={}", node_,
               message, wait.count());
      last_error = std::move(message);
    }
    std::unique_lock lock(mutex_);
    if (stop_cv_.wait_for(lock, wait, [this] { return stop_; })) {
      return;
    }
    wait = std::min(wait * 2, backoff_.max);
  }
}

}  // namespace bulkhead::agent::hostapi
