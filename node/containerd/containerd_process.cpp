#include "node/containerd/containerd_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/file.h"
#include "common/logging.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "node/cri/cri_client.h"

namespace bulkhead::node {
namespace {

namespace fs = std::filesystem;

constexpr int kCapSysResource = 24;  // linux/capability.h
constexpr std::chrono::seconds kStopTimeout{10};
constexpr std::chrono::milliseconds kPollInterval{50};
constexpr std::string_view kCniResultsDir = "/var/lib/cni/results";
constexpr std::string_view kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

spdlog::logger& Log() { return Logger(Component::kNode); }

// A TOML basic string.
std::string Toml(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
  return out;
}

Status MakeDirs(const std::string& path, fs::perms perms = fs::perms::owner_all) {
  std::error_code error;
  fs::create_directories(path, error);
  if (error) {
    return ErrnoError(error.value(), fmt::format("create directory {}", path));
  }
  fs::permissions(path, perms, error);
  if (error) {
    return ErrnoError(error.value(), fmt::format("chmod {}", path));
  }
  return absl::OkStatus();
}

// The last `lines` lines of a log file, for an error message.
std::string LogTail(const std::string& path, size_t lines = 20) {
  auto text = ReadFile(path);
  if (!text.ok()) {
    return fmt::format("(no log: {})", text.status().message());
  }
  std::string_view view = TrimSpace(*text);
  size_t begin = view.size();
  for (size_t seen = 0; begin > 0 && seen < lines; --begin) {
    if (view[begin - 1] == '\n' && ++seen == lines) {
      break;
    }
  }
  return std::string(view.substr(begin));
}

// Why containerd did not load its CRI plugin, from its log.
std::string CriLoadError(const std::string& log) {
  auto text = ReadFile(log);
  if (text.ok()) {
    for (std::string_view line : SplitNonEmpty(*text, "\n")) {
      if (line.find("failed to load plugin io.containerd.grpc.v1.cri") != std::string_view::npos) {
        return std::string(line);
      }
    }
  }
  return "no reason in the log";
}

// The environment of a child: ours, with a PATH that finds runc and the shim.
std::vector<std::string> ChildEnvironment() {
  std::vector<std::string> env;
  bool has_path = false;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    has_path = has_path || text.starts_with("PATH=");
    env.emplace_back(text);
  }
  if (!has_path) {
    env.push_back(fmt::format("PATH={}", kDefaultPath));
  }
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

// Starts `argv` in its own session with stdin from /dev/null and stdout and
// stderr appended to `output` (or /dev/null). posix_spawn: this process has
// gRPC threads, and a fork would copy their locks.
StatusOr<pid_t> Spawn(std::vector<std::string> argv, const std::string& output) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO,
                                   output.empty() ? "/dev/null" : output.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0640);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> env = ChildEnvironment();
  std::vector<char*> c_argv = CStrings(argv);
  std::vector<char*> c_env = CStrings(env);
  pid_t pid = -1;
  int err = posix_spawnp(&pid, c_argv[0], &actions, &attr, c_argv.data(), c_env.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    return ErrnoError(err, fmt::format("start {}", argv[0]));
  }
  return pid;
}

// Runs a short helper program (runc, ip) to its end; its exit code.
StatusOr<int> RunToEnd(const std::vector<std::string>& argv) {
  BH_ASSIGN_OR_RETURN(pid_t pid, Spawn(argv, ""));
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) {
      return ErrnoError(errno, fmt::format("wait for {}", argv[0]));
    }
  }
  return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

struct Process {
  pid_t pid = 0;
  std::vector<std::string> argv;
};

// Every process with a readable command line (kernel threads have none).
std::vector<Process> ListProcesses() {
  std::vector<Process> processes;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() ||
        !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    auto cmdline = ReadFile(entry.path().string() + "/cmdline");
    if (!cmdline.ok() || cmdline->empty()) {
      continue;
    }
    Process process;
    process.pid = static_cast<pid_t>(std::stol(name));
    size_t start = 0;
    while (start < cmdline->size()) {
      size_t end = cmdline->find('\0', start);
      if (end == std::string::npos) {
        end = cmdline->size();
      }
      process.argv.push_back(cmdline->substr(start, end - start));
      start = end + 1;
    }
    processes.push_back(std::move(process));
  }
  return processes;
}

