// An agent API in the test process: the real TenantRegistry, hubs and mTLS
// gRPC server on 127.0.0.1 (a free port), with certificates made by the
// real `bulkhead certs` in a temp dir, and a node backend that counts the
// flow records the test publishes (no kernel: these tests need no root).
#ifndef BULKHEAD_TESTS_E2E_AGENT_API_HARNESS_H_
#define BULKHEAD_TESTS_E2E_AGENT_API_HARNESS_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/api/event_hub.h"
#include "agent/api/flow_hub.h"
#include "agent/api/node_backend.h"
#include "agent/api/server.h"
#include "agent/api/tenant_registry.h"
#include "bulkhead/agent/v1/agent_service.grpc.pb.h"

namespace bulkhead::testing {

namespace v1 = agent::v1;

// A directory under /tmp, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs `bulkhead certs ...`; fails the test on a non-zero exit.
void RunCerts(const std::vector<std::string>& args);

struct ClientCert {
  std::string cert;
  std::string key;
  std::string ca;
};

// Certificates under `dir` for a role, as `bulkhead certs issue` names them.
ClientCert CertFor(const std::string& dir, const std::string& stem);

// Counts what the test publishes, like the kernel's counters would.
class CountingBackend : public agent::api::NodeBackend {
 public:
  void Count(const agent::netpol::FlowRecord& record);
  [[nodiscard]] std::string NodeName() const override { return "test-node"; }
  [[nodiscard]] std::string Mode() const override { return "test"; }
  [[nodiscard]] std::vector<agent::api::MapFill> Maps() const override;
  [[nodiscard]] std::vector<agent::netpol::FlowCounter> Counters() const override;
  [[nodiscard]] agent::netpol::FlowLoss Loss() const override { return {}; }
  // As the kernel tracks them: each allowed record is one granted flow of
  // its source tenant.
  [[nodiscard]] std::vector<agent::netpol::TenantFlowUse> TenantFlows() const override;

 private:
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, agent::netpol::Verdict>, std::uint64_t> counts_;
};

// The source every test starts from: tenants team-a (pods a1, a2), team-b
// (b1), team-c (c1) with addresses in 10.1.0.0/16, a1 and b1 local.
agent::netpol::DesiredState TestSource();

class InProcessAgent {
 public:
  // `state_file` empty: policies are kept in memory only.
  InProcessAgent(const std::string& certs_dir, const std::string& state_file,
                 agent::netpol::DesiredState source = TestSource(), int port = 0);
  ~InProcessAgent();

  [[nodiscard]] bool ok() const { return server_ != nullptr; }
  [[nodiscard]] std::string address() const;
  [[nodiscard]] int port() const { return server_ ? server_->port() : 0; }
  [[nodiscard]] const std::string& instance() const { return server_->instance(); }
  // Publishes a flow record as the flow reader would.
  void Publish(const agent::netpol::FlowRecord& record);
  // The state last handed to the "datapath", and how many times.
  [[nodiscard]] agent::netpol::DesiredState Enforced() const;
  [[nodiscard]] int enforce_calls() const { return enforce_calls_; }
  agent::api::TenantRegistry& registry() { return *registry_; }
  void Stop();

 private:
  mutable std::mutex mutex_;
  agent::netpol::DesiredState enforced_;
  std::atomic<int> enforce_calls_{0};
  std::unique_ptr<agent::api::TenantRegistry> registry_;
  agent::api::FlowHub flows_;
  agent::api::EventHub events_;
  CountingBackend backend_;
  std::unique_ptr<agent::api::AgentServer> server_;
};

std::unique_ptr<v1::AgentService::Stub> Connect(const std::string& address, const ClientCert& cert);

agent::netpol::FlowRecord Record(const std::string& src_tenant, const std::string& src_pod,
                                 const std::string& dst_tenant, const std::string& dst_pod,
                                 agent::netpol::Verdict verdict, std::uint16_t port);

}  // namespace bulkhead::testing

#endif  // BULKHEAD_TESTS_E2E_AGENT_API_HARNESS_H_
