// The node's CRI client and its private containerd, on the real containerd
// of the machine (Debian's 1.6), with real runc and CNI plugins.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "common/file.h"
#include "fmt/format.h"
#include "node/containerd/containerd_process.h"
#include "node/cri/cri_client.h"
#include "node/images/builtin_images.h"
#include "tests/privileged/containerd_fixture.h"
#include "tests/support/privileged.h"

namespace bulkhead::testing {
namespace {

namespace fs = std::filesystem;
namespace v1 = runtime::v1;

using Clock = std::chrono::steady_clock;

long long MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// True when `ip` (dotted quad) lies in `cidr` ("a.b.c.d/n").
bool InCidr(const std::string& ip, const std::string& cidr) {
  size_t slash = cidr.find('/');
  in_addr addr{};
  in_addr net{};
  if (slash == std::string::npos || ::inet_pton(AF_INET, ip.c_str(), &addr) != 1 ||
      ::inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &net) != 1) {
    return false;
  }
  int bits = std::stoi(cidr.substr(slash + 1));
  uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return (ntohl(addr.s_addr) & mask) == (ntohl(net.s_addr) & mask);
}

// What an instance with sandbox `sandbox_id` (its shim at `shim_socket`)
// may leave on the host, described for a failure message; empty when
// nothing of it remains.
std::string Remains(const node::ContainerdOptions& options, const std::string& sandbox_id,
                    const std::string& shim_socket) {
  std::string remains;
  const std::string socket = options.state_dir + "/containerd/containerd.sock";
  const std::string config = options.state_dir + "/containerd/config.toml";
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    auto cmdline = ReadFile(entry.path().string() + "/cmdline");
    if (!cmdline.ok() || entry.path().filename() == std::to_string(::getpid())) {
      continue;
    }
    std::string args = *cmdline;
    for (char& c : args) {
      c = c == '\0' ? ' ' : c;
    }
    if (args.find(socket) != std::string::npos || args.find(config) != std::string::npos ||
        args.find(sandbox_id) != std::string::npos) {
      remains += fmt::format("process {}: {}\n", entry.path().filename().string(), args);
    }
  }
  if (fs::exists("/sys/class/net/" + options.bridge)) {
    remains += fmt::format("bridge {}\n", options.bridge);
  }
  if (fs::exists(options.state_dir)) {
    remains += fmt::format("state dir {}\n", options.state_dir);
  }
  for (const auto& entry : fs::directory_iterator("/var/lib/cni/results", error)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(options.network_name + "-") ||
        name.find(sandbox_id) != std::string::npos) {
      remains += fmt::format("CNI result {}\n", entry.path().string());
    }
  }
  if (!shim_socket.empty() && fs::exists(shim_socket)) {
    remains += fmt::format("shim socket {}\n", shim_socket);
  }
  for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", error)) {
    fs::path cgroup = hierarchy.path() / TestCgroupParent().substr(1) / sandbox_id;
    if (fs::exists(cgroup)) {
      remains += fmt::format("cgroup {}\n", cgroup.string());
    }
  }
  auto mounts = ReadFile("/proc/self/mountinfo");
  if (mounts.ok() && mounts->find(" " + options.state_dir) != std::string::npos) {
    remains += "mounts under the state dir\n";
  }
  return remains;
}

// The shim socket that containerd recorded for a sandbox's task.
std::string ShimSocketOf(const node::ContainerdOptions& options, const std::string& sandbox_id) {
  auto address =
      ReadFile(fmt::format("{}/containerd/state/io.containerd.runtime.v2.task/k8s.io/{}/address",
                           options.state_dir, sandbox_id));
  if (!address.ok()) {
    return "";
  }
  std::string text = *address;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text.starts_with("unix://") ? text.substr(7) : text;
}

