// The agent's gRPC API with real mTLS clients and certificates made by
// `bulkhead certs`: the authorization matrix (every role against every
// call, and peers refused at the handshake), bad and oversized requests,
// certificate rotation, reconnect and resync after a restart, and 1,000
// tenants applying policies at once.
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/pki/certificates.h"
#include "fmt/format.h"
#include "tests/e2e/agent_api_harness.h"

namespace bulkhead::testing {
namespace {

using agent::netpol::Verdict;
using grpc::StatusCode;

constexpr auto kDeadline = std::chrono::seconds(20);

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + kDeadline);
  return context;
}

class AgentApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir();
    const std::string& d = dir_->path();
    RunCerts({"init", "--dir", d});
    for (const char* role :
         {"agent", "admin", "tenant:team-a", "tenant:team-b", "controlplane:team-a"}) {
      RunCerts({"issue", "--role", role, "--dir", d});
    }
    std::string foreign = d + "/foreign";
    RunCerts({"init", "--dir", foreign});
    RunCerts({"issue", "--role", "admin", "--dir", foreign});
    // An admin certificate of the right CA that expired yesterday.
    pki::IssueOptions expired;
    expired.dir = d;
    expired.role = {pki::Role::Kind::kAdmin, ""};
    expired.backdate = std::chrono::hours(48);
    expired.lifetime = std::chrono::hours(24);
    expired.stem = "expired-admin";
    ASSERT_TRUE(pki::IssueCertificate(expired).ok());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    agent_ = std::make_unique<InProcessAgent>(dir(), "");
    ASSERT_TRUE(agent_->ok());
  }

  static const std::string& dir() { return dir_->path(); }
  static ClientCert Cert(const std::string& stem) { return CertFor(dir(), stem); }
  std::unique_ptr<v1::AgentService::Stub> As(const std::string& stem) {
    return Connect(agent_->address(), Cert(stem));
  }

  static grpc::Status Apply(v1::AgentService::Stub& stub, const v1::TenantPolicy& policy,
                            v1::ApplyTenantPolicyResponse* response = nullptr) {
    v1::ApplyTenantPolicyRequest request;
    *request.mutable_policy() = policy;
    v1::ApplyTenantPolicyResponse ignored;
    return stub.ApplyTenantPolicy(Context().get(), request, response ? response : &ignored);
  }
  static v1::TenantPolicy Policy(const std::string& tenant, std::uint64_t generation) {
    v1::TenantPolicy policy;
    policy.set_tenant(tenant);
    policy.set_generation(generation);
    return policy;
  }
  static grpc::Status Bounds(v1::AgentService::Stub& stub, const v1::TenantBounds& bounds) {
    v1::SetBoundsRequest request;
    *request.mutable_bounds() = bounds;
    v1::SetBoundsResponse response;
    return stub.SetBounds(Context().get(), request, &response);
  }
  static grpc::Status Budget(v1::AgentService::Stub& stub, const std::string& tenant,
                             std::int64_t memory) {
    v1::SetBudgetRequest request;
    request.mutable_budget()->set_tenant(tenant);
    request.mutable_budget()->mutable_total()->set_memory_bytes(memory);
    request.mutable_budget()->mutable_total()->set_pids(64);
    v1::SetBudgetResponse response;
    return stub.SetBudget(Context().get(), request, &response);
  }
  static grpc::Status Flows(v1::AgentService::Stub& stub, const v1::StreamFlowsRequest& request,
                            std::vector<v1::Flow>* out = nullptr) {
    auto context = Context();
    auto reader = stub.StreamFlows(context.get(), request);
    v1::Flow flow;
    while (reader->Read(&flow)) {
      if (out != nullptr) {
        out->push_back(flow);
      }
    }
    return reader->Finish();
  }
  static grpc::Status FlowsOf(v1::AgentService::Stub& stub, const std::string& tenant,
                              std::vector<v1::Flow>* out = nullptr) {
    v1::StreamFlowsRequest request;
    request.set_tenant(tenant);
    return Flows(stub, request, out);
  }
  // Reads the snapshot part of StreamEvents (up to KIND_SNAPSHOT_END).
  static grpc::Status Snapshot(v1::AgentService::Stub& stub, const std::string& tenant,
                               std::vector<v1::Event>* out = nullptr) {
    auto context = Context();
    v1::StreamEventsRequest request;
    request.set_tenant(tenant);
    auto reader = stub.StreamEvents(context.get(), request);
    v1::Event event;
    while (reader->Read(&event)) {
      if (out != nullptr) {
        out->push_back(event);
      }
      if (event.kind() == v1::Event::KIND_SNAPSHOT_END) {
        context->TryCancel();
        reader->Finish();
        return grpc::Status::OK;
      }
    }
    return reader->Finish();
  }

  static ScratchDir* dir_;
  std::unique_ptr<InProcessAgent> agent_;
};

