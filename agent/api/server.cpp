#include "agent/api/server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <vector>

#include "agent/api/authz.h"
#include "agent/api/convert.h"
#include "agent/api/revocation_watch.h"
#include "agent/api/stream_quota.h"
#include "agent/api/stream_writer.h"
#include "bulkhead/agent/v1/agent_service.grpc.pb.h"
#include "common/file.h"
#include "common/logging.h"
#include "common/pki/identity.h"
#include "fmt/format.h"

namespace bulkhead::agent::api {
namespace {

grpc::Status ToGrpc(const Status& status) {
  return {static_cast<grpc::StatusCode>(status.code()), MessageOf(status)};
}

std::string NewInstanceId() {
  std::random_device random;
  return fmt::format("{:08x}{:08x}", random(), random());
}

// Who is calling: the verified client certificate, read by the one CN
// rule (common/pki/identity.h).
StatusOr<pki::CertificateIdentity> PeerIdentity(const grpc::CallbackServerContext* context) {
  std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("no verified client certificate");
  }
  auto pems = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pems.empty()) {
    return absl::UnauthenticatedError("the connection carries no client certificate");
  }
  return pki::IdentityOfPem(std::string_view(pems.front().data(), pems.front().size()));
}

class Service final : public v1::AgentService::CallbackService {
 public:
  Service(TenantRegistry& registry, FlowHub& flows, EventHub& events, NodeBackend& backend,
          std::string instance, size_t streams_per_caller)
      : registry_(registry),
        flows_(flows),
        events_(events),
        backend_(backend),
        instance_(std::move(instance)),
        streams_(streams_per_caller) {}

  // Set before the server starts; checked on every call.
  void SetRevocation(const RevocationWatch* revocation) { revocation_ = revocation; }

  // Ends the open streams of certificates in `revoked` (the revocation
  // watch's thread, no lock held by the caller).
  void EndRevokedStreams(const std::set<std::string>& revoked) {
    std::vector<std::pair<std::string, std::function<void(const grpc::Status&)>>> ending;
    {
      std::scoped_lock lock(open_streams_mutex_);
      for (const auto& [id, stream] : open_streams_) {
        if (revoked.contains(stream.serial)) {
          ending.emplace_back(stream.serial, stream.close);
        }
      }
    }
    for (const auto& [serial, close] : ending) {
      Logger(Component::kGrpc).info("stream ended: certificate revoked serial={}", serial);
      close(RevokedStatus(serial));
    }
  }

