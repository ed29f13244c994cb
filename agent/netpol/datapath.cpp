#include "agent/netpol/datapath.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <dirent.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <utility>

#include "agent/netpol/antispoof.h"
#include "agent/netpol/links.h"
#include "agent/netpol/map_layout.h"
#include "agent/netpol/map_transaction.h"
#include "agent/netpol/node_addresses.h"
#include "common/bpf_owner.h"
#include "common/logging.h"
#include "fmt/format.h"
#include "netpol.skel.h"
#include "netpol/netpol_structs.h"

namespace bulkhead::agent::netpol {
namespace {

using NetpolSkeleton = BpfSkeleton<::netpol, netpol__open_opts, netpol__load, netpol__destroy>;

std::uint32_t Fnv1a(std::string_view text) {
  std::uint32_t hash = 2166136261U;
  for (char c : text) {
    hash ^= static_cast<std::uint8_t>(c);
    hash *= 16777619U;
  }
  // 0 is "no tenant" and NETPOL_NODE_TENANT the node's class.
  return (hash == 0 || hash == NETPOL_NODE_TENANT) ? 1 : hash;
}

std::uint64_t Fnv1a64(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (char c : text) {
    hash ^= static_cast<std::uint8_t>(c);
    hash *= 1099511628211ULL;
  }
  return hash == 0 ? 1 : hash;
}

// How many other ids a pod tries when its own is taken (64-bit ids: a
// collision by chance is about one in 10^10 for 65,000 pods).
constexpr int kPodIdProbes = 64;

bool IsLinkLocal(const IpAddress& address) {
  const auto& b = address.bytes();
  return !address.is_v4() && b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

bool IsLoopback(const IpAddress& address) {
  const auto& b = address.bytes();
  if (address.is_v4()) {
    return b[12] == 127;
  }
  return address == *IpAddress::Parse("::1");
}

constexpr size_t kMaxProbePorts = 64;

constexpr size_t kMaxNameLength = 253;

Status ValidateName(std::string_view kind, std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        fmt::format("{} name must be 1 to {} characters, got \"{}\"", kind, kMaxNameLength, name));
  }
  return absl::OkStatus();
}

// One map entry: which map, key and value bytes.
struct Entry {
  int fd;
  const char* map;
  Bytes key;
  Bytes value;
};

netpol_addr_key AddrKey(const IpAddress& address, int mapped_prefix) {
  netpol_addr_key key{};
  key.prefixlen = static_cast<__u32>(mapped_prefix);
  std::memcpy(key.addr, address.bytes().data(), NETPOL_ADDR_LEN);
  return key;
}

netpol_addr AddrSetKey(const IpAddress& address) {
  netpol_addr key{};
  std::memcpy(key.addr, address.bytes().data(), NETPOL_ADDR_LEN);
  return key;
}

std::uint32_t FlowsPerTenant(const NodeConfig& config, size_t tenants) {
  if (config.flows_per_tenant != 0) {
    return config.flows_per_tenant;
  }
  // An even share, so the tenants together never hold more than the table.
  return static_cast<std::uint32_t>(NETPOL_MAX_FLOWS / std::max<size_t>(tenants, 1));
}

// What is enforced, by name.
struct Model {
  NodeConfig node;
  std::map<std::string, Tenant, std::less<>> tenants;
  struct LocalEndpoint {
    Endpoint endpoint;
    std::uint64_t cgroup_id = 0;
    std::uint64_t pod_id = 0;
  };
  std::map<std::pair<std::string, std::string>, LocalEndpoint> endpoints;
  std::set<Grant> grants;
  std::map<IpAddress, std::pair<std::string, std::string>> address_owner;
  std::map<std::uint32_t, std::string> tenant_names;
  std::map<std::uint64_t, std::string> pod_names;  // id -> "tenant/pod", live pods

  // The pod's id: `preferred` (what the maps already hold for it) when no
  // other pod has it, else its hash, else the first free of a few probes.
  StatusOr<std::uint64_t> AssignPodId(const std::string& tenant, const std::string& pod,
                                      std::optional<std::uint64_t> preferred) {
    std::string full = fmt::format("{}/{}", tenant, pod);
    auto existing = endpoints.find({tenant, pod});
    if (existing != endpoints.end()) {
      return existing->second.pod_id;
    }
    auto free = [&](std::uint64_t id) {
      auto it = pod_names.find(id);
      return id != 0 && (it == pod_names.end() || it->second == full);
    };
    if (preferred && free(*preferred)) {
      return *preferred;
    }
    std::uint64_t id = PodId(tenant, pod);
    for (int probe = 1; !free(id) && probe <= kPodIdProbes; ++probe) {
      id = Fnv1a64(fmt::format("{}#{}", full, probe));
    }
    if (!free(id)) {
      return absl::ResourceExhaustedError(
          fmt::format("no free pod id for pod {} after {} tries", full, kPodIdProbes));
    }
    return id;
  }

  [[nodiscard]] size_t AddressCount() const { return address_owner.size(); }
  [[nodiscard]] size_t ProbeCount() const {
    size_t count = 0;
    for (const auto& [key, local] : endpoints) {
      count += local.endpoint.addresses.size() * local.endpoint.probe_ports.size();
    }
    return count;
  }
  [[nodiscard]] size_t LocalCount() const {
    return static_cast<size_t>(std::count_if(endpoints.begin(), endpoints.end(), [](const auto& e) {
      return !e.second.endpoint.cgroup.empty();
    }));
  }
};

}  // namespace

std::uint32_t TenantId(std::string_view tenant) { return Fnv1a(tenant); }

std::uint64_t PodId(std::string_view tenant, std::string_view pod) {
  return Fnv1a64(fmt::format("{}/{}", tenant, pod));
}

struct Datapath::Impl {
  NetpolSkeleton skel;
  std::vector<BpfLink> links;
  bool reused_pins = false;
  int migrated_from = 0;

  Model model;                       // what is enforced now
  std::vector<std::string> refused;  // what the last Replace left out, and why
  std::optional<NodeAddressWatch> watch;
  std::vector<IpAddress> discovered;     // the node's addresses, read from the node
  std::unique_ptr<AntiSpoof> antispoof;  // null: the kernel has no tcx
  // Local pods whose interface is guarded (host-side ifindex), and those
  // still waiting for a process or an interface.
  std::map<std::pair<std::string, std::string>, int> guarded;
  std::set<std::pair<std::string, std::string>> unguarded;