bool HasArg(const Process& process, std::string_view arg) {
  return std::find(process.argv.begin(), process.argv.end(), arg) != process.argv.end();
}

// containerd processes started with this config file.
std::vector<pid_t> ContainerdPids(const ContainerdPaths& paths) {
  std::vector<pid_t> pids;
  for (const auto& process : ListProcesses()) {
    if (HasArg(process, paths.config) && !process.argv.empty() &&
        fs::path(process.argv[0]).filename() == "containerd") {
      pids.push_back(process.pid);
    }
  }
  return pids;
}

// Shims (and anything else) whose command line names this instance's socket.
std::vector<pid_t> ShimPids(const ContainerdPaths& paths) {
  std::vector<pid_t> pids;
  for (const auto& process : ListProcesses()) {
    if (process.pid != ::getpid() &&
        (HasArg(process, paths.socket) || HasArg(process, "unix://" + paths.socket))) {
      pids.push_back(process.pid);
    }
  }
  return pids;
}

// True once `pid` has exited: reaped when it is our child, else gone from
// /proc or a zombie there.
bool Exited(pid_t pid) {
  int wstatus = 0;
  pid_t reaped = ::waitpid(pid, &wstatus, WNOHANG);
  if (reaped == pid) {
    return true;
  }
  if (reaped == 0) {
    return false;  // our child, still running
  }
  auto stat = ReadFile(fmt::format("/proc/{}/stat", pid));
  if (!stat.ok()) {
    return true;
  }
  size_t paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] == 'Z';
}

bool WaitExited(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!Exited(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  return true;
}

// SIGTERM, up to `timeout`, SIGKILL; an error only when it survives SIGKILL.
Status Terminate(pid_t pid, std::chrono::milliseconds timeout, std::string_view what) {
  if (::kill(pid, SIGTERM) < 0 && errno != ESRCH) {
    return ErrnoError(errno, fmt::format("SIGTERM {} pid={}", what, pid));
  }
  if (WaitExited(pid, timeout)) {
    return absl::OkStatus();
  }
  Log().warn("{} pid={} ignored SIGTERM for {} ms, sending SIGKILL", what, pid, timeout.count());
  if (::kill(pid, SIGKILL) < 0 && errno != ESRCH) {
    return ErrnoError(errno, fmt::format("SIGKILL {} pid={}", what, pid));
  }
  if (!WaitExited(pid, std::chrono::seconds(5))) {
    return absl::DeadlineExceededError(fmt::format("{} pid={} survives SIGKILL", what, pid));
  }
  return absl::OkStatus();
}

// Mount points at or under `dir`, deepest first (mountinfo escapes blanks as \040).
std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> mounts;
  auto info = ReadFile("/proc/self/mountinfo");
  if (!info.ok()) {
    return mounts;
  }
  for (std::string_view line : SplitNonEmpty(*info, "\n")) {
    auto fields = SplitNonEmpty(line, " ");
    if (fields.size() < 5) {
      continue;
    }
    std::string point;
    std::string_view raw = fields[4];
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 3 < raw.size()) {
        point += static_cast<char>(std::stoi(std::string(raw.substr(i + 1, 3)), nullptr, 8));
        i += 3;
      } else {
        point += raw[i];
      }
    }
    if (point == dir || point.starts_with(dir + "/")) {
      mounts.push_back(std::move(point));
    }
  }
  std::stable_sort(mounts.begin(), mounts.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return mounts;
}

// Keeps the first error of a sequence of steps that all run.
class FirstError {
 public:
  void Note(const Status& status, std::string_view step) {
    if (status.ok()) {
      return;
    }
    Log().warn("teardown: {}: {}", step, status.message());
    if (first_.ok()) {
      first_ = Annotate(status, step);
    }
  }
  [[nodiscard]] Status status() const { return first_; }

 private:
  Status first_;
};