  grpc::ServerUnaryReactor* ApplyTenantPolicy(grpc::CallbackServerContext* context,
                                              const v1::ApplyTenantPolicyRequest* request,
                                              v1::ApplyTenantPolicyResponse* response) override {
    return Unary(context, [&]() -> Status {
      if (!request->has_policy() || request->policy().tenant().empty()) {
        return absl::InvalidArgumentError("policy.tenant: name the tenant the policy is for");
      }
      BH_ASSIGN_OR_RETURN(pki::Role caller, CallerRole(context));
      BH_RETURN_IF_ERROR(Authorize(caller, Action::kApplyPolicy, request->policy().tenant()));
      auto policy = PolicyFromProto(request->policy());
      if (!policy.ok()) {
        return Annotate(policy.status(), "policy");
      }
      auto result = registry_.ApplyPolicy(*policy);
      if (!result.ok()) {
        Refused(policy->tenant, caller, result.status());
        return result.status();
      }
      response->set_generation(result->generation);
      response->set_changed(result->changed);
      response->set_agent_instance(instance_);
      if (result->changed) {
        events_.Publish(
            {EventKind::kPolicyApplied, policy->tenant,
             fmt::format("generation {} applied by {}", result->generation, caller.ToString())});
      }
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* SetBounds(grpc::CallbackServerContext* context,
                                      const v1::SetBoundsRequest* request,
                                      v1::SetBoundsResponse* /*response*/) override {
    return Unary(context, [&]() -> Status {
      if (!request->has_bounds() || request->bounds().tenant().empty()) {
        return absl::InvalidArgumentError("bounds.tenant: name the tenant the bounds are for");
      }
      BH_ASSIGN_OR_RETURN(pki::Role caller, CallerRole(context));
      BH_RETURN_IF_ERROR(Authorize(caller, Action::kSetBounds, request->bounds().tenant()));
      BH_ASSIGN_OR_RETURN(TenantBounds bounds, BoundsFromProto(request->bounds()));
      Status status = registry_.SetBounds(bounds);
      if (!status.ok()) {
        Refused(bounds.tenant, caller, status);
        return status;
      }
      events_.Publish({EventKind::kBoundsSet, bounds.tenant,
                       fmt::format("bounds set by {}", caller.ToString())});
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* SetBudget(grpc::CallbackServerContext* context,
                                      const v1::SetBudgetRequest* request,
                                      v1::SetBudgetResponse* response) override {
    return Unary(context, [&]() -> Status {
      if (!request->has_budget() || request->budget().tenant().empty()) {
        return absl::InvalidArgumentError("budget.tenant: name the tenant the budget is for");
      }
      BH_ASSIGN_OR_RETURN(pki::Role caller, CallerRole(context));
      const std::string& tenant = request->budget().tenant();
      BH_RETURN_IF_ERROR(Authorize(caller, Action::kSetBudget, tenant));
      BH_ASSIGN_OR_RETURN(budgets::TenantBudget budget, BudgetFromProto(request->budget()));
      Status status = registry_.SetBudget(
          tenant, budget, caller.ScopedToTenant() ? BudgetSetter::kTenant : BudgetSetter::kAdmin);
      if (!status.ok()) {
        Refused(tenant, caller, status);
        return status;
      }
      response->set_enforced(registry_.EnforcesBudgets());
      events_.Publish({EventKind::kBudgetSet, tenant,
                       fmt::format("budget {} set by {}", budgets::DescribeLimits(budget.total),
                                   caller.ToString())});
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* GetNodeStatus(grpc::CallbackServerContext* context,
                                          const v1::GetNodeStatusRequest* /*request*/,
                                          v1::NodeStatus* response) override {
    return Unary(context, [&]() -> Status {
      BH_ASSIGN_OR_RETURN(pki::Role caller, CallerRole(context));
      BH_RETURN_IF_ERROR(Authorize(caller, Action::kReadStatus, ""));
      response->set_node(backend_.NodeName());
      response->set_mode(backend_.Mode());
      response->set_agent_instance(instance_);
      response->set_caller_role(caller.ToString());
      response->set_budget_mode(registry_.BudgetMode());
      std::map<std::string, BudgetReport> reports;
      for (BudgetReport& report : registry_.BudgetReports()) {
        reports.emplace(report.tenant, std::move(report));
      }
      std::map<std::string, netpol::TenantFlowUse> flow_use;
      for (netpol::TenantFlowUse& use : backend_.TenantFlows()) {
        flow_use.emplace(use.tenant, std::move(use));
      }
      std::uint64_t endpoints = 0;
      for (const TenantView& view : registry_.Tenants()) {
        endpoints += view.endpoints;
        if (caller.ScopedToTenant() && view.name != caller.tenant) {
          continue;
        }
        v1::TenantStatus* status = response->add_tenants();
        *status = TenantStatusToProto(view);
        if (auto report = reports.find(view.name); report != reports.end()) {
          BudgetReportToProto(report->second, *status);
        }
        if (auto use = flow_use.find(view.name); use != flow_use.end()) {
          v1::TenantFlowUse* out = status->mutable_flow_use();
          out->set_tracked_flows(use->second.tracked_flows);
          out->set_flows_refused(use->second.flows_refused);
          out->set_records_dropped(use->second.records_dropped);
        }
      }
      response->set_budget_swap_limited(registry_.BudgetSwapLimited());
      // Node-wide fill and loss say what other tenants do: the admin's only.
      response->set_scoped(caller.ScopedToTenant());
      if (caller.ScopedToTenant()) {
        return absl::OkStatus();
      }
      response->set_endpoints(endpoints);
      for (const MapFill& fill : backend_.Maps()) {
        v1::MapFill* map = response->add_maps();
        map->set_map(fill.map);
        map->set_entries(fill.entries);
        map->set_capacity(fill.capacity);
      }
      FillLoss(response->mutable_loss());
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* GetCounters(grpc::CallbackServerContext* context,
                                        const v1::GetCountersRequest* /*request*/,
                                        v1::Counters* response) override {
    return Unary(context, [&]() -> Status {
      BH_ASSIGN_OR_RETURN(pki::Role caller, CallerRole(context));
      BH_RETURN_IF_ERROR(Authorize(caller, Action::kReadCounters, ""));
      for (const netpol::FlowCounter& counter : backend_.Counters()) {
        if (caller.ScopedToTenant() && counter.src_tenant != caller.tenant &&
            counter.dst_tenant != caller.tenant) {
          continue;
        }
        v1::FlowCounter* out = response->add_counters();
        out->set_source_tenant(counter.src_tenant);
        out->set_destination_tenant(counter.dst_tenant);
        out->set_verdict(VerdictToProto(counter.verdict));
        out->set_attempts(counter.count);
      }
      if (!caller.ScopedToTenant()) {
        FillLoss(response->mutable_loss());  // node-wide: the admin's only
      }
      return absl::OkStatus();
    });
  }

  grpc::ServerWriteReactor<v1::Flow>* StreamFlows(grpc::CallbackServerContext* context,
                                                  const v1::StreamFlowsRequest* request) override {
    auto* writer = new StreamWriter<v1::Flow>(kicker_);
    auto who = CallerOf(context);
    Status status = who.status();
    auto filter = FilterFromProto(*request);
    const pki::Role* caller = who.ok() ? &who->role : nullptr;
    if (status.ok()) {
      status = Authorize(*caller, Action::kReadFlows, request->tenant());
    }
    if (status.ok()) {
      status = filter.status();
    }
    if (!status.ok()) {
      LogDenied(context, status);
      writer->CloseNow(ToGrpc(status));
      return writer;
    }
    if (caller->ScopedToTenant()) {
      filter->tenant = caller->tenant;  // flows that touch the caller's tenant, either side
    }
    std::shared_ptr<StreamQuota::Slot> held = AcquireStream(*caller, *writer);
    if (held == nullptr) {
      return writer;
    }
    std::vector<netpol::FlowRecord> history;
    if (request->follow()) {
      // The flow reader only queues into the subscription; the records are
      // turned into messages here, on the kicker's thread.
      auto send = writer->Sender();
      Kicker* kicker = &kicker_;
      auto subscription = flows_.Subscribe(
          *filter, request->limit(),
          [send, kicker](const std::shared_ptr<FlowSubscription>& woken) {
            kicker->Post([send, woken] {
              for (const netpol::FlowRecord& record : woken->Take()) {
                send(FlowToProto(record));
              }
            });
          },
          history);
      std::uint64_t stream = TrackStream(who->serial, writer->Closer());
      writer->SetOnDone([this, subscription, held, stream] {
        flows_.Unsubscribe(subscription);
        ForgetStream(stream);
      });
    } else {
      history = flows_.Recent(*filter, request->limit());
      writer->SetOnDone([held] {});
    }
    for (const netpol::FlowRecord& record : history) {
      writer->PushNow(FlowToProto(record));
    }
    if (request->follow()) {
      writer->Start();
    } else {
      writer->CloseNow(grpc::Status::OK);
    }
    return writer;
  }

  grpc::ServerWriteReactor<v1::Event>* StreamEvents(
      grpc::CallbackServerContext* context, const v1::StreamEventsRequest* request) override {
    auto* writer = new StreamWriter<v1::Event>(kicker_);
    auto who = CallerOf(context);
    Status status = who.status();
    const pki::Role* caller = who.ok() ? &who->role : nullptr;
    if (status.ok()) {
      status = Authorize(*caller, Action::kReadEvents, request->tenant());
    }
    if (!status.ok()) {
      LogDenied(context, status);
      writer->CloseNow(ToGrpc(status));
      return writer;
    }
    std::shared_ptr<StreamQuota::Slot> held = AcquireStream(*caller, *writer);
    if (held == nullptr) {
      return writer;
    }
    std::string only = caller->ScopedToTenant() ? caller->tenant : request->tenant();
    // Subscribe first, then snapshot, so no change is missed: a change made
    // while the snapshot is taken may arrive as an event just before the
    // snapshot, which already includes it.
    auto send = writer->Sender();
    std::string instance = instance_;
    std::uint64_t id = events_.Subscribe([send, only, instance](const AgentEvent& event) {
      if (only.empty() || event.tenant == only || event.tenant.empty()) {
        v1::Event out = EventToProto(event);
        out.set_agent_instance(instance);
        send(std::move(out));
      }
    });
    std::uint64_t stream = TrackStream(who->serial, writer->Closer());
    writer->SetOnDone([this, id, held, stream] {
      events_.Unsubscribe(id);
      ForgetStream(stream);
    });
    for (const TenantView& view : registry_.Tenants()) {
      if (!only.empty() && view.name != only) {
        continue;
      }
      v1::Event snapshot;
      snapshot.set_kind(v1::Event::KIND_SNAPSHOT);
      snapshot.set_time_unix_nanos(UnixNanos(std::chrono::system_clock::now()));
      snapshot.set_tenant(view.name);
      snapshot.set_agent_instance(instance_);
      *snapshot.mutable_state() = TenantStatusToProto(view);
      send(std::move(snapshot));
    }
    v1::Event end;
    end.set_kind(v1::Event::KIND_SNAPSHOT_END);
    end.set_time_unix_nanos(UnixNanos(std::chrono::system_clock::now()));
    end.set_agent_instance(instance_);
    send(std::move(end));
    return writer;
  }

 private:
  struct Caller {
    pki::Role role;
    std::string serial;
  };
  struct OpenStream {
    std::string serial;
    std::function<void(const grpc::Status&)> close;
  };

  static grpc::Status RevokedStatus(const std::string& serial) {
    return {grpc::StatusCode::UNAUTHENTICATED,
            fmt::format("the client certificate (serial {}) was revoked; use another one", serial)};
  }

  StatusOr<Caller> CallerOf(const grpc::CallbackServerContext* context) const {
    BH_ASSIGN_OR_RETURN(pki::CertificateIdentity identity, PeerIdentity(context));
    if (revocation_ != nullptr && revocation_->IsRevoked(identity.serial)) {
      return absl::UnauthenticatedError(RevokedStatus(identity.serial).error_message());
    }
    BH_ASSIGN_OR_RETURN(pki::Role role, pki::RoleOf(identity));
    return Caller{std::move(role), std::move(identity.serial)};
  }
  StatusOr<pki::Role> CallerRole(const grpc::CallbackServerContext* context) const {
    BH_ASSIGN_OR_RETURN(Caller caller, CallerOf(context));
    return std::move(caller.role);
  }

  // Keeps `close` until the stream is over, so that revoking the caller's
  // certificate ends it; returns the id to forget it by.
  // One of the caller's stream slots, or nothing: the stream is then ended
  // with RESOURCE_EXHAUSTED, saying why.
  template <typename Writer>
  std::shared_ptr<StreamQuota::Slot> AcquireStream(const pki::Role& caller, Writer& writer) {
    auto slot = streams_.Acquire(caller.ToString());
    if (!slot.ok()) {
      Logger(Component::kGrpc)
          .info("stream refused caller={} error=\"{}\"", caller.ToString(),
                MessageOf(slot.status()));
      writer.CloseNow(ToGrpc(slot.status()));
      return nullptr;
    }
    return std::move(*slot);
  }

  std::uint64_t TrackStream(const std::string& serial,
                            const std::function<void(const grpc::Status&)>& close) {
    std::uint64_t id = 0;
    {
      std::scoped_lock lock(open_streams_mutex_);
      id = ++next_stream_;
      open_streams_.emplace(id, OpenStream{serial, close});
    }
    // Revoked between the caller's check and now: the watch has already
    // looked at the open streams.
    if (revocation_ != nullptr && revocation_->IsRevoked(serial)) {
      close(RevokedStatus(serial));
    }
    return id;
  }
  void ForgetStream(std::uint64_t id) {
    std::scoped_lock lock(open_streams_mutex_);
    open_streams_.erase(id);
  }

  template <typename Body>
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context, Body body) {
    Status status = body();
    LogDenied(context, status);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpc(status));
    return reactor;
  }

  // Access refusals are an audit trail: who tried what.
  static void LogDenied(const grpc::CallbackServerContext* context, const Status& status) {
    if (absl::IsPermissionDenied(status) || absl::IsUnauthenticated(status)) {
      Logger(Component::kGrpc)
          .info("access refused peer={} code={} error=\"{}\"", context->peer(),
                absl::StatusCodeToString(status.code()), MessageOf(status));
    }
  }

  void Refused(const std::string& tenant, const pki::Role& caller, const Status& status) {
    Logger(Component::kGrpc)
        .info("change refused tenant={} caller={} code={} error=\"{}\"", tenant, caller.ToString(),
              absl::StatusCodeToString(status.code()), MessageOf(status));
    events_.Publish({EventKind::kRefused, tenant, MessageOf(status)});
  }

  void FillLoss(v1::FlowLoss* out) const {
    netpol::FlowLoss loss = backend_.Loss();
    out->set_ring_buffer_full(loss.ring_buffer_full);
    out->set_counters_full(loss.counters_full);
    out->set_flow_table_full(loss.flow_table_full);
    out->set_evicted(flows_.evicted());
  }

  TenantRegistry& registry_;
  FlowHub& flows_;
  EventHub& events_;
  NodeBackend& backend_;
  const std::string instance_;
  StreamQuota streams_;
  const RevocationWatch* revocation_ = nullptr;
  std::mutex open_streams_mutex_;
  std::map<std::uint64_t, OpenStream> open_streams_;
  std::uint64_t next_stream_ = 0;
  Kicker kicker_;
};

}  // namespace

struct AgentServer::Impl {
  std::string instance;
  int port = 0;
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<RevocationWatch> revocation;  // stopped before the service goes
  bool shut_down = false;
};

AgentServer::AgentServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AgentServer::~AgentServer() { Shutdown(); }

int AgentServer::port() const { return impl_->port; }
const std::string& AgentServer::instance() const { return impl_->instance; }

void AgentServer::Shutdown() {
  if (impl_->shut_down) {
    return;
  }
  impl_->shut_down = true;
  // Open streams are cancelled at the deadline; their reactors finish then.
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  impl_->server->Wait();
}

StatusOr<std::unique_ptr<AgentServer>> AgentServer::Start(const ServerOptions& options,
                                                          TenantRegistry& registry, FlowHub& flows,
                                                          EventHub& events, NodeBackend& backend) {
  std::string ca = options.certs_dir + "/ca.crt";
  std::string cert = options.certs_dir + "/agent.crt";
  std::string key = options.certs_dir + "/agent.key";
  for (const std::string& file : {ca, cert, key}) {
    if (auto read = ReadFile(file); !read.ok()) {
      return absl::FailedPreconditionError(fmt::format(
          "{}: {}; create the files with 'bulkhead certs init --dir {}' and 'bulkhead certs "
          "issue --role agent --dir {}'",
          file, MessageOf(read.status()), options.certs_dir, options.certs_dir));
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->instance = NewInstanceId();
  impl->service = std::make_unique<Service>(registry, flows, events, backend, impl->instance,
                                            options.max_streams_per_caller);
  Service* service = impl->service.get();
  BH_ASSIGN_OR_RETURN(
      impl->revocation,
      RevocationWatch::Start(options.certs_dir, std::chrono::seconds(options.cert_refresh_seconds),
                             [service](const std::set<std::string>& revoked) {
                               service->EndRevokedStreams(revoked);
                             }));
  service->SetRevocation(impl->revocation.get());
  // Made only once nothing can fail before TlsServerCredentials takes it: the options own a
  // C structure that only the credentials free.
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      key, cert, ca, options.cert_refresh_seconds);
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_root_certs();
  tls.watch_identity_key_cert_pairs();
  tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::experimental::TlsServerCredentials(tls),
                           &impl->port);
  builder.RegisterService(impl->service.get());
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || impl->port == 0) {
    return absl::UnavailableError(fmt::format(
        "cannot listen on {}: the address is in use or not this machine's; pass another "
        "--listen",
        options.listen));
  }
  Logger(Component::kGrpc)
      .info("agent API listening address={} port={} instance={} certs={}", options.listen,
            impl->port, impl->instance, options.certs_dir);
  return std::unique_ptr<AgentServer>(new AgentServer(std::move(impl)));
}

}  // namespace bulkhead::agent::api