  // Guards every local pod of the model that is not guarded yet, and
  // releases interfaces of pods that left it.
  void GuardPods() {
    if (!antispoof) {
      return;
    }
    for (auto it = guarded.begin(); it != guarded.end();) {
      auto pod = model.endpoints.find(it->first);
      if (pod == model.endpoints.end() || pod->second.endpoint.cgroup.empty()) {
        Status released = antispoof->Release(it->second);
        if (!released.ok()) {
          Logger(Component::kNetpol)
              .warn("antispoof release failed ifindex={} error=\"{}\"", it->second,
                    released.message());
        }
        it = guarded.erase(it);
      } else {
        ++it;
      }
    }
    unguarded.clear();
    for (const auto& [key, local] : model.endpoints) {
      const Endpoint& endpoint = local.endpoint;
      if (endpoint.cgroup.empty() || endpoint.host_network || endpoint.addresses.empty() ||
          guarded.contains(key)) {
        continue;
      }
      auto found = FindPodInterface(endpoint.cgroup, endpoint.addresses);
      Status status = found.ok() ? antispoof->Guard(*found) : found.status();
      if (status.ok()) {
        guarded[key] = found->host_ifindex;
        Logger(Component::kNetpol)
            .info("antispoof attached pod={}/{} ifindex={} sources={}", key.first, key.second,
                  found->host_ifindex, found->sources.size());
      } else {
        unguarded.insert(key);
        Logger(Component::kNetpol)
            .debug("antispoof not attached yet pod={}/{} reason=\"{}\"", key.first, key.second,
                   status.message());
      }
    }
  }

  explicit Impl(NetpolSkeleton s) : skel(std::move(s)) {}

  // `config` as enforced: its addresses with the discovered ones (global
  // addresses first, so a node with more link-local addresses than the set
  // holds loses only those, which are then refused as unowned link
  // addresses), and the node ports denied on all of them.
  NodeConfig Effective(const NodeConfig& config) const {
    NodeConfig out = config;
    std::set<IpAddress> all(config.node_addresses.begin(), config.node_addresses.end());
    all.insert(discovered.begin(), discovered.end());
    std::vector<IpAddress> ordered;
    for (int link_local = 0; link_local < 2; ++link_local) {
      for (const IpAddress& address : all) {
        if (IsLinkLocal(address) == (link_local == 1) && ordered.size() < NETPOL_MAX_ADDR_SET) {
          ordered.push_back(address);
        }
      }
    }
    out.node_addresses = ordered;
    std::vector<Cidr> targets = {*Cidr::Parse("fe80::/10"), *Cidr::Parse("127.0.0.0/8"),
                                 *Cidr::Parse("::1/128")};
    for (const IpAddress& address : ordered) {
      if (!IsLinkLocal(address) && !IsLoopback(address)) {
        targets.push_back(Cidr::Host(address));
      }
    }
    for (const Cidr& target : targets) {
      for (std::uint16_t port : config.node_ports) {
        // The denied map matches a port only with its protocol.
        out.denied.push_back({target, port, Protocol::kTcp});
        out.denied.push_back({target, port, Protocol::kUdp});
      }
    }
    std::sort(out.denied.begin(), out.denied.end());
    out.denied.erase(std::unique(out.denied.begin(), out.denied.end()), out.denied.end());
    return out;
  }

  int fd(bpf_map* map) const { return bpf_map__fd(map); }

  // ---- entries per entity ----
  Entry TenantEntry(const Tenant& tenant) const {
    std::uint32_t id = TenantId(tenant.name);
    netpol_tenant_settings settings{};
    settings.mode = tenant.mode == TenantMode::kAudit ? NETPOL_MODE_AUDIT : NETPOL_MODE_ENFORCE;
    settings.egress_default =
        tenant.egress_default == EgressDefault::kDeny ? NETPOL_EGRESS_DENY : NETPOL_EGRESS_ALLOW;
    return {fd(skel->maps.tenants), "tenants", ToBytes(id), ToBytes(settings)};
  }

  std::vector<Entry> EndpointEntries(const Endpoint& endpoint, std::uint64_t cgroup_id,
                                     std::uint64_t pod_id) const {
    std::vector<Entry> entries;
    netpol_endpoint value{};
    value.tenant = endpoint.host_network ? NETPOL_NODE_TENANT : TenantId(endpoint.tenant);
    value.pod = pod_id;
    value.flags = endpoint.cgroup.empty() ? 0 : NETPOL_ENDPOINT_LOCAL;
    if (endpoint.host_network) {
      value.flags |= NETPOL_ENDPOINT_HOST_NETWORK;
    }
    std::uint8_t one = 1;
    for (const IpAddress& address : endpoint.addresses) {
      entries.push_back(
          {fd(skel->maps.endpoints), "endpoints", ToBytes(AddrKey(address, 128)), ToBytes(value)});
      for (std::uint16_t port : endpoint.probe_ports) {
        netpol_probe_key probe{};
        std::memcpy(probe.addr, address.bytes().data(), NETPOL_ADDR_LEN);
        probe.port = htons(port);
        probe.proto = static_cast<__u8>(Protocol::kTcp);
        entries.push_back(
            {fd(skel->maps.probe_ports), "probe_ports", ToBytes(probe), ToBytes(one)});
      }
    }
    if (!endpoint.cgroup.empty()) {
      entries.push_back(
          {fd(skel->maps.local_endpoints), "local_endpoints", ToBytes(cgroup_id), ToBytes(value)});
    }
    return entries;
  }

  Entry GrantEntry(const Grant& grant) const {
    netpol_grant_key key{};
    key.prefixlen = NETPOL_GRANT_FIXED_BITS + grant.destination.mapped_prefix_len();
    key.src_tenant = TenantId(grant.tenant);
    key.proto = static_cast<__u8>(grant.protocol);
    key.port = htons(grant.port);
    std::memcpy(key.addr, grant.destination.address().bytes().data(), NETPOL_ADDR_LEN);
    return {fd(skel->maps.grants), "grants", ToBytes(key), ToBytes(std::uint32_t{1})};
  }

  // The id the maps give this pod now, if they hold it for its tenant.
  std::optional<std::uint64_t> PinnedPodId(const Endpoint& endpoint,
                                           std::uint64_t cgroup_id) const {
    netpol_endpoint value{};
    int found = -1;
    if (!endpoint.cgroup.empty()) {
      found = bpf_map_lookup_elem(fd(skel->maps.local_endpoints), &cgroup_id, &value);
    } else if (!endpoint.addresses.empty()) {
      netpol_addr_key key = AddrKey(endpoint.addresses.front(), 128);
      found = bpf_map_lookup_elem(fd(skel->maps.endpoints), &key, &value);
    }
    // A host-network pod's entries carry the node's class; pins of layout 1
    // or from before the pod was host-network carry its tenant.
    bool ours = value.tenant == TenantId(endpoint.tenant) ||
                (endpoint.host_network && value.tenant == NETPOL_NODE_TENANT);
    if (found != 0 || !ours || value.pod == 0) {
      return std::nullopt;
    }
    return value.pod;
  }

