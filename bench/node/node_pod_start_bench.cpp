// Pod start on the single-machine node: a host-mode control plane and a
// bulkhead-node with its own containerd, state dir, bridge, pod CIDR and
// cgroup root; pods of bulkhead.local/busybox:1.35 (imported by the node,
// so no pull) running `sleep 3600`. Latency is from just before the create
// request to the moment a watch of the namespace's pods (HTTPS, started
// before the pods) delivers the pod with status.phase Running, and with its
// Ready condition True:
//   (a) one at a time: create, wait until Ready, next (--pods of them);
//   (b) all at once: --pods creates from as many threads, then wait.
// Each of --runs runs does both, the pods deleted (and waited for until the
// node has removed them) in between; the figures are the medians of the
// per-run p50, p99 and max. Then the idle footprint with the last run's pods
// running: RSS and CPU over --idle-seconds of bulkhead-node, its containerd
// and this instance's shims. Everything is removed at the end, also on
// Ctrl-C or an error.
//
//   bulkhead-bench-node-pod-start [--runs 3] [--pods 20] [--idle-seconds 10]
//                                 [--node-log FILE]
//
// Needs root.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "common/hostapi/host_config.h"
#include "common/hostapi/https_client.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/controlplane_harness.h"
#include "tests/support/command.h"

namespace {

using bulkhead::testing::ControlPlane;
using bulkhead::testing::Process;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
namespace hostapi = bulkhead::hostapi;

constexpr const char* kImage = "bulkhead.local/busybox:1.35";
constexpr double kTargetMs = 300;

std::atomic<bool> g_interrupted{false};

void OnSignal(int /*signal*/) { g_interrupted = true; }

struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

void CheckInterrupted() {
  if (g_interrupted.load()) {
    throw Interrupted();
  }
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Linear interpolation between closest ranks (with 20 samples p99 lies
// between the 19th and the 20th).
double Percentile(std::vector<double> values, double p) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  size_t low = static_cast<size_t>(rank);
  size_t high = std::min(low + 1, values.size() - 1);
  return values[low] + (rank - static_cast<double>(low)) * (values[high] - values[low]);
}

double Median(std::vector<double> values) { return Percentile(std::move(values), 50); }

std::string Quote(const std::string& word) { return "'" + word + "'"; }

// What the watch saw of one pod, in steady-clock time.
struct Seen {
  Clock::time_point bound{};  // spec.nodeName set (the scheduler's binding)
  Clock::time_point running{};
  Clock::time_point ready{};
  bool has_bound = false;
  bool has_running = false;
  bool has_ready = false;
};

// A watch of one namespace's pods, on its own thread, reconnecting from
// the last resourceVersion when the server ends the stream.
class PodWatch {
 public:
  PodWatch(const hostapi::HostApiConfig& config, std::string ns)
      : config_(config), ns_(std::move(ns)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~PodWatch() { Stop(); }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  // Until the initial events are delivered (the watch is live).
  bool WaitEstablished(std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return established_ || g_interrupted.load(); }) &&
           established_;
  }

  // Until every pod of `names` is Ready (or `timeout` passes).
  bool WaitReady(const std::vector<std::string>& names, std::chrono::seconds timeout) {
    auto deadline = Clock::now() + timeout;
    std::unique_lock lock(mutex_);
    while (true) {
      bool all = std::all_of(names.begin(), names.end(), [&](const std::string& n) {
        auto it = seen_.find(n);
        return it != seen_.end() && it->second.has_ready;
      });
      if (all) {
        return true;
      }
      if (g_interrupted.load()) {
        throw Interrupted();
      }
      if (changed_.wait_until(lock,
                              std::min(deadline, Clock::now() + std::chrono::milliseconds(200))) ==
              std::cv_status::timeout &&
          Clock::now() >= deadline) {
        return false;
      }
    }
  }

  Seen Get(const std::string& name) {
    std::lock_guard lock(mutex_);
    return seen_[name];
  }

  std::string error() {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  void Loop() {
    std::string rv;
    while (!stop_.load()) {
      std::string path = fmt::format(
          "/api/v1/namespaces/{}/pods?watch=true&allowWatchBookmarks=true&timeoutSeconds=3600",
          ns_);
      if (rv.empty()) {
        path += "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan";
      } else {
        path += "&resourceVersion=" + rv;
      }
      auto status = hostapi::HttpsStreamLines(
          config_, path,
          [&](std::string_view line) {
            const auto now = Clock::now();
            json event = json::parse(line, nullptr, false);
            if (!event.is_object()) {
              return true;
            }
            const json& object = event.value("object", json::object());
            std::string version = object.value("/metadata/resourceVersion"_json_pointer, "");
            if (!version.empty()) {
              rv = version;
            }
            std::lock_guard lock(mutex_);
            if (event.value("type", "") == "BOOKMARK") {
              established_ = true;
            } else if (event.value("type", "") == "ERROR") {
              error_ = std::string(line);
              rv.clear();
            } else {
              std::string name = object.value("/metadata/name"_json_pointer, "");
              Seen& seen = seen_[name];
              const json pod_status = object.value("status", json::object());
              if (!seen.has_bound && !object.value("/spec/nodeName"_json_pointer, "").empty()) {
                seen.bound = now;
                seen.has_bound = true;
              }
              if (!seen.has_running && pod_status.value("phase", "") == "Running") {
                seen.running = now;
                seen.has_running = true;
              }
              for (const json& c : pod_status.value("conditions", json::array())) {
                if (!seen.has_ready && c.value("type", "") == "Ready" &&
                    c.value("status", "") == "True") {
                  seen.ready = now;
                  seen.has_ready = true;
                }
              }
            }
            changed_.notify_all();
            return true;
          },
          stop_, std::chrono::hours(2));
      if (!status.ok() && !stop_.load()) {
        std::lock_guard lock(mutex_);
        error_ = std::string(status.status().message());
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
  }

  hostapi::HostApiConfig config_;
  std::string ns_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Seen> seen_;
  bool established_ = false;
  std::string error_;
  std::thread thread_;
};

struct ProcSample {
  long rss_kib = 0;
  long ticks = 0;  // utime + stime
};

ProcSample Read(pid_t pid) {
  ProcSample sample;
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      sample.rss_kib = std::atol(line.c_str() + 6);
    }
  }
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) {
    return sample;
  }
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  long utime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14) {
      utime = std::atol(field.c_str());
    } else if (i == 15) {
      sample.ticks = utime + std::atol(field.c_str());
      break;
    }
  }
  return sample;
}

