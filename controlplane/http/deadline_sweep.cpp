#include "controlplane/http/deadline_sweep.h"

#include <utility>

namespace bulkhead::controlplane {

DeadlineSweep::DeadlineSweep(boost::asio::io_context& loop, std::chrono::milliseconds interval)
    : timer_(loop), interval_(interval) {}

void DeadlineSweep::Add(std::weak_ptr<Subject> subject) {
  subjects_.push_back(std::move(subject));
  Arm();
}

void DeadlineSweep::Arm() {
  // Only while there is something to watch: an idle loop is not woken.
  if (armed_ || subjects_.empty()) {
    return;
  }
  armed_ = true;
  timer_.expires_after(interval_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    armed_ = false;
    if (!ec) {
      Sweep();
    }
  });
}

void DeadlineSweep::Sweep() {
  const Clock::time_point now = Clock::now();
  for (size_t i = 0; i < subjects_.size();) {
    std::shared_ptr<Subject> subject = subjects_[i].lock();
    if (subject == nullptr) {
      // Gone: the last one takes its place (the order does not matter).
      if (i + 1 != subjects_.size()) {
        subjects_[i] = std::move(subjects_.back());
      }
      subjects_.pop_back();
      continue;
    }
    if (subject->deadline() <= now) {
      subject->DeadlinePassed();
    }
    ++i;
  }
  Arm();
}

}  // namespace bulkhead::controlplane
