#include "controlplane/apiserver/authorization.h"

#include <algorithm>

#include "controlplane/apiserver/api_errors.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string VerbOf(const ApiRequest& routed, std::string_view method) {
  switch (routed.verb) {
    case Verb::kGet:
    case Verb::kGetScale:
    case Verb::kLog:
      return "get";
    case Verb::kList:
      return "list";
    case Verb::kWatch:
      return "watch";
    case Verb::kCreate:
    case Verb::kReview:
    case Verb::kCreateToken:
    case Verb::kBind:
      return "create";
    case Verb::kUpdate:
      return "update";
    case Verb::kPatch:
      return "patch";
    case Verb::kUpdateScale:
      return method == "PATCH" ? "patch" : "update";
    case Verb::kConnect:
      // As Kubernetes maps a connect request: from its method.
      return method == "POST" ? "create" : "get";
    case Verb::kDelete:
      return "delete";
    case Verb::kDeleteCollection:
      return "deletecollection";
  }
  return "get";
}

}  // namespace

RequestAttributes ResourceRequestAttributes(const ApiRequest& routed, std::string_view method) {
  RequestAttributes out;
  out.verb = VerbOf(routed, method);
  out.namespace_name = routed.target.namespace_name;
  out.api_group = routed.target.type->group;
  out.resource = routed.target.type->resource;
  out.subresource = routed.target.subresource;
  out.name = routed.verb == Verb::kWatch ? routed.watch_name : routed.target.name;
  return out;
}

std::string NonResourceVerb(std::string_view method) {
  if (method == "GET" || method == "HEAD") {
    return "get";
  }
  return Lower(method);
}

RequestAttributes NonResourceRequestAttributes(std::string_view method, const std::string& path) {
  RequestAttributes out;
  out.resource_request = false;
  out.verb = NonResourceVerb(method);
  out.path = path;
  return out;
}

Status ForbiddenFor(const UserInfo& user, const RequestAttributes& request,
                    const std::string& reason) {
  std::string message;
  ApiErrorDetails details;
  if (!request.resource_request) {
    message = fmt::format("forbidden: User \"{}\" cannot {} path \"{}\"", user.name, request.verb,
                          request.path);
  } else {
    std::string resource = request.resource;
    if (!request.subresource.empty()) {
      resource.append("/").append(request.subresource);
    }
    // The object as Kubernetes names it: "deployments.apps", no subresource.
    std::string qualified = request.resource;
    if (!request.api_group.empty()) {
      qualified.append(".").append(request.api_group);
    }
    const std::string subject =
        request.name.empty() ? qualified + " is forbidden"
                             : fmt::format("{} \"{}\" is forbidden", qualified, request.name);
    const std::string scope = request.namespace_name.empty()
                                  ? std::string("at the cluster scope")
                                  : fmt::format("in the namespace \"{}\"", request.namespace_name);
    message = fmt::format("{}: User \"{}\" cannot {} resource \"{}\" in API group \"{}\" {}",
                          subject, user.name, request.verb, resource, request.api_group, scope);
    details.name = request.name;
    details.group = request.api_group;
    details.kind = request.resource;
  }
  if (!reason.empty()) {
    message.append(": ").append(reason);
  }
  return ApiError(403, "Forbidden", message, details);
}

StatusOr<UserInfo> Impersonate(const UserInfo& user,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               RbacAuthorizer& authorizer) {
  if (headers.empty()) {
    return user;
  }
  std::string name;
  bool has_name = false;
  std::string uid;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;
  for (const auto& [header, value] : headers) {
    const std::string lower = Lower(header);
    if (lower == "impersonate-user") {
      name = value;
      has_name = true;
    } else if (lower == "impersonate-group") {
      groups.push_back(value);
    } else if (lower == "impersonate-uid") {
      uid = value;
    } else if (lower.starts_with("impersonate-extra-")) {
      extra[lower.substr(sizeof("impersonate-extra-") - 1)].push_back(value);
    }
  }
  if (!has_name || name.empty()) {
    return BadRequest(
        "requested impersonation of groups, a uid or extra values without impersonating a user");
  }
  auto check = [&](RequestAttributes ask) -> Status {
    ask.verb = "impersonate";
    if (Decision decision = authorizer.Authorize(user, ask); !decision.allowed) {
      return ForbiddenFor(user, ask, "");
    }
    return absl::OkStatus();
  };
  UserInfo out;
  out.name = name;
  out.uid = uid;
  RequestAttributes ask;
  if (name.starts_with(kServiceAccountPrefix)) {
    const std::string_view rest = std::string_view(name).substr(kServiceAccountPrefix.size());
    const size_t colon = rest.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) {
      return BadRequest(fmt::format("cannot impersonate {}: not NAMESPACE:NAME", name));
    }
    ask.namespace_name = std::string(rest.substr(0, colon));
    ask.resource = "serviceaccounts";
    ask.name = std::string(rest.substr(colon + 1));
    if (groups.empty()) {
      out.groups = {std::string(kGroupServiceAccounts),
                    std::string(kGroupServiceAccounts) + ":" + ask.namespace_name};
    }
  } else {
    ask.resource = "users";
    ask.name = name;
  }
  BH_RETURN_IF_ERROR(check(ask));
  for (const std::string& group : groups) {
    RequestAttributes g;
    g.resource = "groups";
    g.name = group;
    BH_RETURN_IF_ERROR(check(g));
    if (!out.InGroup(group)) {
      out.groups.push_back(group);
    }
  }
  if (!uid.empty()) {
    RequestAttributes u;
    u.api_group = "authentication.k8s.io";
    u.resource = "uids";
    u.name = uid;
    BH_RETURN_IF_ERROR(check(u));
  }
  for (const auto& [key, values] : extra) {
    for (const std::string& value : values) {
      RequestAttributes e;
      e.api_group = "authentication.k8s.io";
      e.resource = "userextras";
      e.subresource = key;
      e.name = value;
      BH_RETURN_IF_ERROR(check(e));
    }
  }
  out.extra = std::move(extra);
  if (name != kUserAnonymous) {
    if (!out.InGroup(kGroupUnauthenticated)) {
      out.AddAuthenticated();
    }
  } else if (!out.InGroup(kGroupUnauthenticated)) {
    out.groups.emplace_back(kGroupUnauthenticated);
  }
  return out;
}

}  // namespace bulkhead::controlplane