std::vector<std::string> Cmdline(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/cmdline", pid));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  std::string arg;
  for (char c : text) {
    if (c == '\0') {
      args.push_back(arg);
      arg.clear();
    } else {
      arg.push_back(c);
    }
  }
  return args;
}

// Processes whose argv[0] ends with `program` and which have `flag value`.
std::vector<pid_t> FindProcesses(const std::string& program, const std::string& flag,
                                 const std::string& value) {
  std::vector<pid_t> found;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    return found;
  }
  while (dirent* entry = ::readdir(proc)) {
    pid_t pid = std::atoi(entry->d_name);
    if (pid <= 0) {
      continue;
    }
    auto args = Cmdline(pid);
    if (args.empty() || !fs::path(args[0]).filename().string().ends_with(program)) {
      continue;
    }
    for (size_t i = 1; i + 1 < args.size(); ++i) {
      if (args[i] == flag && args[i + 1] == value) {
        found.push_back(pid);
        break;
      }
    }
  }
  ::closedir(proc);
  return found;
}

struct Latencies {
  std::vector<double> create;  // the create request itself
  std::vector<double> bound;   // create to the binding seen
  std::vector<double> running;
  std::vector<double> ready;
  double wall_ms = 0;  // first create to last Ready
  // The whole machine's busy CPU time over the mode (every process: the
  // host API, the node, containerd, shims, runc, CNI plugins, and anything
  // else running), in core-milliseconds.
  double busy_core_ms = 0;
};

// Busy CPU time of the whole machine so far (/proc/stat: all but idle and
// iowait), in milliseconds of one core.
double MachineBusyMs() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  double busy = 0;
  for (int i = 0; i < 8; ++i) {
    double ticks = 0;
    in >> ticks;
    busy += i == 3 || i == 4 ? 0 : ticks;  // idle, iowait
  }
  return busy * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct Options {
  int runs = 3;
  int pods = 20;
  int idle_seconds = 10;
  std::string node_log;
};

