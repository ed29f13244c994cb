// The API server in process: a temporary SQLite store, an ApiServer on it
// (bootstrapped), and a response writer that records what a handler
// answers, so verbs are tested without the HTTPS server or the binary.
// Requests are authenticated as the cluster admin unless a test says not.
#ifndef BULKHEAD_TESTS_UNIT_CONTROLPLANE_API_HARNESS_H_
#define BULKHEAD_TESTS_UNIT_CONTROLPLANE_API_HARNESS_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controlplane/apiserver/api_server.h"
#include "controlplane/http/http_message.h"
#include "controlplane/store/sqlite_store.h"

namespace bulkhead::controlplane::testing {

// A watch's chunked answer, recorded. Thread-safe: the watch pump writes
// from its own thread (loop_id 0: no IO loop).
class RecordingStream : public ResponseStream {
 public:
  explicit RecordingStream(size_t queue_limit = size_t{4} << 20) : queue_limit_(queue_limit) {}

  bool Write(std::string chunk) override;
  void End() override;
  void OnClosed(std::function<void()> done) override;
  [[nodiscard]] bool closed() const override;
  [[nodiscard]] size_t queued_bytes() const override { return 0; }
  [[nodiscard]] size_t queue_limit() const override { return queue_limit_; }

  // The first `count` lines (one watch event each), waiting up to `timeout`
  // for them; fewer when they do not come.
  std::vector<std::string> WaitForLines(size_t count, std::chrono::milliseconds timeout);
  // Whether the server ended the stream within `timeout`.
  bool WaitForEnd(std::chrono::milliseconds timeout);
  // Ends it as a client that goes away would.
  void Disconnect();

 private:
  void CloseLocked(std::unique_lock<std::mutex>& lock);

  const size_t queue_limit_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::string received_;
  bool closed_ = false;
  std::vector<std::function<void()>> on_closed_;
};

// What a handler answered.
struct Recorded {
  int status = 0;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<RecordingStream> stream;  // set when it started a stream

  // The body as JSON (a test failure, and null, when it is not JSON).
  [[nodiscard]] boost::json::value Json() const;
  // The first value of a header, empty when absent.
  [[nodiscard]] std::string Header(std::string_view name) const;
};

class RecordingWriter : public ResponseWriter {
 public:
  void AddHeader(std::string name, std::string value) override;
  void Send(int status, std::string_view content_type, std::string body) override;
  std::shared_ptr<ResponseStream> StartStream(int status, std::string_view content_type) override;
  Recorded& result() { return result_; }

 private:
  std::vector<std::pair<std::string, std::string>> pending_headers_;
  Recorded result_;
};

struct CallOptions {
  std::string content_type = "application/json";
  std::string accept;
  bool authenticated = true;
  // A bearer token sent instead of the admin's.
  std::string token;
  // A client certificate's identity instead (as the server reads it).
  std::optional<std::string> certificate_user;
  std::vector<std::string> certificate_groups;
  // Impersonate-* headers.
  std::vector<std::pair<std::string, std::string>> impersonation;
};

// As a client certificate with CN `user` and O `groups`.
inline CallOptions AsUser(std::string user, std::vector<std::string> groups = {}) {
  CallOptions options;
  options.certificate_user = std::move(user);
  options.certificate_groups = std::move(groups);
  return options;
}
inline CallOptions WithToken(std::string token) {
  CallOptions options;
  options.token = std::move(token);
  return options;
}

inline CallOptions Anonymous() {
  CallOptions options;
  options.authenticated = false;
  return options;
}
inline CallOptions WithContentType(std::string content_type) {
  CallOptions options;
  options.content_type = std::move(content_type);
  return options;
}

class ApiHarness {
 public:
  explicit ApiHarness(ApiServerOptions options = {}, SqliteStoreOptions store = {});
  ~ApiHarness();
  ApiHarness(const ApiHarness&) = delete;
  ApiHarness& operator=(const ApiHarness&) = delete;

  // `target` as on the wire ("/api/v1/namespaces/default/configmaps?limit=1").
  Recorded Call(std::string_view method, std::string_view target, std::string body = "",
                const CallOptions& options = {});

  // Sets top-level `fields` of the object stored at `key`
  // ("/registry/batch/jobs/default/x") as they are, past the API's checks,
  // as objects stored before a check existed would be.
  void Overwrite(const std::string& key, const boost::json::object& fields);

  SqliteStore& store() { return *store_; }
  ApiServer& api() { return *api_; }

 private:
  std::string dir_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<ApiServer> api_;  // holds Store&: destroyed first
};

// Waits up to `timeout` for `done` to answer true; its last answer.
bool WaitFor(const std::function<bool()>& done,
             std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace bulkhead::controlplane::testing

#endif  // BULKHEAD_TESTS_UNIT_CONTROLPLANE_API_HARNESS_H_
