#include "tests/support/test_node.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <thread>

#include "fmt/format.h"

namespace bulkhead::testing {

const char* PodToolPath() { return BULKHEAD_TEST_POD_PATH; }

Status Ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/sbin/ip"};
  if (::access("/sbin/ip", X_OK) != 0) {
    argv[0] = "/usr/sbin/ip";
  }
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult result = RunCommand(argv);
  if (result.exit_code != 0) {
    std::string line;
    for (const auto& a : argv) {
      line += a + " ";
    }
    return absl::InternalError(fmt::format("{}failed: {}", line, result.err));
  }
  return absl::OkStatus();
}

PodProcess::~PodProcess() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  ::close(stdout_fd_);
}

void PodProcess::Drain(int timeout_ms) {
  pollfd pfd{stdout_fd_, POLLIN, 0};
  if (::poll(&pfd, 1, timeout_ms) <= 0) {
    return;
  }
  std::array<char, 4096> chunk{};
  ssize_t n = ::read(stdout_fd_, chunk.data(), chunk.size());
  if (n > 0) {
    buffer_.append(chunk.data(), static_cast<size_t>(n));
  }
}

bool PodProcess::WaitForText(const std::string& text, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (buffer_.find(text) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    Drain(50);
  }
  return buffer_.find(text) != std::string::npos;
}

bool PodProcess::WaitForLine(const std::string& line, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (buffer_.find(line + "\n") != std::string::npos) {
      return true;
    }
    Drain(50);
  }
  return buffer_.find(line + "\n") != std::string::npos;
}

std::string PodProcess::Output() {
  for (int i = 0; i < 20; ++i) {
    size_t before = buffer_.size();
    Drain(10);
    if (buffer_.size() == before) {
      break;
    }
  }
  return buffer_;
}

std::unique_ptr<PodProcess> StartProcess(const std::vector<std::string>& argv) {
  std::vector<std::string> copy = argv;
  std::vector<char*> cargs;
  cargs.reserve(copy.size() + 1);
  for (auto& a : copy) {
    cargs.push_back(a.data());
  }
  cargs.push_back(nullptr);
  std::array<int, 2> out{};
  if (::pipe2(out.data(), O_CLOEXEC) != 0) {
    return nullptr;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    // A test that crashes takes its agents and pods with it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(out[1], STDERR_FILENO);
    ::execv(cargs[0], cargs.data());
    ::_exit(127);
  }
  ::close(out[1]);
  if (pid < 0) {
    ::close(out[0]);
    return nullptr;
  }
  return std::make_unique<PodProcess>(pid, out[0]);
}

StatusOr<std::unique_ptr<TestNode>> TestNode::Create(const std::string& tag) {
  std::unique_ptr<TestNode> node(new TestNode());
  node->tag_ = fmt::format("{}{}", tag, ::getpid());
  BH_ASSIGN_OR_RETURN(CgroupDir root, CgroupDir::Create(fmt::format(
                                          "/sys/fs/cgroup/unified/bulkhead-test-{}", node->tag_)));
  node->root_ = std::make_unique<CgroupDir>(std::move(root));
  node->pods_cgroup_ = node->root_->path() + "/pods";
  BH_ASSIGN_OR_RETURN(CgroupDir pods, CgroupDir::Create(node->pods_cgroup_));
  (void)pods.Release();  // removed with the root

  BH_ASSIGN_OR_RETURN(NetworkNamespace netns,
                      NetworkNamespace::Create(fmt::format("bh-{}-node", node->tag_)));
  node->node_netns_ = std::make_unique<NetworkNamespace>(std::move(netns));
  const std::string& ns = node->node_netns_->name();
  BH_RETURN_IF_ERROR(Ip({"-n", ns, "link", "set", "lo", "up"}));
  BH_RETURN_IF_ERROR(Ip({"-n", ns, "link", "add", "br0", "type", "bridge"}));
  BH_RETURN_IF_ERROR(Ip({"-n", ns, "addr", "add", fmt::format("{}/16", kNodeV4), "dev", "br0"}));
  BH_RETURN_IF_ERROR(
      Ip({"-n", ns, "addr", "add", fmt::format("{}/64", kNodeV6), "dev", "br0", "nodad"}));
  BH_RETURN_IF_ERROR(Ip({"-n", ns, "link", "set", "br0", "up"}));
  return node;
}

TestNode::~TestNode() {
  // Processes first (the cgroup owner kills what is in pod cgroups), then
  // namespaces (their veths go with them), then the cgroup tree.
  pods_.clear();
  node_netns_.reset();
  root_.reset();
}

