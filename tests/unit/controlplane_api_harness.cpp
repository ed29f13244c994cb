#include "tests/unit/controlplane_api_harness.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "controlplane/http/request_target.h"

namespace bulkhead::controlplane::testing {

bool RecordingStream::Write(std::string chunk) {
  std::unique_lock lock(mu_);
  if (closed_) {
    return false;
  }
  received_ += chunk;
  changed_.notify_all();
  return true;
}

void RecordingStream::End() {
  std::unique_lock lock(mu_);
  CloseLocked(lock);
}

void RecordingStream::Disconnect() {
  std::unique_lock lock(mu_);
  CloseLocked(lock);
}

void RecordingStream::CloseLocked(std::unique_lock<std::mutex>& lock) {
  if (closed_) {
    return;
  }
  closed_ = true;
  std::vector<std::function<void()>> done = std::move(on_closed_);
  changed_.notify_all();
  lock.unlock();
  for (auto& callback : done) {
    callback();
  }
}

void RecordingStream::OnClosed(std::function<void()> done) {
  std::unique_lock lock(mu_);
  if (closed_) {
    lock.unlock();
    done();
    return;
  }
  on_closed_.push_back(std::move(done));
}

bool RecordingStream::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

std::vector<std::string> RecordingStream::WaitForLines(size_t count,
                                                       std::chrono::milliseconds timeout) {
  auto lines_of = [](const std::string& text) {
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t end = text.find('\n'); end != std::string::npos; end = text.find('\n', start)) {
      lines.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    return lines;
  };
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return closed_ || lines_of(received_).size() >= count; });
  std::vector<std::string> lines = lines_of(received_);
  if (lines.size() > count) {
    lines.resize(count);
  }
  return lines;
}

bool RecordingStream::WaitForEnd(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return closed_; });
}

boost::json::value Recorded::Json() const {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(body, ec);
  EXPECT_FALSE(ec) << "not JSON: " << body.substr(0, 300);
  return ec ? boost::json::value() : value;
}

std::string Recorded::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) {
      return value;
    }
  }
  return "";
}

void RecordingWriter::AddHeader(std::string name, std::string value) {
  pending_headers_.emplace_back(std::move(name), std::move(value));
}

void RecordingWriter::Send(int status, std::string_view content_type, std::string body) {
  EXPECT_EQ(result_.status, 0) << "a handler answered twice";
  result_.status = status;
  result_.content_type = content_type;
  result_.body = std::move(body);
  result_.headers = std::move(pending_headers_);
}

std::shared_ptr<ResponseStream> RecordingWriter::StartStream(int status,
                                                             std::string_view content_type) {
  EXPECT_EQ(result_.status, 0) << "a handler answered twice";
  result_.status = status;
  result_.content_type = content_type;
  result_.headers = std::move(pending_headers_);
  result_.stream = std::make_shared<RecordingStream>();
  return result_.stream;
}

namespace {
constexpr char kToken[] = "harness-admin-token";
}  // namespace

ApiHarness::ApiHarness(ApiServerOptions options, SqliteStoreOptions store) {
  char pattern[] = "/tmp/bulkhead-api-harness-XXXXXX";
  const char* made = mkdtemp(pattern);
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return;
  }
  dir_ = made;
  auto opened = SqliteStore::Open(dir_ + "/state.db", store);
  if (!opened.ok()) {
    ADD_FAILURE() << opened.status();
    return;
  }
  store_ = std::move(*opened);
  options.admin_token = kToken;
  api_ = std::make_unique<ApiServer>(*store_, options);
  Status bootstrapped = api_->Bootstrap();
  EXPECT_TRUE(bootstrapped.ok()) << bootstrapped;
  api_->set_ready(true);
}

ApiHarness::~ApiHarness() {
  api_.reset();
  store_.reset();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

Recorded ApiHarness::Call(std::string_view method, std::string_view target, std::string body,
                          const CallOptions& options) {
  RequestTarget parsed = ParseRequestTarget(target);
  HttpRequest request;
  request.method = method;
  request.path = std::move(parsed.path);
  request.query = std::move(parsed.query);
  request.accept = options.accept;
  request.content_type = body.empty() ? "" : options.content_type;
  request.authorization = !options.authenticated  ? ""
                          : options.token.empty() ? std::string("Bearer ") + kToken
                                                  : "Bearer " + options.token;
  if (options.certificate_user.has_value()) {
    request.authorization.clear();
    request.certificate_user = options.certificate_user;
    request.certificate_groups = options.certificate_groups;
  }
  request.impersonation = options.impersonation;
  request.peer = "harness";
  request.user_agent = "api-harness";
  request.body = std::move(body);
  request.authenticated = api_->Authenticate(request);
  RecordingWriter writer;
  api_->Handle(request, writer);
  EXPECT_NE(writer.result().status, 0) << method << " " << target << ": no answer";
  return std::move(writer.result());
}

void ApiHarness::Overwrite(const std::string& key, const boost::json::object& fields) {
  auto current = store_->Get(key);
  ASSERT_TRUE(current.ok() && current->has_value()) << key;
  boost::json::object object = boost::json::parse((*current)->value).as_object();
  for (const auto& field : fields) {
    object[field.key()] = field.value();
  }
  auto written = store_->Update(key, 0, [&](int64_t revision, int64_t) -> StatusOr<std::string> {
    boost::json::object next = object;
    next["metadata"].as_object()["resourceVersion"] = std::to_string(revision);
    return boost::json::serialize(next);
  });
  ASSERT_TRUE(written.ok()) << written.status();
}

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

}  // namespace bulkhead::controlplane::testing
