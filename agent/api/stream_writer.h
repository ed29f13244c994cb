// A server-streaming reactor fed from other threads.
//
// Records arrive on the flow reader's or a request's thread, often under a
// hub's lock, where calling into gRPC is unsafe (a write can complete
// inline and run this stream's reactions on the same thread). So Push only
// queues and posts the stream to the Kicker, whose thread starts the write
// with no lock held; each completed write starts the next one (one posted
// kick per stream at a time, so the kicker's queue is bounded by the number
// of streams). A stream whose client falls more than kMaxQueued messages
// behind is ended with RESOURCE_EXHAUSTED rather than grow without bound.
#ifndef BULKHEAD_AGENT_API_STREAM_WRITER_H_
#define BULKHEAD_AGENT_API_STREAM_WRITER_H_

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

namespace bulkhead::agent::api {

// One thread that runs posted work with no caller's lock held.
class Kicker {
 public:
  Kicker() : thread_([this] { Loop(); }) {}
  Kicker(const Kicker&) = delete;
  Kicker& operator=(const Kicker&) = delete;
  ~Kicker() {
    {
      std::scoped_lock lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  void Post(std::function<void()> work) {
    {
      std::scoped_lock lock(mutex_);
      work_.push_back(std::move(work));
    }
    wake_.notify_one();
  }

 private:
  void Loop() {
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return stopping_ || !work_.empty(); });
      if (work_.empty()) {
        return;
      }
      auto work = std::move(work_.front());
      work_.pop_front();
      lock.unlock();
      work();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> work_;
  bool stopping_ = false;
  std::thread thread_;
};

template <typename Msg>
class StreamWriter : public grpc::ServerWriteReactor<Msg> {
 public:
  static constexpr size_t kMaxQueued = 4096;

  // `on_done` runs once when the stream is over (unsubscribe there).
  explicit StreamWriter(Kicker& kicker) : kicker_(kicker), box_(std::make_shared<Box>()) {
    box_->writer = this;
  }

  void SetOnDone(std::function<void()> on_done) { on_done_ = std::move(on_done); }

  // A function that queues a message from any thread (safe after the
  // stream is over: it then does nothing).
  std::function<void(Msg)> Sender() {
    std::shared_ptr<Box> box = box_;
    Kicker* kicker = &kicker_;
    return [box, kicker](Msg msg) {
      {
        std::scoped_lock lock(box->mutex);
        if (box->closed) {
          return;
        }
        if (box->queue.size() >= kMaxQueued) {
          box->CloseLocked(grpc::Status(
              grpc::StatusCode::RESOURCE_EXHAUSTED,
              "the client read too slowly: more than 4096 messages were waiting; reconnect"));
        } else {
          box->queue.push_back(std::move(msg));
        }
        // One pending kick per stream, however many messages arrive.
        if (box->kick_pending) {
          return;
        }
        box->kick_pending = true;
      }
      kicker->Post([box] {
        {
          std::scoped_lock lock(box->mutex);
          box->kick_pending = false;
        }
        Pump(box);
      });
    };
  }

  // A function that ends the stream from any thread, dropping what is
  // queued (safe after the stream is over: it then does nothing).
  std::function<void(const grpc::Status&)> Closer() {
    std::shared_ptr<Box> box = box_;
    Kicker* kicker = &kicker_;
    return [box, kicker](const grpc::Status& status) {
      {
        std::scoped_lock lock(box->mutex);
        box->CloseLocked(status);
      }
      kicker->Post([box] { Pump(box); });
    };
  }

  // Queues a message from the handler's own thread.
  void PushNow(Msg msg) {
    std::scoped_lock lock(box_->mutex);
    box_->queue.push_back(std::move(msg));
  }

  // Ends the stream after what is queued (call from the handler or a
  // reaction, with no lock held).
  void CloseNow(const grpc::Status& status) {
    {
      std::scoped_lock lock(box_->mutex);
      box_->CloseLocked(status);
    }
    Pump(box_);
  }
  // Starts writing what PushNow queued.
  void Start() { Pump(box_); }

  void OnWriteDone(bool ok) override {
    {
      std::scoped_lock lock(box_->mutex);
      box_->writing = false;
      if (!box_->queue.empty()) {
        box_->queue.pop_front();
      }
      if (!ok) {
        box_->CloseLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      }
    }
    Pump(box_);
  }

  void OnCancel() override {
    {
      std::scoped_lock lock(box_->mutex);
      box_->CloseLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the stream was cancelled"));
    }
    Pump(box_);
  }

  void OnDone() override {
    {
      std::scoped_lock lock(box_->mutex);
      box_->writer = nullptr;
      box_->closed = true;
    }
    if (on_done_) {
      on_done_();
    }
    delete this;
  }

 private:
  struct Box {
    std::mutex mutex;
    std::deque<Msg> queue;  // front is being written while `writing`
    bool writing = false;
    bool closed = false;
    bool finished = false;
    bool kick_pending = false;  // a Pump is posted to the kicker
    grpc::Status status;
    StreamWriter* writer = nullptr;

    void CloseLocked(const grpc::Status& s) {
      if (closed) {
        return;
      }
      closed = true;
      status = s;
      if (!s.ok()) {
        // Keep only the message being written.
        while (queue.size() > (writing ? 1U : 0U)) {
          queue.pop_back();
        }
      }
    }
  };

  // Starts the next write, or Finish when closed and drained. Never
  // called with a lock held; the call into gRPC is made after unlocking.
  static void Pump(const std::shared_ptr<Box>& box) {
    StreamWriter* writer = nullptr;
    const Msg* next = nullptr;
    grpc::Status status;
    {
      std::scoped_lock lock(box->mutex);
      if (box->writer == nullptr || box->writing || box->finished) {
        return;
      }
      writer = box->writer;
      if (!box->queue.empty()) {
        box->writing = true;
        next = &box->queue.front();
      } else if (box->closed) {
        box->finished = true;
        status = box->status;
      } else {
        return;
      }
    }
    if (next != nullptr) {
      writer->StartWrite(next);
    } else {
      writer->Finish(status);
    }
  }

  Kicker& kicker_;
  std::shared_ptr<Box> box_;
  std::function<void()> on_done_;
};

}  // namespace bulkhead::agent::api

#endif  // BULKHEAD_AGENT_API_STREAM_WRITER_H_
