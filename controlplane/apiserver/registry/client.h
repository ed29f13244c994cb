// An in-process API client over the ObjectRegistry: what controllers (and
// later the syncer) use to read and write objects with the same rules as
// HTTP clients get (admission, defaults, preconditions, finalizers), never
// looping back over HTTPS. Errors are the API errors HTTP answers with
// (ToHttpError(status).code gives 404, 409, 422, ...).
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_CLIENT_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_CLIENT_H_

#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "controlplane/apiserver/registry/object_registry.h"

namespace bulkhead::controlplane {

// An object or a collection, as a path names it: group ("" for core),
// version, resource (plural), namespace ("" for cluster-scoped types or
// every namespace), name ("" for the collection), subresource ("status").
struct ObjectRef {
  std::string group;
  std::string version;
  std::string resource;
  std::string namespace_name;
  std::string name;
  std::string subresource;
};

class Client {
 public:
  explicit Client(ObjectRegistry& objects) : objects_(objects) {}

  // The served type `ref` names, or a 404 API error.
  [[nodiscard]] StatusOr<ResourceTarget> Target(const ObjectRef& ref) const;

  StatusOr<boost::json::object> Get(const ObjectRef& ref);
  // Every object of the collection, read at one revision (`revision`, if
  // given, gets it).
  StatusOr<std::vector<boost::json::object>> List(const ObjectRef& collection,
                                                  int64_t* revision = nullptr);
  StatusOr<boost::json::object> Create(const ObjectRef& collection, boost::json::object object);
  // A PUT of `object` (its resourceVersion, if set, must be current).
  StatusOr<boost::json::object> Update(const ObjectRef& ref, boost::json::object object);
  // Reads the object, lets `change` edit it, writes it as a PUT would;
  // retried on conflicts. `change` may run more than once.
  StatusOr<boost::json::object> Mutate(const ObjectRef& ref,
                                       const std::function<Status(boost::json::object&)>& change);
  Status Delete(const ObjectRef& ref, const DeleteOptions& options = {});
  // Events of the collection after `after_revision` (see Store::Watch).
  StatusOr<std::unique_ptr<WatchStream>> Watch(const ObjectRef& collection, int64_t after_revision);

  ObjectRegistry& objects() { return objects_; }

 private:
  ObjectRegistry& objects_;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_CLIENT_H_
