#include "tests/e2e/controlplane_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace bulkhead::testing {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "bh-cp-XXXXXX").string();
  if (::mkdtemp(pattern.data()) != nullptr) {
    path_ = pattern;
  }
}

TempDir::~TempDir() {
  if (!path_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
}

std::string TempDir::Write(const std::string& name, const std::string& content) const {
  std::string file = path_ + "/" + name;
  std::ofstream(file) << content;
  return file;
}

std::unique_ptr<Process> Process::Spawn(const std::vector<std::string>& argv,
                                        const std::vector<std::string>& env, bool merge_stderr) {
  std::array<int, 2> out{};
  if (::pipe2(out.data(), O_CLOEXEC) != 0) {
    return nullptr;
  }
  std::vector<std::string> full;
  if (!env.empty()) {
    full.emplace_back("/usr/bin/env");
    full.insert(full.end(), env.begin(), env.end());
  }
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<char*> args;
  args.reserve(full.size() + 1);
  for (auto& arg : full) {
    args.push_back(arg.data());
  }
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    if (merge_stderr) {
      ::dup2(out[1], STDERR_FILENO);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, STDIN_FILENO);
    ::setpgid(0, 0);
    // Dies with the test even when the test itself is killed (ctest timeout).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::unique_ptr<Process> process(new Process());
  process->pid_ = pid;
  process->out_fd_ = out[0];
  return process;
}

Process::~Process() {
  Kill(SIGKILL);
  Wait(10);
  if (out_fd_ >= 0) {
    ::close(out_fd_);
  }
}

bool Process::ReadSome(int timeout_ms) {
  if (eof_) {
    return false;
  }
  pollfd fd{out_fd_, POLLIN, 0};
  if (::poll(&fd, 1, timeout_ms) <= 0) {
    return false;
  }
  std::array<char, 4096> buffer{};
  ssize_t n = ::read(out_fd_, buffer.data(), buffer.size());
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  output_.append(buffer.data(), static_cast<size_t>(n));
  return true;
}

std::string Process::WaitForLine(const std::function<bool(const std::string&)>& done,
                                 int timeout_seconds) {
  auto deadline = Clock::now() + std::chrono::seconds(timeout_seconds);
  while (true) {
    size_t newline;
    while ((newline = output_.find('\n', consumed_)) != std::string::npos) {
      std::string line = output_.substr(consumed_, newline - consumed_);
      consumed_ = newline + 1;
      if (done(line)) {
        return line;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || (eof_ && output_.find('\n', consumed_) == std::string::npos)) {
      return "";
    }
    ReadSome(static_cast<int>(std::min<int64_t>(left.count(), 200)));
  }
}

void Process::Kill(int signal) {
  if (pid_ > 0 && !reaped_) {
    ::kill(-pid_, signal);
    ::kill(pid_, signal);
  }
}

int Process::Wait(int timeout_seconds) {
  if (pid_ <= 0 || reaped_) {
    return -1;
  }
  auto deadline = Clock::now() + std::chrono::seconds(timeout_seconds);
  while (true) {
    int status = 0;
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      reaped_ = true;
      while (ReadSome(100)) {
        // What the process wrote before it exited.
      }
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (Clock::now() >= deadline) {
      return -2;
    }
    ReadSome(50);
  }
}

std::unique_ptr<ControlPlane> ControlPlane::Start(const std::string& data_dir,
                                                  const std::vector<std::string>& extra_args) {
  std::unique_ptr<ControlPlane> plane(new ControlPlane());
  if (data_dir.empty()) {
    plane->owned_dir_ = std::make_unique<TempDir>();
    plane->data_dir_ = plane->owned_dir_->path() + "/cluster";
  } else {
    plane->data_dir_ = data_dir;
  }
  plane->home_ = std::make_unique<TempDir>();
  std::vector<std::string> argv = {BULKHEAD_CONTROLPLANE_PATH,
                                   "--data-dir",
                                   plane->data_dir_,
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--log-level",
                                   "warn"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  plane->process_ = Process::Spawn(argv);
  if (plane->process_ == nullptr) {
    return nullptr;
  }
  std::string line = plane->process_->WaitForLine(
      [](const std::string& l) { return l.rfind("serving https://", 0) == 0; }, 60);
  if (line.empty()) {
    return nullptr;
  }
  std::string rest = line.substr(8);
  plane->url_ = rest.substr(0, rest.find(' '));
  return plane;
}

ControlPlane::~ControlPlane() { Kill9(); }

void ControlPlane::Kill9() {
  if (process_ != nullptr) {
    process_->Kill(SIGKILL);
    process_->Wait(10);
    process_.reset();
  }
}

std::string ControlPlane::token() const {
  std::ifstream file(data_dir_ + "/pki/admin.token");
  std::string token;
  file >> token;
  return token;
}

std::vector<std::string> ControlPlane::KubectlArgv(const std::vector<std::string>& args,
                                                   const std::string& kubectl) const {
  std::vector<std::string> argv = {"/usr/bin/env",
                                   "HOME=" + home_->path(),
                                   kubectl.empty() ? kKubectl : kubectl,
                                   "--kubeconfig",
                                   kubeconfig(),
                                   "--cache-dir",
                                   home_->path() + "/cache"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

CommandResult ControlPlane::Kubectl(const std::vector<std::string>& args,
                                    int timeout_seconds) const {
  CommandOptions options;
  options.timeout_seconds = timeout_seconds;
  return RunCommand(KubectlArgv(args), options);
}

CommandResult ControlPlane::Curl(const std::string& method, const std::string& path,
                                 const std::string& body, const std::string& content_type,
                                 bool authenticated) const {
  std::vector<std::string> argv = {
      "/usr/bin/curl",  "-sS",      "--cacert", data_dir_ + "/pki/ca.crt", "-X", method, "-w",
      "\n%{http_code}", url_ + path};
  if (authenticated) {
    argv.insert(argv.end(), {"-H", "Authorization: Bearer " + token()});
  }
  if (!content_type.empty()) {
    argv.insert(argv.end(), {"-H", "Content-Type: " + content_type});
  }
  if (!body.empty()) {
    std::string file = home_->Write("curl-body", body);
    argv.insert(argv.end(), {"--data-binary", "@" + file});
  }
  return RunCommand(argv);
}

int HttpStatus(const CommandResult& result) {
  size_t newline = result.out.rfind('\n');
  return newline == std::string::npos ? -1 : std::atoi(result.out.c_str() + newline + 1);
}

std::string HttpBody(const CommandResult& result) {
  size_t newline = result.out.rfind('\n');
  return newline == std::string::npos ? result.out : result.out.substr(0, newline);
}

}  // namespace bulkhead::testing
