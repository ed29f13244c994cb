// How the agent reaches its host cluster's API server (the Kubernetes API
// of the cluster whose nodes it runs on): from a kubeconfig file, or from
// the service account a pod gets (in-cluster). Only what the agent needs:
// the server, the CA that signs it, and a bearer token or a client
// certificate.
#ifndef BULKHEAD_COMMON_HOSTAPI_HOST_CONFIG_H_
#define BULKHEAD_COMMON_HOSTAPI_HOST_CONFIG_H_

#include <string>

#include "common/status.h"

namespace bulkhead::hostapi {

struct HostApiConfig {
  std::string host;  // name or address, no brackets
  int port = 443;
  std::string ca_pem;      // the server's CA (required: the server is verified)
  std::string token;       // bearer token, or
  std::string token_file;  // read again on every request (service account tokens rotate)
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string user_agent = "bulkhead-agent";
};

// "https://host:port" (port default 443, "[v6]:port" accepted).
// INVALID_ARGUMENT for anything else (plain http is refused).
Status ParseServerUrl(std::string_view url, HostApiConfig& config);

// The current context's cluster and user of a kubeconfig: server,
// certificate-authority(-data), token / tokenFile, client-certificate(-data)
// and client-key(-data). Relative file paths are relative to the
// kubeconfig's directory, as kubectl reads them.
StatusOr<HostApiConfig> LoadKubeconfig(const std::string& path);

// In a pod: KUBERNETES_SERVICE_HOST/PORT and the service account's token
// and CA under `account_dir`. NOT_FOUND when not in a pod.
StatusOr<HostApiConfig> InClusterConfig(
    const std::string& account_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace bulkhead::hostapi

#endif  // BULKHEAD_COMMON_HOSTAPI_HOST_CONFIG_H_