ScratchDir* AgentApiTest::dir_ = nullptr;

// Every caller against every call. Callers refused at the TLS handshake
// never reach the agent: their calls fail UNAVAILABLE.
TEST_F(AgentApiTest, AuthorizationMatrixEveryCell) {
  struct Caller {
    std::string name;
    ClientCert cert;
    enum { kAdmin, kTenantA, kAgent, kHandshake } kind;
  };
  std::vector<Caller> callers = {
      {"admin", Cert("admin"), Caller::kAdmin},
      {"tenant:team-a", Cert("tenant-team-a"), Caller::kTenantA},
      {"controlplane:team-a", Cert("controlplane-team-a"), Caller::kTenantA},
      {"agent", Cert("agent"), Caller::kAgent},
      {"no certificate", {"", "", dir() + "/ca.crt"}, Caller::kHandshake},
      {"foreign CA",
       {dir() + "/foreign/admin.crt", dir() + "/foreign/admin.key", dir() + "/ca.crt"},
       Caller::kHandshake},
      {"expired", Cert("expired-admin"), Caller::kHandshake},
  };
  struct Call {
    std::string name;
    bool admin_only;
    std::string tenant;  // the tenant acted on; "" for "whatever I may see"
    std::function<grpc::Status(v1::AgentService::Stub&, std::uint64_t)> run;
  };
  std::vector<Call> calls;
  for (const std::string tenant : {"team-a", "team-b"}) {
    calls.push_back({"ApplyTenantPolicy", false, tenant,
                     [tenant](v1::AgentService::Stub& s, std::uint64_t generation) {
                       return Apply(s, Policy(tenant, generation));
                     }});
    calls.push_back({"SetBounds", true, tenant, [tenant](v1::AgentService::Stub& s, std::uint64_t) {
                       v1::TenantBounds bounds;
                       bounds.set_tenant(tenant);
                       // A ceiling, so the tenant may set its own budget below.
                       bounds.mutable_budget_ceiling()->set_memory_bytes(int64_t{512} << 20);
                       return Bounds(s, bounds);
                     }});
    calls.push_back(
        {"SetBudget", false, tenant, [tenant](v1::AgentService::Stub& s, std::uint64_t) {
           return Budget(s, tenant, 256 << 20);
         }});
  }
  for (const std::string tenant : {"", "team-a", "team-b"}) {
    calls.push_back(
        {"StreamFlows", false, tenant,
         [tenant](v1::AgentService::Stub& s, std::uint64_t) { return FlowsOf(s, tenant); }});
    calls.push_back(
        {"StreamEvents", false, tenant,
         [tenant](v1::AgentService::Stub& s, std::uint64_t) { return Snapshot(s, tenant); }});
  }
  calls.push_back({"GetNodeStatus", false, "", [](v1::AgentService::Stub& s, std::uint64_t) {
                     v1::NodeStatus status;
                     return s.GetNodeStatus(Context().get(), {}, &status);
                   }});
  calls.push_back({"GetCounters", false, "", [](v1::AgentService::Stub& s, std::uint64_t) {
                     v1::Counters counters;
                     return s.GetCounters(Context().get(), {}, &counters);
                   }});

  std::uint64_t generation = 0;
  int cells = 0;
  for (const Caller& caller : callers) {
    for (const Call& call : calls) {
      StatusCode want = StatusCode::OK;
      switch (caller.kind) {
        case Caller::kAdmin:
          break;
        case Caller::kAgent:
          want = StatusCode::PERMISSION_DENIED;
          break;
        case Caller::kHandshake:
          want = StatusCode::UNAVAILABLE;
          break;
        case Caller::kTenantA:
          if (call.admin_only || (!call.tenant.empty() && call.tenant != "team-a")) {
            want = StatusCode::PERMISSION_DENIED;
          }
          break;
      }
      auto stub = Connect(agent_->address(), caller.cert);
      grpc::Status got = call.run(*stub, ++generation);
      EXPECT_EQ(got.error_code(), want)
          << caller.name << " " << call.name << "(" << call.tenant << "): " << got.error_message();
      if (want == StatusCode::PERMISSION_DENIED) {
        // The message says who was refused and why.
        EXPECT_NE(got.error_message().find(caller.name), std::string::npos) << got.error_message();
      }
      ++cells;
    }
  }
  EXPECT_EQ(cells, 7 * 14);
}