// A containerd of its own for a teardown test, with the builtin images and
// one running pod sandbox.
struct PodInstance {
  node::ContainerdOptions options;
  std::unique_ptr<node::Containerd> containerd;
  std::unique_ptr<node::cri::CriClient> client;
  std::string sandbox_id;
  std::string shim_socket;
};

StatusOr<PodInstance> StartPodInstance(const std::string& tag, int second_octet) {
  PodInstance instance;
  BH_ASSIGN_OR_RETURN(instance.options, TestContainerdOptions(tag, second_octet));
  auto start = Clock::now();
  BH_ASSIGN_OR_RETURN(instance.containerd, node::Containerd::StartOrFind(instance.options));
  std::printf("containerd %s started in %lld ms\n", tag.c_str(), MsSince(start));
  BH_ASSIGN_OR_RETURN(instance.client,
                      node::cri::CriClient::Connect(instance.containerd->socket()));
  SharedContainerd images;
  images.options = instance.options;
  images.containerd = std::move(instance.containerd);
  Status imported = ImportBuiltinImages(images);
  instance.containerd = std::move(images.containerd);
  BH_RETURN_IF_ERROR(imported);
  BH_ASSIGN_OR_RETURN(instance.sandbox_id,
                      instance.client->RunPodSandbox(TestSandboxConfig(
                          "teardown-" + tag, instance.options.state_dir + "/pods/" + tag)));
  instance.shim_socket = ShimSocketOf(instance.options, instance.sandbox_id);
  return instance;
}

TEST_F(ContainerdTest, VersionNamesContainerdAndRuntimeApiV1) {
  auto version = client_->Version();
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(version->runtime_name(), "containerd");
  EXPECT_EQ(version->runtime_api_version(), "v1");
  EXPECT_FALSE(version->runtime_version().empty());
  std::printf("containerd %s, CRI %s, started in %lld ms\n", version->runtime_version().c_str(),
              version->runtime_api_version().c_str(),
              static_cast<long long>(shared_->start_time.count()));
}

TEST_F(ContainerdTest, WritesItsConfigUnderTheStateDir) {
  auto config = ReadFile(shared_->options.state_dir + "/containerd/config.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_NE(config->find(fmt::format("address = \"{}\"", shared_->containerd->socket())),
            std::string::npos);
  EXPECT_NE(config->find("netns_mounts_under_state_dir = true"), std::string::npos);
  EXPECT_NE(config->find("SystemdCgroup = false"), std::string::npos);
  EXPECT_EQ(config->find("/var/lib/containerd"), std::string::npos);
  EXPECT_EQ(config->find("/run/containerd"), std::string::npos);
  auto has_resource = node::HasSysResourceCapability();
  ASSERT_TRUE(has_resource.ok()) << has_resource.status();
  EXPECT_NE(config->find(fmt::format("restrict_oom_score_adj = {}", !*has_resource)),
            std::string::npos);
  auto conflist = ReadFile(fmt::format("{}/cni/net.d/10-{}.conflist", shared_->options.state_dir,
                                       shared_->options.network_name));
  ASSERT_TRUE(conflist.ok()) << conflist.status();
  EXPECT_NE(conflist->find(shared_->options.pod_cidr), std::string::npos);
  EXPECT_NE(conflist->find(shared_->options.bridge), std::string::npos);
}

TEST_F(ContainerdTest, SecondStartOrFindFindsTheRunningOne) {
  auto start = Clock::now();
  auto found = node::Containerd::StartOrFind(shared_->options);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_FALSE((*found)->started());
  EXPECT_EQ((*found)->socket(), shared_->containerd->socket());
  std::printf("found the running containerd in %lld ms\n", MsSince(start));
  // Stopping (and destroying) a found one leaves the process alone.
  EXPECT_TRUE((*found)->Stop().ok());
  found->reset();
  EXPECT_TRUE(client_->Version().ok());
}

TEST_F(ContainerdTest, ImageStatusOfAnAbsentImageIsNullopt) {
  auto image = client_->ImageStatus("bulkhead.local/absent:0");
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_FALSE(image->has_value());
}

