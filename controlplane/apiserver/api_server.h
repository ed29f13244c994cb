// The Kubernetes-compatible API server of one virtual cluster: routes a
// request to health, version, discovery, OpenAPI or a resource verb, after
// authentication. Resources are stored generically as JSON under
// /registry/<group>/<resource>/[<namespace>/]<name> in the Store.
//
// Authentication (auth/authenticator.h): a client certificate signed by the
// cluster's client authority, the admin bearer token, or a service account
// token the cluster issued. Health endpoints (/healthz, /livez, /readyz) and
// the token issuer's discovery document and keys answer without
// credentials; everything else answers 401 to anonymous requests.
// Impersonation headers are judged next, then RBAC (auth/rbac_authorizer.h)
// on every request: a denial is a 403 worded as Kubernetes words it.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_API_SERVER_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_API_SERVER_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "controlplane/apiserver/admission/admission.h"
#include "controlplane/apiserver/admission/pod_security.h"
#include "controlplane/apiserver/registry/kinds/service.h"
#include "controlplane/apiserver/registry/object_registry.h"
#include "controlplane/apiserver/resource_registry.h"
#include "controlplane/apiserver/resource_target.h"
#include "controlplane/apiserver/watch_event_cache.h"
#include "controlplane/apiserver/watch_pump.h"
#include "controlplane/auth/authenticator.h"
#include "controlplane/auth/rbac_authorizer.h"
#include "controlplane/auth/service_account_token.h"
#include "controlplane/http/http_message.h"
#include "controlplane/http/upstream_proxy.h"
#include "controlplane/store/store.h"

namespace bulkhead::controlplane {

struct ApiServerOptions {
  std::string admin_token;
  // The ES256 key (PEM) that signs service account tokens; a new one per
  // process when empty (tests).
  std::string service_account_key_pem;
  std::string service_account_issuer = std::string(kDefaultIssuer);
  // What a token must be for to be accepted here (the issuer when empty).
  std::vector<std::string> api_audiences;
  // The Pod Security level no namespace's enforce label goes below.
  PodSecurityLevel pod_security_floor = PodSecurityLevel::kPrivileged;
  // Bookmarks are sent this often to watchers that ask for them.
  std::chrono::seconds bookmark_interval{60};
  // A watch without timeoutSeconds ends after this.
  std::chrono::seconds default_watch_timeout{1800};
  // A longer timeoutSeconds is cut to this.
  std::chrono::seconds max_watch_timeout{86400};
  // The largest object stored, after any patch or update (object_limits.h).
  size_t max_object_bytes = size_t{3} << 20;
  // Where Services' cluster IPs and node ports come from.
  ServiceNetwork service_network = ServiceNetwork::Default();
};

class ApiServer {
 public:
  ApiServer(Store& store, ApiServerOptions options);

  // Creates the default namespaces on a new store and loads the CRDs.
  Status Bootstrap();

  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Runs on an IO thread once the headers are in, before any body is read:
  // sets request.user (or request.authentication_error). False: the request
  // carries no credentials that hold (its body is never read).
  bool Authenticate(HttpRequest& request);
  // Whether a request (by its headers) never waits for the store's writer:
  // reads other than watches. The server answers these on its IO threads.
  static bool Quick(const HttpRequest& request);
  void Handle(HttpRequest& request, ResponseWriter& writer);

  ResourceRegistry& registry() { return registry_; }
  RbacAuthorizer& authorizer() { return *authorizer_; }
  [[nodiscard]] const ServiceAccountTokens& tokens() const { return *tokens_; }
  ObjectRegistry& objects() { return objects_; }
  void set_ready(bool ready) { ready_ = ready; }

 private:
  void HandleResource(HttpRequest& request, ResponseWriter& writer, const std::string& group,
                      const std::string& version, std::vector<std::string> rest);

  // Verbs (resource_verbs.cpp).
  void Get(const ResourceTarget& target, const HttpRequest& request, ResponseWriter& writer);
  void List(const ResourceTarget& target, const HttpRequest& request, ResponseWriter& writer);
  void Create(const ResourceTarget& target, const HttpRequest& request, ResponseWriter& writer);
  void Update(const ResourceTarget& target, const HttpRequest& request, ResponseWriter& writer);
  void Patch(const ResourceTarget& target, const HttpRequest& request, ResponseWriter& writer);
  void Delete(const ResourceTarget& target, const HttpRequest& request, ResponseWriter& writer);
  void DeleteCollection(const ResourceTarget& target, const HttpRequest& request,
                        ResponseWriter& writer);
  // Access reviews (review_verbs.cpp): who the caller is and what it may do.
  void Review(const ResourceTarget& target, const HttpRequest& request, ResponseWriter& writer);
  // TokenRequest (token_request.cpp): serviceaccounts/<name>/token.
  // pods/NAME/binding (binding.cpp).
  void Bind(const ResourceTarget& target, const HttpRequest& request, ResponseWriter& writer);
  void CreateToken(const ResourceTarget& target, const HttpRequest& request,
                   ResponseWriter& writer);
  // pods/NAME/log (pod_log.cpp): proxied to the node that runs the pod.
  void PodLog(const ResourceTarget& target, const HttpRequest& request, ResponseWriter& writer);
  // pods/NAME/exec, attach, portforward (pod_connect.cpp): the upgraded
  // connection tunnelled to the node that runs the pod.
  void PodConnect(const ResourceTarget& target, const HttpRequest& request, ResponseWriter& writer);
  UpstreamProxy& node_proxy();
  // The RBAC decision for `attributes`; false after answering 403.
  bool Allowed(const HttpRequest& request, const RequestAttributes& attributes,
               ResponseWriter& writer);
  void GetScale(const ResourceTarget& target, const HttpRequest& request, ResponseWriter& writer);
  void UpdateScale(const ResourceTarget& target, const HttpRequest& request,
                   ResponseWriter& writer);
  // watch.cpp
  class WatchSession;
  void Watch(const ResourceTarget& target, const HttpRequest& request, ResponseWriter& writer);

  ApiServerOptions options_;
  ResourceRegistry registry_;
  // Every read and write of stored objects (the only user of the Store).
  ObjectRegistry objects_;
  std::unique_ptr<ServiceAccountTokens> tokens_;
  std::unique_ptr<Authenticator> authenticator_;
  std::unique_ptr<RbacAuthorizer> authorizer_;
  AdmissionChain admission_;
  std::atomic<bool> ready_{false};
  // Events rendered once for all the watchers of a type; the pump's
  // sessions use it, so it is destroyed after the pump.
  std::unique_ptr<WatchEventCache> watch_events_;
  std::unique_ptr<WatchPump> watch_pump_;
  // Relays pods/log to nodes; made on first use.
  std::mutex node_proxy_mu_;
  std::unique_ptr<UpstreamProxy> node_proxy_;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_API_SERVER_H_