TEST_F(AgentApiTest, TenantSeesOnlyItsOwnFlowsCountersAndStatus) {
  agent_->Publish(Record("team-a", "a1", "team-b", "b1", Verdict::kDenied, 8080));
  agent_->Publish(Record("team-b", "b1", "team-c", "c1", Verdict::kDenied, 53));
  agent_->Publish(Record("team-c", "c1", "team-a", "a2", Verdict::kAllowed, 443));

  auto admin = As("admin");
  auto tenant_a = As("tenant-team-a");
  std::vector<v1::Flow> all;
  std::vector<v1::Flow> mine;
  ASSERT_TRUE(FlowsOf(*admin, "", &all).ok());
  ASSERT_TRUE(FlowsOf(*tenant_a, "", &mine).ok());
  EXPECT_EQ(all.size(), 3U);
  ASSERT_EQ(mine.size(), 2U);
  for (const v1::Flow& flow : mine) {
    EXPECT_TRUE(flow.source().tenant() == "team-a" || flow.destination().tenant() == "team-a")
        << flow.ShortDebugString();
  }
  EXPECT_EQ(mine[0].source().pod(), "a1");
  EXPECT_EQ(mine[0].destination().tenant(), "team-b");
  EXPECT_EQ(mine[0].destination().port(), 8080U);
  EXPECT_EQ(mine[0].verdict(), v1::VERDICT_DENIED);
  EXPECT_EQ(mine[0].reason(), "cross-tenant");

  // Filters: verdict and port.
  v1::StreamFlowsRequest denied;
  denied.set_verdict(v1::VERDICT_DENIED);
  denied.set_port(53);
  std::vector<v1::Flow> filtered;
  ASSERT_TRUE(Flows(*admin, denied, &filtered).ok());
  ASSERT_EQ(filtered.size(), 1U);
  EXPECT_EQ(filtered[0].source().tenant(), "team-b");

  v1::Counters counters;
  ASSERT_TRUE(tenant_a->GetCounters(Context().get(), {}, &counters).ok());
  EXPECT_EQ(counters.counters_size(), 2);
  for (const auto& counter : counters.counters()) {
    EXPECT_TRUE(counter.source_tenant() == "team-a" || counter.destination_tenant() == "team-a");
    EXPECT_EQ(counter.attempts(), 1U);
  }

  v1::NodeStatus status;
  ASSERT_TRUE(tenant_a->GetNodeStatus(Context().get(), {}, &status).ok());
  ASSERT_EQ(status.tenants_size(), 1);
  EXPECT_EQ(status.tenants(0).name(), "team-a");
  EXPECT_EQ(status.tenants(0).endpoints(), 2U);
  EXPECT_EQ(status.tenants(0).local_endpoints(), 1U);
  EXPECT_EQ(status.caller_role(), "tenant:team-a");
  // Its own share of the flow table (it opened no granted flow), no one else's.
  EXPECT_EQ(status.tenants(0).flow_use().tracked_flows(), 0U);
  // Node-wide figures say what other tenants do: a tenant gets none.
  EXPECT_TRUE(status.scoped());
  EXPECT_EQ(status.maps_size(), 0);
  EXPECT_FALSE(status.has_loss());
  EXPECT_EQ(status.endpoints(), 0U);
  EXPECT_FALSE(counters.has_loss());
  v1::NodeStatus full;
  ASSERT_TRUE(admin->GetNodeStatus(Context().get(), {}, &full).ok());
  EXPECT_EQ(full.tenants_size(), 3);
  for (const v1::TenantStatus& tenant : full.tenants()) {
    EXPECT_EQ(tenant.flow_use().tracked_flows(), tenant.name() == "team-c" ? 1U : 0U)
        << tenant.ShortDebugString();
  }
  EXPECT_EQ(full.endpoints(), 4U);
  EXPECT_FALSE(full.scoped());
  EXPECT_EQ(full.maps_size(), 1);
  EXPECT_TRUE(full.has_loss());
  v1::Counters every;
  ASSERT_TRUE(admin->GetCounters(Context().get(), {}, &every).ok());
  EXPECT_TRUE(every.has_loss());

  std::vector<v1::Event> events;
  ASSERT_TRUE(Snapshot(*tenant_a, "", &events).ok());
  ASSERT_EQ(events.size(), 2U);  // team-a's snapshot, then the end marker
  EXPECT_EQ(events[0].kind(), v1::Event::KIND_SNAPSHOT);
  EXPECT_EQ(events[0].tenant(), "team-a");
}