  std::vector<Entry> NodeEntries(const NodeConfig& wanted, size_t tenants) const {
    NodeConfig config = Effective(wanted);
    std::vector<Entry> entries;
    std::uint8_t one = 1;
    for (const IpAddress& address : config.dns) {
      entries.push_back(
          {fd(skel->maps.dns_servers), "dns_servers", ToBytes(AddrSetKey(address)), ToBytes(one)});
    }
    for (const IpAddress& address : config.node_addresses) {
      entries.push_back(
          {fd(skel->maps.node_addrs), "node_addrs", ToBytes(AddrSetKey(address)), ToBytes(one)});
    }
    for (const Cidr& network : config.pod_networks) {
      entries.push_back({fd(skel->maps.pod_networks), "pod_networks",
                         ToBytes(AddrKey(network.address(), network.mapped_prefix_len())),
                         ToBytes(one)});
    }
    for (const DeniedDestination& denied : config.denied) {
      netpol_deny_key key{};
      key.prefixlen = NETPOL_DENY_FIXED_BITS + denied.destination.mapped_prefix_len();
      key.proto = static_cast<__u8>(denied.protocol);
      key.port = htons(denied.port);
      std::memcpy(key.addr, denied.destination.address().bytes().data(), NETPOL_ADDR_LEN);
      entries.push_back(
          {fd(skel->maps.denied_dests), "denied_dests", ToBytes(key), ToBytes(std::uint32_t{1})});
    }
    entries.push_back(NodeConfigEntry(config, tenants));
    return entries;
  }

  // node_config: timeouts and the per-tenant shares, which follow the number of tenants.
  Entry NodeConfigEntry(const NodeConfig& config, size_t tenants) const {
    netpol_node_config node_config{};
    node_config.flow_idle_ns =
        static_cast<__u64>(std::chrono::nanoseconds(config.flow_idle).count());
    node_config.flows_per_tenant = FlowsPerTenant(config, tenants);
    node_config.records_per_second = config.records_per_second;
    node_config.record_sample = config.record_sample;
    return {fd(skel->maps.node_config), "node_config", ToBytes(std::uint32_t{0}),
            ToBytes(node_config)};
  }
};

namespace {

void PutAll(MapTransaction& tx, const std::vector<Entry>& entries) {
  for (const Entry& e : entries) {
    tx.Put(e.fd, e.map, e.key, e.value);
  }
}

// Deletes entries of `before` whose keys are not in `after` (same maps).
void DeleteStale(MapTransaction& tx, const std::vector<Entry>& before,
                 const std::vector<Entry>& after) {
  for (const Entry& old : before) {
    bool kept = std::any_of(after.begin(), after.end(),
                            [&](const Entry& e) { return e.fd == old.fd && e.key == old.key; });
    if (!kept) {
      tx.Delete(old.fd, old.map, old.key);
    }
  }
}

StatusOr<std::uint64_t> ValidateEndpoint(const Model& model, const Endpoint& endpoint,
                                         const std::string& pods_cgroup) {
  BH_RETURN_IF_ERROR(ValidateName("tenant", endpoint.tenant));
  BH_RETURN_IF_ERROR(ValidateName("pod", endpoint.pod));
  if (!model.tenants.contains(endpoint.tenant)) {
    return absl::NotFoundError(
        fmt::format("unknown tenant \"{}\" for pod \"{}\": add the tenant first", endpoint.tenant,
                    endpoint.pod));
  }
  if (endpoint.host_network && (!endpoint.addresses.empty() || endpoint.cgroup.empty())) {
    return absl::InvalidArgumentError(fmt::format(
        "host-network pod {}/{} has the node's addresses: list no addresses, give its cgroup",
        endpoint.tenant, endpoint.pod));
  }
  if (endpoint.probe_ports.size() > kMaxProbePorts) {
    return absl::InvalidArgumentError(fmt::format("pod {}/{} lists {} probe ports; at most {}",
                                                  endpoint.tenant, endpoint.pod,
                                                  endpoint.probe_ports.size(), kMaxProbePorts));
  }
  std::set<std::uint16_t> ports;
  for (std::uint16_t port : endpoint.probe_ports) {
    if (port == 0 || !ports.insert(port).second) {
      return absl::InvalidArgumentError(fmt::format("pod {}/{}: probe port {} is 0 or listed twice",
                                                    endpoint.tenant, endpoint.pod, port));
    }
  }
  std::set<IpAddress> seen;
  for (const IpAddress& address : endpoint.addresses) {
    if (!seen.insert(address).second) {
      return absl::InvalidArgumentError(fmt::format(
          "pod {}/{} lists address {} twice", endpoint.tenant, endpoint.pod, address.ToString()));
    }
    auto owner = model.address_owner.find(address);
    if (owner != model.address_owner.end() &&
        owner->second != std::make_pair(endpoint.tenant, endpoint.pod)) {
      return absl::FailedPreconditionError(fmt::format(
          "address {} of pod {}/{} already belongs to pod {}/{}; remove that endpoint first",
          address.ToString(), endpoint.tenant, endpoint.pod, owner->second.first,
          owner->second.second));
    }
  }
  std::string full_name = fmt::format("{}/{}", endpoint.tenant, endpoint.pod);
  if (endpoint.cgroup.empty()) {
    return std::uint64_t{0};
  }
  struct stat st {};
  if (::stat(endpoint.cgroup.c_str(), &st) != 0) {
    return ErrnoError(errno, fmt::format("cgroup of pod {}", full_name));
  }
  struct statfs fs {};
  if (::statfs(endpoint.cgroup.c_str(), &fs) != 0 ||
      static_cast<unsigned long>(fs.f_type) != CGROUP2_SUPER_MAGIC || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(fmt::format(
        "cgroup {} of pod {} is not a cgroup v2 directory", endpoint.cgroup, full_name));
  }
  std::error_code ec;
  auto relative = std::filesystem::weakly_canonical(endpoint.cgroup, ec)
                      .lexically_relative(std::filesystem::weakly_canonical(pods_cgroup, ec));
  if (relative.empty() || relative.native().rfind("..", 0) == 0 || relative == ".") {
    return absl::FailedPreconditionError(fmt::format(
        "cgroup {} of pod {} is not below the pods cgroup {}, where isolation is attached",
        endpoint.cgroup, full_name, pods_cgroup));
  }
  for (const auto& [key, local] : model.endpoints) {
    if (!local.endpoint.cgroup.empty() && local.cgroup_id == st.st_ino &&
        key != std::make_pair(endpoint.tenant, endpoint.pod)) {
      return absl::FailedPreconditionError(fmt::format("cgroup {} already belongs to pod {}/{}",
                                                       endpoint.cgroup, key.first, key.second));
    }
  }
  return static_cast<std::uint64_t>(st.st_ino);
}

Status ValidateNodeConfig(const NodeConfig& config) {
  if (std::find(config.node_ports.begin(), config.node_ports.end(), 0) != config.node_ports.end()) {
    return absl::InvalidArgumentError("node port 0: list the ports no pod may reach on the node");
  }
  if (config.flow_idle.count() <= 0) {
    return absl::InvalidArgumentError("flow idle timeout must be positive");
  }
  if (config.dns.size() > NETPOL_MAX_ADDR_SET ||
      config.node_addresses.size() > NETPOL_MAX_ADDR_SET ||
      config.pod_networks.size() > NETPOL_MAX_ADDR_SET) {
    return absl::ResourceExhaustedError(
        fmt::format("at most {} DNS, node and pod network addresses each", NETPOL_MAX_ADDR_SET));
  }
  if (config.denied.size() > NETPOL_MAX_DENIED) {
    return absl::ResourceExhaustedError(
        fmt::format("at most {} denied destinations (node ports on every node address included)",
                    NETPOL_MAX_DENIED));
  }
  return absl::OkStatus();
}

}  // namespace

