// X.509 material for a virtual cluster, made with OpenSSL: ECDSA P-256 keys
// (fast to generate, so a first start stays quick) and certificates signed by
// the cluster's own authorities.
#ifndef BULKHEAD_CONTROLPLANE_PKI_CERTIFICATES_H_
#define BULKHEAD_CONTROLPLANE_PKI_CERTIFICATES_H_

#include <string>
#include <vector>

#include "common/status.h"

namespace bulkhead::controlplane {

struct KeyPair {
  std::string key_pem;
  std::string cert_pem;
};

struct CertificateRequest {
  std::string common_name;
  std::vector<std::string> organizations;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  bool server = false;
  bool client = false;
  int valid_days = 3650;
};

// A self-signed certificate authority.
StatusOr<KeyPair> MakeAuthority(const std::string& common_name);

// A leaf certificate signed by `authority`.
StatusOr<KeyPair> MakeCertificate(const KeyPair& authority, const CertificateRequest& request);

// `count` random bytes from OpenSSL's generator, hex encoded.
StatusOr<std::string> RandomHex(size_t count);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_PKI_CERTIFICATES_H_
