// Who the agent's gRPC server lets in, through the real server and
// certificates from `bulkhead certs`: a certificate with two common names
// is refused (it used to be read by its first); a revoked serial is refused
// on every new call and its open streams end, while other callers stay; a
// renewed agent certificate is served without a restart; the agent's
// directory works without the CA key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/file.h"
#include "common/pki/identity.h"
#include "fmt/format.h"
#include "tests/e2e/agent_api_harness.h"
#include "tests/support/command.h"
#include "tests/support/subject_certificate.h"

namespace bulkhead::testing {
namespace {

using grpc::StatusCode;

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return context;
}

CommandResult Certs(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BULKHEAD_CLI_PATH, "certs"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

// Replaces `to` with a copy of `from` in one rename, as an admin's
// distribution would.
void Install(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to + ".new", std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(to + ".new", to);
}

// The admin's PKI directory (with ca.key) and a node's certs directory
// with only what a node holds: ca.crt, agent.crt, agent.key.
class AgentIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RunCerts({"init", "--dir", pki_.path()});
    for (const char* role : {"agent", "admin", "tenant:team-a", "tenant:team-b"}) {
      RunCerts({"issue", "--role", role, "--dir", pki_.path()});
    }
    for (const char* file : {"ca.crt", "agent.crt", "agent.key"}) {
      std::filesystem::copy_file(pki_.path() + "/" + file, node_.path() + "/" + file);
    }
    agent_ = std::make_unique<InProcessAgent>(node_.path(), "");
    ASSERT_TRUE(agent_->ok());
  }
  std::unique_ptr<v1::AgentService::Stub> As(const std::string& stem) {
    return Connect(agent_->address(), CertFor(pki_.path(), stem));
  }
  grpc::Status Status(const std::string& stem, v1::NodeStatus* out = nullptr) {
    v1::NodeStatus ignored;
    return As(stem)->GetNodeStatus(Context().get(), {}, out != nullptr ? out : &ignored);
  }
  // Waits (bounded) until `done` holds.
  template <typename Done>
  static bool Eventually(Done done) {
    for (int i = 0; i < 200; ++i) {
      if (done()) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  ScratchDir pki_;
  ScratchDir node_;
  std::unique_ptr<InProcessAgent> agent_;
};

TEST_F(AgentIdentityTest, ACertificateWithTwoCommonNamesIsRefused) {
  // Signed by the platform CA; either order, the agent picks neither.
  for (const char* subject :
       {"/O=Bulkhead/CN=tenant:team-a/CN=admin", "/O=Bulkhead/CN=admin/CN=tenant:team-a"}) {
    ASSERT_EQ(IssueWithSubject(pki_.path() + "/ca.crt", pki_.path() + "/ca.key", subject,
                               pki_.path() + "/two-cn"),
              "");
    grpc::Status status = Status("two-cn");
    EXPECT_EQ(status.error_code(), StatusCode::UNAUTHENTICATED) << subject;
    EXPECT_NE(status.error_message().find("more than one common name"), std::string::npos)
        << status.error_message();
    v1::SetBoundsRequest bounds;
    bounds.mutable_bounds()->set_tenant("team-b");
    v1::SetBoundsResponse response;
    EXPECT_EQ(As("two-cn")->SetBounds(Context().get(), bounds, &response).error_code(),
              StatusCode::UNAUTHENTICATED);
  }
  ASSERT_EQ(IssueWithSubject(pki_.path() + "/ca.crt", pki_.path() + "/ca.key",
                             "/O=Bulkhead/CN=admin", pki_.path() + "/one-cn"),
            "");
  EXPECT_TRUE(Status("one-cn").ok());
}

TEST_F(AgentIdentityTest, RevokedSerialIsRefusedAndItsStreamsEnd) {
  // team-a and team-b follow their events.
  auto a_context = Context();
  auto b_context = Context();
  v1::StreamEventsRequest request;
  auto a_stub = As("tenant-team-a");
  auto b_stub = As("tenant-team-b");
  auto a_events = a_stub->StreamEvents(a_context.get(), request);
  auto b_events = b_stub->StreamEvents(b_context.get(), request);
  for (auto* reader : {a_events.get(), b_events.get()}) {
    v1::Event event;
    do {
      ASSERT_TRUE(reader->Read(&event));
    } while (event.kind() != v1::Event::KIND_SNAPSHOT_END);
  }
  ASSERT_TRUE(Status("tenant-team-a").ok());

  // The admin revokes team-a's certificate and hands the list to the node.
  auto revoked = Certs({"revoke", pki_.path() + "/tenant-team-a.crt", "--dir", pki_.path()});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  auto identity = pki::IdentityOfPem(*ReadFile(pki_.path() + "/tenant-team-a.crt"));
  ASSERT_TRUE(identity.ok()) << identity.status();
  std::string serial = identity->serial;
  EXPECT_EQ(revoked.out, fmt::format("{}/revoked.crl\nrevoked {}\n", pki_.path(), serial));
  Install(pki_.path() + "/revoked.crl", node_.path() + "/revoked.crl");

  // team-a's open stream ends, UNAUTHENTICATED with the serial.
  v1::Event event;
  while (a_events->Read(&event)) {
  }
  grpc::Status ended = a_events->Finish();
  EXPECT_EQ(ended.error_code(), StatusCode::UNAUTHENTICATED) << ended.error_message();
  EXPECT_NE(ended.error_message().find(serial), std::string::npos) << ended.error_message();
  EXPECT_NE(ended.error_message().find("revoked"), std::string::npos) << ended.error_message();
  // And every new call of it, on a new connection, is refused.
  grpc::Status again = Status("tenant-team-a");
  EXPECT_EQ(again.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_NE(again.error_message().find("revoked"), std::string::npos) << again.error_message();

  // team-b is untouched: its stream still carries its changes.
  v1::ApplyTenantPolicyRequest apply;
  apply.mutable_policy()->set_tenant("team-b");
  apply.mutable_policy()->set_generation(1);
  v1::ApplyTenantPolicyResponse applied;
  ASSERT_TRUE(b_stub->ApplyTenantPolicy(Context().get(), apply, &applied).ok());
  bool seen = false;
  while (!seen && b_events->Read(&event)) {
    seen = event.kind() == v1::Event::KIND_POLICY_APPLIED && event.tenant() == "team-b";
  }
  EXPECT_TRUE(seen);
  EXPECT_TRUE(Status("admin").ok());
  b_context->TryCancel();
  (void)b_events->Finish();
}

TEST_F(AgentIdentityTest, AForgedRevocationListChangesNothing) {
  ScratchDir other;
  RunCerts({"init", "--dir", other.path()});
  ASSERT_EQ(Certs({"revoke", pki_.path() + "/admin.crt", "--dir", other.path()}).exit_code, 0);
  Install(other.path() + "/revoked.crl", node_.path() + "/revoked.crl");
  // Given time to read it (the server re-reads every second), admin still works.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_TRUE(Status("admin").ok());
  // A node started with a forged list refuses to start, saying why.
  agent_.reset();
  agent::api::TenantRegistry registry(
      "test-node", [](const agent::netpol::DesiredState&) { return absl::OkStatus(); }, "");
  agent::api::FlowHub flows;
  agent::api::EventHub events;
  CountingBackend backend;
  agent::api::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.certs_dir = node_.path();
  auto started = agent::api::AgentServer::Start(options, registry, flows, events, backend);
  ASSERT_FALSE(started.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(started.status())) << started.status();
  EXPECT_NE(MessageOf(started.status()).find("not signed by the platform CA"), std::string::npos)
      << started.status();
}

TEST_F(AgentIdentityTest, RenewedAgentCertificateIsServedWithoutRestart) {
  auto served_serial = [this] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::NodeStatus status;
    auto stub = As("admin");
    if (!stub->GetNodeStatus(&context, {}, &status).ok()) {
      return std::string();
    }
    auto pems = context.auth_context()->FindPropertyValues("x509_pem_cert");
    if (pems.empty()) {
      return std::string();
    }
    auto identity = pki::IdentityOfPem(std::string(pems.front().data(), pems.front().size()));
    return identity.ok() ? identity->serial : std::string();
  };
  std::string before = served_serial();
  ASSERT_FALSE(before.empty());
  auto renewed = Certs({"renew", "--dir", pki_.path(), "--name", "agent", "--valid-for", "1d"});
  ASSERT_EQ(renewed.exit_code, 0) << renewed.err;
  std::string after = renewed.out.substr(renewed.out.rfind("serial ") + 7);
  after.pop_back();  // newline
  ASSERT_NE(after, before);
  Install(pki_.path() + "/agent.key", node_.path() + "/agent.key");
  Install(pki_.path() + "/agent.crt", node_.path() + "/agent.crt");
  EXPECT_TRUE(Eventually([&] { return served_serial() == after; }))
      << "the agent still serves " << served_serial() << ", not the renewed " << after;
  EXPECT_FALSE(std::filesystem::exists(node_.path() + "/ca.key"));
}

}  // namespace
}  // namespace bulkhead::testing