Datapath::Datapath(DatapathOptions options, std::unique_ptr<Impl> impl)
    : options_(std::move(options)), impl_(std::move(impl)) {}

Datapath::~Datapath() {
  stopping_.store(true);
  if (follower_.joinable()) {
    follower_.join();
  }
}

StatusOr<std::unique_ptr<Datapath>> Datapath::Open(const DatapathOptions& options) {
  if (options.pods_cgroup.empty()) {
    return absl::InvalidArgumentError("pods cgroup is not set");
  }
  struct statfs fs {};
  if (::statfs(options.pods_cgroup.c_str(), &fs) != 0) {
    return ErrnoError(errno, fmt::format("pods cgroup {}", options.pods_cgroup));
  }
  if (static_cast<unsigned long>(fs.f_type) != CGROUP2_SUPER_MAGIC) {
    return absl::FailedPreconditionError(fmt::format(
        "pods cgroup {} is not on cgroup v2; BPF cgroup hooks need a cgroup v2 directory "
        "(see 'bulkhead-agent check')",
        options.pods_cgroup));
  }
  BH_ASSIGN_OR_RETURN(std::optional<int> older, FindOlderLayout(options.bpf_root));
  std::string maps_dir = MapsDir(options.bpf_root, CurrentLayout());
  BH_RETURN_IF_ERROR(PrepareBpfRoot(options.bpf_root, maps_dir));
  bool reused = ::access((maps_dir + "/endpoints").c_str(), F_OK) == 0;

  bpf_object_open_opts open_opts{};
  open_opts.sz = sizeof(open_opts);
  open_opts.pin_root_path = maps_dir.c_str();
  BH_ASSIGN_OR_RETURN(NetpolSkeleton skel, NetpolSkeleton::Open("netpol", &open_opts));
  Status loaded = skel.Load();
  if (!loaded.ok()) {
    return Annotate(loaded, reused ? fmt::format("reuse the maps pinned under {}", maps_dir)
                                   : "load the netpol programs");
  }
  auto impl = std::make_unique<Impl>(std::move(skel));
  auto& log = Logger(Component::kNetpol);
  std::string old_dir;
  if (older) {
    // The old programs keep enforcing from the old maps until the links are
    // swapped below; the new maps hold the same state by then.
    old_dir = MapsDir(options.bpf_root, *older);
    BH_ASSIGN_OR_RETURN(MigrationCount copied,
                        CopyPinnedMaps(old_dir, *older, impl->skel->obj, /*only_new=*/false));
    log.info("map layout migration old_layout={} new_layout={} maps={} entries={}", *older,
             CurrentLayout(), copied.maps, copied.entries);
    impl->migrated_from = *older;
  }
  std::vector<bpf_program*> programs = {
      impl->skel->progs.netpol_connect4, impl->skel->progs.netpol_connect6,
      impl->skel->progs.netpol_sendmsg4, impl->skel->progs.netpol_sendmsg6,
      impl->skel->progs.netpol_egress,   impl->skel->progs.netpol_ingress,
  };
  BH_ASSIGN_OR_RETURN(AttachResult attached,
                      AttachOrReplace(programs, options.pods_cgroup, options.bpf_root + "/links"));
  impl->links = std::move(attached.links);
  impl->reused_pins = reused || attached.replaced;
  if (older) {
    // What the old programs wrote between the copy and the swap (flows
    // they started tracking), then the old pins go.
    BH_ASSIGN_OR_RETURN(MigrationCount late,
                        CopyPinnedMaps(old_dir, *older, impl->skel->obj, /*only_new=*/true));
    BH_RETURN_IF_ERROR(RemovePinnedMaps(old_dir));
    log.info("map layout migration done old_layout={} late_entries={} removed={}", *older,
             late.entries, old_dir);
  }
  BH_ASSIGN_OR_RETURN(NodeAddressWatch watch, NodeAddressWatch::Open(options.node_netns));
  BH_ASSIGN_OR_RETURN(impl->discovered, watch.Read());
  impl->watch.emplace(std::move(watch));
  auto antispoof = AntiSpoof::Open(options.bpf_root, options.node_netns);
  if (antispoof.ok()) {
    impl->antispoof = std::move(*antispoof);
  } else {
    Logger(Component::kNetpol)
        .warn("antispoof unavailable (needs tcx, Linux 6.6) error=\"{}\"",
              antispoof.status().message());
  }
  {
    // The node's addresses and its denied ports from the start. Over pins
    // already in use the per-tenant shares in node_config stay as the last
    // agent wrote them until the state is replaced.
    BH_RETURN_IF_ERROR(ValidateNodeConfig(impl->Effective(NodeConfig{})));
    std::vector<Entry> initial = impl->NodeEntries(NodeConfig{}, 0);
    if (impl->reused_pins) {
      int config_fd = impl->fd(impl->skel->maps.node_config);
      std::erase_if(initial, [config_fd](const Entry& e) { return e.fd == config_fd; });
    }
    MapTransaction tx;
    PutAll(tx, initial);
    BH_RETURN_IF_ERROR(tx.Commit());
  }
  log.info("datapath ready bpf_root={} pods_cgroup={} layout={} programs={} {}", options.bpf_root,
           options.pods_cgroup, CurrentLayout(), programs.size(),
           attached.replaced ? "replaced=in-place" : "attached=new");
  std::unique_ptr<Datapath> datapath(new Datapath(options, std::move(impl)));
  datapath->follower_ = std::thread([raw = datapath.get()] { raw->FollowNodeAddresses(); });
  return datapath;
}

