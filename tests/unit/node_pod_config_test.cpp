// node/kubelet/pod_config, pod_volumes and sub_paths: the pure parts of the
// kubelet, checked against what a Kubernetes 1.32 kubelet does.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "node/kubelet/pod_config.h"
#include "node/kubelet/pod_volumes.h"
#include "node/kubelet/sub_paths.h"

namespace bulkhead::node {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json Pod(const std::string& qos = "") {
  json pod = {{"metadata",
               {{"name", "web"},
                {"namespace", "prod"},
                {"uid", "u1"},
                {"labels", {{"app", "web"}}},
                {"annotations", {{"note", "n"}}}}},
              {"spec", {{"containers", json::array({{{"name", "c"}}})}}}};
  if (!qos.empty()) {
    pod["status"]["qosClass"] = qos;
  }
  return pod;
}

DataLookup Lookup(const std::map<std::string, std::map<std::string, std::string>>& objects) {
  return [objects](const std::string& kind,
                   const std::string& name) -> std::optional<std::map<std::string, std::string>> {
    auto it = objects.find(kind + "/" + name);
    if (it == objects.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

std::string Env(const std::vector<runtime::v1::KeyValue>& env, const std::string& key) {
  for (const auto& kv : env) {
    if (kv.key() == key) {
      return kv.value();
    }
  }
  return "<unset>";
}

std::string Read(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "podcfg-XXXXXX").string();
    path_ = ::mkdtemp(templ.data());
  }
  ~TempDir() {
    std::error_code error;
    fs::remove_all(path_, error);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(QosTest, ClassAndCgroupParent) {
  EXPECT_EQ(QosClass(Pod()), "BestEffort");
  EXPECT_EQ(PodCgroupParent("/", Pod("Guaranteed")), "/kubepods/podu1");
  EXPECT_EQ(PodCgroupParent("/", Pod("Burstable")), "/kubepods/burstable/podu1");
  EXPECT_EQ(PodCgroupParent("/sys/", Pod()), "/sys/kubepods/besteffort/podu1");
}

TEST(ResolvConfTest, Parses) {
  auto dns = ParseResolvConf("nameserver 1.1.1.1\n# c\nsearch a b\noptions ndots:5\n");
  ASSERT_EQ(dns.servers_size(), 1);
  EXPECT_EQ(dns.servers(0), "1.1.1.1");
  ASSERT_EQ(dns.searches_size(), 2);
  EXPECT_EQ(dns.searches(1), "b");
  ASSERT_EQ(dns.options_size(), 1);
  EXPECT_EQ(dns.options(0), "ndots:5");
}

TEST(SandboxTest, MetadataHostnameLabelsDns) {
  json pod = Pod("Burstable");
  pod["spec"]["terminationGracePeriodSeconds"] = 30;
  pod["spec"]["containers"][0]["ports"] = {{{"containerPort", 80}, {"hostPort", 8080}},
                                           {{"containerPort", 53}, {"protocol", "UDP"}}};
  SandboxInputs in;
  in.host_dns.add_servers("9.9.9.9");
  in.attempt = 2;
  auto config = SandboxConfig(pod, in);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->metadata().name(), "web");
  EXPECT_EQ(config->metadata().namespace_(), "prod");
  EXPECT_EQ(config->metadata().attempt(), 2U);
  EXPECT_EQ(config->hostname(), "web");
  EXPECT_EQ(config->labels().at(kPodUidLabel), "u1");
  EXPECT_EQ(config->labels().at("app"), "web");
  EXPECT_EQ(config->annotations().at(kGracePeriodAnnotation), "30");
  ASSERT_EQ(config->port_mappings_size(), 1);
  EXPECT_EQ(config->port_mappings(0).host_port(), 8080);
  EXPECT_EQ(config->port_mappings(0).container_port(), 80);
  EXPECT_EQ(config->dns_config().servers(0), "9.9.9.9");
  EXPECT_EQ(config->linux().cgroup_parent(), "/kubepods/burstable/podu1");
  EXPECT_EQ(config->linux().security_context().namespace_options().pid(), runtime::v1::CONTAINER);

  pod["spec"]["hostname"] = "h";
  pod["spec"]["dnsPolicy"] = "None";
  pod["spec"]["dnsConfig"] = {{"nameservers", {"8.8.8.8"}},
                              {"options", {{{"name", "ndots"}, {"value", "2"}}}}};
  pod["spec"]["hostPID"] = true;
  pod["spec"]["hostIPC"] = true;
  pod["spec"]["securityContext"] = {{"runAsUser", 1000},
                                    {"sysctls", {{{"name", "net.x"}, {"value", "1"}}}}};
  config = SandboxConfig(pod, in);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->hostname(), "h");
  ASSERT_EQ(config->dns_config().servers_size(), 1);
  EXPECT_EQ(config->dns_config().servers(0), "8.8.8.8");
  EXPECT_EQ(config->dns_config().options(0), "ndots:2");
  const auto& sc = config->linux().security_context();
  EXPECT_EQ(sc.namespace_options().pid(), runtime::v1::NODE);
  EXPECT_EQ(sc.namespace_options().ipc(), runtime::v1::NODE);
  EXPECT_EQ(sc.run_as_user().value(), 1000);
  EXPECT_EQ(config->linux().sysctls().at("net.x"), "1");

  pod["spec"]["hostNetwork"] = true;
  config = SandboxConfig(pod, in);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->linux().security_context().namespace_options().network(), runtime::v1::NODE);
}

TEST(EnvTest, ValuesRefsAndExpansion) {
  json pod = Pod();
  json c = {
      {"name", "c"},
      {"resources", {{"limits", {{"memory", "1Mi"}, {"cpu", "1500m"}}}}},
      {"envFrom", {{{"prefix", "P_"}, {"configMapRef", {{"name", "cm"}}}}}},
      {"env",
       {{{"name", "A"}, {"value", "x"}},
        {{"name", "B"}, {"value", "$(A)-$$(A)-$(NOPE)"}},
        {{"name", "P_k"}, {"value", "env-wins"}},
        {{"name", "L"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.labels['app']"}}}}}},
        {{"name", "IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}},
        {{"name", "CPU"}, {"valueFrom", {{"resourceFieldRef", {{"resource", "limits.cpu"}}}}}},
        {{"name", "MEM"},
         {"valueFrom",
          {{"resourceFieldRef", {{"resource", "limits.memory"}, {"divisor", "1Ki"}}}}}},
        {{"name", "S"}, {"valueFrom", {{"secretKeyRef", {{"name", "s"}, {"key", "k"}}}}}},
        {{"name", "O"},
         {"valueFrom",
          {{"configMapKeyRef", {{"name", "gone"}, {"key", "k"}, {"optional", true}}}}}}}}};
  auto env = ContainerEnv(
      pod, c, "10.0.0.5", "192.168.0.1",
      Lookup({{"ConfigMap/cm", {{"k", "v"}, {"j", "w"}}}, {"Secret/s", {{"k", "secret"}}}}));
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(Env(*env, "B"), "x-$(A)-$(NOPE)");
  EXPECT_EQ(Env(*env, "P_k"), "env-wins");
  EXPECT_EQ(Env(*env, "P_j"), "w");
  EXPECT_EQ(Env(*env, "L"), "web");
  EXPECT_EQ(Env(*env, "IP"), "10.0.0.5");
  EXPECT_EQ(Env(*env, "CPU"), "2");  // 1.5 rounded up
  EXPECT_EQ(Env(*env, "MEM"), "1024");
  EXPECT_EQ(Env(*env, "S"), "secret");
  EXPECT_EQ(Env(*env, "O"), "<unset>");

  // A lookup that cannot answer now is not "missing": even an optional
  // reference waits for it rather than start without it.
  DataLookup unreachable =
      [](const std::string&,
         const std::string&) -> StatusOr<std::optional<std::map<std::string, std::string>>> {
    return absl::UnavailableError("host API unreachable");
  };
  json optional_ref = {
      {"name", "c"},
      {"env",
       {{{"name", "O"},
         {"valueFrom",
          {{"configMapKeyRef", {{"name", "cm"}, {"key", "k"}, {"optional", true}}}}}}}}};
  EXPECT_EQ(ContainerEnv(pod, optional_ref, "", "", unreachable).status().code(),
            absl::StatusCode::kUnavailable);
  json optional_from = {{"name", "c"},
                        {"envFrom", {{{"configMapRef", {{"name", "cm"}, {"optional", true}}}}}}};
  EXPECT_EQ(ContainerEnv(pod, optional_from, "", "", unreachable).status().code(),
            absl::StatusCode::kUnavailable);

  // An unset limit reads as the node's allocatable, as a kubelet gives it.
  json unlimited = {
      {"name", "c"},
      {"env",
       {{{"name", "CPU"}, {"valueFrom", {{"resourceFieldRef", {{"resource", "limits.cpu"}}}}}},
        {{"name", "MEM"},
         {"valueFrom",
          {{"resourceFieldRef", {{"resource", "limits.memory"}, {"divisor", "1Mi"}}}}}},
        {{"name", "REQ"}, {"valueFrom", {{"resourceFieldRef", {{"resource", "requests.cpu"}}}}}}}}};
  NodeAllocatable node;
  node.cpu_milli = 2000;
  node.memory_bytes = int64_t{4} << 30;
  env = ContainerEnv(pod, unlimited, "", "", Lookup({}), node);
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(Env(*env, "CPU"), "2");
  EXPECT_EQ(Env(*env, "MEM"), "4096");
  EXPECT_EQ(Env(*env, "REQ"), "0");

  json missing = {
      {"name", "c"},
      {"env",
       {{{"name", "X"}, {"valueFrom", {{"configMapKeyRef", {{"name", "x"}, {"key", "k"}}}}}}}}};
  env = ContainerEnv(pod, missing, "", "", Lookup({}));
  ASSERT_EQ(env.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(env.status().message().find("configmap \"x\" not found"), std::string::npos);
  env = ContainerEnv(pod, missing, "", "", Lookup({{"ConfigMap/x", {}}}));
  ASSERT_EQ(env.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(env.status().message().find("couldn't find key k"), std::string::npos);
}

TEST(ResourcesTest, SharesQuotaMemoryOom) {
  json c = {{"resources",
             {{"requests", {{"cpu", "250m"}, {"memory", "512"}}},
              {"limits", {{"cpu", "500m"}, {"memory", "1Gi"}}}}}};
  auto r = ContainerResources(Pod("Burstable"), c, 1024);
  EXPECT_EQ(r.cpu_shares(), 256);
  EXPECT_EQ(r.cpu_period(), 100000);
  EXPECT_EQ(r.cpu_quota(), 50000);
  EXPECT_EQ(r.memory_limit_in_bytes(), int64_t{1} << 30);
  EXPECT_EQ(r.oom_score_adj(), 500);
  EXPECT_EQ(ContainerResources(Pod(), json::object(), 0).cpu_shares(), 2);
  EXPECT_EQ(ContainerResources(Pod(), json::object(), 0).oom_score_adj(), 1000);
  EXPECT_EQ(ContainerResources(Pod("Guaranteed"), c, 0).oom_score_adj(), -997);
  json big = {{"resources", {{"requests", {{"memory", "2048"}}}}}};
  EXPECT_EQ(ContainerResources(Pod("Burstable"), big, 1024).oom_score_adj(), 2);
}

TEST(ContainerConfigTest, MountsLabelsSecurity) {
  json pod = Pod();
  pod["spec"]["securityContext"] = {{"runAsUser", 1}, {"runAsGroup", 2}};
  json c = {{"name", "c"},
            {"image", "busybox"},
            {"command", {"$(A)"}},
            {"args", {"$$(A)"}},
            {"volumeMounts",
             {{{"name", "v"}, {"mountPath", "/m"}, {"readOnly", true}},
              {{"name", "v"}, {"mountPath", "/s"}, {"subPath", "a/b"}}}},
            {"securityContext",
             {{"runAsUser", 5},
              {"capabilities", {{"add", {"NET_ADMIN"}}, {"drop", {"ALL"}}}},
              {"seccompProfile", {{"type", "RuntimeDefault"}}}}}};
  ContainerInputs in;
  runtime::v1::KeyValue kv;
  kv.set_key("A");
  kv.set_value("sh");
  in.env.push_back(kv);
  in.volume_paths["v"] = "/vol";
  in.attempt = 3;
  auto config = ContainerConfig(pod, c, in);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->command(0), "sh");
  EXPECT_EQ(config->args(0), "$(A)");
  ASSERT_EQ(config->mounts_size(), 2);
  EXPECT_TRUE(config->mounts(0).readonly());
  EXPECT_EQ(config->mounts(1).host_path(), "/vol/a/b");
  EXPECT_EQ(config->log_path(), "c/3.log");
  EXPECT_EQ(config->annotations().at(kRestartCountAnnotation), "3");
  EXPECT_EQ(config->labels().at(kContainerNameLabel), "c");
  const auto& sc = config->linux().security_context();
  EXPECT_EQ(sc.run_as_user().value(), 5);
  EXPECT_EQ(sc.run_as_group().value(), 2);
  EXPECT_GT(sc.masked_paths_size(), 0);
  EXPECT_EQ(sc.capabilities().add_capabilities(0), "NET_ADMIN");
  EXPECT_EQ(sc.seccomp().profile_type(), runtime::v1::SecurityProfile::RuntimeDefault);

  c["securityContext"]["privileged"] = true;
  config = ContainerConfig(pod, c, in);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->linux().security_context().masked_paths_size(), 0);

  c["volumeMounts"][1]["subPath"] = "a..b";
  EXPECT_TRUE(ContainerConfig(pod, c, in).ok());
  c["volumeMounts"][1]["subPath"] = "../x";
  EXPECT_EQ(ContainerConfig(pod, c, in).status().code(), absl::StatusCode::kInvalidArgument);
  c["volumeMounts"][1]["subPath"] = "/x";
  EXPECT_EQ(ContainerConfig(pod, c, in).status().code(), absl::StatusCode::kInvalidArgument);
  c["volumeMounts"][1] = {{"name", "nope"}, {"mountPath", "/n"}};
  EXPECT_EQ(ContainerConfig(pod, c, in).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(VolumesTest, PreparesEachType) {
  TempDir dir;
  json pod = Pod();
  pod["spec"]["volumes"] = {
      {{"name", "e"}, {"emptyDir", json::object()}},
      {{"name", "cm"}, {"configMap", {{"name", "cm"}, {"defaultMode", 0600}}}},
      {{"name", "ci"},
       {"configMap",
        {{"name", "cm"}, {"items", {{{"key", "k"}, {"path", "d/f"}, {"mode", 0400}}}}}}},
      {{"name", "s"}, {"secret", {{"secretName", "s"}}}},
      {{"name", "o"}, {"configMap", {{"name", "gone"}, {"optional", true}}}},
      {{"name", "d"},
       {"downwardAPI",
        {{"items", {{{"path", "labels"}, {"fieldRef", {{"fieldPath", "metadata.labels"}}}}}}}}},
      {{"name", "h"},
       {"hostPath", {{"path", (dir.path() / "host").string()}, {"type", "DirectoryOrCreate"}}}},
      {{"name", "t"},
       {"projected", {{"sources", {{{"serviceAccountToken", {{"path", "token"}}}}}}}}}};
  VolumeSources sources;
  sources.lookup = Lookup({{"ConfigMap/cm", {{"k", "v"}}}, {"Secret/s", {{"p", "pw"}}}});
  auto now = std::chrono::system_clock::now();
  sources.token = [&](const std::string&, int64_t) -> StatusOr<ServiceAccountToken> {
    return ServiceAccountToken{"tok", now + std::chrono::seconds(1000)};
  };
  auto prepared = PrepareVolumes(pod, dir.path().string(), sources);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  EXPECT_TRUE(fs::is_directory(prepared->paths.at("e")));
  EXPECT_EQ(Read(fs::path(prepared->paths.at("cm")) / "k"), "v");
  struct stat info {};
  ASSERT_EQ(::stat((fs::path(prepared->paths.at("cm")) / "k").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600U);
  ASSERT_EQ(::stat((fs::path(prepared->paths.at("ci")) / "d/f").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0400U);
  EXPECT_EQ(Read(fs::path(prepared->paths.at("s")) / "p"), "pw");
  EXPECT_EQ(Read(fs::path(prepared->paths.at("d")) / "labels"), "app=\"web\"\n");
  EXPECT_TRUE(fs::is_directory(dir.path() / "host"));
  EXPECT_EQ(Read(fs::path(prepared->paths.at("t")) / "token"), "tok");
  auto expected = now + std::chrono::seconds(800);
  EXPECT_LT(std::chrono::abs(prepared->refresh_at - expected), std::chrono::seconds(5));
}

TEST(VolumesTest, Refusals) {
  TempDir dir;
  VolumeSources sources;
  sources.lookup = Lookup({{"ConfigMap/cm", {{"k", "v"}}}});
  json pod = Pod();
  pod["spec"]["volumes"] = {{{"name", "v"}, {"configMap", {{"name", "x"}}}}};
  auto r = PrepareVolumes(pod, dir.path().string(), sources);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("configmap \"x\" not found"), std::string::npos);
  pod["spec"]["volumes"] = {
      {{"name", "v"},
       {"configMap", {{"name", "cm"}, {"items", {{{"key", "k"}, {"path", "../up"}}}}}}}};
  EXPECT_EQ(PrepareVolumes(pod, dir.path().string(), sources).status().code(),
            absl::StatusCode::kInvalidArgument);
  pod["spec"]["volumes"] = {{{"name", "v"}, {"nfs", {{"server", "x"}}}}};
  r = PrepareVolumes(pod, dir.path().string(), sources);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(r.status().message().find("nfs"), std::string::npos);
  pod["spec"]["volumes"] = {
      {{"name", "v"},
       {"hostPath", {{"path", (dir.path() / "no").string()}, {"type", "Directory"}}}}};
  EXPECT_EQ(PrepareVolumes(pod, dir.path().string(), sources).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// As Kubernetes validates subPaths and item paths: a ".." component leaves,
// ".." inside a name does not.
TEST(SubPathTest, LocalDescendingPathsByComponent) {
  for (const char* good : {"a", "a/b", "a..b", "..a", "a..", "a/..b/c", "./a", "a/"}) {
    EXPECT_TRUE(IsLocalDescendingPath(good)) << good;
  }
  for (const char* bad : {"", "/a", "..", "../a", "a/..", "a/../b", "a//../b"}) {
    EXPECT_FALSE(IsLocalDescendingPath(bad)) << bad;
  }
}

TEST(Base64Test, Decodes) {
  EXPECT_EQ(DecodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(DecodeBase64("aGk="), "hi");
  EXPECT_EQ(DecodeBase64("aGk"), std::nullopt);
  EXPECT_EQ(DecodeBase64("a!==").has_value(), false);
  EXPECT_EQ(DecodeBase64(""), "");
}

TEST(SubPathTest, RefusesWithoutMounting) {
  TempDir dir;
  fs::create_directories(dir.path() / "vol");
  EXPECT_EQ(PinSubPath((dir.path() / "vol").string(), "", (dir.path() / "t").string()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PinSubPath((dir.path() / "vol").string(), "/etc", (dir.path() / "t").string()).code(),
            absl::StatusCode::kInvalidArgument);
  fs::create_symlink("/etc", dir.path() / "vol" / "esc");
  EXPECT_EQ(PinSubPath((dir.path() / "vol").string(), "esc", (dir.path() / "t").string()).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(PinSubPath((dir.path() / "vol").string(), "../x", (dir.path() / "t").string()).code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace bulkhead::node
