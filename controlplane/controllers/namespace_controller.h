// Namespace lifecycle: a namespace being deleted (Terminating, with the
// "kubernetes" finalizer in spec.finalizers) has every namespaced object in
// it deleted, of every served type, custom resources too; while some
// remain (their own finalizers not done) its status says what is left, and
// it is looked at again. Once it is empty the finalizer is removed, and
// the registry deletes the namespace. Creating in it meanwhile is refused
// by the registry (403).
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_NAMESPACE_CONTROLLER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_NAMESPACE_CONTROLLER_H_

#include <string>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/controller.h"

namespace bulkhead::controlplane::controllers {

inline const ObjectRef kNamespacesRef{"", "v1", "namespaces", "", "", ""};

class NamespaceController : public Controller {
 public:
  NamespaceController(Client& client, Informer& namespaces);
  ~NamespaceController() override { Stop(); }
  NamespaceController(const NamespaceController&) = delete;
  NamespaceController& operator=(const NamespaceController&) = delete;

 protected:
  Status Reconcile(const std::string& key) override;

 private:
  Client& client_;
  Informer& namespaces_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_NAMESPACE_CONTROLLER_H_
