// The queue a controller's workers take keys ("namespace/name") from. A key
// waits at most once however often it is added, is never handed to two
// workers at once (added while in work, it comes back once the work is
// done), and a failed key comes back after a delay that doubles with each
// failure in a row (5 ms up to 30 s), so one bad object never spins a
// worker nor delays the others.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_WORK_QUEUE_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_WORK_QUEUE_H_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace bulkhead::controlplane::controllers {

class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;

  void Add(const std::string& key);
  void AddAfter(const std::string& key, Clock::duration delay);
  // After a failure: back after the key's next backoff delay.
  void AddRateLimited(const std::string& key);
  // After a success: the key's failures are forgotten.
  void Forget(const std::string& key);
  // Blocks for the next key; nullopt once shut down.
  std::optional<std::string> Get();
  // The worker is done with `key` (from Get).
  void Done(const std::string& key);
  void ShutDown();

  // Failures in a row of `key` (its backoff step).
  size_t Failures(const std::string& key);
  static Clock::duration Backoff(size_t failures);

 private:
  void AddLocked(const std::string& key);

  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::string> queue_;
  std::set<std::string> dirty_;       // waiting (in queue_, or to re-queue after Done)
  std::set<std::string> processing_;  // handed to a worker
  std::multimap<Clock::time_point, std::string> delayed_;
  std::map<std::string, Clock::time_point> delayed_at_;  // each delayed key's entry
  std::map<std::string, size_t> failures_;
  bool shut_down_ = false;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_WORK_QUEUE_H_
