#include "tests/privileged/node_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "node/kubelet/pod_cgroups.h"
#include "tests/privileged/containerd_fixture.h"
#include "tests/support/privileged.h"

namespace bulkhead::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class NodeEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    if (!started_) {
      return;
    }
    shared_.StopNode();
    if (Status down = node::Teardown(shared_.containerd); !down.ok()) {
      std::fprintf(stderr, "node teardown: %s\n", std::string(down.message()).c_str());
    }
    node::RemoveCgroupTree(shared_.cgroup_root);
    std::error_code error;
    fs::remove(shared_.node_log, error);
    shared_.host.reset();
  }

  SharedNode* Get(std::string& error) {
    if (!tried_) {
      tried_ = true;
      error_ = Start();
    }
    error = error_;
    return error_.empty() ? &shared_ : nullptr;
  }

 private:
  std::string Start() {
    auto options = TestContainerdOptions("n", 248);
    if (!options.ok()) {
      return std::string(options.status().message());
    }
    shared_.containerd = *options;
    started_ = true;
    shared_.cgroup_root = "/bulkhead-node-test-" + std::to_string(::getpid());
    shared_.node_name = "node-" + std::to_string(::getpid());
    shared_.node_log = shared_.containerd.state_dir + "-node.log";
    shared_.host = ControlPlane::Start("", {"--host-mode"});
    if (shared_.host == nullptr) {
      return "the host API did not start";
    }
    return shared_.StartNode();
  }

  SharedNode shared_;
  bool tried_ = false;
  bool started_ = false;
  std::string error_;
};

NodeEnvironment* g_environment =
    dynamic_cast<NodeEnvironment*>(::testing::AddGlobalTestEnvironment(new NodeEnvironment));

}  // namespace

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

std::string Quote(const std::string& word) { return "'" + word + "'"; }

// A port nobody listens on now, for the node's endpoint.
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
  ::close(fd);
  return bound ? ntohs(address.sin_port) : 20000 + ::getpid() % 20000;
}

}  // namespace

std::string SharedNode::LogTail() const {
  std::string text = ReadAll(node_log);
  return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
}

std::string SharedNode::StartNode() {
  const size_t registered_before = Count(ReadAll(node_log), "registered (");
  if (serve_port == 0) {
    serve_port = FreePort();
  }
  std::string command = "exec";
  for (const std::string& word : {std::string(BULKHEAD_NODE_PATH),
                                  std::string("--kubeconfig"),
                                  host->kubeconfig(),
                                  std::string("--state-dir"),
                                  containerd.state_dir,
                                  std::string("--bridge"),
                                  containerd.bridge,
                                  std::string("--network-name"),
                                  containerd.network_name,
                                  std::string("--pod-cidr"),
                                  containerd.pod_cidr,
                                  std::string("--cgroup-root"),
                                  cgroup_root,
                                  std::string("--node-name"),
                                  node_name,
                                  std::string("--restart-backoff-ms"),
                                  std::string("1000"),
                                  std::string("--lease-seconds"),
                                  std::string("2"),
                                  std::string("--serve-port"),
                                  std::to_string(serve_port)}) {
    command += " " + Quote(word);
  }
  command += " 2>>" + Quote(node_log) + " >&2";
  node = Process::Spawn({"/bin/sh", "-c", command});
  if (node == nullptr) {
    return "bulkhead-node did not start";
  }
  for (int i = 0; i < 600; ++i) {
    if (Count(ReadAll(node_log), "registered (") > registered_before) {
      return "";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return "the node did not register in 30 s: " + LogTail();
}

void SharedNode::StopNode() {
  if (node != nullptr) {
    node->Kill(SIGTERM);
    if (node->Wait(30) == -2) {
      node->Kill(SIGKILL);
      node->Wait(5);
    }
    node.reset();
  }
}

SharedNode* GetSharedNode(std::string& error) { return g_environment->Get(error); }

void NodeTest::SetUp() {
  BULKHEAD_REQUIRE_PRIVILEGES();
  std::string error;
  shared_ = GetSharedNode(error);
  ASSERT_NE(shared_, nullptr) << error;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info->name();
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  ns_ = "t-" + name.substr(0, 40);
  while (!ns_.empty() && !std::isalnum(static_cast<unsigned char>(ns_.back()))) {
    ns_.pop_back();
  }
  auto created = shared_->host->Kubectl({"create", "namespace", ns_});
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err;
}

void NodeTest::TearDown() {
  if (shared_ == nullptr || ns_.empty()) {
    return;
  }
  // Pods end with their namespace; the node removes their containers.
  shared_->host->Kubectl({"delete", "namespace", ns_, "--wait=true", "--timeout=120s"}, 130);
  for (int i = 0; i < 600; ++i) {
    auto left =
        shared_->host->Kubectl({"get", "pods", "-A", "-o", "jsonpath={.items[*].metadata.name}"});
    std::error_code error;
    bool pods_dir_empty = true;
    fs::path pods = fs::path(shared_->containerd.state_dir) / "pods";
    if (fs::is_directory(pods, error)) {
      pods_dir_empty = fs::directory_iterator(pods, error) == fs::directory_iterator();
    }
    if (left.exit_code == 0 && left.out.empty() && pods_dir_empty) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "the node did not remove the pods of " << ns_;
}

CommandResult NodeTest::Run(const std::vector<std::string>& args, int timeout_seconds) {
  std::vector<std::string> with_ns = args;
  with_ns.insert(with_ns.begin(), {"-n", ns_});
  return shared_->host->Kubectl(with_ns, timeout_seconds);
}

CommandResult NodeTest::Ok(const std::vector<std::string>& args, int timeout_seconds) {
  auto result = Run(args, timeout_seconds);
  EXPECT_EQ(result.exit_code, 0) << "kubectl " << ::testing::PrintToString(args) << "\n"
                                 << result.out << result.err;
  return result;
}

json NodeTest::Get(const std::string& what) {
  auto result = Run({"get", what, "-o", "json"});
  return json::parse(result.out, nullptr, false);
}

void NodeTest::Apply(const std::string& yaml) {
  Ok({"apply", "-f", files_.Write("object.yaml", yaml)});
}

json NodeTest::WaitFor(const std::string& what, const std::function<bool(const json&)>& done,
                       int timeout_seconds) {
  json last;
  for (int i = 0; i < timeout_seconds * 5; ++i) {
    last = Get(what);
    if (last.is_object() && done(last)) {
      return last;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ADD_FAILURE() << what << " did not reach the expected state; last: " << last.dump()
                << "\nnode log tail: " << shared_->LogTail();
  return last;
}

json ContainerStatus(const json& pod, const std::string& name) {
  if (!pod.is_object()) {
    return json::object();
  }
  for (const char* key : {"containerStatuses", "initContainerStatuses"}) {
    for (const json& status :
         pod.value("/status"_json_pointer, json::object()).value(key, json::array())) {
      if (status.value("name", "") == name) {
        return status;
      }
    }
  }
  return json::object();
}

}  // namespace bulkhead::testing
