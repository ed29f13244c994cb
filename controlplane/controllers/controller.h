// A reconcile loop: workers take keys from a WorkQueue and bring the object
// the key names to what its spec asks, from informer caches. A failed
// reconcile comes back after a growing delay; a key is never reconciled by
// two workers at once; a controller never blocks another (each has its own
// queue and workers).
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_CONTROLLER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_CONTROLLER_H_

#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "controlplane/controllers/work_queue.h"

namespace bulkhead::controlplane::controllers {

class Controller {
 public:
  Controller(std::string name, int workers) : name_(std::move(name)), workers_(workers) {}
  virtual ~Controller() = default;
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  void Start();
  // Waits for the workers; a derived class calls it before its members go.
  void Stop();
  void Enqueue(const std::string& key) { queue_.Add(key); }
  void EnqueueAfter(const std::string& key, WorkQueue::Clock::duration delay) {
    queue_.AddAfter(key, delay);
  }
  [[nodiscard]] const std::string& name() const { return name_; }

 protected:
  // Brings the object `key` names ("namespace/name", or "name") to its
  // wanted state. An error retries the key later.
  virtual Status Reconcile(const std::string& key) = 0;

 private:
  void Work();

  const std::string name_;
  const int workers_;
  WorkQueue queue_;
  std::vector<std::thread> threads_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_CONTROLLER_H_