// Stops and removes every sandbox through CRI, when containerd answers.
void RemoveSandboxes(const ContainerdPaths& paths, FirstError& errors) {
  if (!fs::exists(paths.socket)) {
    return;
  }
  auto client = cri::CriClient::Connect(paths.socket, std::chrono::seconds(5));
  if (!client.ok()) {
    Log().warn("teardown: containerd does not answer, sandboxes are not removed through CRI: {}",
               client.status().message());
    return;
  }
  auto sandboxes = (*client)->ListPodSandbox();
  if (!sandboxes.ok()) {
    errors.Note(sandboxes.status(), "list pod sandboxes");
    return;
  }
  for (const auto& sandbox : *sandboxes) {
    errors.Note((*client)->StopPodSandbox(sandbox.id()), "stop sandbox " + sandbox.id());
    errors.Note((*client)->RemovePodSandbox(sandbox.id()), "remove sandbox " + sandbox.id());
  }
}

// Shim socket addresses ("unix:///run/containerd/s/<hash>") that the task
// bundles of this instance recorded.
std::vector<std::string> ShimSockets(const ContainerdPaths& paths) {
  std::vector<std::string> sockets;
  std::error_code error;
  fs::path tasks = fs::path(paths.state) / "io.containerd.runtime.v2.task";
  for (const auto& ns : fs::directory_iterator(tasks, error)) {
    std::error_code inner;
    for (const auto& bundle : fs::directory_iterator(ns.path(), inner)) {
      auto address = ReadFile((bundle.path() / "address").string());
      if (!address.ok()) {
        continue;
      }
      std::string_view text = TrimSpace(*address);
      if (text.starts_with("unix://")) {
        text.remove_prefix(7);
      }
      if (text.starts_with("/run/containerd/s/")) {
        sockets.emplace_back(text);
      }
    }
  }
  std::sort(sockets.begin(), sockets.end());
  sockets.erase(std::unique(sockets.begin(), sockets.end()), sockets.end());
  return sockets;
}

// Kills and deletes the containers runc still knows under this instance's
// runc root (one directory per containerd namespace).
void DeleteRuncContainers(const ContainerdPaths& paths, FirstError& errors) {
  std::error_code error;
  for (const auto& ns : fs::directory_iterator(paths.runc_root, error)) {
    std::error_code inner;
    for (const auto& container : fs::directory_iterator(ns.path(), inner)) {
      if (!fs::exists(container.path() / "state.json")) {
        continue;
      }
      std::string id = container.path().filename().string();
      auto code = RunToEnd({"runc", "--root", ns.path().string(), "delete", "--force", id});
      if (!code.ok()) {
        errors.Note(code.status(), "runc delete " + id);
      } else if (*code != 0) {
        errors.Note(absl::InternalError(fmt::format("exit code {}", *code)), "runc delete " + id);
      }
    }
  }
}

// The container id in a CNI result file name "<network>-<64 hex id>-<ifname>"
// of `network`, or empty.
std::string ResultContainerId(std::string_view file, std::string_view network) {
  constexpr size_t kIdLength = 64;
  if (!file.starts_with(network) || file.size() <= network.size() + kIdLength + 2 ||
      file[network.size()] != '-' || file[network.size() + 1 + kIdLength] != '-') {
    return "";
  }
  std::string_view id = file.substr(network.size() + 1, kIdLength);
  bool hex = std::all_of(id.begin(), id.end(),
                         [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  return hex ? std::string(id) : "";
}

// The pod sandboxes this instance knows of: CRI's sandbox directories and
// the CNI results of its network.
std::set<std::string> SandboxIds(const ContainerdOptions& options, const ContainerdPaths& paths) {
  std::set<std::string> ids;
  for (const std::string& dir : {paths.root + "/io.containerd.grpc.v1.cri/sandboxes",
                                 paths.state + "/io.containerd.grpc.v1.cri/sandboxes"}) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(dir, error)) {
      ids.insert(entry.path().filename().string());
    }
  }
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(kCniResultsDir, error)) {
    std::string id = ResultContainerId(entry.path().filename().string(), options.network_name);
    if (!id.empty()) {
      ids.insert(id);
    }
  }
  return ids;
}

// CNI result files of this network and of containerd's loopback network
// ("cni-loopback") for this instance's sandboxes: CNI DEL removes them, but
// not for pods whose containerd was gone.
void RemoveCniResults(const ContainerdOptions& options, const std::set<std::string>& sandboxes,
                      FirstError& errors) {
  constexpr std::string_view kLoopbackNetwork = "cni-loopback";
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(kCniResultsDir, error)) {
    const std::string name = entry.path().filename().string();
    if (ResultContainerId(name, options.network_name).empty() &&
        !sandboxes.contains(ResultContainerId(name, kLoopbackNetwork))) {
      continue;
    }
    std::error_code remove_error;
    fs::remove(entry.path(), remove_error);
    if (remove_error) {
      errors.Note(ErrnoError(remove_error.value(), entry.path().string()), "remove CNI result");
    }
  }
  // Host-wide directories go when nothing else uses them.
  ::rmdir(std::string(kCniResultsDir).c_str());
  ::rmdir("/var/lib/cni");
}

}  // namespace

