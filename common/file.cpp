#include "common/file.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "common/unique_fd.h"

namespace bulkhead {

StatusOr<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return ErrnoError(errno, fmt::format("open {}", path));
  }
  std::string content;
  std::array<char, 4096> buffer{};
  while (true) {
    ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoError(errno, fmt::format("read {}", path));
    }
    if (n == 0) {
      break;
    }
    content.append(buffer.data(), static_cast<size_t>(n));
  }
  return content;
}

Status WriteFile(const std::string& path, std::string_view content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) {
    return ErrnoError(errno, fmt::format("open {}", path));
  }
  ssize_t n = ::write(fd.get(), content.data(), content.size());
  if (n < 0) {
    return ErrnoError(errno, fmt::format("write \"{}\" to {}", content, path));
  }
  if (static_cast<size_t>(n) != content.size()) {
    return absl::DataLossError(fmt::format("short write to {}", path));
  }
  return absl::OkStatus();
}

Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return ErrnoError(errno, fmt::format("create {}", tmp));
  }
  // fchmod: the mode of a temporary left by an earlier crash, and the umask.
  bool ok = ::fchmod(fd, mode) == 0 &&
            ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return ErrnoError(err, fmt::format("write {}", tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError(err, fmt::format("rename {} to {}", tmp, path));
  }
  return absl::OkStatus();
}

}  // namespace bulkhead
