#include "tests/privileged/containerd_fixture.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

#include "fmt/format.h"
#include "node/images/image_import.h"
#include "tests/support/privileged.h"

namespace bulkhead::testing {
namespace {

// Starts the shared containerd on first use; tears it down when the test
// binary ends, after every test, passed or failed.
class ContainerdEnvironment : public ::testing::Environment {
 public:
  StatusOr<SharedContainerd*> Get() {
    if (!start_status_.has_value()) {
      start_status_ = Start();
    }
    if (!start_status_->ok()) {
      return *start_status_;
    }
    return &shared_;
  }

  void TearDown() override {
    if (start_status_.has_value()) {
      TearDownShared();
    }
    // The pods' cgroups went with their containers; their parent is the test's.
    std::error_code error;
    for (const auto& hierarchy : std::filesystem::directory_iterator("/sys/fs/cgroup", error)) {
      std::string parent = hierarchy.path().string() + TestCgroupParent();
      if (::rmdir(parent.c_str()) != 0 && errno != ENOENT) {
        ADD_FAILURE() << "rmdir " << parent << ": " << std::strerror(errno);
      }
    }
  }

  void TearDownShared() {
    shared_.client.reset();
    // Teardown stops the process, after removing through CRI the sandboxes
    // that failed tests left.
    if (shared_.containerd != nullptr) {
      shared_.containerd->Detach();
      shared_.containerd.reset();
    }
    if (!shared_.options.state_dir.empty()) {
      Status teardown = node::Teardown(shared_.options);
      EXPECT_TRUE(teardown.ok()) << "tear down the shared containerd: " << teardown;
    }
  }

 private:
  Status Start() {
    BH_ASSIGN_OR_RETURN(shared_.options, TestContainerdOptions("t", 246));
    auto begin = std::chrono::steady_clock::now();
    BH_ASSIGN_OR_RETURN(shared_.containerd, node::Containerd::StartOrFind(shared_.options));
    shared_.start_time = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - begin);
    BH_ASSIGN_OR_RETURN(shared_.client,
                        node::cri::CriClient::Connect(shared_.containerd->socket()));
    std::printf("shared containerd: state_dir=%s bridge=%s cidr=%s start_ms=%lld\n",
                shared_.options.state_dir.c_str(), shared_.options.bridge.c_str(),
                shared_.options.pod_cidr.c_str(),
                static_cast<long long>(shared_.start_time.count()));
    return absl::OkStatus();
  }

  SharedContainerd shared_;
  std::optional<Status> start_status_;
};

// gtest owns and deletes registered environments.
ContainerdEnvironment* const g_environment = dynamic_cast<ContainerdEnvironment*>(
    ::testing::AddGlobalTestEnvironment(new ContainerdEnvironment));

}  // namespace

StatusOr<node::ContainerdOptions> TestContainerdOptions(const std::string& tag, int second_octet) {
  std::string pattern = fmt::format("/tmp/bulkhead-containerd-{}{}-XXXXXX", tag, ::getpid());
  if (::mkdtemp(pattern.data()) == nullptr) {
    return ErrnoError(errno, fmt::format("mkdtemp {}", pattern));
  }
  node::ContainerdOptions options;
  options.state_dir = pattern;
  // Interface names have at most 15 characters: "bh" + tag + a pid of up to 7 digits.
  options.bridge = fmt::format("bh{}{}", tag, ::getpid());
  options.network_name = options.bridge;
  options.pod_cidr = fmt::format("10.{}.{}.0/24", second_octet, ::getpid() % 250);
  return options;
}

StatusOr<SharedContainerd*> GetSharedContainerd() { return g_environment->Get(); }

Status ImportBuiltinImages(SharedContainerd& shared) {
  if (shared.images_imported) {
    return absl::OkStatus();
  }
  BH_RETURN_IF_ERROR(node::images::ImportBuiltinImages(
      shared.containerd->socket(), shared.options.state_dir + "/images", BULKHEAD_PAUSE_PATH));
  shared.images_imported = true;
  return absl::OkStatus();
}

std::string TestCgroupParent() { return fmt::format("/bulkhead-cri-test-{}", ::getpid()); }

runtime::v1::PodSandboxConfig TestSandboxConfig(const std::string& name,
                                                const std::string& log_dir) {
  runtime::v1::PodSandboxConfig config;
  auto* metadata = config.mutable_metadata();
  metadata->set_name(name);
  metadata->set_namespace_("default");
  metadata->set_uid(fmt::format("{}-uid-{}", name, ::getpid()));
  metadata->set_attempt(0);
  config.set_hostname(name);
  config.set_log_directory(log_dir);
  (*config.mutable_labels())["bulkhead.io/test"] = name;
  config.mutable_linux()->set_cgroup_parent(TestCgroupParent());
  auto* security = config.mutable_linux()->mutable_security_context();
  security->mutable_namespace_options()->set_network(runtime::v1::POD);
  security->mutable_namespace_options()->set_pid(runtime::v1::CONTAINER);
  security->mutable_seccomp()->set_profile_type(runtime::v1::SecurityProfile::RuntimeDefault);
  return config;
}

void ContainerdTest::SetUp() {
  BULKHEAD_REQUIRE_PRIVILEGES();
  auto shared = GetSharedContainerd();
  ASSERT_TRUE(shared.ok()) << shared.status();
  shared_ = *shared;
  client_ = shared_->client.get();
}

}  // namespace bulkhead::testing