TEST_F(ContainerdTest, CreateContainerInAMissingSandboxIsAnErrorNamingTheCall) {
  v1::ContainerConfig config;
  config.mutable_metadata()->set_name("c");
  config.mutable_image()->set_image(std::string(node::images::kBusyboxImage));
  auto id = client_->CreateContainer("0123456789abcdef-no-such-sandbox", config,
                                     TestSandboxConfig("missing", "/tmp"));
  ASSERT_FALSE(id.ok());
  EXPECT_TRUE(std::string(id.status().message()).starts_with("CRI CreateContainer: "))
      << id.status();
  EXPECT_EQ(id.status().code(), absl::StatusCode::kNotFound) << id.status();
}

TEST_F(ContainerdTest, PodSandboxStatusOfAMissingSandboxIsNotFound) {
  auto status = client_->PodSandboxStatus("no-such-sandbox");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), absl::StatusCode::kNotFound) << status.status();
  EXPECT_TRUE(std::string(status.status().message()).starts_with("CRI PodSandboxStatus: "));
}

// A pod sandbox with the builtin pause image: an IP of the pod CIDR from
// CNI, and Stop and Remove take it away.
TEST_F(ContainerdTest, RunPodSandboxGetsAPodIpInTheCidr) {
  auto start = Clock::now();
  Status imported = ImportBuiltinImages(*shared_);
  ASSERT_TRUE(imported.ok()) << imported;
  std::printf("builtin images imported in %lld ms\n", MsSince(start));
  auto pause = client_->ImageStatus(std::string(node::images::kPauseImage));
  ASSERT_TRUE(pause.ok()) << pause.status();
  ASSERT_TRUE(pause->has_value());

  const std::string log_dir = shared_->options.state_dir + "/pods/default_p1";
  v1::PodSandboxConfig config = TestSandboxConfig("p1", log_dir);
  ASSERT_TRUE(fs::create_directories(log_dir));
  start = Clock::now();
  auto id = client_->RunPodSandbox(config);
  ASSERT_TRUE(id.ok()) << id.status();
  std::printf("RunPodSandbox in %lld ms\n", MsSince(start));

  auto status = client_->PodSandboxStatus(*id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state(), v1::SANDBOX_READY);
  EXPECT_EQ(status->metadata().name(), "p1");
  EXPECT_EQ(status->labels().at("bulkhead.io/test"), "p1");
  EXPECT_TRUE(InCidr(status->network().ip(), shared_->options.pod_cidr))
      << status->network().ip() << " not in " << shared_->options.pod_cidr;
  EXPECT_TRUE(fs::exists("/sys/class/net/" + shared_->options.bridge));

  v1::PodSandboxFilter filter;
  (*filter.mutable_label_selector())["bulkhead.io/test"] = "p1";
  auto listed = client_->ListPodSandbox(filter);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1U);
  EXPECT_EQ(listed->front().id(), *id);

  start = Clock::now();
  Status stopped = client_->StopPodSandbox(*id);
  ASSERT_TRUE(stopped.ok()) << stopped;
  std::printf("StopPodSandbox in %lld ms\n", MsSince(start));
  status = client_->PodSandboxStatus(*id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state(), v1::SANDBOX_NOTREADY);

  Status removed = client_->RemovePodSandbox(*id);
  ASSERT_TRUE(removed.ok()) << removed;
  status = client_->PodSandboxStatus(*id);
  EXPECT_EQ(status.status().code(), absl::StatusCode::kNotFound) << status.status();
  // Idempotent, as the CRI asks.
  Status again = client_->StopPodSandbox(*id);
  EXPECT_TRUE(again.ok()) << again;
  again = client_->RemovePodSandbox(*id);
  EXPECT_TRUE(again.ok()) << again;
}

