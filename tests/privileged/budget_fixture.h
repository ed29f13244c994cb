// Shared by the budget privileged tests: a cgroup prefix of the test's own
// in every hierarchy budgets use (removed by CgroupDir owners, even when a
// test fails), and forked test processes that start only when told to, so
// they are inside their limited cgroup before they run.
#ifndef BULKHEAD_TESTS_PRIVILEGED_BUDGET_FIXTURE_H_
#define BULKHEAD_TESTS_PRIVILEGED_BUDGET_FIXTURE_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "agent/cgroups/layout.h"
#include "common/cgroup_dir.h"
#include "common/status.h"

namespace bulkhead::agent::budgets::testing {

// "bulkhead-test-<pid>" in each of the cpu, cpuacct, memory and pids
// hierarchies (and the cgroup v2 mount when asked).
class TestCgroupRoots {
 public:
  static StatusOr<TestCgroupRoots> Make(bool with_unified = false);

  [[nodiscard]] const CgroupLayout& layout() const { return layout_; }
  [[nodiscard]] const std::string& prefix() const { return prefix_; }
  // Absolute directories of the prefix, one per hierarchy.
  [[nodiscard]] std::vector<std::string> Paths() const;
  // Removes everything below the prefix (kills what runs there).
  Status Remove();

 private:
  CgroupLayout layout_;
  std::string prefix_;
  std::vector<CgroupDir> owners_;
};

// A forked process. It waits for Go(), then runs `body(go_fd, report_fd)`
// and exits with its result. Destruction kills and reaps it.
class TestProcess {
 public:
  using Body = std::function<int(int go_fd, int report_fd)>;
  static StatusOr<TestProcess> Start(const Body& body);

  TestProcess(TestProcess&& other) noexcept;
  TestProcess& operator=(TestProcess&&) = delete;
  TestProcess(const TestProcess&) = delete;
  TestProcess& operator=(const TestProcess&) = delete;
  ~TestProcess();

  [[nodiscard]] pid_t pid() const { return pid_; }
  // Lets the body run (or sends it one more byte on go_fd).
  Status Go() const;
  // One number the body wrote with Report(); EOF (the body died) is an error.
  [[nodiscard]] StatusOr<int64_t> ReadReport() const;
  // Blocks until the process ends; its wait status.
  int Wait();
  // True while the process has not exited.
  bool Running();

 private:
  TestProcess(pid_t pid, int go_fd, int report_fd)
      : pid_(pid), go_fd_(go_fd), report_fd_(report_fd) {}

  pid_t pid_ = -1;
  int go_fd_ = -1;
  int report_fd_ = -1;
};

// For bodies: write a number to the report pipe; wait for one go byte.
void Report(int report_fd, int64_t value);
void AwaitGo(int go_fd);

// Bodies for TestProcess:
// Touches `bytes` of fresh anonymous memory, page by page; reports 1 and
// waits for another go byte, then checks the memory still holds its pattern.
int HoldMemory(int go_fd, int report_fd, int64_t bytes, char pattern);
// Forks up to `attempts` sleeping children; reports how many forks worked
// and how many were refused with EAGAIN, then sleeps.
int ForkBomb(int go_fd, int report_fd, int attempts);

// Reaps any exited children (the fork bomb's orphans come to us: the test
// process is a child subreaper).
void ReapOrphans();
void BecomeSubreaper();

bool Exists(const std::string& path);
std::string ReadTrimmed(const std::string& path);
int64_t ReadNumber(const std::string& path);
// A "key value" counter from a file such as cpu.stat.
int64_t ReadCounter(const std::string& path, std::string_view key);

}  // namespace bulkhead::agent::budgets::testing

#endif  // BULKHEAD_TESTS_PRIVILEGED_BUDGET_FIXTURE_H_
