#include "tests/e2e/agent_api_harness.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fmt/format.h"
#include "tests/support/command.h"

namespace bulkhead::testing {

using agent::netpol::DesiredState;
using agent::netpol::Endpoint;
using agent::netpol::IpAddress;

ScratchDir::ScratchDir() {
  std::string pattern = "/tmp/bulkhead-api-test-XXXXXX";
  if (::mkdtemp(pattern.data()) != nullptr) {
    path_ = pattern;
  }
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void RunCerts(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BULKHEAD_CLI_PATH, "certs"};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult result = RunCommand(argv);
  ASSERT_EQ(result.exit_code, 0) << result.err;
}

ClientCert CertFor(const std::string& dir, const std::string& stem) {
  return {fmt::format("{}/{}.crt", dir, stem), fmt::format("{}/{}.key", dir, stem),
          fmt::format("{}/ca.crt", dir)};
}

void CountingBackend::Count(const agent::netpol::FlowRecord& record) {
  std::scoped_lock lock(mutex_);
  ++counts_[{record.src_tenant, record.dst_tenant, record.verdict}];
}

std::vector<agent::api::MapFill> CountingBackend::Maps() const { return {{"tenants", 0, 0}}; }

std::vector<agent::netpol::FlowCounter> CountingBackend::Counters() const {
  std::scoped_lock lock(mutex_);
  std::vector<agent::netpol::FlowCounter> out;
  for (const auto& [key, count] : counts_) {
    out.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), count});
  }
  return out;
}

std::vector<agent::netpol::TenantFlowUse> CountingBackend::TenantFlows() const {
  std::scoped_lock lock(mutex_);
  std::map<std::string, agent::netpol::TenantFlowUse> use;
  for (const auto& [key, count] : counts_) {
    if (std::get<2>(key) == agent::netpol::Verdict::kAllowed) {
      use[std::get<0>(key)].tracked_flows += count;
    }
  }
  std::vector<agent::netpol::TenantFlowUse> out;
  for (auto& [tenant, entry] : use) {
    entry.tenant = tenant;
    out.push_back(entry);
  }
  return out;
}

DesiredState TestSource() {
  DesiredState state;
  auto add = [&state](const std::string& tenant, const std::string& pod, const std::string& ip,
                      bool local) {
    Endpoint endpoint;
    endpoint.tenant = tenant;
    endpoint.pod = pod;
    endpoint.addresses.push_back(*IpAddress::Parse(ip));
    if (local) {
      endpoint.cgroup = "/sys/fs/cgroup/test/" + pod;
    }
    state.endpoints.push_back(endpoint);
  };
  for (const char* tenant : {"team-a", "team-b", "team-c"}) {
    state.tenants.push_back({tenant});
  }
  add("team-a", "a1", "10.1.0.1", true);
  add("team-a", "a2", "10.1.0.2", false);
  add("team-b", "b1", "10.1.1.1", true);
  add("team-c", "c1", "10.1.2.1", false);
  return state;
}

InProcessAgent::InProcessAgent(const std::string& certs_dir, const std::string& state_file,
                               DesiredState source, int port) {
  registry_ = std::make_unique<agent::api::TenantRegistry>(
      "test-node",
      [this](const DesiredState& state) {
        std::scoped_lock lock(mutex_);
        enforced_ = state;
        ++enforce_calls_;
        return absl::OkStatus();
      },
      state_file);
  Status loaded = registry_->Load();
  EXPECT_TRUE(loaded.ok()) << loaded;
  Status set = registry_->SetSource({std::move(source), {}});
  EXPECT_TRUE(set.ok()) << set;
  agent::api::ServerOptions options;
  options.listen = fmt::format("127.0.0.1:{}", port);
  options.certs_dir = certs_dir;
  options.cert_refresh_seconds = 1;
  auto server = agent::api::AgentServer::Start(options, *registry_, flows_, events_, backend_);
  EXPECT_TRUE(server.ok()) << server.status();
  if (server.ok()) {
    server_ = std::move(*server);
  }
}

InProcessAgent::~InProcessAgent() { Stop(); }

void InProcessAgent::Stop() {
  if (server_) {
    server_->Shutdown();
    server_.reset();
  }
}

std::string InProcessAgent::address() const { return fmt::format("127.0.0.1:{}", port()); }

void InProcessAgent::Publish(const agent::netpol::FlowRecord& record) {
  backend_.Count(record);
  flows_.Publish(record);
}

DesiredState InProcessAgent::Enforced() const {
  std::scoped_lock lock(mutex_);
  return enforced_;
}

namespace {
std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}
}  // namespace

std::unique_ptr<v1::AgentService::Stub> Connect(const std::string& address,
                                                const ClientCert& cert) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = Slurp(cert.ca);
  if (!cert.cert.empty()) {
    ssl.pem_cert_chain = Slurp(cert.cert);
    ssl.pem_private_key = Slurp(cert.key);
  }
  grpc::ChannelArguments args;
  // A fresh connection per stub, so a handshake is tried each time.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxSendMessageSize(16 << 20);
  return v1::AgentService::NewStub(
      grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args));
}

agent::netpol::FlowRecord Record(const std::string& src_tenant, const std::string& src_pod,
                                 const std::string& dst_tenant, const std::string& dst_pod,
                                 agent::netpol::Verdict verdict, std::uint16_t port) {
  agent::netpol::FlowRecord record;
  record.time = std::chrono::system_clock::now();
  record.node = "test-node";
  record.src_tenant = src_tenant;
  record.src_pod = src_pod;
  record.dst_tenant = dst_tenant;
  record.dst_pod = dst_pod;
  record.src_address = *IpAddress::Parse("10.1.0.1");
  record.dst_address = *IpAddress::Parse("10.1.1.1");
  record.dst_port = port;
  record.protocol = agent::netpol::Protocol::kTcp;
  record.verdict = verdict;
  record.reason = verdict == agent::netpol::Verdict::kDenied ? agent::netpol::Reason::kCrossTenant
                                                             : agent::netpol::Reason::kGrant;
  record.hook = agent::netpol::Hook::kConnect4;
  return record;
}

}  // namespace bulkhead::testing
