#include "controlplane/apiserver/api_server.h"
#include "controlplane/apiserver/object_limits.h"

#include <boost/json.hpp>

#include "common/logging.h"
#include "common/strings.h"
#include "controlplane/apiserver/admission/limit_range_admission.h"
#include "controlplane/apiserver/admission/pod_security_admission.h"
#include "controlplane/apiserver/admission/resource_quota_admission.h"
#include "controlplane/apiserver/admission/service_account_admission.h"
#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/api_request.h"
#include "controlplane/apiserver/authorization.h"
#include "controlplane/apiserver/crd.h"
#include "controlplane/apiserver/discovery.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/responses.h"
#include "controlplane/auth/bootstrap_policy.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

// Paths anyone may read, credentials or not: what lets systems outside the
// cluster verify its service account tokens.
constexpr std::string_view kDiscoveryPath = "/.well-known/openid-configuration";
constexpr std::string_view kKeysPath = "/openid/v1/jwks";

std::unique_ptr<ServiceAccountTokens> MakeTokens(const ApiServerOptions& options) {
  std::string pem = options.service_account_key_pem;
  if (pem.empty()) {
    auto made = Es256Key::GeneratePem();
    if (!made.ok()) {
      Logger(Component::kApiserver).error("no service account key: {}", made.status());
      return nullptr;
    }
    pem = *std::move(made);
  }
  auto key = Es256Key::FromPrivatePem(pem);
  if (!key.ok()) {
    Logger(Component::kApiserver).error("no service account key: {}", key.status());
    return nullptr;
  }
  return std::make_unique<ServiceAccountTokens>(*std::move(key), options.service_account_issuer,
                                                options.api_audiences);
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
      tokens_(MakeTokens(options_)),
      authorizer_(std::make_unique<RbacAuthorizer>(objects_)),
      watch_events_(std::make_unique<WatchEventCache>()),
      watch_pump_(std::make_unique<WatchPump>()) {
  authenticator_ = std::make_unique<Authenticator>(
      options_.admin_token, tokens_.get(),
      [this](std::string_view resource, const std::string& ns,
             const std::string& name) -> StatusOr<std::string> {
        ResourceTarget target;
        target.type = registry_.Find("", "v1", std::string(resource));
        target.namespace_name = ns;
        target.name = name;
        if (target.type == nullptr) {
          return std::string();
        }
        BH_ASSIGN_OR_RETURN(auto found, objects_.Get(target));
        if (!found.has_value()) {
          return std::string();
        }
        boost::system::error_code ec;
        json::value object = ParseJson(found->value, ec);
        return ec || !object.is_object() ? std::string() : MetaString(object.as_object(), "uid");
      });
  // Mutating plugins first, then validating ones, as Kubernetes orders them.
  admission_.Add(std::make_unique<LimitRangeAdmission>());
  admission_.Add(std::make_unique<ServiceAccountAdmission>());
  admission_.Add(std::make_unique<PodSecurityAdmission>(options_.pod_security_floor));
  admission_.Add(std::make_unique<ResourceQuotaAdmission>());
  objects_.SetAdmission(&admission_);
  objects_.SetCommitObserver([this](std::string_view key, bool deleted) {
    authorizer_->Committed(key);
    authenticator_->Committed(key, deleted);
  });
}

ApiServer::~ApiServer() = default;

bool ApiServer::Quick(const HttpRequest& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    return false;
  }
  // A watch waits for events; an upgrade (exec, attach, port-forward) for
  // the node.
  if (IsWatchQuery(request.query) || !request.upgrade_headers.empty()) {
    return false;
  }
  const std::string_view path = request.path;
  // pods/NAME/log waits for the node.
  if (path.size() >= 4 && path.substr(path.size() - 4) == "/log") {
    return false;
  }
  return path.find("/watch/") == std::string_view::npos &&
         !(path.size() >= 6 && path.substr(path.size() - 6) == "/watch");
}

bool ApiServer::Authenticate(HttpRequest& request) {
  // A verified certificate that names no one user is refused, never a token.
  auto user = authenticator_->Authenticate(request);
  if (!user.ok()) {
    request.authentication_error = MessageOf(user.status());
    Logger(Component::kApiserver)
        .warn("authentication refused peer={} method={} path={} reason=\"{}\"", request.peer,
              request.method, request.path, request.authentication_error);
    return false;
  }
  request.user = *std::move(user);
  return request.user.has_value();
}

Status ApiServer::Bootstrap() {
  BH_RETURN_IF_ERROR(objects_.Bootstrap());
  return EnsureBootstrapPolicy(objects_);
}

bool ApiServer::Allowed(const HttpRequest& request, const RequestAttributes& attributes,
                        ResponseWriter& writer) {
  Decision decision = authorizer_->Authorize(*request.user, attributes);
  if (decision.allowed) {
    return true;
  }
  Logger(Component::kApiserver)
      .info("forbidden peer={} user={} verb={} resource={} namespace={} path={}", request.peer,
            request.user->name, attributes.verb, attributes.resource, attributes.namespace_name,
            request.path);
  SendError(writer, ForbiddenFor(*request.user, attributes, decision.reason));
  return false;
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
  if (request.authentication_error.empty() &&
      (request.method == "GET" || request.method == "HEAD") &&
      (request.path == kDiscoveryPath || request.path == kKeysPath)) {
    if (tokens_ == nullptr) {
      SendError(writer, ApiError(503, "ServiceUnavailable", "no service account key"));
      return;
    }
    SendJson(writer, 200,
             request.path == kDiscoveryPath ? tokens_->DiscoveryDocument() : tokens_->KeySet());
    return;
  }
  // Decided by Authenticate before the body was read (no body is read for
  // a request that fails it).
  if (!request.authenticated || !request.user.has_value()) {
    SendError(writer, ApiError(401, "Unauthorized",
                               request.authentication_error.empty()
                                   ? std::string("Unauthorized")
                                   : "Unauthorized: " + request.authentication_error));
    return;
  }
  if (!request.impersonation.empty()) {
    auto acting = Impersonate(*request.user, request.impersonation, *authorizer_);
    if (!acting.ok()) {
      Logger(Component::kApiserver)
          .info("impersonation refused peer={} user={}: {}", request.peer, request.user->name,
                MessageOf(acting.status()));
      SendError(writer, acting.status());
      return;
    }
    request.user = *std::move(acting);
  }
  const bool resource_path =
      (parts.size() > 2 && parts[0] == "api") || (parts.size() > 3 && parts[0] == "apis");
  if (!resource_path &&
      !Allowed(request, NonResourceRequestAttributes(request.method, request.path), writer)) {
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
  if (!Allowed(request, ResourceRequestAttributes(*routed, request.method), writer)) {
    return;
  }
  const ResourceTarget& target = routed->target;
  switch (routed->verb) {
    case Verb::kReview:
      Review(target, request, writer);
      return;
    case Verb::kCreateToken:
      CreateToken(target, request, writer);
      return;
    case Verb::kBind:
      Bind(target, request, writer);
      return;
    case Verb::kLog:
      PodLog(target, request, writer);
      return;
    case Verb::kConnect:
      PodConnect(target, request, writer);
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