class Bench {
 public:
  explicit Bench(Options options) : options_(std::move(options)) {}
  ~Bench() { Cleanup(); }

  void Run();
  void Cleanup();

 private:
  void StartNode();
  void WaitNodeReady();
  void CreateNamespace();
  double CreatePod(const std::string& name);  // the request's ms
  Latencies Sequential(int run);
  Latencies AtOnce(int run);
  Latencies Collect(const std::vector<std::string>& names,
                    const std::map<std::string, Clock::time_point>& started,
                    const std::vector<double>& create_ms);
  void DeletePods(bool wait);
  void Footprint();
  std::vector<std::string> NodeFlags() const;
  hostapi::HttpsResponse Request(const std::string& method, const std::string& path,
                                 const std::string& body = "");

  Options options_;
  std::unique_ptr<ControlPlane> host_;
  hostapi::HostApiConfig config_;
  std::string state_dir_;
  std::string bridge_;
  std::string pod_cidr_;
  std::string cgroup_root_;
  std::string node_name_;
  std::string node_log_;
  std::string ns_ = "bench";
  std::unique_ptr<Process> node_;
  std::unique_ptr<PodWatch> watch_;
  std::vector<std::string> pods_;  // created and not yet deleted
  bool cleaned_ = false;
};

hostapi::HttpsResponse Bench::Request(const std::string& method, const std::string& path,
                                      const std::string& body) {
  auto answer =
      hostapi::HttpsRequest(config_, method, path, body.empty() ? "" : "application/json", body);
  if (!answer.ok()) {
    throw std::runtime_error(fmt::format("{} {}: {}", method, path, answer.status().message()));
  }
  return *answer;
}

std::vector<std::string> Bench::NodeFlags() const {
  return {"--state-dir", state_dir_,   "--bridge", bridge_,         "--network-name",
          bridge_,       "--pod-cidr", pod_cidr_,  "--cgroup-root", cgroup_root_};
}

void Bench::StartNode() {
  std::string pattern = fmt::format("/tmp/bulkhead-bench-node-{}-XXXXXX", ::getpid());
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern);
  }
  state_dir_ = pattern;
  bridge_ = fmt::format("bhnb{}", ::getpid());  // at most 11 characters
  pod_cidr_ = fmt::format("10.249.{}.0/24", ::getpid() % 250);
  cgroup_root_ = fmt::format("/bulkhead-bench-{}", ::getpid());
  node_name_ = fmt::format("bench-node-{}", ::getpid());
  node_log_ = options_.node_log.empty() ? state_dir_ + "-node.log" : options_.node_log;
  std::string command = "exec";
  std::vector<std::string> argv = {BULKHEAD_NODE_PATH, "--kubeconfig", host_->kubeconfig(),
                                   "--node-name", node_name_};
  for (const std::string& flag : NodeFlags()) {
    argv.push_back(flag);
  }
  for (const std::string& word : argv) {
    command += " " + Quote(word);
  }
  command += " 2>>" + Quote(node_log_) + " >&2";
  std::printf("node %s: state %s, bridge %s, pods %s, cgroups %s, log %s\n", node_name_.c_str(),
              state_dir_.c_str(), bridge_.c_str(), pod_cidr_.c_str(), cgroup_root_.c_str(),
              node_log_.c_str());
  std::fflush(stdout);
  node_ = Process::Spawn({"/bin/sh", "-c", command});
  if (node_ == nullptr) {
    throw std::runtime_error("bulkhead-node did not start");
  }
}

