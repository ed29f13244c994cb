#include "controlplane/apiserver/api_server.h"
#include "controlplane/apiserver/object_limits.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>

#include "common/logging.h"
#include "common/strings.h"
#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/crd.h"
#include "controlplane/apiserver/discovery.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/responses.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

constexpr const char* kDefaultNamespaces[] = {"default", "kube-system", "kube-public",
                                              "kube-node-lease"};

bool TokenMatches(const std::string& header, const std::string& token) {
  std::string_view value = header;
  if (!ConsumePrefix(value, "Bearer ") && !ConsumePrefix(value, "bearer ")) {
    return false;
  }
  value = TrimSpace(value);
  return !token.empty() && value.size() == token.size() &&
         CRYPTO_memcmp(value.data(), token.data(), token.size()) == 0;
}

json::object VersionInfo() {
  return {{"major", "1"},
          {"minor", "32"},
          {"gitVersion", "v1.32.0"},
          {"gitCommit", "bulkhead"},
          {"gitTreeState", "clean"},
          {"buildDate", "2026-01-01T00:00:00Z"},
          {"goVersion", "go1.23.0"},
          {"compiler", "gc"},
          {"platform", "linux/amd64"}};
}

// `?watch=true` (or 1, True): the request is a watch.
bool WatchParam(const HttpRequest& request) {
  auto watch = request.Query("watch");
  return watch.has_value() && (*watch == "true" || *watch == "1" || *watch == "True");
}

}  // namespace

ApiServer::ApiServer(Store& store, ApiServerOptions options)
    : store_(store),
      options_(std::move(options)),
      watch_events_(std::make_unique<WatchEventCache>()),
      watch_pump_(std::make_unique<WatchPump>()) {}

ApiServer::~ApiServer() = default;

bool ApiServer::Quick(const HttpRequest& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    return false;
  }
  if (WatchParam(request)) {
    return false;
  }
  const std::string_view path = request.path;
  return path.find("/watch/") == std::string_view::npos &&
         !(path.size() >= 6 && path.substr(path.size() - 6) == "/watch");
}

bool ApiServer::Authenticate(const HttpRequest& request) const {
  if (request.certificate_error) {
    return false;  // a verified certificate that names no one user is refused, never a token
  }
  return request.certificate_user.has_value() ||
         TokenMatches(request.authorization, options_.admin_token);
}

