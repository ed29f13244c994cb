// Legacy service account token Secrets, made only when asked for: a Secret
// of type kubernetes.io/service-account-token whose annotation
// kubernetes.io/service-account.name names a service account of its
// namespace gets `token` (a JWT for that account bound to the Secret),
// `ca.crt` (the API server's authority) and `namespace`, and the
// account's uid in kubernetes.io/service-account.uid. The token lasts until
// the Secret or the account is deleted (bound to both by uid); it is
// signed to expire after ten years, where Kubernetes' legacy tokens never
// expire. A Secret whose account does not exist yet waits for it; one
// whose uid annotation names another account (deleted and made again) is
// left without a token.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_SERVICE_ACCOUNT_TOKEN_CONTROLLER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_SERVICE_ACCOUNT_TOKEN_CONTROLLER_H_

#include <string>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/auth/service_account_token.h"
#include "controlplane/controllers/controller.h"

namespace bulkhead::controlplane::controllers {

inline const ObjectRef kSecretsRef{"", "v1", "secrets", "", "", ""};
inline constexpr const char* kServiceAccountTokenType = "kubernetes.io/service-account-token";

class ServiceAccountTokenController : public Controller {
 public:
  ServiceAccountTokenController(Client& client, Informer& secrets, Informer& service_accounts,
                                const ServiceAccountTokens& tokens, std::string ca_pem);
  ~ServiceAccountTokenController() override { Stop(); }
  ServiceAccountTokenController(const ServiceAccountTokenController&) = delete;
  ServiceAccountTokenController& operator=(const ServiceAccountTokenController&) = delete;

 protected:
  Status Reconcile(const std::string& key) override;

 private:
  Client& client_;
  Informer& secrets_;
  Informer& service_accounts_;
  const ServiceAccountTokens& tokens_;
  const std::string ca_pem_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_SERVICE_ACCOUNT_TOKEN_CONTROLLER_H_