void Bench::WaitNodeReady() {
  auto begin = Clock::now();
  while (Clock::now() - begin < std::chrono::seconds(120)) {
    CheckInterrupted();
    auto answer = hostapi::HttpsRequest(config_, "GET", "/api/v1/nodes/" + node_name_);
    if (answer.ok() && answer->status == 200) {
      json node = json::parse(answer->body, nullptr, false);
      for (const json& c : node.value("/status/conditions"_json_pointer, json::array())) {
        if (c.value("type", "") == "Ready" && c.value("status", "") == "True") {
          std::printf("node Ready %.0f ms after start\n", Ms(Clock::now() - begin));
          return;
        }
      }
    }
    if (node_->Wait(0) != -2) {
      throw std::runtime_error("bulkhead-node exited; see " + node_log_);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("the node was not Ready in 120 s; see " + node_log_);
}

void Bench::CreateNamespace() {
  ns_ = fmt::format("bench-{}", ::getpid());
  json object = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_}}}};
  auto created = Request("POST", "/api/v1/namespaces", object.dump());
  if (created.status != 201) {
    throw std::runtime_error(
        fmt::format("creating namespace {}: {} {}", ns_, created.status, created.body));
  }
  // Pods wait for the namespace's default service account (its token volume).
  for (int i = 0; i < 100; ++i) {
    CheckInterrupted();
    if (Request("GET", fmt::format("/api/v1/namespaces/{}/serviceaccounts/default", ns_)).status ==
        200) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

double Bench::CreatePod(const std::string& name) {
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}, {"namespace", ns_}}},
              {"spec",
               {{"terminationGracePeriodSeconds", 1},
                {"containers", json::array({{{"name", "sleep"},
                                             {"image", kImage},
                                             {"imagePullPolicy", "IfNotPresent"},
                                             {"command", json::array({"sleep", "3600"})}}})}}}};
  auto begin = Clock::now();
  auto answer =
      hostapi::HttpsRequest(config_, "POST", fmt::format("/api/v1/namespaces/{}/pods", ns_),
                            "application/json", pod.dump());
  double ms = Ms(Clock::now() - begin);
  if (!answer.ok() || answer->status != 201) {
    throw std::runtime_error(fmt::format("creating pod {}: {}", name,
                                         answer.ok()
                                             ? fmt::format("{} {}", answer->status, answer->body)
                                             : std::string(answer.status().message())));
  }
  return ms;
}

Latencies Bench::Collect(const std::vector<std::string>& names,
                         const std::map<std::string, Clock::time_point>& started,
                         const std::vector<double>& create_ms) {
  Latencies result;
  result.create = create_ms;
  Clock::time_point first = Clock::time_point::max();
  Clock::time_point last{};
  for (const std::string& name : names) {
    Seen seen = watch_->Get(name);
    Clock::time_point t0 = started.at(name);
    first = std::min(first, t0);
    last = std::max(last, seen.ready);
    result.bound.push_back(Ms(seen.bound - t0));
    result.running.push_back(Ms(seen.running - t0));
    result.ready.push_back(Ms(seen.ready - t0));
  }
  result.wall_ms = Ms(last - first);
  return result;
}

Latencies Bench::Sequential(int run) {
  std::vector<std::string> names;
  std::map<std::string, Clock::time_point> started;
  std::vector<double> create_ms;
  const double busy_before = MachineBusyMs();
  for (int i = 0; i < options_.pods; ++i) {
    CheckInterrupted();
    std::string name = fmt::format("seq-{}-{}", run, i);
    started[name] = Clock::now();
    pods_.push_back(name);
    create_ms.push_back(CreatePod(name));
    names.push_back(name);
    if (!watch_->WaitReady({name}, std::chrono::seconds(60))) {
      throw std::runtime_error(fmt::format("pod {} not Ready in 60 s (watch: {}); see {}", name,
                                           watch_->error(), node_log_));
    }
  }
  Latencies out = Collect(names, started, create_ms);
  out.busy_core_ms = MachineBusyMs() - busy_before;
  return out;
}

