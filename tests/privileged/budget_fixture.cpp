#include "tests/privileged/budget_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "agent/budgets/cgroup_files.h"
#include "common/file.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace bulkhead::agent::budgets::testing {

StatusOr<TestCgroupRoots> TestCgroupRoots::Make(bool with_unified) {
  TestCgroupRoots roots;
  BH_ASSIGN_OR_RETURN(roots.layout_, DetectCgroupLayout());
  roots.prefix_ = fmt::format("bulkhead-test-{}", ::getpid());
  std::vector<std::string> mounts;
  for (const char* controller : {"cpu", "cpuacct", "memory", "pids"}) {
    if (auto placement = roots.layout_.Find(controller)) {
      if (std::find(mounts.begin(), mounts.end(), placement->mount_point) == mounts.end()) {
        mounts.push_back(placement->mount_point);
      }
    }
  }
  if (with_unified && !roots.layout_.unified_mount.empty() &&
      std::find(mounts.begin(), mounts.end(), roots.layout_.unified_mount) == mounts.end()) {
    mounts.push_back(roots.layout_.unified_mount);
  }
  for (const std::string& mount : mounts) {
    BH_ASSIGN_OR_RETURN(CgroupDir owner,
                        CgroupDir::Create(fmt::format("{}/{}", mount, roots.prefix_)));
    roots.owners_.push_back(std::move(owner));
  }
  return roots;
}

std::vector<std::string> TestCgroupRoots::Paths() const {
  std::vector<std::string> paths;
  for (const CgroupDir& owner : owners_) {
    paths.push_back(owner.path());
  }
  return paths;
}

Status TestCgroupRoots::Remove() {
  Status result;
  for (CgroupDir& owner : owners_) {
    result.Update(owner.Remove());
  }
  return result;
}

StatusOr<TestProcess> TestProcess::Start(const Body& body) {
  int go[2];
  int report[2];
  if (::pipe2(go, O_CLOEXEC) != 0) {
    return ErrnoError(errno, "pipe");
  }
  if (::pipe2(report, O_CLOEXEC) != 0) {
    Status status = ErrnoError(errno, "pipe");
    ::close(go[0]);
    ::close(go[1]);
    return status;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    Status status = ErrnoError(errno, "fork");
    for (int fd : {go[0], go[1], report[0], report[1]}) {
      ::close(fd);
    }
    return status;
  }
  if (pid == 0) {
    ::close(go[1]);
    ::close(report[0]);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    AwaitGo(go[0]);
    ::_exit(body(go[0], report[1]));
  }
  ::close(go[0]);
  ::close(report[1]);
  return TestProcess(pid, go[1], report[0]);
}

TestProcess::TestProcess(TestProcess&& other) noexcept
    : pid_(other.pid_), go_fd_(other.go_fd_), report_fd_(other.report_fd_) {
  other.pid_ = -1;
  other.go_fd_ = -1;
  other.report_fd_ = -1;
}

TestProcess::~TestProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (go_fd_ >= 0) {
    ::close(go_fd_);
  }
  if (report_fd_ >= 0) {
    ::close(report_fd_);
  }
}

Status TestProcess::Go() const {
  char byte = 'g';
  if (::write(go_fd_, &byte, 1) != 1) {
    return ErrnoError(errno, "signal test process");
  }
  return absl::OkStatus();
}

StatusOr<int64_t> TestProcess::ReadReport() const {
  int64_t value = 0;
  auto* bytes = static_cast<void*>(&value);
  ssize_t n = 0;
  do {
    n = ::read(report_fd_, bytes, sizeof(value));
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof(value))) {
    return absl::AbortedError(fmt::format("test process {} ended without reporting", pid_));
  }
  return value;
}

int TestProcess::Wait() {
  int status = 0;
  if (pid_ > 0 && ::waitpid(pid_, &status, 0) == pid_) {
    pid_ = -1;
  }
  return status;
}

bool TestProcess::Running() {
  if (pid_ <= 0) {
    return false;
  }
  int status = 0;
  pid_t done = ::waitpid(pid_, &status, WNOHANG);
  if (done == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void Report(int report_fd, int64_t value) { (void)!::write(report_fd, &value, sizeof(value)); }

void AwaitGo(int go_fd) {
  char byte = 0;
  while (::read(go_fd, &byte, 1) < 0 && errno == EINTR) {
  }
}

void BecomeSubreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }

void ReapOrphans() {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string ReadTrimmed(const std::string& path) {
  auto text = ReadFile(path);
  return text.ok() ? std::string(TrimSpace(*text))
                   : std::string("<") + MessageOf(text.status()) + ">";
}

int64_t ReadNumber(const std::string& path) {
  return ParseInteger<int64_t>(ReadTrimmed(path)).value_or(-1);
}

int64_t ReadCounter(const std::string& path, std::string_view key) {
  auto text = ReadFile(path);
  if (!text.ok()) {
    return -1;
  }
  auto counters = ParseKeyedCounters(*text);
  if (!counters.ok()) {
    return -1;
  }
  auto it = counters->find(key);
  return it == counters->end() ? -1 : it->second;
}

// Touches `bytes` of fresh anonymous memory, page by page; reports 1 and
// waits for another go byte, then checks the memory still holds its pattern.
int HoldMemory(int go_fd, int report_fd, int64_t bytes, char pattern) {
  auto size = static_cast<size_t>(bytes);
  void* area = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) {
    return 2;
  }
  auto* memory = static_cast<volatile char*>(area);
  for (size_t offset = 0; offset < size; offset += 4096) {
    memory[offset] = pattern;
  }
  Report(report_fd, 1);
  AwaitGo(go_fd);
  for (size_t offset = 0; offset < size; offset += 4096) {
    if (memory[offset] != pattern) {
      return 3;
    }
  }
  return 0;
}

// Forks up to `attempts` sleeping children; reports how many forks worked
// and how many were refused with EAGAIN, then sleeps. Bounded on purpose:
// no child forks again.
int ForkBomb(int /*go_fd*/, int report_fd, int attempts) {
  int64_t forked = 0;
  int64_t refused = 0;
  for (int i = 0; i < attempts; ++i) {
    pid_t child = ::fork();
    if (child == 0) {
      // The test reads reports until EOF: only the bomb itself holds the pipe.
      ::close(report_fd);
      ::pause();
      ::_exit(0);
    }
    if (child > 0) {
      ++forked;
    } else if (errno == EAGAIN) {
      ++refused;
    } else {
      break;
    }
  }
  Report(report_fd, forked);
  Report(report_fd, refused);
  ::pause();
  return 0;
}

}  // namespace bulkhead::agent::budgets::testing
