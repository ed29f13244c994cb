// The agent's host API configuration: server URLs, kubeconfig files as the
// control plane and kubectl write them, in-cluster service accounts.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/hostapi/host_config.h"

namespace bulkhead::hostapi {
namespace {

class HostConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = "/tmp/bulkhead-hostapi-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST(HostApiServerUrl, HttpsOnlyWithHostAndPort) {
  HostApiConfig config;
  ASSERT_TRUE(ParseServerUrl("https://127.0.0.1:6443", config).ok());
  EXPECT_EQ(config.host, "127.0.0.1");
  EXPECT_EQ(config.port, 6443);
  ASSERT_TRUE(ParseServerUrl("https://api.example.com", config).ok());
  EXPECT_EQ(config.host, "api.example.com");
  EXPECT_EQ(config.port, 443);
  ASSERT_TRUE(ParseServerUrl("https://[fd00::1]:8443/", config).ok());
  EXPECT_EQ(config.host, "fd00::1");
  EXPECT_EQ(config.port, 8443);
  for (const char* bad : {"http://127.0.0.1:80", "127.0.0.1:6443", "https://:6443",
                          "https://host:0", "https://host:70000", "https://[::1"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseServerUrl(bad, config))) << bad;
  }
}

TEST_F(HostConfigTest, KubeconfigWithInlineDataAndToken) {
  // "PEM" and "key" in base64.
  std::string path = Write("kubeconfig",
                           "apiVersion: v1\nkind: Config\n"
                           "clusters:\n- name: other\n  cluster: {server: https://10.0.0.9:1}\n"
                           "- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n"
                           "    certificate-authority-data: UEVN\n"
                           "users:\n- name: u\n  user:\n    token: abc\n"
                           "    client-certificate-data: UEVN\n    client-key-data: a2V5\n"
                           "contexts:\n- name: ctx\n  context: {cluster: c, user: u}\n"
                           "current-context: ctx\n");
  auto config = LoadKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->host, "127.0.0.1");
  EXPECT_EQ(config->port, 6443);
  EXPECT_EQ(config->ca_pem, "PEM");
  EXPECT_EQ(config->token, "abc");
  EXPECT_EQ(config->client_cert_pem, "PEM");
  EXPECT_EQ(config->client_key_pem, "key");
}

TEST_F(HostConfigTest, KubeconfigFilesAreRelativeToIt) {
  Write("ca.crt", "CA");
  std::string path = Write("kubeconfig",
                           "clusters:\n- name: c\n  cluster:\n    server: https://h:6443\n"
                           "    certificate-authority: ca.crt\n"
                           "users:\n- name: u\n  user: {tokenFile: token}\n"
                           "contexts:\n- name: ctx\n  context: {cluster: c, user: u}\n"
                           "current-context: ctx\n");
  auto config = LoadKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ca_pem, "CA");
  EXPECT_EQ(config->token_file, dir_ + "/token");
}

TEST_F(HostConfigTest, KubeconfigWithoutWhatTheAgentNeedsIsRefused) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"clusters: []\n", "no current-context"},
      {"current-context: x\n", "names no cluster"},
      {"clusters:\n- name: c\n  cluster: {server: https://h}\n"
       "users:\n- name: u\n  user: {token: t}\n"
       "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
       "no certificate-authority"},
      {"clusters:\n- name: c\n  cluster: {server: https://h, certificate-authority-data: UEVN}\n"
       "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
       "no token and no client certificate"},
      {"clusters: [\n", "kubeconfig"},
  };
  for (const Case& c : cases) {
    auto config = LoadKubeconfig(Write("kubeconfig", c.text));
    ASSERT_FALSE(config.ok()) << c.text;
    EXPECT_NE(std::string(config.status().message()).find(c.says), std::string::npos)
        << config.status();
  }
  EXPECT_TRUE(absl::IsNotFound(LoadKubeconfig(dir_ + "/missing").status()));
}

TEST_F(HostConfigTest, InClusterFromTheServiceAccount) {
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_TRUE(absl::IsNotFound(InClusterConfig(dir_).status()));
  Write("ca.crt", "CA");
  ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto config = InClusterConfig(dir_);
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->host, "10.96.0.1");
  EXPECT_EQ(config->port, 443);
  EXPECT_EQ(config->ca_pem, "CA");
  EXPECT_EQ(config->token_file, dir_ + "/token");
}

}  // namespace
}  // namespace bulkhead::hostapi
