#include "agent/check/attach_probe.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "common/bpf_owner.h"
#include "common/cgroup_dir.h"
#include "probe.skel.h"
#include "probe/probe.h"

namespace bulkhead::agent {
namespace {

using ProbeSkeleton = BpfSkeleton<probe, probe__open_opts, probe__load, probe__destroy>;

// Runs in the forked child: only async-signal-safe calls.
[[noreturn]] void ConnectFromCgroup(const char* procs_path) {
  int procs = ::open(procs_path, O_WRONLY | O_CLOEXEC);
  if (procs < 0 || ::write(procs, "0", 1) != 1) {
    ::_exit(10);
  }
  ::close(procs);
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    ::_exit(11);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(9);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): sockaddr API
  if (::connect(sock, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::_exit(12);
  }
  ::_exit(0);
}

}  // namespace

StatusOr<AttachProbeResult> RunAttachProbe(const std::string& unified_mount) {
  BH_ASSIGN_OR_RETURN(ProbeSkeleton skel, ProbeSkeleton::Open("probe"));
  BH_RETURN_IF_ERROR(skel.Load());

  BH_ASSIGN_OR_RETURN(CgroupDir scratch, CgroupDir::Create(fmt::format("{}/bulkhead-check-{}",
                                                                       unified_mount, ::getpid())));

  errno = 0;
  BpfLink link(bpf_program__attach_cgroup(skel->progs.probe_connect4, scratch.fd()));
  if (!link) {
    return ErrnoError(errno != 0 ? errno : EINVAL,
                      fmt::format("attach cgroup/connect4 to {}", scratch.path()));
  }

  AttachProbeResult result;
  result.link_update = bpf_link__update_program(link.get(), skel->progs.probe_connect4) == 0;

  std::string procs_path = scratch.path() + "/cgroup.procs";
  pid_t child = ::fork();
  if (child < 0) {
    return ErrnoError(errno, "fork probe child");
  }
  if (child == 0) {
    ConnectFromCgroup(procs_path.c_str());
  }
  int wstatus = 0;
  while (::waitpid(child, &wstatus, 0) < 0) {
    if (errno != EINTR) {
      return ErrnoError(errno, "wait for probe child");
    }
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return absl::InternalError(fmt::format(
        "probe child failed (exit {}): could not join the scratch cgroup or connect a UDP socket",
        WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1));
  }

  __u32 key = 0;
  probe_counts counts{};
  BH_RETURN_IF_ERROR(CheckLibbpf(
      bpf_map__lookup_elem(skel->maps.probe_counts, &key, sizeof(key), &counts, sizeof(counts), 0),
      "read probe counter"));
  result.connect_calls = counts.connect4_calls;
  return result;
}

}  // namespace bulkhead::agent