ContainerdPaths::ContainerdPaths(const std::string& state_dir)
    : containerd_dir(state_dir + "/containerd"),
      config(containerd_dir + "/config.toml"),
      socket(containerd_dir + "/containerd.sock"),
      log(containerd_dir + "/containerd.log"),
      root(containerd_dir + "/root"),
      state(containerd_dir + "/state"),
      opt(containerd_dir + "/opt"),
      runc_root(state_dir + "/runc"),
      cni_conf_dir(state_dir + "/cni/net.d"),
      cni_ipam_dir(state_dir + "/cni/ipam") {}

std::string ContainerdConfig(const ContainerdOptions& options, bool restrict_oom_score_adj) {
  ContainerdPaths paths(options.state_dir);
  // Key names as `containerd config default` prints them; only what differs
  // from the defaults, or must not be host-wide, is set. The snapshotters
  // and tracing plugins this node does not use are not loaded.
  return fmt::format(
      R"(# Written by bulkhead-node for its own containerd; rewritten on every start.
version = 2
root = {root}
state = {state}
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = {socket}

[ttrpc]
  address = {ttrpc}

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = {opt}
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = {sandbox_image}
    restrict_oom_score_adj = {restrict_oom_score_adj}
    netns_mounts_under_state_dir = true
    enable_selinux = false
    disable_tcp_service = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = {cni_bin_dir}
      conf_dir = {cni_conf_dir}
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          Root = {runc_root}
          SystemdCgroup = false
)",
      fmt::arg("root", Toml(paths.root)), fmt::arg("state", Toml(paths.state)),
      fmt::arg("socket", Toml(paths.socket)), fmt::arg("ttrpc", Toml(paths.socket + ".ttrpc")),
      fmt::arg("opt", Toml(paths.opt)), fmt::arg("sandbox_image", Toml(options.sandbox_image)),
      fmt::arg("restrict_oom_score_adj", restrict_oom_score_adj),
      fmt::arg("cni_bin_dir", Toml(options.cni_bin_dir)),
      fmt::arg("cni_conf_dir", Toml(paths.cni_conf_dir)),
      fmt::arg("runc_root", Toml(paths.runc_root)));
}

std::string CniConflist(const ContainerdOptions& options) {
  ContainerdPaths paths(options.state_dir);
  nlohmann::json ipam = {
      {"type", "host-local"},
      {"ranges", nlohmann::json::array({nlohmann::json::array({{{"subnet", options.pod_cidr}}})})},
      {"routes", nlohmann::json::array({{{"dst", "0.0.0.0/0"}}})},
      {"dataDir", paths.cni_ipam_dir},
  };
  nlohmann::json bridge = {
      {"type", "bridge"},    {"bridge", options.bridge}, {"isGateway", true},
      {"hairpinMode", true}, {"ipMasq", false},          {"ipam", ipam},
  };
  nlohmann::json conflist = {
      {"cniVersion", "1.0.0"},
      {"name", options.network_name},
      {"plugins", nlohmann::json::array({bridge, {{"type", "loopback"}}})},
  };
  return conflist.dump(2) + "\n";
}

StatusOr<bool> HasSysResourceCapability() {
  BH_ASSIGN_OR_RETURN(std::string status, ReadFile("/proc/self/status"));
  for (std::string_view line : SplitNonEmpty(status, "\n")) {
    if (!line.starts_with("CapEff:")) {
      continue;
    }
    std::string hex(TrimSpace(line.substr(7)));
    uint64_t caps = std::strtoull(hex.c_str(), nullptr, 16);
    return (caps >> kCapSysResource & 1U) != 0;
  }
  return absl::NotFoundError("no CapEff line in /proc/self/status");
}

Containerd::Containerd(const ContainerdOptions& options, pid_t pid)
    : options_(options), paths_(options.state_dir), pid_(pid) {}

