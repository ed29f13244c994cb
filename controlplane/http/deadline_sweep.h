// The deadlines of one IO loop's connections, checked by one coarse timer.
//
// A connection's deadline moves on every request (handshake, idle, header,
// body, write): arming and cancelling a timer for each of those costs a
// timer-queue update and often a timerfd_settime call per request. Here a
// connection only stores the time its current phase must end by, and one
// timer per loop looks at them every `interval`, so a deadline is met at most
// one interval late and moving it costs a clock read.
#ifndef BULKHEAD_CONTROLPLANE_HTTP_DEADLINE_SWEEP_H_
#define BULKHEAD_CONTROLPLANE_HTTP_DEADLINE_SWEEP_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <vector>

namespace bulkhead::controlplane {

class DeadlineSweep {
 public:
  using Clock = std::chrono::steady_clock;

  // What the sweep watches: a connection, on the sweep's loop.
  class Subject {
   public:
    virtual ~Subject() = default;
    // When the current phase must end; Clock::time_point::max() for none.
    [[nodiscard]] virtual Clock::time_point deadline() const = 0;
    // Called on the loop's thread once the deadline has passed.
    virtual void DeadlinePassed() = 0;
  };

  DeadlineSweep(boost::asio::io_context& loop, std::chrono::milliseconds interval);
  DeadlineSweep(const DeadlineSweep&) = delete;
  DeadlineSweep& operator=(const DeadlineSweep&) = delete;

  // On the loop's thread. A subject leaves the sweep when it is destroyed.
  void Add(std::weak_ptr<Subject> subject);
  // On the loop's thread: subjects not yet seen gone.
  [[nodiscard]] size_t size() const { return subjects_.size(); }

 private:
  void Arm();
  void Sweep();

  boost::asio::steady_timer timer_;
  std::chrono::milliseconds interval_;
  std::vector<std::weak_ptr<Subject>> subjects_;
  bool armed_ = false;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_HTTP_DEADLINE_SWEEP_H_