void Datapath::FollowNodeAddresses() {
  while (!stopping_.load()) {
    if (!impl_->watch->WaitForChange(std::chrono::milliseconds(200))) {
      std::lock_guard lock(mutex_);
      if (!impl_->unguarded.empty()) {
        impl_->GuardPods();  // pods that had no process or interface yet
      }
      continue;
    }
    Status status = RefreshNodeAddresses();
    if (!status.ok()) {
      Logger(Component::kNetpol)
          .error("node addresses changed but could not be applied error=\"{}\"", status.message());
    }
  }
}

Status Datapath::RefreshNodeAddresses() {
  std::lock_guard lock(mutex_);
  BH_ASSIGN_OR_RETURN(std::vector<IpAddress> addresses, impl_->watch->Read());
  if (addresses == impl_->discovered) {
    return absl::OkStatus();
  }
  size_t tenants = impl_->model.tenants.size();
  auto before = impl_->NodeEntries(impl_->model.node, tenants);
  std::vector<IpAddress> previous = std::exchange(impl_->discovered, addresses);
  Status valid = ValidateNodeConfig(impl_->Effective(impl_->model.node));
  if (!valid.ok()) {
    impl_->discovered = previous;
    return valid;
  }
  auto after = impl_->NodeEntries(impl_->model.node, tenants);
  MapTransaction tx;
  PutAll(tx, after);
  DeleteStale(tx, before, after);
  Status committed = tx.Commit();
  if (!committed.ok()) {
    impl_->discovered = previous;
    return committed;
  }
  Logger(Component::kNetpol)
      .info("node addresses changed count={} previous={}", addresses.size(), previous.size());
  return absl::OkStatus();
}

std::optional<int> Datapath::GuardedInterface(std::string_view tenant, std::string_view pod) const {
  std::lock_guard lock(mutex_);
  auto it = impl_->guarded.find({std::string(tenant), std::string(pod)});
  return it == impl_->guarded.end() ? std::nullopt : std::optional<int>(it->second);
}

std::vector<IpAddress> Datapath::NodeAddresses() const {
  std::lock_guard lock(mutex_);
  return impl_->Effective(impl_->model.node).node_addresses;
}

Status Datapath::Uninstall(const std::string& bpf_root) {
  BH_RETURN_IF_ERROR(DetachPinnedLinks(bpf_root + "/links"));
  for (int version = 1; version <= CurrentLayout(); ++version) {
    BH_RETURN_IF_ERROR(RemovePinnedMaps(MapsDir(bpf_root, version)));
  }
  for (const std::string& dir : {bpf_root + "/links", bpf_root}) {
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
      return ErrnoError(errno, fmt::format("remove {}", dir));
    }
  }
  return absl::OkStatus();
}

Status Datapath::SetNodeConfig(const NodeConfig& config) {
  BH_RETURN_IF_ERROR(ValidateNodeConfig(config));
  std::lock_guard lock(mutex_);
  BH_RETURN_IF_ERROR(ValidateNodeConfig(impl_->Effective(config)));
  size_t tenants = impl_->model.tenants.size();
  auto before = impl_->NodeEntries(impl_->model.node, tenants);
  auto after = impl_->NodeEntries(config, tenants);
  MapTransaction tx;
  PutAll(tx, after);
  DeleteStale(tx, before, after);
  BH_RETURN_IF_ERROR(tx.Commit());
  impl_->model.node = config;
  return absl::OkStatus();
}

Status Datapath::UpsertTenant(const Tenant& tenant) {
  BH_RETURN_IF_ERROR(ValidateName("tenant", tenant.name));
  std::lock_guard lock(mutex_);
  std::uint32_t id = TenantId(tenant.name);
  auto existing = impl_->model.tenant_names.find(id);
  if (existing != impl_->model.tenant_names.end() && existing->second != tenant.name) {
    return absl::AlreadyExistsError(
        fmt::format("tenant {} hashes to the same id as tenant {}; rename one of them", tenant.name,
                    existing->second));
  }
  if (!impl_->model.tenants.contains(tenant.name) &&
      impl_->model.tenants.size() >= NETPOL_MAX_TENANTS) {
    return absl::ResourceExhaustedError(
        fmt::format("this node holds at most {} tenants; nothing was changed", NETPOL_MAX_TENANTS));
  }
  MapTransaction tx;
  Entry entry = impl_->TenantEntry(tenant);
  tx.Put(entry.fd, entry.map, entry.key, entry.value);
  size_t tenants =
      impl_->model.tenants.size() + (impl_->model.tenants.contains(tenant.name) ? 0 : 1);
  PutAll(tx, {impl_->NodeConfigEntry(impl_->model.node, tenants)});  // the flow shares
  BH_RETURN_IF_ERROR(tx.Commit());
  impl_->model.tenants[tenant.name] = tenant;
  impl_->model.tenant_names[id] = tenant.name;
  return absl::OkStatus();
}

Status Datapath::RemoveTenant(std::string_view name) {
  std::lock_guard lock(mutex_);
  auto it = impl_->model.tenants.find(name);
  if (it == impl_->model.tenants.end()) {
    return absl::NotFoundError(fmt::format("unknown tenant \"{}\"", name));
  }
  size_t endpoints = static_cast<size_t>(
      std::count_if(impl_->model.endpoints.begin(), impl_->model.endpoints.end(),
                    [&](const auto& e) { return e.first.first == name; }));
  size_t grants =
      static_cast<size_t>(std::count_if(impl_->model.grants.begin(), impl_->model.grants.end(),
                                        [&](const Grant& g) { return g.tenant == name; }));
  if (endpoints > 0 || grants > 0) {
    return absl::FailedPreconditionError(
        fmt::format("tenant {} still has {} endpoint(s) and {} grant(s); remove them first", name,
                    endpoints, grants));
  }
  MapTransaction tx;
  Entry entry = impl_->TenantEntry(it->second);
  tx.Delete(entry.fd, entry.map, entry.key);
  PutAll(tx, {impl_->NodeConfigEntry(impl_->model.node, impl_->model.tenants.size() - 1)});
  BH_RETURN_IF_ERROR(tx.Commit());
  impl_->model.tenant_names.erase(TenantId(name));
  impl_->model.tenants.erase(it);
  return absl::OkStatus();
}

