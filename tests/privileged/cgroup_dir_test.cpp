#include "common/cgroup_dir.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/support/privileged.h"

namespace bulkhead {
namespace {

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Roots to exercise: the cgroup v2 mount and, where present, the v1 pids
// hierarchy (both exist on a hybrid machine).
std::vector<std::string> Roots() {
  std::vector<std::string> roots;
  for (const char* root : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup/pids", "/sys/fs/cgroup"}) {
    if (Exists(fmt::format("{}/cgroup.procs", root))) {
      roots.emplace_back(root);
    }
  }
  return roots;
}

pid_t SpawnSleeper() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  return pid;
}

TEST(CgroupDir, RemovesTreeAndKillsItsProcesses) {
  BULKHEAD_REQUIRE_PRIVILEGES();
  auto roots = Roots();
  ASSERT_FALSE(roots.empty()) << "no writable cgroup root found";
  for (const std::string& root : roots) {
    SCOPED_TRACE(root);
    std::string top = fmt::format("{}/bulkhead-test-{}", root, ::getpid());
    pid_t sleeper = SpawnSleeper();
    ASSERT_GT(sleeper, 0);
    {
      auto dir = CgroupDir::Create(top);
      ASSERT_TRUE(dir.ok()) << dir.status();
      auto child = CgroupDir::Create(top + "/tenant-a");
      ASSERT_TRUE(child.ok()) << child.status();
      ASSERT_TRUE(child->AddProcess(sleeper).ok());
      auto pids = child->Processes();
      ASSERT_TRUE(pids.ok());
      EXPECT_EQ(*pids, std::vector<pid_t>{sleeper});
      (void)child->Release();  // the parent's owner removes the whole tree
    }
    int wstatus = 0;
    ASSERT_EQ(::waitpid(sleeper, &wstatus, 0), sleeper);
    EXPECT_TRUE(WIFSIGNALED(wstatus));
    EXPECT_EQ(WTERMSIG(wstatus), SIGKILL);
    EXPECT_FALSE(Exists(top)) << top << " left behind";
  }
}

TEST(CgroupDir, ExistingDirectoryIsRefusedUnlessAdopted) {
  BULKHEAD_REQUIRE_PRIVILEGES();
  std::string path = fmt::format("/sys/fs/cgroup/unified/bulkhead-test-adopt-{}", ::getpid());
  auto first = CgroupDir::Create(path);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = CgroupDir::Create(path);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  auto adopted = CgroupDir::Create(path, /*adopt_existing=*/true);
  ASSERT_TRUE(adopted.ok()) << adopted.status();
  EXPECT_TRUE(adopted->Remove().ok());
  EXPECT_FALSE(Exists(path));
  EXPECT_TRUE(first->Remove().ok()) << "removing twice is not an error";
}

TEST(CgroupDir, MissingParentIsNotFound) {
  BULKHEAD_REQUIRE_PRIVILEGES();
  auto dir = CgroupDir::Create("/sys/fs/cgroup/unified/bulkhead-no-such-parent/x");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace bulkhead
