// The credentials of one virtual cluster, kept under its data directory:
//
//   DIR/pki/ca.{crt,key}          authority that signs the serving certificate
//   DIR/pki/serving.{crt,key}     the API server's certificate
//   DIR/pki/client-ca.{crt,key}   authority that signs client certificates
//   DIR/pki/admin.{crt,key}       the admin's client certificate (CN=admin, O=system:masters)
//   DIR/pki/admin.token           the admin's bearer token
//   DIR/pki/service-account.key   ES256 key that signs service account tokens
//   DIR/kubeconfig                written at every start with the address served
//
// Made on first start; read back on later starts, so the same cluster keeps
// the same identity. Keys and the token are mode 0600.
#ifndef BULKHEAD_CONTROLPLANE_PKI_CLUSTER_CREDENTIALS_H_
#define BULKHEAD_CONTROLPLANE_PKI_CLUSTER_CREDENTIALS_H_

#include <string>
#include <vector>

#include "common/status.h"
#include "controlplane/pki/certificates.h"

namespace bulkhead::controlplane {

struct ClusterCredentials {
  KeyPair serving_authority;
  KeyPair serving;
  KeyPair client_authority;
  KeyPair admin;
  std::string admin_token;
  std::string service_account_key_pem;
  bool created = false;  // made by this start
};

// Loads the credentials under `data_dir`, making whatever is missing. The
// serving certificate names localhost, 127.0.0.1, ::1 and `extra_names`
// (IP addresses or DNS names).
StatusOr<ClusterCredentials> EnsureClusterCredentials(const std::string& data_dir,
                                                      const std::vector<std::string>& extra_names);

// Writes DIR/kubeconfig for the admin (client certificate and token) against
// `server_url` ("https://127.0.0.1:6443"), atomically; an unchanged file is
// left as it is.
Status WriteKubeconfig(const std::string& path, const std::string& cluster_name,
                       const std::string& server_url, const ClusterCredentials& credentials);

// Writes `content` to `path` through a temporary file and rename, with `mode`.
Status WriteFileAtomically(const std::string& path, std::string_view content, unsigned mode);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_PKI_CLUSTER_CREDENTIALS_H_