Status Datapath::UpsertEndpoint(const Endpoint& endpoint) {
  std::lock_guard lock(mutex_);
  BH_ASSIGN_OR_RETURN(std::uint64_t cgroup_id,
                      ValidateEndpoint(impl_->model, endpoint, options_.pods_cgroup));
  auto key = std::make_pair(endpoint.tenant, endpoint.pod);
  auto existing = impl_->model.endpoints.find(key);
  std::vector<Entry> before;
  size_t old_addresses = 0;
  bool old_local = false;
  if (existing != impl_->model.endpoints.end()) {
    before = impl_->EndpointEntries(existing->second.endpoint, existing->second.cgroup_id,
                                    existing->second.pod_id);
    old_addresses = existing->second.endpoint.addresses.size();
    old_local = !existing->second.endpoint.cgroup.empty();
  }
  if (impl_->model.AddressCount() - old_addresses + endpoint.addresses.size() >
      NETPOL_MAX_ENDPOINT_ADDRS) {
    return absl::ResourceExhaustedError(
        fmt::format("this node holds at most {} endpoint addresses; nothing was changed",
                    NETPOL_MAX_ENDPOINT_ADDRS));
  }
  size_t old_probes = existing != impl_->model.endpoints.end()
                          ? old_addresses * existing->second.endpoint.probe_ports.size()
                          : 0;
  if (impl_->model.ProbeCount() - old_probes +
          endpoint.addresses.size() * endpoint.probe_ports.size() >
      NETPOL_MAX_PROBES) {
    return absl::ResourceExhaustedError(fmt::format(
        "this node holds at most {} probe ports; nothing was changed", NETPOL_MAX_PROBES));
  }
  if (!endpoint.cgroup.empty() && !old_local &&
      impl_->model.LocalCount() + 1 > NETPOL_MAX_LOCAL_ENDPOINTS) {
    return absl::ResourceExhaustedError(fmt::format(
        "this node holds at most {} local pods; nothing was changed", NETPOL_MAX_LOCAL_ENDPOINTS));
  }
  BH_ASSIGN_OR_RETURN(std::uint64_t pod_id,
                      impl_->model.AssignPodId(endpoint.tenant, endpoint.pod,
                                               impl_->PinnedPodId(endpoint, cgroup_id)));
  auto after = impl_->EndpointEntries(endpoint, cgroup_id, pod_id);
  MapTransaction tx;
  PutAll(tx, after);
  DeleteStale(tx, before, after);
  BH_RETURN_IF_ERROR(tx.Commit());
  if (existing != impl_->model.endpoints.end()) {
    for (const IpAddress& address : existing->second.endpoint.addresses) {
      impl_->model.address_owner.erase(address);
    }
  }
  for (const IpAddress& address : endpoint.addresses) {
    impl_->model.address_owner[address] = key;
  }
  impl_->model.endpoints[key] = {endpoint, cgroup_id, pod_id};
  impl_->model.pod_names[pod_id] = fmt::format("{}/{}", endpoint.tenant, endpoint.pod);
  impl_->guarded.erase(key);  // its addresses may have changed
  impl_->GuardPods();
  return absl::OkStatus();
}

Status Datapath::RemoveEndpoint(std::string_view tenant, std::string_view pod) {
  std::lock_guard lock(mutex_);
  auto it = impl_->model.endpoints.find(std::make_pair(std::string(tenant), std::string(pod)));
  if (it == impl_->model.endpoints.end()) {
    return absl::NotFoundError(fmt::format("unknown endpoint {}/{}", tenant, pod));
  }
  MapTransaction tx;
  for (const Entry& e :
       impl_->EndpointEntries(it->second.endpoint, it->second.cgroup_id, it->second.pod_id)) {
    tx.Delete(e.fd, e.map, e.key);
  }
  BH_RETURN_IF_ERROR(tx.Commit());
  for (const IpAddress& address : it->second.endpoint.addresses) {
    impl_->model.address_owner.erase(address);
  }
  impl_->model.pod_names.erase(it->second.pod_id);
  impl_->model.endpoints.erase(it);
  impl_->GuardPods();
  return absl::OkStatus();
}

Status Datapath::AddGrant(const Grant& grant) {
  std::lock_guard lock(mutex_);
  if (!impl_->model.tenants.contains(grant.tenant)) {
    return absl::NotFoundError(
        fmt::format("unknown tenant \"{}\" in grant: add the tenant first", grant.tenant));
  }
  if (!impl_->model.grants.contains(grant) && impl_->model.grants.size() >= NETPOL_MAX_GRANTS) {
    return absl::ResourceExhaustedError(
        fmt::format("this node holds at most {} grants; nothing was changed", NETPOL_MAX_GRANTS));
  }
  MapTransaction tx;
  Entry entry = impl_->GrantEntry(grant);
  tx.Put(entry.fd, entry.map, entry.key, entry.value);
  BH_RETURN_IF_ERROR(tx.Commit());
  impl_->model.grants.insert(grant);
  return absl::OkStatus();
}

Status Datapath::RemoveGrant(const Grant& grant) {
  std::lock_guard lock(mutex_);
  if (!impl_->model.grants.contains(grant)) {
    return absl::NotFoundError(fmt::format("no such grant for tenant {} to {}", grant.tenant,
                                           grant.destination.ToString()));
  }
  MapTransaction tx;
  Entry entry = impl_->GrantEntry(grant);
  tx.Delete(entry.fd, entry.map, entry.key);
  BH_RETURN_IF_ERROR(tx.Commit());
  impl_->model.grants.erase(grant);
  return absl::OkStatus();
}

DatapathSummary Datapath::Summary() const {
  std::lock_guard lock(mutex_);
  DatapathSummary summary;
  summary.tenants = impl_->model.tenants.size();
  summary.endpoints = impl_->model.endpoints.size();
  summary.endpoint_addresses = impl_->model.AddressCount();
  summary.local_endpoints = impl_->model.LocalCount();
  summary.grants = impl_->model.grants.size();
  summary.reused_pins = impl_->reused_pins;
  summary.refused = impl_->refused;
  summary.migrated_from_layout = impl_->migrated_from;
  return summary;
}

int Datapath::flow_events_fd() const { return bpf_map__fd(impl_->skel->maps.flow_events); }