TEST_F(AgentApiTest, FollowingTenantGetsOnlyNewFlowsThatTouchIt) {
  auto tenant_a = As("tenant-team-a");
  grpc::ClientContext context;
  v1::StreamFlowsRequest request;
  request.set_follow(true);
  auto reader = tenant_a->StreamFlows(&context, request);
  std::atomic<bool> done{false};
  // Publishes until the reader has its record (the subscription is made
  // when the call reaches the agent, which the client cannot see).
  std::thread publisher([&] {
    while (!done) {
      agent_->Publish(Record("team-b", "b1", "team-c", "c1", Verdict::kDenied, 1));
      agent_->Publish(Record("team-b", "b1", "team-a", "a1", Verdict::kDenied, 2));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  v1::Flow flow;
  bool got = reader->Read(&flow);
  done = true;
  publisher.join();
  ASSERT_TRUE(got);
  EXPECT_EQ(flow.destination().tenant(), "team-a");
  EXPECT_EQ(flow.destination().port(), 2U);
  context.TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), StatusCode::CANCELLED);
}

TEST_F(AgentApiTest, BadPoliciesChangeNothing) {
  auto admin = As("admin");
  auto tenant_b = As("tenant-team-b");
  // A good policy first.
  ASSERT_TRUE(Apply(*tenant_b, Policy("team-b", 5)).ok());
  auto good = agent_->Enforced();
  int calls = agent_->enforce_calls();

  auto expect = [&](const grpc::Status& status, StatusCode code, const std::string& says) {
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    EXPECT_NE(status.error_message().find(says), std::string::npos) << status.error_message();
    EXPECT_EQ(agent_->enforce_calls(), calls) << "a refused change reached the datapath";
    EXPECT_EQ(agent_->Enforced().grants, good.grants);
  };
  expect(Apply(*admin, Policy("team-x", 1)), StatusCode::NOT_FOUND, "tenant team-x is not known");
  expect(Apply(*tenant_b, Policy("team-b", 4)), StatusCode::FAILED_PRECONDITION,
         "stale generation 4");
  auto changed = Policy("team-b", 5);
  changed.set_egress_default(v1::EGRESS_DEFAULT_DENY);
  expect(Apply(*tenant_b, changed), StatusCode::FAILED_PRECONDITION, "already applied");
  expect(Apply(*tenant_b, Policy("team-b", 0)), StatusCode::INVALID_ARGUMENT, "generation");
  auto audit = Policy("team-b", 6);
  audit.set_mode(v1::TENANT_MODE_AUDIT);
  expect(Apply(*tenant_b, audit), StatusCode::PERMISSION_DENIED, "may not use audit mode");
  auto grant = Policy("team-b", 6);
  auto* g = grant.add_grants();
  g->set_to_tenant("team-a");
  g->set_pod("b1");
  g->set_port(8080);
  g->set_protocol("tcp");
  expect(Apply(*tenant_b, grant), StatusCode::PERMISSION_DENIED,
         "do not let tenant team-b grant to tenant team-a");
  auto no_pod = grant;
  no_pod.mutable_grants(0)->set_pod("nope");
  auto no_tenant = grant;
  no_tenant.mutable_grants(0)->set_to_tenant("team-zz");
  auto bad_port = grant;
  bad_port.mutable_grants(0)->set_port(70000);
  auto bad_protocol = grant;
  bad_protocol.mutable_grants(0)->set_protocol("sctp");
  expect(Apply(*tenant_b, bad_port), StatusCode::INVALID_ARGUMENT, "port 70000");
  expect(Apply(*tenant_b, bad_protocol), StatusCode::INVALID_ARGUMENT, "sctp");
  auto many = Policy("team-b", 6);
  for (int i = 0; i < 257; ++i) {
    *many.add_grants() = grant.grants(0);
  }
  expect(Apply(*tenant_b, many), StatusCode::INVALID_ARGUMENT, "at most 256");
  expect(Apply(*tenant_b, v1::TenantPolicy()), StatusCode::INVALID_ARGUMENT, "policy.tenant");

  // The admin lets team-b grant to team-a: now the grant applies, and
  // unknown pods and tenants are NOT_FOUND.
  v1::TenantBounds bounds;
  bounds.set_tenant("team-b");
  bounds.add_may_grant_to("team-a");
  ASSERT_TRUE(Bounds(*admin, bounds).ok());
  calls = agent_->enforce_calls();
  expect(Apply(*tenant_b, no_pod), StatusCode::NOT_FOUND, "no pod 'nope'");
  expect(Apply(*tenant_b, no_tenant), StatusCode::NOT_FOUND, "team-zz is not known");
  v1::ApplyTenantPolicyResponse response;
  ASSERT_TRUE(Apply(*tenant_b, grant, &response).ok());
  EXPECT_TRUE(response.changed());
  auto enforced = agent_->Enforced();
  ASSERT_EQ(enforced.grants.size(), 1U);
  EXPECT_EQ(enforced.grants[0].tenant, "team-a");
  EXPECT_EQ(enforced.grants[0].destination.ToString(), "10.1.1.1/32");
  EXPECT_EQ(enforced.grants[0].port, 8080);
  // The same generation again: idempotent.
  ASSERT_TRUE(Apply(*tenant_b, grant, &response).ok());
  EXPECT_FALSE(response.changed());

  // Budgets: above the ceiling, below the minimum.
  bounds.mutable_budget_ceiling()->set_memory_bytes(int64_t{512} << 20);
  ASSERT_TRUE(Bounds(*admin, bounds).ok());
  auto above = Budget(*tenant_b, "team-b", int64_t{1} << 30);
  EXPECT_EQ(above.error_code(), StatusCode::PERMISSION_DENIED) << above.error_message();
  auto tiny = Budget(*tenant_b, "team-b", 1);
  EXPECT_EQ(tiny.error_code(), StatusCode::INVALID_ARGUMENT) << tiny.error_message();
  EXPECT_TRUE(Budget(*tenant_b, "team-b", int64_t{256} << 20).ok());
}

TEST_F(AgentApiTest, OversizedAndMalformedRequestsAreRefused) {
  auto admin = As("admin");
  v1::StreamFlowsRequest big_filter;
  big_filter.set_tenant(std::string(300, 'a'));
  auto status = Flows(*admin, big_filter);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("at most 253"), std::string::npos)
      << status.error_message();
  v1::StreamFlowsRequest bad_port;
  bad_port.set_port(65536);
  EXPECT_EQ(Flows(*admin, bad_port).error_code(), StatusCode::INVALID_ARGUMENT);
  v1::StreamFlowsRequest bad_protocol;
  bad_protocol.set_protocol("carrier-pigeon");
  EXPECT_EQ(Flows(*admin, bad_protocol).error_code(), StatusCode::INVALID_ARGUMENT);

  int calls = agent_->enforce_calls();
  // Over the agent's 1 MiB message limit: refused by gRPC before parsing.
  auto huge = Policy("team-a", 1);
  huge.add_grants()->set_pod(std::string(2 << 20, 'p'));
  EXPECT_EQ(Apply(*admin, huge).error_code(), StatusCode::RESOURCE_EXHAUSTED);
  // Bytes that are not a protobuf message.
  grpc::ChannelArguments args;
  grpc::SslCredentialsOptions ssl;
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  ssl.pem_root_certs = read(dir() + "/ca.crt");
  ssl.pem_cert_chain = read(dir() + "/admin.crt");
  ssl.pem_private_key = read(dir() + "/admin.key");
  auto channel = grpc::CreateCustomChannel(agent_->address(), grpc::SslCredentials(ssl), args);
  grpc::GenericStub generic(channel);
  std::string garbage = "\xff\xff\xff\xff\x0f garbage";
  grpc::Slice slice(garbage);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer reply;
  grpc::ClientContext context;
  std::mutex mutex;
  std::condition_variable cv;
  bool finished = false;
  grpc::Status result;
  generic.UnaryCall(&context, "/bulkhead.agent.v1.AgentService/ApplyTenantPolicy",
                    grpc::StubOptions(), &request, &reply, [&](grpc::Status s) {
                      std::scoped_lock lock(mutex);
                      result = std::move(s);
                      finished = true;
                      cv.notify_one();
                    });
  std::unique_lock lock(mutex);
  ASSERT_TRUE(cv.wait_for(lock, kDeadline, [&] { return finished; }));
  EXPECT_FALSE(result.ok());
  EXPECT_NE(result.error_code(), StatusCode::UNAVAILABLE) << result.error_message();
  EXPECT_EQ(agent_->enforce_calls(), calls);
}