Status ApiServer::Bootstrap() {
  auto namespaces = registry_.Find("", "v1", "namespaces");
  for (const char* name : kDefaultNamespaces) {
    ResourceTarget target{namespaces, "", name, ""};
    BH_ASSIGN_OR_RETURN(auto existing, store_.Get(target.Key()));
    if (existing.has_value()) {
      continue;
    }
    json::object ns{
        {"apiVersion", "v1"},
        {"kind", "Namespace"},
        {"metadata", json::object{{"name", name},
                                  {"uid", NewUid()},
                                  {"creationTimestamp", NowRfc3339()},
                                  {"labels", json::object{{"kubernetes.io/metadata.name", name}}}}},
        {"spec", json::object{{"finalizers", json::array{"kubernetes"}}}},
        {"status", json::object{{"phase", "Active"}}}};
    auto created =
        store_.Create(target.Key(), [&ns](int64_t revision, int64_t) -> StatusOr<std::string> {
          Metadata(ns)["resourceVersion"] = std::to_string(revision);
          return json::serialize(ns);
        });
    if (!created.ok() && created.status().code() != absl::StatusCode::kAlreadyExists) {
      return created.status();
    }
  }
  auto crds = registry_.Find("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  BH_ASSIGN_OR_RETURN(auto list, store_.List(crds->KeyPrefix(), "", 0, 0));
  for (const auto& kv : list.items) {
    boost::system::error_code ec;
    auto crd = ParseJson(kv.value, ec);
    if (!ec && crd.is_object()) {
      OnCrdChanged(&crd.as_object(), MetaString(crd.as_object(), "name"));
    }
  }
  Logger(Component::kApiserver)
      .info("bootstrapped revision={} crds={}", store_.Revision(), list.items.size());
  return absl::OkStatus();
}

void ApiServer::OnCrdChanged(const json::object* crd, const std::string& name) {
  if (crd == nullptr) {
    registry_.SetCustom(name, {});
    return;
  }
  auto types = ResourceTypesOfCrd(*crd);
  if (!types.empty() && registry_.IsBuiltin(types.front().group, types.front().resource)) {
    Logger(Component::kApiserver).warn("not serving crd={}: it names a built-in resource", name);
    types.clear();
  }
  registry_.SetCustom(name, std::move(types));
}

void ApiServer::Handle(HttpRequest& request, ResponseWriter& writer) {
  auto parts = SplitNonEmpty(request.path, "/");
  Logger(Component::kApiserver).debug("request method={} path={}", request.method, request.path);
  if (parts.size() == 1 && (parts[0] == "healthz" || parts[0] == "livez" || parts[0] == "readyz")) {
    if (parts[0] == "readyz" && !ready_) {
      writer.Send(503, "text/plain; charset=utf-8", "not ready");
      return;
    }
    writer.Send(200, "text/plain; charset=utf-8", "ok");
    return;
  }
  if (request.certificate_error) {
    SendError(writer, ApiError(401, "Unauthorized", *request.certificate_error));
    return;
  }
  // Decided by Authenticate before the body was read (no body is read for
  // a request that fails it).
  if (!request.authenticated) {
    SendError(writer, ApiError(401, "Unauthorized", "Unauthorized"));
    return;
  }
  if (parts.empty()) {
    json::array paths{"/api",   "/api/v1",     "/apis",   "/healthz",
                      "/livez", "/openapi/v3", "/readyz", "/version"};
    SendJson(writer, 200, json::object{{"paths", std::move(paths)}});
    return;
  }
  if (parts[0] == "version" && parts.size() == 1) {
    SendJson(writer, 200, VersionInfo());
    return;
  }
  if (parts[0] == "openapi") {
    if (parts.size() == 2 && parts[1] == "v3") {
      SendJson(writer, 200, OpenApiV3Index(registry_));
      return;
    }
    if (parts.size() >= 3 && parts[1] == "v3") {
      std::string path;
      for (size_t i = 2; i < parts.size(); ++i) {
        path += (i == 2 ? "" : "/") + std::string(parts[i]);
      }
      if (auto doc = OpenApiV3Document(registry_, path); doc.has_value()) {
        SendJson(writer, 200, *doc);
        return;
      }
    }
    SendError(writer,
              ApiError(404, "NotFound", "the server could not find the requested resource"));
    return;
  }
  if (parts[0] == "api") {
    if (parts.size() == 1) {
      if (WantsAggregatedDiscovery(request)) {
        writer.Send(200, kDiscoveryContentType,
                    json::serialize(AggregatedDiscovery(registry_, true)));
      } else {
        SendJson(writer, 200, LegacyApiVersions());
      }
      return;
    }
    if (parts[1] == "v1") {
      if (parts.size() == 2) {
        SendJson(writer, 200, *LegacyApiResourceList(registry_, "", "v1"));
        return;
      }
      std::vector<std::string> rest(parts.begin() + 2, parts.end());
      HandleResource(request, writer, "", "v1", std::move(rest));
      return;
    }
  }
  if (parts[0] == "apis") {
    if (parts.size() == 1) {
      if (WantsAggregatedDiscovery(request)) {
        writer.Send(200, kDiscoveryContentType,
                    json::serialize(AggregatedDiscovery(registry_, false)));
      } else {
        SendJson(writer, 200, LegacyApiGroupList(registry_));
      }
      return;
    }
    std::string group(parts[1]);
    if (parts.size() == 2) {
      if (auto doc = LegacyApiGroup(registry_, group); doc.has_value()) {
        SendJson(writer, 200, *doc);
        return;
      }
    } else if (parts.size() == 3) {
      if (auto doc = LegacyApiResourceList(registry_, group, std::string(parts[2]));
          doc.has_value()) {
        SendJson(writer, 200, *doc);
        return;
      }
    } else {
      std::vector<std::string> rest(parts.begin() + 3, parts.end());
      HandleResource(request, writer, group, std::string(parts[2]), std::move(rest));
      return;
    }
  }
  SendError(writer, ApiError(404, "NotFound", "the server could not find the requested resource"));
}

void ApiServer::HandleResource(HttpRequest& request, ResponseWriter& writer,
                               const std::string& group, const std::string& version,
                               std::vector<std::string> rest) {
  bool watch_path = false;
  if (!rest.empty() && rest[0] == "watch") {
    watch_path = true;
    rest.erase(rest.begin());
  }
  ResourceTarget target;
  std::string resource;
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
  target.type = resource.empty() ? nullptr : registry_.Find(group, version, resource);
  if (target.type == nullptr || (!target.type->namespaced && !target.namespace_name.empty()) ||
      (target.type->namespaced && target.namespace_name.empty() && !target.name.empty())) {
    SendError(writer,
              ApiError(404, "NotFound", "the server could not find the requested resource"));
    return;
  }
  if (!target.subresource.empty() &&
      !((target.subresource == "status" && target.type->status_subresource) ||
        (target.subresource == "scale" && target.type->scale_subresource))) {
    SendError(writer,
              ApiError(404, "NotFound", "the server could not find the requested resource"));
    return;
  }
  const std::string& method = request.method;
  if (target.type->review) {
    if (method == "POST" && target.name.empty()) {
      Review(target, request, writer);
    } else {
      SendError(writer,
                ApiError(405, "MethodNotAllowed",
                         "the server does not allow this method on the requested resource"));
    }
    return;
  }
  bool watch = watch_path || WatchParam(request);
  if (target.name.empty()) {
    if (method == "GET" && watch) {
      Watch(target, request, writer);
    } else if (method == "GET") {
      List(target, request, writer);
    } else if (method == "POST") {
      Create(target, request, writer);
    } else if (method == "DELETE") {
      DeleteCollection(target, request, writer);
    } else {
      SendError(
          writer,
          ApiError(405, "MethodNotAllowed",
                   fmt::format("the server does not allow this method on the requested resource")));
    }
    return;
  }
  if (watch && method == "GET") {
    // A watch of one object: the collection filtered by name.
    request.query.emplace_back("fieldSelector", "metadata.name=" + target.name);
    ResourceTarget collection = target;
    collection.name.clear();
    Watch(collection, request, writer);
    return;
  }
  if (target.subresource == "scale") {
    if (method == "GET") {
      GetScale(target, request, writer);
    } else if (method == "PUT" || method == "PATCH") {
      UpdateScale(target, request, writer);
    } else {
      SendError(writer,
                ApiError(405, "MethodNotAllowed",
                         "the server does not allow this method on the requested resource"));
    }
    return;
  }
  if (method == "GET") {
    Get(target, request, writer);
  } else if (method == "PUT") {
    Update(target, request, writer);
  } else if (method == "PATCH") {
    Patch(target, request, writer);
  } else if (method == "DELETE" && target.subresource.empty()) {
    Delete(target, request, writer);
  } else {
    SendError(writer, ApiError(405, "MethodNotAllowed",
                               "the server does not allow this method on the requested resource"));
  }
}

}  // namespace bulkhead::controlplane
