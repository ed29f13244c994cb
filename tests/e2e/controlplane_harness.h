// Runs bulkhead-controlplane for end-to-end tests: a fresh data directory,
// any free port (read from the "serving" line it prints), and SIGKILL on
// teardown whatever happened. Clients run as users run them: kubectl with
// its own HOME and cache directory, curl, and Debian's python3.
#ifndef BULKHEAD_TESTS_E2E_CONTROLPLANE_HARNESS_H_
#define BULKHEAD_TESTS_E2E_CONTROLPLANE_HARNESS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/command.h"

namespace bulkhead::testing {

// A temporary directory removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  // Writes `content` to path()/name and returns the full path.
  std::string Write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

// A child process whose stdout is read line by line.
class Process {
 public:
  // `merge_stderr`: stderr goes to the same pipe as stdout.
  static std::unique_ptr<Process> Spawn(const std::vector<std::string>& argv,
                                        const std::vector<std::string>& env = {},
                                        bool merge_stderr = false);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Reads stdout until a line satisfies `done` or `timeout_seconds` pass.
  // Returns the matching line, or "" on timeout or end of output.
  std::string WaitForLine(const std::function<bool(const std::string&)>& done, int timeout_seconds);
  // Everything read from stdout so far.
  [[nodiscard]] const std::string& output() const { return output_; }
  void Kill(int signal);
  // Waits for exit; returns the exit code (-1 when killed by a signal).
  int Wait(int timeout_seconds);
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  Process() = default;
  bool ReadSome(int timeout_ms);
  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool reaped_ = false;
  bool eof_ = false;
  std::string output_;
  size_t consumed_ = 0;
};

class ControlPlane {
 public:
  // Starts a control plane on `data_dir` (a fresh one when empty).
  static std::unique_ptr<ControlPlane> Start(const std::string& data_dir = "",
                                             const std::vector<std::string>& extra_args = {});
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  [[nodiscard]] const std::string& url() const { return url_; }
  [[nodiscard]] const std::string& data_dir() const { return data_dir_; }
  [[nodiscard]] std::string kubeconfig() const { return data_dir_ + "/kubeconfig"; }
  [[nodiscard]] std::string token() const;
  // The server's process id (for /proc reads).
  [[nodiscard]] pid_t pid() const { return process_->pid(); }
  void Kill9();

  // kubectl 1.32 against this cluster, with a HOME of its own.
  CommandResult Kubectl(const std::vector<std::string>& args, int timeout_seconds = 60) const;
  // The argv that runs kubectl like Kubectl() does (for background use).
  [[nodiscard]] std::vector<std::string> KubectlArgv(const std::vector<std::string>& args,
                                                     const std::string& kubectl = "") const;
  // curl with the admin token (or none); the output is the body, then the
  // HTTP status on a last line of its own (see HttpStatus, HttpBody).
  CommandResult Curl(const std::string& method, const std::string& path,
                     const std::string& body = "", const std::string& content_type = "",
                     bool authenticated = true) const;

 private:
  ControlPlane() = default;
  std::unique_ptr<TempDir> owned_dir_;
  std::unique_ptr<TempDir> home_;
  std::string data_dir_;
  std::string url_;
  std::unique_ptr<Process> process_;
};

// The parts of Curl() output.
int HttpStatus(const CommandResult& result);
std::string HttpBody(const CommandResult& result);

inline constexpr const char* kKubectl = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32";
inline constexpr const char* kKubectlDispatcher = "/usr/bin/kubectl";

}  // namespace bulkhead::testing

#endif  // BULKHEAD_TESTS_E2E_CONTROLPLANE_HARNESS_H_