// A socket path nobody serves: absent, and a bound socket nobody accepts on.
TEST(CriClient, ConnectToASocketNobodyServesIsUnavailable) {
  std::string dir = fmt::format("/tmp/bulkhead-cri-nobody-{}", ::getpid());
  ASSERT_TRUE(fs::create_directories(dir));
  const std::string absent = dir + "/absent.sock";
  const std::string bound = dir + "/bound.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", bound.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);

  for (const std::string& socket : {absent, "unix://" + bound}) {
    SCOPED_TRACE(socket);
    auto start = Clock::now();
    auto client = node::cri::CriClient::Connect(socket, std::chrono::seconds(3));
    ASSERT_FALSE(client.ok());
    EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable) << client.status();
    std::string message(client.status().message());
    EXPECT_TRUE(message.starts_with("CRI Version: ")) << message;
    std::string path = socket.starts_with("unix://") ? socket.substr(7) : socket;
    EXPECT_NE(message.find(fmt::format("is containerd running? (socket {})", path)),
              std::string::npos)
        << message;
    EXPECT_LT(MsSince(start), 3000) << "an unserved socket fails at once, not at the deadline";
  }
  ::close(fd);
  fs::remove_all(dir);
}

// Teardown with containerd running: the sandbox goes through CRI (CNI DEL,
// shim exit), then containerd, the bridge and the state dir; nothing remains.
// Before that, containerd restarts under the running pod, as on a real node:
// the shim and the sandbox outlive it and the next containerd sees the sandbox.
TEST(ContainerdTeardown, WithContainerdRunningLeavesNothingBehind) {
  BULKHEAD_REQUIRE_PRIVILEGES();
  auto instance = StartPodInstance("u", 247);
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_TRUE(fs::exists("/sys/class/net/" + instance->options.bridge));
  EXPECT_FALSE(instance->shim_socket.empty());

  instance->client.reset();
  Status stopped = instance->containerd->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped;
  auto start = Clock::now();
  auto restarted = node::Containerd::StartOrFind(instance->options);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_TRUE((*restarted)->started());
  std::printf("containerd restarted under a running pod in %lld ms\n", MsSince(start));
  auto client = node::cri::CriClient::Connect((*restarted)->socket());
  ASSERT_TRUE(client.ok()) << client.status();
  auto status = (*client)->PodSandboxStatus(instance->sandbox_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state(), v1::SANDBOX_READY);
  EXPECT_TRUE(InCidr(status->network().ip(), instance->options.pod_cidr));

  client->reset();
  (*restarted)->Detach();
  start = Clock::now();
  Status teardown = node::Teardown(instance->options);
  EXPECT_TRUE(teardown.ok()) << teardown;
  std::printf("Teardown (containerd running, one pod) in %lld ms\n", MsSince(start));
  EXPECT_EQ(Remains(instance->options, instance->sandbox_id, instance->shim_socket), "");
}

// Teardown after containerd died under a running pod: the shim is killed,
// runc deletes the container, and the CNI results, shim socket, bridge,
// network namespace mount and state dir go all the same.
TEST(ContainerdTeardown, AfterContainerdDiedLeavesNothingBehind) {
  BULKHEAD_REQUIRE_PRIVILEGES();
  auto instance = StartPodInstance("v", 248);
  ASSERT_TRUE(instance.ok()) << instance.status();
  instance->client.reset();
  Status stopped = instance->containerd->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped;
  auto start = Clock::now();
  Status teardown = node::Teardown(instance->options);
  EXPECT_TRUE(teardown.ok()) << teardown;
  std::printf("Teardown (containerd gone, one pod) in %lld ms\n", MsSince(start));
  EXPECT_EQ(Remains(instance->options, instance->sandbox_id, instance->shim_socket), "");
  // Again, on nothing: uninstall may run twice.
  teardown = node::Teardown(instance->options);
  EXPECT_TRUE(teardown.ok()) << teardown;
}

}  // namespace
}  // namespace bulkhead::testing
