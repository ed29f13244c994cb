// bulkhead-controlplane with Debian's python3-kubernetes, and the durability
// of acknowledged writes across kill -9.
#include <gtest/gtest.h>

#include <signal.h>
#include <set>

#include "nlohmann/json.hpp"
#include "tests/e2e/controlplane_harness.h"

namespace bulkhead::testing {
namespace {

using nlohmann::json;

constexpr const char* kPython = "/usr/bin/python3";
const std::string kScripts = BULKHEAD_E2E_DIR;

TEST(PythonClient, CreateListWatchPatchScaleDelete) {
  auto plane = ControlPlane::Start();
  ASSERT_NE(plane, nullptr);
  CommandOptions options;
  options.timeout_seconds = 120;
  auto result = RunCommand(
      {kPython, kScripts + "/controlplane_python_client.py", plane->kubeconfig()}, options);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("python client: all steps passed"), std::string::npos)
      << result.out << result.err;
}

TEST(Durability, KillNineLosesNoAcknowledgedWrite) {
  auto plane = ControlPlane::Start();
  ASSERT_NE(plane, nullptr);
  auto writer = Process::Spawn({kPython, kScripts + "/controlplane_write_stream.py", plane->url(),
                                plane->token(), plane->data_dir() + "/pki/ca.crt"});
  ASSERT_NE(writer, nullptr);
  int acks = 0;
  auto enough = writer->WaitForLine(
      [&acks](const std::string& line) { return line.rfind("ack ", 0) == 0 && ++acks >= 300; },
      120);
  ASSERT_FALSE(enough.empty()) << writer->output();
  std::string dir = plane->data_dir();
  plane->Kill9();  // while the writer is still sending
  writer->Wait(30);
  std::set<std::string> acknowledged;
  size_t start = 0;
  const std::string& output = writer->output();
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    std::string line = output.substr(start, end - start);
    if (line.rfind("ack ", 0) == 0) {
      acknowledged.insert(line.substr(4));
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  ASSERT_GE(acknowledged.size(), 300U);
  EXPECT_EQ(output.find("unexpected status"), std::string::npos) << output;

  auto restarted = ControlPlane::Start(dir);
  ASSERT_NE(restarted, nullptr);
  auto list = json::parse(HttpBody(restarted->Curl("GET", "/api/v1/namespaces/default/configmaps")),
                          nullptr, false);
  std::set<std::string> stored;
  for (const auto& item : list["items"]) {
    stored.insert(item["metadata"]["name"].get<std::string>());
  }
  for (const auto& name : acknowledged) {
    EXPECT_TRUE(stored.count(name) == 1) << name << " was acknowledged but is lost";
  }
}

}  // namespace
}  // namespace bulkhead::testing
