// Access reviews, answered at once and never stored: SelfSubjectAccessReview
// and SelfSubjectRulesReview (kubectl auth can-i) and SelfSubjectReview
// (kubectl auth whoami). An authenticated user is admin of its virtual
// cluster, so every access is allowed.
#include <boost/json.hpp>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/api_server.h"
#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/protobuf_body.h"
#include "controlplane/apiserver/responses.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

constexpr const char* kReason = "an authenticated user is admin of this virtual cluster";

}  // namespace

void ApiServer::Review(const ResourceTarget& target, const HttpRequest& request,
                       ResponseWriter& writer) {
  json::object review;
  if (request.content_type.starts_with(kProtobufContentType)) {
    auto decoded = DecodeProtobufObject(request.body);
    if (!decoded.ok()) {
      SendError(writer, BadRequest(MessageOf(decoded.status())));
      return;
    }
    review = std::move(decoded).value();
  } else {
    boost::system::error_code ec;
    json::value body = ParseJson(request.body, ec);
    if (ec || !body.is_object()) {
      SendError(writer, BadRequest(fmt::format("the body must be a JSON {}", target.type->kind)));
      return;
    }
    review = std::move(body.as_object());
  }
  review["apiVersion"] = target.type->GroupVersion();
  review["kind"] = target.type->kind;
  if (!review.contains("metadata") || !review["metadata"].is_object()) {
    review["metadata"] = json::object();
  }
  const std::string& kind = target.type->kind;
  if (kind == "SelfSubjectAccessReview") {
    review["status"] = json::object{{"allowed", true}, {"reason", kReason}};
  } else if (kind == "SelfSubjectRulesReview") {
    json::array all{"*"};
    review["status"] = json::object{
        {"resourceRules",
         json::array{json::object{{"verbs", all}, {"apiGroups", all}, {"resources", all}}}},
        {"nonResourceRules", json::array{json::object{{"verbs", all}, {"nonResourceURLs", all}}}},
        {"incomplete", false}};
  } else {
    json::array groups;
    for (const auto& group : request.certificate_groups) {
      groups.emplace_back(group);
    }
    if (groups.empty()) {
      groups.emplace_back("system:masters");
    }
    groups.emplace_back("system:authenticated");
    review["status"] = json::object{
        {"userInfo", json::object{{"username", request.certificate_user.value_or("admin")},
                                  {"groups", std::move(groups)}}}};
  }
  SendJson(writer, 201, review);
}

}  // namespace bulkhead::controlplane
