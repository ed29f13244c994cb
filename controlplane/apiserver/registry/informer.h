// A cache of one collection that follows the store: it lists, then watches
// from the list's revision, and tells its handlers what was added, changed
// or deleted, in revision order, on its own thread. When the watch cannot
// go on (history compacted: 410, or the informer fell behind) it lists
// again and tells the difference, so no change is ever missed, only
// folded. Nothing polls: between changes the thread waits in the watch.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_INFORMER_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_INFORMER_H_

#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/apiserver/registry/client.h"

namespace bulkhead::controlplane {

using ObjectPtr = std::shared_ptr<const boost::json::object>;

struct InformerEvent {
  enum class Type { kAdded, kModified, kDeleted };
  Type type = Type::kAdded;
  ObjectPtr object;  // for a delete, the last state known
  int64_t revision = 0;
};

class Informer {
 public:
  Informer(Client& client, ObjectRef collection);
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Before Start. Handlers run on the informer's thread, one event at a
  // time; they must not block for long (a controller queues the key).
  void AddHandler(std::function<void(const InformerEvent&)> handler);
  void Start();
  void Stop();
  // True once the first list is in the cache and told.
  bool WaitForSync(std::chrono::milliseconds timeout);

  [[nodiscard]] ObjectPtr Get(const std::string& namespace_name, const std::string& name) const;
  // Every cached object (of one namespace when given).
  [[nodiscard]] std::vector<ObjectPtr> List(const std::string& namespace_name = "") const;
  // Lists made so far (1 after the first; more after a 410 or falling behind).
  [[nodiscard]] int lists() const { return lists_.load(); }

 private:
  void Run();
  // Lists and tells the difference against the cache; the list's revision.
  StatusOr<int64_t> Relist();
  void Apply(const Event& event);
  void Tell(const InformerEvent& event);

  Client& client_;
  const ObjectRef collection_;
  std::vector<std::function<void(const InformerEvent&)>> handlers_;

  mutable std::mutex mu_;
  std::condition_variable synced_changed_;
  bool synced_ = false;
  // By store key ("/registry/<group>/<resource>/<ns>/<name>").
  std::map<std::string, std::pair<int64_t, ObjectPtr>> cache_;

  // What the store's notify and Stop wake the informer's thread with
  // (shared: the notify may outlive the informer's stream for a moment).
  struct Wake {
    std::mutex mu;
    std::condition_variable changed;
    bool pending = false;
  };
  std::shared_ptr<Wake> wake_ = std::make_shared<Wake>();
  std::atomic<bool> stopping_{false};
  std::atomic<int> lists_{0};
  std::thread thread_;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_INFORMER_H_
