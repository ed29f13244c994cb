// Access and token reviews, answered at once and never stored:
// SelfSubjectAccessReview (kubectl auth can-i), SelfSubjectRulesReview
// (can-i --list), SubjectAccessReview and LocalSubjectAccessReview (for
// another user, as a webhook or an operator asks), SelfSubjectReview
// (kubectl auth whoami) and TokenReview. Each is answered from RBAC.
#include <boost/json.hpp>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/api_server.h"
#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/request_body.h"
#include "controlplane/apiserver/responses.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

const json::object* ObjectField(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_object() ? &value->as_object() : nullptr;
}

json::object UserJson(const UserInfo& user) {
  json::object out{{"username", user.name}, {"groups", StringArray(user.groups)}};
  if (!user.uid.empty()) {
    out["uid"] = user.uid;
  }
  if (!user.extra.empty()) {
    json::object extra;
    for (const auto& [key, values] : user.extra) {
      extra[key] = StringArray(values);
    }
    out["extra"] = std::move(extra);
  }
  return out;
}

// The attributes a review's spec asks about; an Invalid error when it
// names neither or both kinds.
StatusOr<RequestAttributes> ReviewAttributes(const json::object& spec, const std::string& kind) {
  const json::object* resource = ObjectField(spec, "resourceAttributes");
  const json::object* non_resource = ObjectField(spec, "nonResourceAttributes");
  if ((resource == nullptr) == (non_resource == nullptr)) {
    return InvalidError(
        "authorization.k8s.io", kind, "",
        {{"FieldValueInvalid",
          resource == nullptr ? "exactly one of nonResourceAttributes or resourceAttributes must "
                                "be specified"
                              : "cannot be specified in combination with resourceAttributes",
          resource == nullptr ? "spec.resourceAttributes" : "spec.nonResourceAttributes"}});
  }
  RequestAttributes out;
  if (non_resource != nullptr) {
    out.resource_request = false;
    out.verb = StringField(*non_resource, "verb");
    out.path = StringField(*non_resource, "path");
    return out;
  }
  out.verb = StringField(*resource, "verb");
  out.namespace_name = StringField(*resource, "namespace");
  out.api_group = StringField(*resource, "group");
  out.resource = StringField(*resource, "resource");
  out.subresource = StringField(*resource, "subresource");
  out.name = StringField(*resource, "name");
  return out;
}

}  // namespace

void ApiServer::Review(const ResourceTarget& target, const HttpRequest& request,
                       ResponseWriter& writer) {
  auto parsed = ParseRequestObject(request, "the body must be a review");
  if (!parsed.ok()) {
    SendError(writer, parsed.status());
    return;
  }
  json::object review = std::move(parsed).value();
  review["apiVersion"] = target.type->GroupVersion();
  review["kind"] = target.type->kind;
  if (!review.contains("metadata") || !review["metadata"].is_object()) {
    review["metadata"] = json::object();
  }
  if (!review.contains("spec") || !review["spec"].is_object()) {
    review["spec"] = json::object();
  }
  const json::object& spec = review["spec"].as_object();
  const UserInfo& caller = *request.user;
  const std::string& kind = target.type->kind;
  if (kind == "SelfSubjectReview") {
    review["status"] = json::object{{"userInfo", UserJson(caller)}};
  } else if (kind == "TokenReview") {
    // Every bearer token this server takes (the admin's too), as a request
    // carrying it would be authenticated.
    HttpRequest bearer;
    bearer.authorization = "Bearer " + StringField(spec, "token");
    auto authenticated = authenticator_->Authenticate(bearer);
    StatusOr<UserInfo> user = absl::UnauthenticatedError("no token");
    if (!authenticated.ok()) {
      user = authenticated.status();
    } else if (authenticated->has_value()) {
      user = **authenticated;
    }
    std::vector<std::string> audiences = StringListField(spec, "audiences");
    if (user.ok()) {
      review["status"] = json::object{
          {"authenticated", true},
          {"user", UserJson(*user)},
          {"audiences", StringArray(audiences.empty() ? tokens_->api_audiences() : audiences)}};
    } else {
      review["status"] = json::object{
          {"authenticated", false}, {"user", json::object()}, {"error", MessageOf(user.status())}};
    }
  } else if (kind == "SelfSubjectRulesReview") {
    const std::string ns = StringField(spec, "namespace");
    if (ns.empty()) {
      SendError(writer, BadRequest("no namespace on request"));
      return;
    }
    UserRules rules = authorizer_->RulesFor(caller, ns);
    json::array resource_rules;
    json::array non_resource_rules;
    for (const PolicyRule& rule : rules.resource_rules) {
      resource_rules.push_back(json::object{{"verbs", StringArray(rule.verbs)},
                                            {"apiGroups", StringArray(rule.api_groups)},
                                            {"resources", StringArray(rule.resources)},
                                            {"resourceNames", StringArray(rule.resource_names)}});
    }
    for (const PolicyRule& rule : rules.non_resource_rules) {
      non_resource_rules.push_back(
          json::object{{"verbs", StringArray(rule.verbs)},
                       {"nonResourceURLs", StringArray(rule.non_resource_urls)}});
    }
    review["status"] = json::object{{"resourceRules", std::move(resource_rules)},
                                    {"nonResourceRules", std::move(non_resource_rules)},
                                    {"incomplete", false}};
  } else {
    auto attributes = ReviewAttributes(spec, kind);
    if (!attributes.ok()) {
      SendError(writer, attributes.status());
      return;
    }
    UserInfo subject = caller;
    if (kind == "SubjectAccessReview" || kind == "LocalSubjectAccessReview") {
      subject = UserInfo();
      subject.name = StringField(spec, "user");
      subject.uid = StringField(spec, "uid");
      subject.groups = StringListField(spec, "groups");
      if (subject.name.empty() && subject.groups.empty()) {
        SendError(writer,
                  InvalidError("authorization.k8s.io", kind, "",
                               {{"FieldValueInvalid",
                                 "at least one of user or group must be specified", "spec.user"}}));
        return;
      }
      if (kind == "LocalSubjectAccessReview" &&
          attributes->namespace_name != target.namespace_name) {
        SendError(writer, InvalidError("authorization.k8s.io", kind, "",
                                       {{"FieldValueInvalid", "must match metadata.namespace",
                                         "spec.resourceAttributes.namespace"}}));
        return;
      }
    }
    Decision decision = authorizer_->Authorize(subject, *attributes);
    json::object status{{"allowed", decision.allowed}};
    if (!decision.reason.empty()) {
      status["reason"] = decision.reason;
    }
    review["status"] = std::move(status);
  }
  SendJson(writer, 201, review);
}

}  // namespace bulkhead::controlplane