TEST_F(AgentApiTest, RotatedAgentCertificateIsServedWithoutRestart) {
  // The agent reads its files from its own directory; rotate them to a new
  // CA and wait until a client trusting only the new CA gets in.
  ScratchDir agent_dir;
  ScratchDir next;
  for (const char* file : {"ca.crt", "agent.crt", "agent.key"}) {
    std::filesystem::copy_file(dir() + "/" + file, agent_dir.path() + "/" + file);
  }
  InProcessAgent rotating(agent_dir.path(), "");
  ASSERT_TRUE(rotating.ok());
  RunCerts({"init", "--dir", next.path()});
  RunCerts({"issue", "--role", "agent", "--dir", next.path()});
  RunCerts({"issue", "--role", "admin", "--dir", next.path()});
  v1::NodeStatus status;
  ASSERT_TRUE(
      Connect(rotating.address(), Cert("admin"))->GetNodeStatus(Context().get(), {}, &status).ok());
  for (const char* file : {"agent.key", "agent.crt", "ca.crt"}) {
    std::filesystem::copy_file(next.path() + "/" + file, agent_dir.path() + "/" + file + ".new");
    std::filesystem::rename(agent_dir.path() + "/" + file + ".new", agent_dir.path() + "/" + file);
  }
  bool rotated = false;
  for (int i = 0; i < 200 && !rotated; ++i) {
    rotated = Connect(rotating.address(), CertFor(next.path(), "admin"))
                  ->GetNodeStatus(Context().get(), {}, &status)
                  .ok();
    if (!rotated) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_TRUE(rotated) << "the agent never served the rotated certificate";
  // And the old CA's clients are now refused at the handshake.
  auto old =
      Connect(rotating.address(), Cert("admin"))->GetNodeStatus(Context().get(), {}, &status);
  EXPECT_EQ(old.error_code(), StatusCode::UNAVAILABLE);
}

// A control plane's loop: watch events; on a broken stream reconnect, read
// the snapshot, and re-apply its policy when the agent does not have it.
TEST_F(AgentApiTest, ReconnectAfterRestartResyncs) {
  for (bool keep_state : {true, false}) {
    SCOPED_TRACE(keep_state ? "with a state file" : "memory only");
    ScratchDir state;
    std::string state_file = keep_state ? state.path() + "/agent-state.json" : "";
    auto agent = std::make_unique<InProcessAgent>(dir(), state_file);
    ASSERT_TRUE(agent->ok());
    int port = agent->port();
    std::string first_instance = agent->instance();
    auto admin = Connect(agent->address(), Cert("admin"));
    v1::TenantBounds bounds;
    bounds.set_tenant("team-b");
    bounds.add_may_grant_to("team-a");
    ASSERT_TRUE(Bounds(*admin, bounds).ok());
    // One channel for the control plane's whole life, across the restart.
    auto control_plane = Connect(agent->address(), Cert("tenant-team-b"));
    auto policy = Policy("team-b", 3);
    auto* g = policy.add_grants();
    g->set_to_tenant("team-a");
    g->set_pod("b1");
    g->set_port(8080);
    ASSERT_TRUE(Apply(*control_plane, policy).ok());

    grpc::ClientContext watch;
    auto events = control_plane->StreamEvents(&watch, {});
    v1::Event event;
    while (events->Read(&event) && event.kind() != v1::Event::KIND_SNAPSHOT_END) {
    }
    EXPECT_EQ(event.agent_instance(), first_instance);

    agent.reset();  // the agent stops: the stream breaks
    while (events->Read(&event)) {
    }
    EXPECT_FALSE(events->Finish().ok());

    agent = std::make_unique<InProcessAgent>(dir(), state_file, TestSource(), port);
    ASSERT_TRUE(agent->ok());
    if (keep_state) {
      // Enforced again from the state file before any client came back.
      ASSERT_EQ(agent->Enforced().grants.size(), 1U);
    } else {
      EXPECT_TRUE(agent->Enforced().grants.empty());
    }
    std::vector<v1::Event> snapshot;
    grpc::Status reconnected;
    for (int i = 0; i < 100; ++i) {  // the channel reconnects with backoff
      snapshot.clear();
      reconnected = Snapshot(*control_plane, "", &snapshot);
      if (reconnected.ok()) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(reconnected.ok()) << reconnected.error_message();
    ASSERT_EQ(snapshot.size(), 2U);
    EXPECT_NE(snapshot.back().agent_instance(), first_instance);
    std::uint64_t held = snapshot[0].state().policy().generation();
    EXPECT_EQ(held, keep_state ? 3U : 0U);
    EXPECT_EQ(snapshot[0].state().has_bounds(), keep_state);
    if (!snapshot[0].state().has_bounds()) {
      // Without a state file the admin's bounds are gone too: the admin's
      // own resync (same rule: a new instance) sets them again first.
      admin = Connect(agent->address(), Cert("admin"));
      ASSERT_TRUE(Bounds(*admin, bounds).ok());
    }
    if (held < policy.generation()) {
      ASSERT_TRUE(Apply(*control_plane, policy).ok());
    }
    ASSERT_EQ(agent->Enforced().grants.size(), 1U);
    EXPECT_EQ(agent->Enforced().grants[0].tenant, "team-a");
  }
}

TEST_F(AgentApiTest, ThousandTenantsApplyConcurrently) {
  constexpr int kTenants = 1000;
  agent::netpol::DesiredState source;
  for (int i = 0; i < kTenants; ++i) {
    std::string tenant = fmt::format("t{:04}", i);
    source.tenants.push_back({tenant});
    agent::netpol::Endpoint endpoint;
    endpoint.tenant = tenant;
    endpoint.pod = "p";
    endpoint.addresses.push_back(
        *agent::netpol::IpAddress::Parse(fmt::format("10.9.{}.{}", i / 250, i % 250 + 1)));
    source.endpoints.push_back(endpoint);
  }
  ScratchDir tenant_certs;
  for (const char* file : {"ca.crt", "ca.key"}) {
    std::filesystem::copy_file(dir() + "/" + file, tenant_certs.path() + "/" + file);
  }
  for (int i = 0; i < kTenants; ++i) {
    pki::IssueOptions options;
    options.dir = tenant_certs.path();
    options.role = {pki::Role::Kind::kTenant, fmt::format("t{:04}", i)};
    ASSERT_TRUE(pki::IssueCertificate(options).ok());
  }
  InProcessAgent big(dir(), "", source);
  ASSERT_TRUE(big.ok());
  auto admin = Connect(big.address(), Cert("admin"));
  for (int i = 0; i < kTenants; ++i) {
    v1::TenantBounds bounds;
    bounds.set_tenant(fmt::format("t{:04}", i));
    bounds.add_may_grant_to("*");
    ASSERT_TRUE(Bounds(*admin, bounds).ok());
  }
  constexpr int kThreads = 50;
  std::atomic<int> ok{0};
  std::vector<std::string> failures;
  std::mutex failures_mutex;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kTenants; i += kThreads) {
        std::string tenant = fmt::format("t{:04}", i);
        auto stub = Connect(big.address(), CertFor(tenant_certs.path(), "tenant-" + tenant));
        auto policy = Policy(tenant, 1);
        auto* g = policy.add_grants();
        g->set_to_tenant(fmt::format("t{:04}", (i + 1) % kTenants));
        g->set_pod("p");
        g->set_port(8080);
        g->set_protocol("tcp");
        grpc::Status status = Apply(*stub, policy);
        if (status.ok()) {
          ++ok;
        } else {
          std::scoped_lock lock(failures_mutex);
          failures.push_back(tenant + ": " + status.error_message());
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(ok.load(), kTenants) << (failures.empty() ? "" : failures.front());
  auto enforced = big.Enforced();
  EXPECT_EQ(enforced.grants.size(), static_cast<size_t>(kTenants));
  v1::NodeStatus status;
  ASSERT_TRUE(admin->GetNodeStatus(Context().get(), {}, &status).ok());
  int applied = 0;
  for (const auto& tenant : status.tenants()) {
    applied += tenant.policy().generation() == 1 ? 1 : 0;
  }
  EXPECT_EQ(applied, kTenants);
}

}  // namespace
}  // namespace bulkhead::testing

namespace bulkhead::testing {
namespace {

TEST_F(AgentApiTest, EventsCarryLiveChangesOfTheCallersTenantOnly) {
  auto tenant_a = As("tenant-team-a");
  grpc::ClientContext watch;
  auto events = tenant_a->StreamEvents(&watch, {});
  v1::Event event;
  while (events->Read(&event) && event.kind() != v1::Event::KIND_SNAPSHOT_END) {
  }
  ASSERT_EQ(event.kind(), v1::Event::KIND_SNAPSHOT_END);
  auto admin = As("admin");
  ASSERT_TRUE(Apply(*admin, Policy("team-b", 1)).ok());
  ASSERT_TRUE(Apply(*admin, Policy("team-a", 2)).ok());
  EXPECT_EQ(Apply(*tenant_a, Policy("team-a", 1)).error_code(), StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(events->Read(&event));
  EXPECT_EQ(event.kind(), v1::Event::KIND_POLICY_APPLIED);
  EXPECT_EQ(event.tenant(), "team-a");  // team-b's change is not shown to team-a
  EXPECT_NE(event.message().find("generation 2 applied by admin"), std::string::npos)
      << event.message();
  ASSERT_TRUE(events->Read(&event));
  EXPECT_EQ(event.kind(), v1::Event::KIND_REFUSED);
  EXPECT_NE(event.message().find("stale generation 1"), std::string::npos) << event.message();
  EXPECT_EQ(event.agent_instance(), agent_->instance());
  watch.TryCancel();
  (void)events->Finish();
}

// A tenant that opens follow streams and never reads them holds at most
// eight (its ninth is refused with RESOURCE_EXHAUSTED), and a flood of its
// records while they sit unread does not keep another tenant's stream from
// getting its own record.
TEST_F(AgentApiTest, IdleFollowStreamsAreCappedPerCallerAndCostOnlyTheirCaller) {
  auto tenant_a = As("tenant-team-a");
  auto tenant_b = As("tenant-team-b");
  v1::StreamFlowsRequest follow;
  follow.set_follow(true);
  constexpr int kCap = 8;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::Flow>>> idle;
  for (int i = 0; i < kCap; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    idle.push_back(tenant_a->StreamFlows(contexts.back().get(), follow));
  }
  // Each stream is open on the agent once it has read one record; after
  // that the test never reads them again.
  std::atomic<bool> done{false};
  std::thread publisher([&] {
    while (!done) {
      agent_->Publish(Record("team-a", "a1", "team-c", "c1", Verdict::kDenied, 1));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  for (auto& reader : idle) {
    v1::Flow flow;
    ASSERT_TRUE(reader->Read(&flow));
  }
  done = true;
  publisher.join();

  grpc::ClientContext ninth_context;
  auto ninth = tenant_a->StreamFlows(&ninth_context, follow);
  v1::Flow unexpected;
  EXPECT_FALSE(ninth->Read(&unexpected));
  grpc::Status refused = ninth->Finish();
  EXPECT_EQ(refused.error_code(), StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_NE(refused.error_message().find("at most 8 per caller"), std::string::npos)
      << refused.error_message();
  // Events count against the same cap.
  grpc::ClientContext events_context;
  auto events = tenant_a->StreamEvents(&events_context, {});
  v1::Event event;
  EXPECT_FALSE(events->Read(&event));
  EXPECT_EQ(events->Finish().error_code(), StatusCode::RESOURCE_EXHAUSTED);

  // Another tenant still follows, through a flood of team-a's records.
  grpc::ClientContext b_context;
  auto b_reader = tenant_b->StreamFlows(&b_context, follow);
  done = false;
  std::thread b_publisher([&] {
    while (!done) {
      agent_->Publish(Record("team-b", "b1", "team-c", "c1", Verdict::kDenied, 2));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  v1::Flow b_flow;
  ASSERT_TRUE(b_reader->Read(&b_flow));
  done = true;
  b_publisher.join();
  for (int i = 0; i < 20000; ++i) {
    agent_->Publish(Record("team-a", "a1", "team-c", "c1", Verdict::kDenied, 3));
  }
  agent_->Publish(Record("team-b", "b1", "team-c", "c1", Verdict::kDenied, 77));
  bool got_after_flood = false;
  while (b_reader->Read(&b_flow)) {
    EXPECT_EQ(b_flow.source().tenant(), "team-b");
    if (b_flow.destination().port() == 77) {
      got_after_flood = true;
      break;
    }
  }
  EXPECT_TRUE(got_after_flood);
  b_context.TryCancel();
  (void)b_reader->Finish();

  // Closing the idle streams frees team-a's slots.
  for (auto& context : contexts) {
    context->TryCancel();
  }
  for (auto& reader : idle) {
    (void)reader->Finish();
  }
  bool reopened = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!reopened && std::chrono::steady_clock::now() < deadline) {
    reopened = FlowsOf(*tenant_a, "team-a").ok();
  }
  EXPECT_TRUE(reopened);
}

}  // namespace
}  // namespace bulkhead::testing
