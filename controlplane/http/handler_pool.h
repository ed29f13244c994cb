// A fixed set of threads that run request handlers, which may block (they
// call the store), away from the IO threads. Work waits in a FIFO queue; the
// server bounds it, as each connection has at most one request in flight.
#ifndef BULKHEAD_CONTROLPLANE_HTTP_HANDLER_POOL_H_
#define BULKHEAD_CONTROLPLANE_HTTP_HANDLER_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace bulkhead::controlplane {

class HandlerPool {
 public:
  explicit HandlerPool(unsigned threads);
  // Waits for the running work; queued work is dropped.
  ~HandlerPool();
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  void Post(std::function<void()> work);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_HTTP_HANDLER_POOL_H_
