// CgroupDir: the one owner of a cgroup directory that Bulkhead created.
//
// Works on cgroup v1 hierarchies and on cgroup v2. Destroying the owner
// removes the directory and every cgroup below it, killing the processes
// still inside (cgroup.kill on v2 when the kernel has it, SIGKILL per pid
// otherwise), so tests and the agent never leave a cgroup behind.
#ifndef BULKHEAD_COMMON_CGROUP_DIR_H_
#define BULKHEAD_COMMON_CGROUP_DIR_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"

namespace bulkhead {

class CgroupDir {
 public:
  // Creates `path` (its parent must exist). With `adopt_existing`, an
  // existing directory is taken over instead of failing with ALREADY_EXISTS.
  static StatusOr<CgroupDir> Create(const std::string& path, bool adopt_existing = false);

  CgroupDir(CgroupDir&& other) noexcept;
  CgroupDir& operator=(CgroupDir&& other) noexcept;
  CgroupDir(const CgroupDir&) = delete;
  CgroupDir& operator=(const CgroupDir&) = delete;
  ~CgroupDir();

  [[nodiscard]] const std::string& path() const { return path_; }
  // An O_DIRECTORY fd on the cgroup, as BPF cgroup attach wants.
  [[nodiscard]] int fd() const { return fd_.get(); }

  // Moves a process into this cgroup.
  Status AddProcess(pid_t pid) const;
  // The pids in this cgroup (not its children).
  [[nodiscard]] StatusOr<std::vector<pid_t>> Processes() const;

  // Kills what is inside and removes the tree now; idempotent.
  Status Remove();
  // Gives up ownership: the directory stays.
  std::string Release();

 private:
  CgroupDir(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  std::string path_;
  UniqueFd fd_;
};

// Removes a cgroup tree, killing processes inside it. NOT_FOUND is OK.
Status RemoveCgroupTree(const std::string& path);

}  // namespace bulkhead

#endif  // BULKHEAD_COMMON_CGROUP_DIR_H_
