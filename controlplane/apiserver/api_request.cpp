#include "controlplane/apiserver/api_request.h"

#include "controlplane/apiserver/api_errors.h"

namespace bulkhead::controlplane {
namespace {

Status NoSuchResource() {
  return ApiError(404, "NotFound", "the server could not find the requested resource");
}

Status MethodNotAllowed() {
  return ApiError(405, "MethodNotAllowed",
                  "the server does not allow this method on the requested resource");
}

// The first value of `name`, as HttpRequest::Query reads it.
const std::string* FirstValue(const std::vector<std::pair<std::string, std::string>>& query,
                              std::string_view name) {
  for (const auto& [key, value] : query) {
    if (key == name) {
      return &value;
    }
  }
  return nullptr;
}

}  // namespace

bool IsWatchQuery(const std::vector<std::pair<std::string, std::string>>& query) {
  const std::string* watch = FirstValue(query, "watch");
  return watch != nullptr && (*watch == "true" || *watch == "1" || *watch == "True");
}

StatusOr<ApiRequest> RouteResourceRequest(
    std::string_view method, const std::string& group, const std::string& version,
    std::vector<std::string> rest, const std::vector<std::pair<std::string, std::string>>& query,
    const ResourceRegistry& types) {
  bool watch_path = false;
  if (!rest.empty() && rest[0] == "watch") {
    watch_path = true;
    rest.erase(rest.begin());
  }
  ApiRequest out;
  ResourceTarget& target = out.target;
  std::string resource;
  // namespaces/<ns>/<resource>[/<name>[/<subresource>]], except the
  // Namespace's own subresources (namespaces/<name>/status, /finalize).
  if (!rest.empty() && rest[0] == "namespaces" && rest.size() >= 3 && rest[2] != "status" &&
      rest[2] != "finalize") {
    target.namespace_name = rest[1];
    resource = rest[2];
    if (rest.size() >= 4) {
      target.name = rest[3];
    }
    if (rest.size() >= 5) {
      target.subresource = rest[4];
    }
    if (rest.size() > 5) {
      resource.clear();
    }
  } else if (!rest.empty()) {
    resource = rest[0];
    if (rest.size() >= 2) {
      target.name = rest[1];
    }
    if (rest.size() >= 3) {
      target.subresource = rest[2];
    }
    if (rest.size() > 3) {
      resource.clear();
    }
  }
  target.type = resource.empty() ? nullptr : types.Find(group, version, resource);
  if (target.type == nullptr || (!target.type->namespaced && !target.namespace_name.empty()) ||
      (target.type->namespaced && target.namespace_name.empty() && !target.name.empty())) {
    return NoSuchResource();
  }
  if (!target.subresource.empty() &&
      !((target.subresource == "status" && target.type->status_subresource) ||
        (target.subresource == "scale" && target.type->scale_subresource) ||
        (target.subresource == "token" && target.type->token_subresource) ||
        (target.subresource == "binding" && target.type->binding_subresource) ||
        (target.subresource == "log" && target.type->log_subresource) ||
        ((target.subresource == "exec" || target.subresource == "attach" ||
          target.subresource == "portforward") &&
         target.type->connect_subresources))) {
    return NoSuchResource();
  }
  if (target.subresource == "token" || target.subresource == "binding") {
    if (method != "POST") {
      return MethodNotAllowed();
    }
    out.verb = target.subresource == "token" ? Verb::kCreateToken : Verb::kBind;
    return out;
  }
  if (target.subresource == "log") {
    if (method != "GET") {
      return MethodNotAllowed();
    }
    out.verb = Verb::kLog;
    return out;
  }
  if (target.subresource == "exec" || target.subresource == "attach" ||
      target.subresource == "portforward") {
    if (method != "GET" && method != "POST") {
      return MethodNotAllowed();
    }
    out.verb = Verb::kConnect;
    return out;
  }
  if (target.type->review) {
    if (method == "POST" && target.name.empty()) {
      out.verb = Verb::kReview;
      return out;
    }
    return MethodNotAllowed();
  }
  bool watch = watch_path || IsWatchQuery(query);
  if (target.name.empty()) {
    if (method == "GET") {
      out.verb = watch ? Verb::kWatch : Verb::kList;
    } else if (method == "POST") {
      out.verb = Verb::kCreate;
    } else if (method == "DELETE") {
      out.verb = Verb::kDeleteCollection;
    } else {
      return MethodNotAllowed();
    }
    return out;
  }
  if (watch && method == "GET") {
    // A watch of one object: the collection, filtered by name.
    out.verb = Verb::kWatch;
    out.watch_name = std::move(target.name);
    target.name.clear();
    return out;
  }
  if (target.subresource == "scale") {
    if (method == "GET") {
      out.verb = Verb::kGetScale;
    } else if (method == "PUT" || method == "PATCH") {
      out.verb = Verb::kUpdateScale;
    } else {
      return MethodNotAllowed();
    }
    return out;
  }
  if (method == "GET") {
    out.verb = Verb::kGet;
  } else if (method == "PUT") {
    out.verb = Verb::kUpdate;
  } else if (method == "PATCH") {
    out.verb = Verb::kPatch;
  } else if (method == "DELETE" && target.subresource.empty()) {
    out.verb = Verb::kDelete;
  } else {
    return MethodNotAllowed();
  }
  return out;
}

}  // namespace bulkhead::controlplane
