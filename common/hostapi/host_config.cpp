#include "common/hostapi/host_config.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "common/file.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "yaml-cpp/yaml.h"

namespace bulkhead::hostapi {
namespace {

StatusOr<std::string> DecodeBase64(std::string_view what, std::string_view text) {
  std::string clean;
  for (char c : text) {
    if (c != '\n' && c != '\r' && c != ' ') {
      clean.push_back(c);
    }
  }
  if (clean.size() % 4 != 0) {
    return absl::InvalidArgumentError(fmt::format("{} is not base64", what));
  }
  std::vector<unsigned char> in(clean.begin(), clean.end());
  std::vector<unsigned char> decoded(clean.size() / 4 * 3);
  int n = EVP_DecodeBlock(decoded.data(), in.data(), static_cast<int>(in.size()));
  if (n < 0) {
    return absl::InvalidArgumentError(fmt::format("{} is not base64", what));
  }
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t padding = 0;
  for (size_t i = clean.size(); i > 0 && clean[i - 1] == '='; --i) {
    ++padding;
  }
  std::string out(decoded.begin(),
                  decoded.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(n) - padding));
  return out;
}

// The named entry's `inner` map in a kubeconfig list ("clusters", "users").
YAML::Node Named(const YAML::Node& list, const std::string& name, const char* inner) {
  if (!list.IsSequence()) {
    return YAML::Node();
  }
  for (const YAML::Node& entry : list) {
    if (entry["name"] && entry["name"].as<std::string>() == name) {
      return entry[inner];
    }
  }
  return YAML::Node();
}

// `<key>-data` (base64) or `<key>` (a file), "" when neither is given.
StatusOr<std::string> DataOrFile(const YAML::Node& node, const std::string& key,
                                 const std::filesystem::path& base) {
  if (node[key + "-data"]) {
    return DecodeBase64(key + "-data", node[key + "-data"].as<std::string>());
  }
  if (node[key]) {
    std::filesystem::path file = node[key].as<std::string>();
    return ReadFile((file.is_absolute() ? file : base / file).string());
  }
  return std::string();
}

}  // namespace

Status ParseServerUrl(std::string_view url, HostApiConfig& config) {
  std::string_view rest = url;
  if (!ConsumePrefix(rest, "https://")) {
    return absl::InvalidArgumentError(
        fmt::format("host API server \"{}\": only https:// servers are used", url));
  }
  rest = rest.substr(0, rest.find('/'));
  std::string_view host = rest;
  std::string_view port;
  if (rest.starts_with("[")) {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(fmt::format("host API server \"{}\": no ']'", url));
    }
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (ConsumePrefix(after, ":")) {
      port = after;
    }
  } else if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) {
    return absl::InvalidArgumentError(fmt::format("host API server \"{}\": no host", url));
  }
  config.host = std::string(host);
  config.port = 443;
  if (!port.empty()) {
    auto number = ParseInteger<int>(port);
    if (!number || *number < 1 || *number > 65535) {
      return absl::InvalidArgumentError(fmt::format("host API server \"{}\": bad port", url));
    }
    config.port = *number;
  }
  return absl::OkStatus();
}

StatusOr<HostApiConfig> LoadKubeconfig(const std::string& path) {
  BH_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(fmt::format("kubeconfig {}: {}", path, why));
  };
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& error) {
    return invalid(error.what());
  }
  try {
    if (!doc["current-context"]) {
      return invalid("no current-context");
    }
    std::string context_name = doc["current-context"].as<std::string>();
    YAML::Node context = Named(doc["contexts"], context_name, "context");
    if (!context || !context["cluster"]) {
      return invalid(fmt::format("context {} names no cluster", context_name));
    }
    YAML::Node cluster = Named(doc["clusters"], context["cluster"].as<std::string>(), "cluster");
    if (!cluster || !cluster["server"]) {
      return invalid(fmt::format("cluster of context {} has no server", context_name));
    }
    HostApiConfig config;
    BH_RETURN_IF_ERROR(ParseServerUrl(cluster["server"].as<std::string>(), config));
    std::filesystem::path base = std::filesystem::path(path).parent_path();
    BH_ASSIGN_OR_RETURN(config.ca_pem, DataOrFile(cluster, "certificate-authority", base));
    if (config.ca_pem.empty()) {
      return invalid("the cluster has no certificate-authority: the agent verifies the server");
    }
    YAML::Node user = context["user"]
                          ? Named(doc["users"], context["user"].as<std::string>(), "user")
                          : YAML::Node();
    if (user) {
      if (user["token"]) {
        config.token = user["token"].as<std::string>();
      } else if (user["tokenFile"]) {
        std::filesystem::path file = user["tokenFile"].as<std::string>();
        config.token_file = (file.is_absolute() ? file : base / file).string();
      }
      BH_ASSIGN_OR_RETURN(config.client_cert_pem, DataOrFile(user, "client-certificate", base));
      BH_ASSIGN_OR_RETURN(config.client_key_pem, DataOrFile(user, "client-key", base));
    }
    if (config.token.empty() && config.token_file.empty() && config.client_cert_pem.empty()) {
      return invalid("the user has no token and no client certificate");
    }
    return config;
  } catch (const YAML::Exception& error) {
    return invalid(error.what());
  }
}

StatusOr<HostApiConfig> InClusterConfig(const std::string& account_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0') {
    return absl::NotFoundError("not in a pod: KUBERNETES_SERVICE_HOST is not set");
  }
  HostApiConfig config;
  std::string_view host_text(host);
  std::string url = host_text.find(':') != std::string_view::npos
                        ? fmt::format("https://[{}]:{}", host_text, port ? port : "443")
                        : fmt::format("https://{}:{}", host_text, port ? port : "443");
  BH_RETURN_IF_ERROR(ParseServerUrl(url, config));
  BH_ASSIGN_OR_RETURN(config.ca_pem, ReadFile(account_dir + "/ca.crt"));
  config.token_file = account_dir + "/token";
  return config;
}

}  // namespace bulkhead::hostapi
