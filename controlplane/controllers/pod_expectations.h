// What a controller that makes pods by generateName expects its pod cache
// to show next: the pods it just created (not in the cache yet) and deleted
// (still in it). Until the cache shows them, the controller does not count
// its pods again, so a cache that lags never makes it create or delete
// twice. The wait for a key ends after `timeout` (a create that the cache
// never shows, such as a pod deleted at once by someone else).
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_POD_EXPECTATIONS_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_POD_EXPECTATIONS_H_

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "controlplane/apiserver/registry/informer.h"

namespace bulkhead::controlplane::controllers {

class PodExpectations {
 public:
  static constexpr std::chrono::seconds kDefaultTimeout{30};

  // Made before `pods` starts: it follows its events, so a pod created and
  // deleted before a pass looks settles the wait too.
  explicit PodExpectations(Informer& pods, std::chrono::seconds timeout = kDefaultTimeout);

  // What one pass of `key` did: pod names created and deleted (in `ns`).
  struct Pass {
    std::set<std::string> created;
    std::set<std::string> deleted;
  };
  // Adds a pass's pods to what `key` waits for (and starts its wait again).
  void Expect(const std::string& key, Pass pass);
  // Whether the cache shows everything `key` waits for (or the wait ended).
  bool Settled(const std::string& key, const std::string& ns);
  void Forget(const std::string& key);

 private:
  struct Waiting {
    Pass pods;
    std::chrono::steady_clock::time_point since;
  };

  void Observe(const InformerEvent& event);

  Informer& pods_;
  const std::chrono::seconds timeout_;
  std::mutex mu_;
  std::map<std::string, Waiting> waiting_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_POD_EXPECTATIONS_H_