Containerd::~Containerd() {
  Status status = Stop();
  if (!status.ok()) {
    Log().error("stop containerd: {}", status.message());
  }
}

StatusOr<std::unique_ptr<Containerd>> Containerd::StartOrFind(const ContainerdOptions& options) {
  if (options.state_dir.empty() || options.state_dir.front() != '/') {
    return absl::InvalidArgumentError(fmt::format(
        "containerd state dir must be an absolute path, not \"{}\"", options.state_dir));
  }
  ContainerdPaths paths(options.state_dir);
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + options.start_timeout;

  // One that answers, or one still starting with this config.
  if (fs::exists(paths.socket) &&
      cri::CriClient::Connect(paths.socket, std::chrono::seconds(2)).ok()) {
    Log().info("containerd found socket={}", paths.socket);
    return std::unique_ptr<Containerd>(new Containerd(options, -1));
  }
  if (!ContainerdPids(paths).empty()) {
    while (std::chrono::steady_clock::now() < deadline) {
      if (cri::CriClient::Connect(paths.socket, std::chrono::seconds(1)).ok()) {
        Log().info("containerd found socket={}", paths.socket);
        return std::unique_ptr<Containerd>(new Containerd(options, -1));
      }
      std::this_thread::sleep_for(kPollInterval);
    }
    return absl::DeadlineExceededError(fmt::format(
        "a containerd runs with {} but does not answer on {} after {} s; its log ends:\n{}",
        paths.config, paths.socket, options.start_timeout.count(), LogTail(paths.log)));
  }

  BH_ASSIGN_OR_RETURN(bool has_sys_resource, HasSysResourceCapability());
  if (!has_sys_resource) {
    Log().warn(
        "this process lacks CAP_SYS_RESOURCE: containerd runs with restrict_oom_score_adj = true, "
        "so negative oom_score_adj of containers are raised to 0");
  }
  for (const std::string& dir : {paths.containerd_dir, paths.root, paths.state, paths.opt,
                                 paths.runc_root, paths.cni_conf_dir, paths.cni_ipam_dir}) {
    BH_RETURN_IF_ERROR(MakeDirs(dir));
  }
  BH_RETURN_IF_ERROR(
      WriteFileAtomically(paths.config, ContainerdConfig(options, !has_sys_resource), 0600));
  BH_RETURN_IF_ERROR(WriteFileAtomically(
      fmt::format("{}/10-{}.conflist", paths.cni_conf_dir, options.network_name),
      CniConflist(options), 0644));
  // A socket left by a containerd that died: containerd refuses to start on it.
  ::unlink(paths.socket.c_str());
  ::unlink((paths.socket + ".ttrpc").c_str());

  BH_ASSIGN_OR_RETURN(pid_t pid,
                      Spawn({options.containerd_path, "--config", paths.config}, paths.log));
  std::unique_ptr<Containerd> containerd(new Containerd(options, pid));
  Status last = absl::UnavailableError("not tried");
  while (std::chrono::steady_clock::now() < deadline) {
    int wstatus = 0;
    if (::waitpid(pid, &wstatus, WNOHANG) == pid) {
      containerd->pid_ = -1;
      return absl::InternalError(
          fmt::format("containerd ({}) exited with {} {} while starting; {} ends:\n{}",
                      options.containerd_path, WIFEXITED(wstatus) ? "code" : "signal",
                      WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus), paths.log,
                      LogTail(paths.log)));
    }
    auto client = cri::CriClient::Connect(paths.socket, std::chrono::seconds(1));
    if (client.ok()) {
      auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
      Log().info("containerd started pid={} socket={} ms={}", pid, paths.socket, elapsed.count());
      return containerd;
    }
    last = client.status();
    if (absl::IsUnimplemented(last)) {
      // containerd serves, without CRI: its CRI plugin failed to load.
      std::string tail = LogTail(paths.log);
      Status stop = containerd->Stop();
      if (!stop.ok()) {
        Log().warn("stop containerd without CRI: {}", stop.message());
      }
      return absl::FailedPreconditionError(
          fmt::format("containerd started without its CRI plugin ({}): {}; {} ends:\n{}",
                      last.message(), CriLoadError(paths.log), paths.log, tail));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  std::string tail = LogTail(paths.log);
  Status stop = containerd->Stop();
  if (!stop.ok()) {
    Log().warn("stop containerd that did not start: {}", stop.message());
  }
  return absl::DeadlineExceededError(
      fmt::format("containerd did not answer CRI within {} s ({}); {} ends:\n{}",
                  options.start_timeout.count(), last.message(), paths.log, tail));
}

Status Containerd::Stop() {
  if (pid_ <= 0) {
    return absl::OkStatus();
  }
  pid_t pid = std::exchange(pid_, -1);
  BH_RETURN_IF_ERROR(Terminate(pid, kStopTimeout, "containerd"));
  Log().info("containerd stopped pid={}", pid);
  return absl::OkStatus();
}

Status Teardown(const ContainerdOptions& options) {
  std::error_code error;
  fs::path canonical = fs::weakly_canonical(options.state_dir, error);
  if (options.state_dir.empty() || options.state_dir.front() != '/' || error ||
      canonical == canonical.root_path()) {
    return absl::InvalidArgumentError(
        fmt::format("refusing to tear down containerd state dir \"{}\"", options.state_dir));
  }
  // Processes and files are named by the path containerd was given; mounts
  // by the canonical one.
  const std::string state_dir = canonical.string();
  ContainerdPaths paths(options.state_dir);
  // Everything below is removed at the end: only a directory this code set
  // up (its containerd config is there), an empty one, or none at all.
  if (fs::exists(state_dir, error) && !fs::exists(paths.config, error) &&
      !fs::is_empty(state_dir, error)) {
    std::vector<std::string> entries;
    for (const auto& entry : fs::directory_iterator(state_dir, error)) {
      entries.push_back(entry.path().filename().string());
    }
    const bool only_node_files =
        std::all_of(entries.begin(), entries.end(), [&](const std::string& name) {
          return name == "node.lock" ||
                 (name == "pods" && fs::is_empty(state_dir + "/pods", error));
        });
    if (!only_node_files) {
      return absl::FailedPreconditionError(
          fmt::format("refusing to tear down \"{}\": it is not a node's state directory (no {})",
                      options.state_dir, paths.config));
    }
  }
  FirstError errors;

  const std::set<std::string> sandboxes = SandboxIds(options, paths);
  RemoveSandboxes(paths, errors);
  for (pid_t pid : ContainerdPids(paths)) {
    errors.Note(Terminate(pid, kStopTimeout, "containerd"), "stop containerd");
  }
  // Shims outlive containerd; with them gone, runc still knows their containers.
  std::vector<std::string> shim_sockets = ShimSockets(paths);
  for (pid_t pid : ShimPids(paths)) {
    if (::kill(pid, SIGKILL) == 0) {
      WaitExited(pid, std::chrono::seconds(5));
    }
  }
  DeleteRuncContainers(paths, errors);
  for (const auto& socket : shim_sockets) {
    ::unlink(socket.c_str());
  }
  ::rmdir("/run/containerd/s");
  ::rmdir("/run/containerd");
  RemoveCniResults(options, sandboxes, errors);

  if (!options.bridge.empty() && fs::exists("/sys/class/net/" + options.bridge)) {
    auto code = RunToEnd({"ip", "link", "delete", options.bridge});
    if (!code.ok()) {
      errors.Note(code.status(), "delete bridge " + options.bridge);
    } else if (*code != 0) {
      errors.Note(absl::InternalError(fmt::format("ip link delete exited with {}", *code)),
                  "delete bridge " + options.bridge);
    }
  }

  // Network namespaces, rootfs overlays and shm mounts; some stack, so repeat.
  for (int pass = 0; pass < 5; ++pass) {
    auto mounts = MountsUnder(state_dir);
    if (mounts.empty()) {
      break;
    }
    for (const auto& mount : mounts) {
      if (::umount2(mount.c_str(), MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) {
        errors.Note(ErrnoError(errno, "umount " + mount), "unmount");
      }
    }
  }
  auto left = MountsUnder(state_dir);
  if (!left.empty()) {
    errors.Note(absl::FailedPreconditionError(fmt::format(
                    "{} mounts remain, first {}; state dir kept", left.size(), left.front())),
                "unmount");
    return errors.status();
  }
  fs::remove_all(state_dir, error);
  if (error) {
    errors.Note(ErrnoError(error.value(), "remove " + state_dir), "remove state dir");
  }
  return errors.status();
}

}  // namespace bulkhead::node