Latencies Bench::AtOnce(int run) {
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(options_.pods));
  for (int i = 0; i < options_.pods; ++i) {
    names.push_back(fmt::format("all-{}-{}", run, i));
  }
  pods_.insert(pods_.end(), names.begin(), names.end());
  std::vector<Clock::time_point> t0(names.size());
  std::vector<double> create_ms(names.size());
  std::vector<std::string> errors(names.size());
  std::mutex gate_mutex;
  std::condition_variable gate;
  bool go = false;
  const double busy_before = MachineBusyMs();
  std::vector<std::thread> threads;
  for (size_t i = 0; i < names.size(); ++i) {
    threads.emplace_back([&, i] {
      {
        std::unique_lock lock(gate_mutex);
        gate.wait(lock, [&] { return go; });
      }
      t0[i] = Clock::now();
      try {
        create_ms[i] = CreatePod(names[i]);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  {
    std::lock_guard lock(gate_mutex);
    go = true;
  }
  gate.notify_all();
  for (auto& t : threads) {
    t.join();
  }
  for (const std::string& e : errors) {
    if (!e.empty()) {
      throw std::runtime_error(e);
    }
  }
  if (!watch_->WaitReady(names, std::chrono::seconds(120))) {
    throw std::runtime_error(fmt::format("the pods were not all Ready in 120 s (watch: {}); see {}",
                                         watch_->error(), node_log_));
  }
  std::map<std::string, Clock::time_point> started;
  for (size_t i = 0; i < names.size(); ++i) {
    started[names[i]] = t0[i];
  }
  Latencies out = Collect(names, started, create_ms);
  out.busy_core_ms = MachineBusyMs() - busy_before;
  return out;
}

void Bench::DeletePods(bool wait) {
  for (const std::string& name : pods_) {
    auto answer = hostapi::HttpsRequest(config_, "DELETE",
                                        fmt::format("/api/v1/namespaces/{}/pods/{}", ns_, name));
    if (!answer.ok() || (answer->status != 200 && answer->status != 202 && answer->status != 404)) {
      std::fprintf(
          stderr, "deleting pod %s: %s\n", name.c_str(),
          answer.ok() ? answer->body.c_str() : std::string(answer.status().message()).c_str());
    }
  }
  pods_.clear();
  if (!wait) {
    return;
  }
  auto begin = Clock::now();
  while (Clock::now() - begin < std::chrono::seconds(120)) {
    auto list =
        hostapi::HttpsRequest(config_, "GET", fmt::format("/api/v1/namespaces/{}/pods", ns_));
    bool listed_empty = false;
    if (list.ok() && list->status == 200) {
      json items = json::parse(list->body, nullptr, false).value("items", json::array());
      listed_empty = items.empty();
    }
    std::error_code error;
    fs::path dir = fs::path(state_dir_) / "pods";
    bool dir_empty = !fs::is_directory(dir, error) ||
                     fs::directory_iterator(dir, error) == fs::directory_iterator();
    if (listed_empty && dir_empty) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::fprintf(stderr, "the node did not remove the pods in 120 s; see %s\n", node_log_.c_str());
}

void Bench::Footprint() {
  const std::string config = state_dir_ + "/containerd/config.toml";
  const std::string socket = state_dir_ + "/containerd/containerd.sock";
  std::vector<pid_t> containerd = FindProcesses("containerd", "--config", config);
  std::vector<pid_t> shims = FindProcesses("containerd-shim-runc-v2", "-address", socket);
  if (containerd.size() != 1) {
    std::printf("footprint: found %zu containerd processes for %s\n", containerd.size(),
                config.c_str());
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let the last status writes pass
  CheckInterrupted();
  auto sample = [&](const std::vector<pid_t>& pids) {
    ProcSample total;
    for (pid_t pid : pids) {
      ProcSample s = Read(pid);
      total.rss_kib += s.rss_kib;
      total.ticks += s.ticks;
    }
    return total;
  };
  const std::vector<pid_t> node = {node_->pid()};
  ProcSample node0 = sample(node);
  ProcSample containerd0 = sample(containerd);
  ProcSample shims0 = sample(shims);
  auto begin = Clock::now();
  for (int i = 0; i < options_.idle_seconds * 10; ++i) {
    CheckInterrupted();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  ProcSample node1 = sample(node);
  ProcSample containerd1 = sample(containerd);
  ProcSample shims1 = sample(shims);
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  auto cpu = [&](const ProcSample& a, const ProcSample& b) {
    return 100.0 * static_cast<double>(b.ticks - a.ticks) / hz / seconds;
  };
  std::printf("\nidle footprint with %d pods running (%.1f s window)\n", options_.pods, seconds);
  std::printf("| process | count | RSS | CPU |\n|---|---|---|---|\n");
  auto mib = [](auto kib) { return static_cast<double>(kib) / 1024.0; };
  std::printf("| bulkhead-node | 1 | %.1f MiB | %.2f %% of a core |\n", mib(node1.rss_kib),
              cpu(node0, node1));
  std::printf("| containerd | %zu | %.1f MiB | %.2f %% of a core |\n", containerd.size(),
              mib(containerd1.rss_kib), cpu(containerd0, containerd1));
  std::printf("| containerd-shim-runc-v2 (sum) | %zu | %.1f MiB | %.2f %% of a core |\n",
              shims.size(), mib(shims1.rss_kib), cpu(shims0, shims1));
  std::printf("| node + containerd + shims | | %.1f MiB | %.2f %% of a core |\n",
              mib(node1.rss_kib + containerd1.rss_kib + shims1.rss_kib),
              cpu(node0, node1) + cpu(containerd0, containerd1) + cpu(shims0, shims1));
}

void PrintRun(const char* mode, int run, const Latencies& l) {
  std::printf(
      "run %d %-10s create req p50 %5.1f | bound p50 %5.1f | Running p50 %6.1f p99 %6.1f max "
      "%6.1f | Ready p50 %6.1f p99 %6.1f max %6.1f | first create to last Ready %6.1f ms | "
      "machine CPU %.0f core-ms, %.1f per pod\n",
      run, mode, Percentile(l.create, 50), Percentile(l.bound, 50), Percentile(l.running, 50),
      Percentile(l.running, 99), Percentile(l.running, 100), Percentile(l.ready, 50),
      Percentile(l.ready, 99), Percentile(l.ready, 100), l.wall_ms, l.busy_core_ms,
      l.ready.empty() ? 0.0 : l.busy_core_ms / static_cast<double>(l.ready.size()));
  std::fflush(stdout);
}

struct Summary {
  std::vector<double> create50, bound50, running50, running99, runningmax, ready50, ready99,
      readymax, wall, cpu_per_pod;
  void Add(const Latencies& l) {
    cpu_per_pod.push_back(l.ready.empty() ? 0.0
                                          : l.busy_core_ms / static_cast<double>(l.ready.size()));
    create50.push_back(Percentile(l.create, 50));
    bound50.push_back(Percentile(l.bound, 50));
    running50.push_back(Percentile(l.running, 50));
    running99.push_back(Percentile(l.running, 99));
    runningmax.push_back(Percentile(l.running, 100));
    ready50.push_back(Percentile(l.ready, 50));
    ready99.push_back(Percentile(l.ready, 99));
    readymax.push_back(Percentile(l.ready, 100));
    wall.push_back(l.wall_ms);
  }
};

void Bench::Run() {
  host_ = ControlPlane::Start("", {"--host-mode"});
  if (host_ == nullptr) {
    throw std::runtime_error("the host-mode control plane did not start");
  }
  auto config = hostapi::LoadKubeconfig(host_->kubeconfig());
  if (!config.ok()) {
    throw std::runtime_error(std::string(config.status().message()));
  }
  config_ = *config;
  config_.user_agent = "bulkhead-bench-node-pod-start";
  std::printf("host API %s (data %s)\n", host_->url().c_str(), host_->data_dir().c_str());
  StartNode();
  WaitNodeReady();
  CreateNamespace();
  watch_ = std::make_unique<PodWatch>(config_, ns_);
  if (!watch_->WaitEstablished(std::chrono::seconds(10))) {
    CheckInterrupted();
    throw std::runtime_error("the pod watch did not start: " + watch_->error());
  }
  Summary sequential;
  Summary at_once;
  for (int run = 1; run <= options_.runs; ++run) {
    Latencies one = Sequential(run);
    PrintRun("one-by-one", run, one);
    sequential.Add(one);
    DeletePods(true);
    CheckInterrupted();
    Latencies all = AtOnce(run);
    PrintRun("at-once", run, all);
    at_once.Add(all);
    if (run < options_.runs) {
      DeletePods(true);
    }
  }
  std::printf(
      "\npod start, %d pods of %s (`sleep 3600`, image present), medians of %d runs' p50 / p99 / "
      "max, ms from before the create request to the watch delivering the pod\n",
      options_.pods, kImage, options_.runs);
  std::printf(
      "| mode | create request p50 | create→bound p50 | create→Running p50 | p99 | max | "
      "create→Ready p50 | p99 | max | first create → last Ready |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n");
  auto row = [](const char* mode, const Summary& s) {
    std::printf("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", mode,
                Median(s.create50), Median(s.bound50), Median(s.running50), Median(s.running99),
                Median(s.runningmax), Median(s.ready50), Median(s.ready99), Median(s.readymax),
                Median(s.wall));
  };
  row("one at a time", sequential);
  row("all at once", at_once);
  auto verdict = [](const char* what, double value) {
    std::printf("target %-40s p99 %7.1f ms < %.0f ms: %s\n", what, value, kTargetMs,
                value < kTargetMs ? "met" : "MISSED");
  };
  std::printf("\ntargets (Kubernetes SLO 5 s; the upstream kubelet here: about 1 s)\n");
  verdict("create→Running, one at a time", Median(sequential.running99));
  verdict("create→Ready, one at a time", Median(sequential.ready99));
  verdict("create→Running, all at once", Median(at_once.running99));
  verdict("create→Ready, all at once", Median(at_once.ready99));
  // What the machine's cores allow: the CPU a pod start costs, all
  // processes together, times the pods, over the cores.
  const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  std::printf(
      "\nmachine CPU per pod start (median of runs): one at a time %.1f core-ms, at once %.1f "
      "core-ms; %d pods at once on %ld cores cannot all be Ready sooner than %.0f ms\n",
      Median(sequential.cpu_per_pod), Median(at_once.cpu_per_pod), options_.pods, cores,
      Median(at_once.cpu_per_pod) * options_.pods / static_cast<double>(std::max(cores, 1L)));
  std::fflush(stdout);
  Footprint();
}

void Bench::Cleanup() {
  if (cleaned_) {
    return;
  }
  cleaned_ = true;
  std::printf("\ncleaning up\n");
  std::fflush(stdout);
  if (host_ != nullptr && node_ != nullptr) {
    if (!pods_.empty()) {
      DeletePods(true);
    }
  }
  if (watch_ != nullptr) {
    watch_->Stop();
  }
  if (node_ != nullptr) {
    node_->Kill(SIGTERM);
    if (node_->Wait(30) == -2) {
      node_->Kill(SIGKILL);
      node_->Wait(5);
    }
    node_.reset();
  }
  if (!state_dir_.empty()) {
    if (!options_.node_log.empty()) {
      std::error_code error;
      fs::copy_file(state_dir_ + "/containerd/containerd.log",
                    options_.node_log + ".containerd.log", fs::copy_options::overwrite_existing,
                    error);
    }
    std::vector<std::string> argv = {BULKHEAD_NODE_PATH, "--uninstall"};
    for (const std::string& flag : NodeFlags()) {
      argv.push_back(flag);
    }
    bulkhead::testing::CommandOptions command;
    command.timeout_seconds = 180;
    auto removed = bulkhead::testing::RunCommand(argv, command);
    if (removed.exit_code != 0) {
      std::fprintf(stderr, "bulkhead-node --uninstall: exit %d: %s%s\n", removed.exit_code,
                   removed.out.c_str(), removed.err.c_str());
    }
    std::error_code error;
    if (fs::exists(state_dir_, error)) {
      std::fprintf(stderr, "%s is still there after --uninstall\n", state_dir_.c_str());
    }
    if (options_.node_log.empty()) {
      fs::remove(node_log_, error);
    }
  }
  host_.reset();  // SIGKILL, and its temporary data directory removed
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Pod start latency and idle footprint of bulkhead-node on a host-mode API",
               "bulkhead-bench-node-pod-start"};
  Options options;
  app.add_option("--runs", options.runs, "Runs; figures are medians of the runs")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--pods", options.pods, "Pods one at a time, and at once, per run")
      ->check(CLI::Range(1, 200))
      ->capture_default_str();
  app.add_option("--idle-seconds", options.idle_seconds, "Window of the idle footprint")
      ->check(CLI::Range(1, 600))
      ->capture_default_str();
  app.add_option("--node-log", options.node_log,
                 "Keep the node's log in this file, and containerd's in FILE.containerd.log "
                 "(default: a temporary file, removed)");
  CLI11_PARSE(app, argc, argv);
  if (::geteuid() != 0) {
    std::fprintf(stderr, "bulkhead-bench-node-pod-start: needs root\n");
    return 2;
  }
  struct sigaction action {};
  action.sa_handler = OnSignal;
  ::sigemptyset(&action.sa_mask);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
    ::sigaction(signal, &action, nullptr);
  }
  ::signal(SIGPIPE, SIG_IGN);
  int rc = 0;
  {
    Bench bench(options);
    try {
      bench.Run();
    } catch (const Interrupted&) {
      std::fprintf(stderr, "interrupted\n");
      rc = 130;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bulkhead-bench-node-pod-start: %s\n", e.what());
      rc = 1;
    }
    bench.Cleanup();
  }
  return rc;
}
