// The platform CA and the certificates it issues, made with OpenSSL.
//
// `bulkhead certs init` writes <dir>/ca.crt and <dir>/ca.key; `bulkhead
// certs issue` writes <dir>/<stem>.crt and <dir>/<stem>.key signed by that
// CA (stem: "admin", "tenant-team-a", "agent", ...). Keys are ECDSA P-256,
// written 0600 and replaced atomically (write, then rename), so an agent
// watching its files never reads half a rotation.
#ifndef BULKHEAD_COMMON_PKI_CERTIFICATES_H_
#define BULKHEAD_COMMON_PKI_CERTIFICATES_H_

#include <chrono>
#include <string>
#include <vector>

#include "common/pki/role.h"
#include "common/status.h"

namespace bulkhead::pki {

struct CaOptions {
  std::string dir;
  std::chrono::hours lifetime{24 * 365 * 5};
  bool overwrite = false;  // refuse to replace an existing CA unless set
};

struct IssueOptions {
  std::string dir;  // holds ca.crt and ca.key; the new files go here too
  Role role;
  // Extra subject alternative names (DNS names or IP addresses) for the
  // agent's server certificate; "localhost" and 127.0.0.1 are always in it.
  std::vector<std::string> hosts;
  std::chrono::hours lifetime{24 * 365};
  // Valid from this far before now (clock skew between machines).
  std::chrono::seconds backdate{3600};
  std::string stem;  // file stem; empty: role.FileStem()
};

struct IssuedFiles {
  std::string certificate;
  std::string key;
};

StatusOr<IssuedFiles> InitCa(const CaOptions& options);
StatusOr<IssuedFiles> IssueCertificate(const IssueOptions& options);

// The subject common name of a PEM certificate file.
StatusOr<std::string> CertificateCommonName(const std::string& path);

}  // namespace bulkhead::pki

#endif  // BULKHEAD_COMMON_PKI_CERTIFICATES_H_