std::string Datapath::TenantName(std::uint32_t id) const {
  if (id == NETPOL_NO_TENANT) {
    return "";
  }
  if (id == NETPOL_NODE_TENANT) {
    return std::string(kNodeClassName);
  }
  std::lock_guard lock(mutex_);
  auto it = impl_->model.tenant_names.find(id);
  return it != impl_->model.tenant_names.end() ? it->second : fmt::format("#{}", id);
}

std::string Datapath::PodName(std::uint64_t id) const {
  if (id == 0) {
    return "";
  }
  std::lock_guard lock(mutex_);
  auto it = impl_->model.pod_names.find(id);
  if (it == impl_->model.pod_names.end()) {
    return fmt::format("#{}", id);
  }
  // Stored as tenant/pod; the record carries the tenant separately.
  return it->second.substr(it->second.find('/') + 1);
}

std::vector<FlowCounter> Datapath::Counters() const {
  int fd = bpf_map__fd(impl_->skel->maps.flow_counters);
  int cpus = libbpf_num_possible_cpus();
  std::vector<FlowCounter> counters;
  netpol_counter_key key{};
  netpol_counter_key next{};
  std::vector<__u64> values(static_cast<size_t>(std::max(cpus, 1)));
  void* cursor = nullptr;
  while (bpf_map_get_next_key(fd, cursor, &next) == 0) {
    key = next;
    cursor = &key;
    if (bpf_map_lookup_elem(fd, &key, values.data()) != 0) {
      continue;
    }
    FlowCounter counter;
    counter.src_tenant = TenantName(key.src_tenant);
    counter.dst_tenant = TenantName(key.dst_tenant);
    counter.verdict = static_cast<Verdict>(key.verdict);
    for (__u64 v : values) {
      counter.count += v;
    }
    counters.push_back(std::move(counter));
  }
  return counters;
}

std::vector<TenantFlowUse> Datapath::TenantFlows() const {
  std::map<std::uint32_t, TenantFlowUse> use;
  int flows_fd = bpf_map__fd(impl_->skel->maps.tenant_flows);
  int records_fd = bpf_map__fd(impl_->skel->maps.tenant_records);
  std::uint32_t key = 0;
  std::uint32_t next = 0;
  void* cursor = nullptr;
  while (bpf_map_get_next_key(flows_fd, cursor, &next) == 0) {
    key = next;
    cursor = &key;
    std::uint64_t count = 0;
    if (bpf_map_lookup_elem(flows_fd, &key, &count) == 0) {
      use[key].tracked_flows = count;
    }
  }
  cursor = nullptr;
  while (bpf_map_get_next_key(records_fd, cursor, &next) == 0) {
    key = next;
    cursor = &key;
    netpol_tenant_records records{};
    if (bpf_map_lookup_elem(records_fd, &key, &records) == 0) {
      use[key].flows_refused = records.flows_refused;
      use[key].records_dropped = records.dropped;
    }
  }
  std::vector<TenantFlowUse> out;
  for (auto& [id, entry] : use) {
    entry.tenant = TenantName(id);
    out.push_back(std::move(entry));
  }
  return out;
}

size_t Datapath::SweepFlows() {
  int fd = bpf_map__fd(impl_->skel->maps.granted_flows);
  std::uint64_t idle_ns = 0;
  {
    std::lock_guard lock(mutex_);
    idle_ns =
        static_cast<std::uint64_t>(std::chrono::nanoseconds(impl_->model.node.flow_idle).count());
  }
  timespec now_ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &now_ts);
  std::uint64_t now = static_cast<std::uint64_t>(now_ts.tv_sec) * 1000000000ULL +
                      static_cast<std::uint64_t>(now_ts.tv_nsec);
  std::map<std::uint32_t, std::uint64_t> held;
  std::vector<netpol_flow_key> idle;
  netpol_flow_key key{};
  netpol_flow_key next{};
  void* cursor = nullptr;
  while (bpf_map_get_next_key(fd, cursor, &next) == 0) {
    key = next;
    cursor = &key;
    netpol_flow_value value{};
    if (bpf_map_lookup_elem(fd, &key, &value) != 0) {
      continue;
    }
    if (now > value.last_seen_ns && now - value.last_seen_ns > idle_ns) {
      idle.push_back(key);
    } else {
      ++held[value.charged];
    }
  }
  size_t removed = 0;
  for (const netpol_flow_key& k : idle) {
    removed += bpf_map_delete_elem(fd, &k) == 0 ? 1 : 0;
  }
  // Recount: the kernel's counts are exact only while nothing races them.
  int counts_fd = bpf_map__fd(impl_->skel->maps.tenant_flows);
  std::uint32_t tenant = 0;
  std::uint32_t next_tenant = 0;
  void* tenant_cursor = nullptr;
  std::vector<std::uint32_t> known;
  while (bpf_map_get_next_key(counts_fd, tenant_cursor, &next_tenant) == 0) {
    tenant = next_tenant;
    tenant_cursor = &tenant;
    known.push_back(tenant);
  }
  for (std::uint32_t id : known) {
    held.try_emplace(id, 0);
  }
  for (const auto& [id, count] : held) {
    (void)bpf_map_update_elem(counts_fd, &id, &count, BPF_ANY);
  }
  return removed;
}

FlowLoss Datapath::Loss() const {
  int fd = bpf_map__fd(impl_->skel->maps.flow_lost);
  int cpus = std::max(libbpf_num_possible_cpus(), 1);
  std::vector<__u64> values(static_cast<size_t>(cpus));
  auto sum = [&](__u32 slot) {
    std::uint64_t total = 0;
    if (bpf_map_lookup_elem(fd, &slot, values.data()) == 0) {
      for (__u64 v : values) {
        total += v;
      }
    }
    return total;
  };
  return {sum(NETPOL_LOST_RINGBUF), sum(NETPOL_LOST_COUNTERS), sum(NETPOL_LOST_FLOWS)};
}

}  // namespace bulkhead::agent::netpol

namespace bulkhead::agent::netpol {
namespace {

std::vector<Bytes> MapKeys(int fd) {
  bpf_map_info info{};
  __u32 len = sizeof(info);
  std::vector<Bytes> keys;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) {
    return keys;
  }
  Bytes key(info.key_size);
  Bytes next(info.key_size);
  void* cursor = nullptr;
  while (bpf_map_get_next_key(fd, cursor, next.data()) == 0) {
    keys.push_back(next);
    key = next;
    cursor = key.data();
  }
  return keys;
}

}  // namespace

