#include "node/kubelet/sub_paths.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/unique_fd.h"
#include "fmt/format.h"

namespace bulkhead::node {

bool IsLocalDescendingPath(std::string_view path) {
  if (path.empty() || path.front() == '/') {
    return false;
  }
  while (!path.empty()) {
    const size_t slash = path.find('/');
    if (path.substr(0, slash) == "..") {
      return false;
    }
    path.remove_prefix(slash == std::string_view::npos ? path.size() : slash + 1);
  }
  return true;
}
namespace {

namespace fs = std::filesystem;

int OpenBeneath(int root, const std::string& path, uint64_t flags) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, root, path.c_str(), &how, sizeof(how)));
}

Status Escapes(const std::string& sub_path) {
  return absl::PermissionDeniedError(fmt::format(
      "subPath \"{}\" leaves its volume (through \"..\" or a symlink); refused", sub_path));
}

}  // namespace

Status PinSubPath(const std::string& volume_path, const std::string& sub_path,
                  const std::string& target) {
  if (sub_path.empty() || sub_path.starts_with("/")) {
    return absl::InvalidArgumentError(
        fmt::format("subPath \"{}\" must be a relative path inside the volume", sub_path));
  }
  UniqueFd root(::open(volume_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    return ErrnoError(errno, "open volume " + volume_path);
  }
  UniqueFd found(OpenBeneath(root.get(), sub_path, O_PATH));
  if (!found && errno == ENOENT) {
    // Missing: made as directories, one component at a time, each beneath
    // the one before.
    UniqueFd at(::dup(root.get()));
    for (const auto& part : fs::path(sub_path)) {
      std::string name = part.string();
      if (name.empty() || name == ".") {
        continue;
      }
      if (::mkdirat(at.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoError(errno, "mkdir subPath " + sub_path);
      }
      UniqueFd next(OpenBeneath(at.get(), name, O_PATH | O_DIRECTORY));
      if (!next) {
        return errno == EXDEV || errno == ELOOP ? Escapes(sub_path)
                                                : ErrnoError(errno, "open subPath " + sub_path);
      }
      at = std::move(next);
    }
    found = std::move(at);
  }
  if (!found) {
    return errno == EXDEV || errno == ELOOP ? Escapes(sub_path)
                                            : ErrnoError(errno, "open subPath " + sub_path);
  }
  struct stat info {};
  if (::fstat(found.get(), &info) != 0) {
    return ErrnoError(errno, "stat subPath " + sub_path);
  }
  std::error_code error;
  fs::create_directories(fs::path(target).parent_path(), error);
  ::umount2(target.c_str(), MNT_DETACH);  // a pin of an earlier attempt
  if (S_ISDIR(info.st_mode)) {
    fs::create_directories(target, error);
  } else {
    std::ofstream touch(target, std::ios::app);
  }
  std::string source = fmt::format("/proc/self/fd/{}", found.get());
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return ErrnoError(errno, "bind-mount subPath " + sub_path);
  }
  return absl::OkStatus();
}

bool UnmountAllUnder(const std::string& dir) {
  auto mounted = [&] {
    std::vector<std::string> points;
    std::ifstream mounts("/proc/self/mounts");
    for (std::string line; std::getline(mounts, line);) {
      std::istringstream words(line);
      std::string source;
      std::string point;
      words >> source >> point;
      if (point == dir || point.starts_with(dir + "/")) {
        points.push_back(point);
      }
    }
    std::sort(points.begin(), points.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    return points;
  };
  for (const std::string& point : mounted()) {
    ::umount2(point.c_str(), MNT_DETACH);
  }
  return mounted().empty();
}

}  // namespace bulkhead::node
