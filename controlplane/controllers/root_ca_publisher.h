// Every active namespace has the ConfigMap "kube-root-ca.crt" with the
// authority that signs the API server's certificate (key ca.crt), so a pod
// can verify the server it talks to with its service account token. Put
// back when deleted or changed.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_ROOT_CA_PUBLISHER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_ROOT_CA_PUBLISHER_H_

#include <string>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/controller.h"

namespace bulkhead::controlplane::controllers {

inline const ObjectRef kConfigMapsRef{"", "v1", "configmaps", "", "", ""};
inline constexpr const char* kRootCaConfigMap = "kube-root-ca.crt";

class RootCaPublisher : public Controller {
 public:
  RootCaPublisher(Client& client, Informer& namespaces, Informer& config_maps, std::string ca_pem);
  ~RootCaPublisher() override { Stop(); }
  RootCaPublisher(const RootCaPublisher&) = delete;
  RootCaPublisher& operator=(const RootCaPublisher&) = delete;

 protected:
  Status Reconcile(const std::string& key) override;

 private:
  Client& client_;
  Informer& namespaces_;
  Informer& config_maps_;
  const std::string ca_pem_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_ROOT_CA_PUBLISHER_H_