Status Datapath::Replace(const DesiredState& state) {
  BH_RETURN_IF_ERROR(ValidateNodeConfig(state.node));
  std::lock_guard lock(mutex_);
  BH_RETURN_IF_ERROR(ValidateNodeConfig(impl_->Effective(state.node)));
  // Build and validate the whole next model before touching a map. A bad
  // tenant, endpoint or grant is left out and reported on its own; the
  // rest of the state is enforced.
  Model next;
  next.node = state.node;
  std::vector<std::string> refused;
  auto refuse = [&refused](const Status& status) {
    refused.push_back(MessageOf(status));
    Logger(Component::kNetpol)
        .warn("refused on its own; the rest of the state is enforced error=\"{}\"",
              MessageOf(status));
  };
  for (const Tenant& tenant : state.tenants) {
    if (Status valid = ValidateName("tenant", tenant.name); !valid.ok()) {
      refuse(valid);
      continue;
    }
    std::uint32_t id = TenantId(tenant.name);
    auto clash = next.tenant_names.find(id);
    if (clash != next.tenant_names.end()) {
      refuse(clash->second == tenant.name
                 ? absl::InvalidArgumentError(fmt::format("tenant {} is listed twice", tenant.name))
                 : absl::AlreadyExistsError(fmt::format(
                       "tenant {} hashes to the same id as tenant {}; rename one of them",
                       tenant.name, clash->second)));
      continue;
    }
    if (next.tenants.size() >= NETPOL_MAX_TENANTS) {
      refuse(absl::ResourceExhaustedError(fmt::format(
          "tenant {}: this node holds at most {} tenants", tenant.name, NETPOL_MAX_TENANTS)));
      continue;
    }
    next.tenants[tenant.name] = tenant;
    next.tenant_names[id] = tenant.name;
  }
  for (const Endpoint& endpoint : state.endpoints) {
    auto key = std::make_pair(endpoint.tenant, endpoint.pod);
    if (next.endpoints.contains(key)) {
      refuse(absl::InvalidArgumentError(
          fmt::format("pod {}/{} is listed twice", endpoint.tenant, endpoint.pod)));
      continue;
    }
    auto cgroup_id = ValidateEndpoint(next, endpoint, options_.pods_cgroup);
    if (!cgroup_id.ok()) {
      refuse(Annotate(cgroup_id.status(),
                      fmt::format("endpoint {}/{}", endpoint.tenant, endpoint.pod)));
      continue;
    }
    bool local = !endpoint.cgroup.empty();
    if (next.AddressCount() + endpoint.addresses.size() > NETPOL_MAX_ENDPOINT_ADDRS ||
        (local && next.LocalCount() + 1 > NETPOL_MAX_LOCAL_ENDPOINTS) ||
        next.ProbeCount() + endpoint.addresses.size() * endpoint.probe_ports.size() >
            NETPOL_MAX_PROBES) {
      refuse(absl::ResourceExhaustedError(
          fmt::format("endpoint {}/{}: this node holds at most {} endpoint addresses, {} local "
                      "pods and {} probe ports",
                      endpoint.tenant, endpoint.pod, NETPOL_MAX_ENDPOINT_ADDRS,
                      NETPOL_MAX_LOCAL_ENDPOINTS, NETPOL_MAX_PROBES)));
      continue;
    }
    auto pod_id =
        next.AssignPodId(endpoint.tenant, endpoint.pod, impl_->PinnedPodId(endpoint, *cgroup_id));
    if (!pod_id.ok()) {
      refuse(pod_id.status());
      continue;
    }
    for (const IpAddress& address : endpoint.addresses) {
      next.address_owner[address] = key;
    }
    next.endpoints[key] = {endpoint, *cgroup_id, *pod_id};
    next.pod_names[*pod_id] = fmt::format("{}/{}", endpoint.tenant, endpoint.pod);
  }
  for (const Grant& grant : state.grants) {
    if (!next.tenants.contains(grant.tenant)) {
      refuse(absl::NotFoundError(
          fmt::format("unknown tenant \"{}\" in grant: add the tenant first", grant.tenant)));
      continue;
    }
    if (next.grants.size() >= NETPOL_MAX_GRANTS && !next.grants.contains(grant)) {
      refuse(absl::ResourceExhaustedError(
          fmt::format("grant of tenant {}: this node holds at most {} grants", grant.tenant,
                      NETPOL_MAX_GRANTS)));
      continue;
    }
    next.grants.insert(grant);
  }

  // Write everything new first, then remove what is not wanted, so nothing
  // that stays is ever missing.
  std::vector<Entry> wanted = impl_->NodeEntries(next.node, next.tenants.size());
  for (const auto& [name, tenant] : next.tenants) {
    wanted.push_back(impl_->TenantEntry(tenant));
  }
  for (const auto& [key, local] : next.endpoints) {
    auto entries = impl_->EndpointEntries(local.endpoint, local.cgroup_id, local.pod_id);
    wanted.insert(wanted.end(), entries.begin(), entries.end());
  }
  for (const Grant& grant : next.grants) {
    wanted.push_back(impl_->GrantEntry(grant));
  }
  MapTransaction tx;
  PutAll(tx, wanted);
  std::set<std::pair<int, Bytes>> wanted_keys;
  for (const Entry& e : wanted) {
    wanted_keys.emplace(e.fd, e.key);
  }
  auto& maps = impl_->skel->maps;
  for (auto [map, name] : std::initializer_list<std::pair<bpf_map*, const char*>>{
           {maps.tenants, "tenants"},
           {maps.endpoints, "endpoints"},
           {maps.local_endpoints, "local_endpoints"},
           {maps.probe_ports, "probe_ports"},
           {maps.grants, "grants"},
           {maps.dns_servers, "dns_servers"},
           {maps.node_addrs, "node_addrs"},
           {maps.pod_networks, "pod_networks"},
           {maps.denied_dests, "denied_dests"}}) {
    int fd = bpf_map__fd(map);
    for (Bytes& key : MapKeys(fd)) {
      if (!wanted_keys.contains({fd, key})) {
        tx.Delete(fd, name, std::move(key));
      }
    }
  }
  size_t changes = tx.size();
  BH_RETURN_IF_ERROR(tx.Commit());
  impl_->model = std::move(next);
  impl_->refused = std::move(refused);
  impl_->GuardPods();
  Logger(Component::kNetpol)
      .info("state replaced tenants={} endpoints={} grants={} map_writes={} refused={}",
            impl_->model.tenants.size(), impl_->model.endpoints.size(), impl_->model.grants.size(),
            changes, impl_->refused.size());
  return absl::OkStatus();
}

}  // namespace bulkhead::agent::netpol
