#include "common/cgroup_dir.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "common/file.h"
#include "common/logging.h"

namespace bulkhead {
namespace {

StatusOr<std::vector<pid_t>> ReadPids(const std::string& dir) {
  BH_ASSIGN_OR_RETURN(std::string text, ReadFile(dir + "/cgroup.procs"));
  std::vector<pid_t> pids;
  for (std::string_view line : SplitNonEmpty(text, "\n")) {
    if (auto pid = ParseInteger<pid_t>(line)) {
      pids.push_back(*pid);
    }
  }
  return pids;
}

std::vector<std::string> ChildDirs(const std::string& dir) {
  std::vector<std::string> children;
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) {
    return children;
  }
  while (dirent* entry = ::readdir(handle)) {
    std::string_view name(entry->d_name);
    if (entry->d_type == DT_DIR && name != "." && name != "..") {
      children.push_back(fmt::format("{}/{}", dir, name));
    }
  }
  ::closedir(handle);
  return children;
}

// Empties one cgroup of processes: cgroup.kill (v2, Linux 5.14+) or SIGKILL
// to each pid, then waits for the kernel to let them go.
Status KillProcesses(const std::string& dir) {
  if (::access((dir + "/cgroup.kill").c_str(), W_OK) == 0) {
    (void)WriteFile(dir + "/cgroup.kill", "1");
  }
  for (int attempt = 0; attempt < 500; ++attempt) {
    auto pids = ReadPids(dir);
    if (!pids.ok()) {
      return pids.status();
    }
    if (pids->empty()) {
      return absl::OkStatus();
    }
    for (pid_t pid : *pids) {
      ::kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return absl::DeadlineExceededError(fmt::format("processes in {} did not exit", dir));
}

}  // namespace

Status RemoveCgroupTree(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? absl::OkStatus() : ErrnoError(errno, fmt::format("stat {}", path));
  }
  for (const std::string& child : ChildDirs(path)) {
    BH_RETURN_IF_ERROR(RemoveCgroupTree(child));
  }
  BH_RETURN_IF_ERROR(KillProcesses(path));
  // A cgroup whose last task just exited may still be busy for a moment.
  for (int attempt = 0; attempt < 200; ++attempt) {
    if (::rmdir(path.c_str()) == 0 || errno == ENOENT) {
      return absl::OkStatus();
    }
    if (errno != EBUSY) {
      return ErrnoError(errno, fmt::format("rmdir {}", path));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ErrnoError(EBUSY, fmt::format("rmdir {}", path));
}

StatusOr<CgroupDir> CgroupDir::Create(const std::string& path, bool adopt_existing) {
  if (::mkdir(path.c_str(), 0755) != 0 && !(adopt_existing && errno == EEXIST)) {
    return ErrnoError(errno, fmt::format("create cgroup {}", path));
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    Status status = ErrnoError(errno, fmt::format("open cgroup {}", path));
    ::rmdir(path.c_str());
    return status;
  }
  return CgroupDir(path, std::move(fd));
}

CgroupDir::CgroupDir(CgroupDir&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::move(other.fd_)) {
  other.path_.clear();
}

CgroupDir& CgroupDir::operator=(CgroupDir&& other) noexcept {
  if (this != &other) {
    (void)Remove();
    path_ = std::move(other.path_);
    fd_ = std::move(other.fd_);
    other.path_.clear();
  }
  return *this;
}

CgroupDir::~CgroupDir() {
  std::string path = path_;
  Status status = Remove();
  if (!status.ok()) {
    Logger(Component::kBudget)
        .warn("cgroup remove failed path={} error=\"{}\"", path, status.message());
  }
}

Status CgroupDir::AddProcess(pid_t pid) const {
  return WriteFile(path_ + "/cgroup.procs", fmt::format("{}", pid));
}

StatusOr<std::vector<pid_t>> CgroupDir::Processes() const { return ReadPids(path_); }

Status CgroupDir::Remove() {
  if (path_.empty()) {
    return absl::OkStatus();
  }
  fd_.reset();
  std::string path = std::move(path_);
  path_.clear();
  return RemoveCgroupTree(path);
}

std::string CgroupDir::Release() {
  fd_.reset();
  std::string path = std::move(path_);
  path_.clear();
  return path;
}

}  // namespace bulkhead
