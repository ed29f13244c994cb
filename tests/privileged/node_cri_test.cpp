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

// A busybox container through its whole life: the fields of ContainerConfig
// reach runc (command, env, working dir, a read-only host mount, resources,
// security context), its log, ExecSync, the streaming URLs, Stop with a
// grace period and the exit status, Remove.
TEST_F(ContainerdTest, ContainerLifecycle) {
  Status imported = ImportBuiltinImages(*shared_);
  ASSERT_TRUE(imported.ok()) << imported;
  auto images = client_->ListImages();
  ASSERT_TRUE(images.ok()) << images.status();
  bool listed_busybox = false;
  for (const auto& image : *images) {
    for (const auto& tag : image.repo_tags()) {
      listed_busybox = listed_busybox || tag == node::images::kBusyboxImage;
    }
  }
  EXPECT_TRUE(listed_busybox);

  const std::string log_dir = shared_->options.state_dir + "/pods/default_life";
  const std::string host_dir = shared_->options.state_dir + "/hostdata";
  ASSERT_TRUE(fs::create_directories(log_dir));
  ASSERT_TRUE(fs::create_directories(host_dir));
  ASSERT_TRUE(WriteFileAtomically(host_dir + "/greeting", "from the host\n", 0644).ok());
  v1::PodSandboxConfig sandbox_config = TestSandboxConfig("life", log_dir);
  auto sandbox = client_->RunPodSandbox(sandbox_config);
  ASSERT_TRUE(sandbox.ok()) << sandbox.status();

  v1::ContainerConfig config;
  config.mutable_metadata()->set_name("main");
  config.mutable_image()->set_image(std::string(node::images::kBusyboxImage));
  config.add_command("sh");
  config.add_args("-c");
  config.add_args(
      "echo started $GREETING in $(pwd); trap 'exit 3' TERM; while :; do sleep 1; done");
  config.set_working_dir("/tmp");
  auto* env = config.add_envs();
  env->set_key("GREETING");
  env->set_value("hello");
  auto* mount = config.add_mounts();
  mount->set_container_path("/data");
  mount->set_host_path(host_dir);
  mount->set_readonly(true);
  (*config.mutable_labels())["bulkhead.io/container"] = "main";
  config.set_log_path("main/0.log");
  auto* resources = config.mutable_linux()->mutable_resources();
  resources->set_cpu_period(100000);
  resources->set_cpu_quota(50000);
  resources->set_cpu_shares(512);
  resources->set_memory_limit_in_bytes(64 << 20);
  resources->set_oom_score_adj(-100);  // clamped to 0 without CAP_SYS_RESOURCE
  auto* security = config.mutable_linux()->mutable_security_context();
  security->mutable_run_as_user()->set_value(0);
  security->set_no_new_privs(true);
  security->mutable_capabilities()->add_drop_capabilities("NET_RAW");
  security->mutable_namespace_options()->set_pid(v1::CONTAINER);
  security->mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);

  auto start = Clock::now();
  auto id = client_->CreateContainer(*sandbox, config, sandbox_config);
  ASSERT_TRUE(id.ok()) << id.status();
  long long create_ms = MsSince(start);
  start = Clock::now();
  Status started = client_->StartContainer(*id);
  ASSERT_TRUE(started.ok()) << started;
  std::printf("CreateContainer in %lld ms, StartContainer in %lld ms\n", create_ms, MsSince(start));

  auto status = client_->ContainerStatus(*id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state(), v1::CONTAINER_RUNNING);
  EXPECT_GT(status->started_at(), 0);
  EXPECT_EQ(status->metadata().name(), "main");
  EXPECT_EQ(status->labels().at("bulkhead.io/container"), "main");
  EXPECT_EQ(status->log_path(), log_dir + "/main/0.log");
  ASSERT_EQ(status->mounts_size(), 1);
  EXPECT_EQ(status->mounts(0).container_path(), "/data");
  EXPECT_TRUE(status->mounts(0).readonly());

  v1::ContainerFilter filter;
  filter.set_pod_sandbox_id(*sandbox);
  auto containers = client_->ListContainers(filter);
  ASSERT_TRUE(containers.ok()) << containers.status();
  ASSERT_EQ(containers->size(), 1U);
  EXPECT_EQ(containers->front().id(), *id);

  auto exec = client_->ExecSync(*id, {"cat", "/data/greeting", "/proc/self/oom_score_adj"},
                                std::chrono::seconds(10));
  ASSERT_TRUE(exec.ok()) << exec.status();
  EXPECT_EQ(exec->exit_code(), 0) << exec->stderr();
  EXPECT_EQ(exec->stdout(), "from the host\n0\n");
  exec = client_->ExecSync(*id, {"sh", "-c", "touch /data/x"}, std::chrono::seconds(10));
  ASSERT_TRUE(exec.ok()) << exec.status();
  EXPECT_NE(exec->exit_code(), 0) << "the mount is read-only";
  exec = client_->ExecSync(*id, {"cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"},
                           std::chrono::seconds(10));
  ASSERT_TRUE(exec.ok()) << exec.status();
  EXPECT_EQ(exec->stdout(), "50000\n") << exec->stderr();

  v1::ExecRequest exec_request;
  exec_request.set_container_id(*id);
  exec_request.add_cmd("sh");
  exec_request.set_stdout(true);
  auto url = client_->Exec(exec_request);
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_TRUE(url->starts_with("http://127.0.0.1:")) << *url;
  url = client_->PortForward(*sandbox, {80});
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_TRUE(url->starts_with("http://127.0.0.1:")) << *url;

  // The trap makes SIGTERM an exit with code 3, well within the grace period.
  start = Clock::now();
  Status stopped = client_->StopContainer(*id, 10);
  ASSERT_TRUE(stopped.ok()) << stopped;
  std::printf("StopContainer (SIGTERM honoured) in %lld ms\n", MsSince(start));
  status = client_->ContainerStatus(*id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(status->exit_code(), 3);
  EXPECT_GT(status->finished_at(), 0);
  auto log = ReadFile(log_dir + "/main/0.log");
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_NE(log->find("stdout F started hello in /tmp"), std::string::npos) << *log;

  Status removed = client_->RemoveContainer(*id);
  ASSERT_TRUE(removed.ok()) << removed;
  EXPECT_EQ(client_->ContainerStatus(*id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(client_->RemoveContainer(*id).ok());
  EXPECT_TRUE(client_->StopPodSandbox(*sandbox).ok());
  EXPECT_TRUE(client_->RemovePodSandbox(*sandbox).ok());
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
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
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
