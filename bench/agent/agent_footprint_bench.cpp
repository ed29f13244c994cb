// Agent footprint: RSS and CPU of an idle `bulkhead-agent run` holding
// 1,000 tenants and 10,000 endpoints (from an endpoints file), sampled from
// /proc over a quiet window after start-up.
//
//   bulkhead-bench-agent-footprint [--seconds S]
//
// Needs root. Uses its own pods cgroup, bpffs root and file, and removes them.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "common/cgroup_dir.h"
#include "fmt/format.h"
#include "tests/support/test_node.h"

namespace {

struct Sample {
  long rss_kib = 0;
  long ticks = 0;  // utime + stime
};

Sample Read(pid_t pid) {
  Sample sample;
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      sample.rss_kib = std::atol(line.c_str() + 6);
    }
  }
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  long utime = 0;
  long stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14) {
      utime = std::atol(field.c_str());
    } else if (i == 15) {
      stime = std::atol(field.c_str());
      break;
    }
  }
  sample.ticks = utime + stime;
  return sample;
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 10;
  if (argc == 3 && std::string(argv[1]) == "--seconds") {
    seconds = std::max(1, std::atoi(argv[2]));
  } else if (argc != 1) {
    std::fprintf(stderr, "usage: bulkhead-bench-agent-footprint [--seconds S]\n");
    return 2;
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "bulkhead-bench-agent-footprint: needs root\n");
    return 1;
  }
  std::string tag = fmt::format("bulkhead-test-footprint-{}", ::getpid());
  auto root = bulkhead::CgroupDir::Create("/sys/fs/cgroup/unified/" + tag);
  if (!root.ok()) {
    std::fprintf(stderr, "bench: %s\n", bulkhead::MessageOf(root.status()).c_str());
    return 1;
  }
  std::string bpf_root = fmt::format("/sys/fs/bpf/bulkhead-bench-{}", ::getpid());
  std::string file = fmt::format("/tmp/{}.yaml", tag);
  {
    std::ofstream out(file);
    out << "node_address: 198.18.0.1\npod_networks: [100.64.0.0/10]\nendpoints:\n";
    for (int t = 0; t < 1000; ++t) {
      for (int e = 0; e < 10; ++e) {
        unsigned base = 0x64400000U + static_cast<unsigned>(t) * 16U + static_cast<unsigned>(e) + 1;
        out << fmt::format("- {{tenant: tenant-{}, pod: pod-{}, addresses: [{}.{}.{}.{}]}}\n", t, e,
                           base >> 24, (base >> 16) & 0xFF, (base >> 8) & 0xFF, base & 0xFF);
      }
    }
  }
  auto start = std::chrono::steady_clock::now();
  auto agent = bulkhead::testing::StartProcess({BULKHEAD_AGENT_PATH, "--log-level", "info", "run",
                                                "--endpoints-file", file, "--pods-cgroup",
                                                root->path(), "--bpf-root", bpf_root});
  if (!agent || !agent->WaitForText("agent ready", std::chrono::seconds(60))) {
    std::fprintf(stderr, "bench: agent did not start: %s\n",
                 agent ? agent->Output().c_str() : "spawn failed");
    return 1;
  }
  double ready_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let start-up settle
  Sample before = Read(agent->pid());
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  Sample after = Read(agent->pid());
  double cpu = static_cast<double>(after.ticks - before.ticks) /
               static_cast<double>(::sysconf(_SC_CLK_TCK)) / seconds * 100.0;
  std::printf("agent with 1000 tenants, 10000 endpoints: start to ready %.0f ms\n", ready_ms);
  std::printf(
      "idle RSS %.1f MiB (target < 30), idle CPU %.2f %% of a core over %d s (target < 1)\n",
      static_cast<double>(after.rss_kib) / 1024.0, cpu, seconds);
  agent.reset();
  auto removed =
      bulkhead::testing::RunCommand({BULKHEAD_AGENT_PATH, "uninstall", "--bpf-root", bpf_root});
  ::unlink(file.c_str());
  return removed.exit_code == 0 ? 0 : 1;
}