StatusOr<TestPod*> TestNode::AddPod(const std::string& tenant, const std::string& name, int index) {
  auto pod = std::make_unique<TestPod>();
  pod->tenant = tenant;
  pod->name = name;
  pod->ipv4 = fmt::format("198.18.0.{}", 10 + index);
  pod->ipv6 = fmt::format("fd00:b0::{:x}", 0x10 + index);
  pod->cgroup = fmt::format("{}/{}", pods_cgroup_, name);
  BH_ASSIGN_OR_RETURN(CgroupDir cgroup, CgroupDir::Create(pod->cgroup));
  pod->cgroup_dir = std::make_unique<CgroupDir>(std::move(cgroup));
  BH_ASSIGN_OR_RETURN(NetworkNamespace netns,
                      NetworkNamespace::Create(fmt::format("bh-{}-p{}", tag_, index)));
  pod->netns = std::make_unique<NetworkNamespace>(std::move(netns));
  const std::string& node = node_netns_->name();
  const std::string& ns = pod->netns->name();
  std::string host_veth = fmt::format("vp{}", index);
  BH_RETURN_IF_ERROR(Ip(
      {"-n", node, "link", "add", host_veth, "type", "veth", "peer", "name", "eth0", "netns", ns}));
  BH_RETURN_IF_ERROR(Ip({"-n", node, "link", "set", host_veth, "master", "br0", "up"}));
  BH_RETURN_IF_ERROR(Ip({"-n", ns, "link", "set", "lo", "up"}));
  BH_RETURN_IF_ERROR(Ip({"-n", ns, "addr", "add", pod->ipv4 + "/16", "dev", "eth0"}));
  BH_RETURN_IF_ERROR(Ip({"-n", ns, "addr", "add", pod->ipv6 + "/64", "dev", "eth0", "nodad"}));
  BH_RETURN_IF_ERROR(Ip({"-n", ns, "link", "set", "eth0", "up"}));
  BH_RETURN_IF_ERROR(Ip({"-n", ns, "route", "add", "default", "via", kNodeV4}));
  BH_RETURN_IF_ERROR(Ip({"-n", ns, "-6", "route", "add", "default", "via", kNodeV6}));
  pods_.push_back(std::move(pod));
  return pods_.back().get();
}

StatusOr<TestPod*> TestNode::AddHostNetworkPod(const std::string& tenant, const std::string& name) {
  auto pod = std::make_unique<TestPod>();
  pod->tenant = tenant;
  pod->name = name;
  pod->cgroup = fmt::format("{}/{}", pods_cgroup_, name);
  BH_ASSIGN_OR_RETURN(CgroupDir cgroup, CgroupDir::Create(pod->cgroup));
  pod->cgroup_dir = std::make_unique<CgroupDir>(std::move(cgroup));
  pods_.push_back(std::move(pod));
  return pods_.back().get();
}

pid_t TestNode::Spawn(const TestPod* pod, const std::vector<std::string>& args, int* stdout_fd) {
  std::vector<std::string> argv = {PodToolPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargs;
  cargs.reserve(argv.size() + 1);
  for (auto& a : argv) {
    cargs.push_back(a.data());
  }
  cargs.push_back(nullptr);
  std::string procs = pod != nullptr ? pod->cgroup + "/cgroup.procs" : "";
  int netns_fd = pod != nullptr && pod->netns ? pod->netns->fd() : node_netns_->fd();
  std::array<int, 2> out{};
  if (::pipe2(out.data(), O_CLOEXEC) != 0) {
    return -1;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    // A test that crashes takes its agents and pods with it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(out[1], STDERR_FILENO);
    if (::setns(netns_fd, CLONE_NEWNET) != 0) {
      ::_exit(120);
    }
    if (!procs.empty()) {
      int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::write(fd, "0", 1) != 1) {
        ::_exit(121);
      }
      ::close(fd);
    }
    ::execv(cargs[0], cargs.data());
    ::_exit(127);
  }
  ::close(out[1]);
  *stdout_fd = out[0];
  return pid;
}

CommandResult TestNode::Run(const TestPod* pod, const std::vector<std::string>& args,
                            int timeout_seconds) {
  CommandResult result;
  int fd = -1;
  pid_t pid = Spawn(pod, args, &fd);
  if (pid < 0) {
    result.err = "spawn failed";
    return result;
  }
  PodProcess process(pid, fd);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      result.err = "timed out";
      result.out = process.Output();
      return result;  // PodProcess kills it
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  process.MarkReaped();
  result.out = process.Output();
  result.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  return result;
}

std::unique_ptr<PodProcess> TestNode::Start(const TestPod* pod,
                                            const std::vector<std::string>& args) {
  int fd = -1;
  pid_t pid = Spawn(pod, args, &fd);
  return pid < 0 ? nullptr : std::make_unique<PodProcess>(pid, fd);
}

}  // namespace bulkhead::testing
