#include "common/netns.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "common/logging.h"

namespace bulkhead {
namespace {

Status ValidateName(const std::string& name) {
  if (name.empty() || name.size() > 64 || name.find('/') != std::string::npos || name == "." ||
      name == "..") {
    return absl::InvalidArgumentError(fmt::format("invalid network namespace name \"{}\"", name));
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<NetworkNamespace> NetworkNamespace::Create(const std::string& name) {
  BH_RETURN_IF_ERROR(ValidateName(name));
  if (::mkdir(kRunDir, 0755) != 0 && errno != EEXIST) {
    return ErrnoError(errno, fmt::format("mkdir {}", kRunDir));
  }
  std::string path = fmt::format("{}/{}", kRunDir, name);
  int created = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (created < 0) {
    return ErrnoError(errno, fmt::format("create {}", path));
  }
  ::close(created);

  // unshare(CLONE_NEWNET) changes only the calling thread, so a short-lived
  // thread makes the namespace and bind-mounts it; this thread is untouched.
  Status result;
  std::thread maker([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      result = ErrnoError(errno, "unshare(CLONE_NEWNET)");
      return;
    }
    std::string self = fmt::format("/proc/self/task/{}/ns/net", ::gettid());
    if (::mount(self.c_str(), path.c_str(), "none", MS_BIND, nullptr) != 0) {
      result = ErrnoError(errno, fmt::format("bind mount {} on {}", self, path));
    }
  });
  maker.join();
  if (!result.ok()) {
    ::unlink(path.c_str());
    return result;
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    Status status = ErrnoError(errno, fmt::format("open {}", path));
    ::umount2(path.c_str(), MNT_DETACH);
    ::unlink(path.c_str());
    return status;
  }
  return NetworkNamespace(name, std::move(fd));
}

NetworkNamespace::NetworkNamespace(NetworkNamespace&& other) noexcept
    : name_(std::move(other.name_)), fd_(std::move(other.fd_)) {
  other.name_.clear();
}

NetworkNamespace& NetworkNamespace::operator=(NetworkNamespace&& other) noexcept {
  if (this != &other) {
    (void)Remove();
    name_ = std::move(other.name_);
    fd_ = std::move(other.fd_);
    other.name_.clear();
  }
  return *this;
}

NetworkNamespace::~NetworkNamespace() {
  Status status = Remove();
  if (!status.ok()) {
    Logger(Component::kAgent)
        .warn("netns remove failed name={} error=\"{}\"", name_, status.message());
  }
}

std::string NetworkNamespace::path() const { return fmt::format("{}/{}", kRunDir, name_); }

Status NetworkNamespace::Remove() {
  if (name_.empty()) {
    return absl::OkStatus();
  }
  fd_.reset();
  std::string file = path();
  name_.clear();
  if (::umount2(file.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return ErrnoError(errno, fmt::format("unmount {}", file));
  }
  if (::unlink(file.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError(errno, fmt::format("remove {}", file));
  }
  return absl::OkStatus();
}

StatusOr<NetnsGuard> NetnsGuard::Enter(int netns_fd) {
  UniqueFd previous(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!previous) {
    return ErrnoError(errno, "open /proc/thread-self/ns/net");
  }
  if (::setns(netns_fd, CLONE_NEWNET) != 0) {
    return ErrnoError(errno, "setns(CLONE_NEWNET)");
  }
  return NetnsGuard(std::move(previous));
}

NetnsGuard::~NetnsGuard() {
  if (previous_ && ::setns(previous_.get(), CLONE_NEWNET) != 0) {
    Logger(Component::kAgent)
        .error("cannot return to the previous network namespace errno={}", errno);
  }
}

}  // namespace bulkhead
