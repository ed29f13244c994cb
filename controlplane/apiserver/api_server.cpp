#include "controlplane/apiserver/api_server.h"
#include "controlplane/apiserver/object_limits.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>

#include "common/logging.h"
#include "common/strings.h"
#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/api_request.h"
#include "controlplane/apiserver/crd.h"
#include "controlplane/apiserver/discovery.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/responses.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

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

}  // namespace

ApiServer::ApiServer(Store& store, ApiServerOptions options)
    : options_(std::move(options)),
      objects_(store, registry_, options_.max_object_bytes, options_.service_network),
      watch_events_(std::make_unique<WatchEventCache>()),
      watch_pump_(std::make_unique<WatchPump>()) {}

ApiServer::~ApiServer() = default;

bool ApiServer::Quick(const HttpRequest& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    return false;
  }
  if (IsWatchQuery(request.query)) {
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

Status ApiServer::Bootstrap() { return objects_.Bootstrap(); }

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
  StatusOr<ApiRequest> routed = RouteResourceRequest(request.method, group, version,
                                                     std::move(rest), request.query, registry_);
  if (!routed.ok()) {
    SendError(writer, routed.status());
    return;
  }
  const ResourceTarget& target = routed->target;
  switch (routed->verb) {
    case Verb::kReview:
      Review(target, request, writer);
      return;
    case Verb::kWatch:
      if (!routed->watch_name.empty()) {
        // A watch of one object: the collection filtered by name.
        request.query.emplace_back("fieldSelector", "metadata.name=" + routed->watch_name);
      }
      Watch(target, request, writer);
      return;
    case Verb::kList:
      List(target, request, writer);
      return;
    case Verb::kCreate:
      Create(target, request, writer);
      return;
    case Verb::kDeleteCollection:
      DeleteCollection(target, request, writer);
      return;
    case Verb::kGetScale:
      GetScale(target, request, writer);
      return;
    case Verb::kUpdateScale:
      UpdateScale(target, request, writer);
      return;
    case Verb::kGet:
      Get(target, request, writer);
      return;
    case Verb::kUpdate:
      Update(target, request, writer);
      return;
    case Verb::kPatch:
      Patch(target, request, writer);
      return;
    case Verb::kDelete:
      Delete(target, request, writer);
      return;
  }
}

}  // namespace bulkhead::controlplane
