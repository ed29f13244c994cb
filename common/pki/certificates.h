// The platform CA and the certificates it issues, made with OpenSSL.
//
// `bulkhead certs init` writes <dir>/ca.crt and <dir>/ca.key; `bulkhead
// certs issue` writes <dir>/<stem>.crt and <dir>/<stem>.key signed by that
// CA (stem: "admin", "tenant-team-a", "agent", ...), valid for days (7 by
// default), and `bulkhead certs renew` re-issues one with a new key for the
// same role and names. Keys are ECDSA P-256, written 0600 and replaced
// atomically (write, then rename), so an agent watching its files never
// reads half a rotation. <dir> is the admin's: ca.key never goes to a node.
#ifndef BULKHEAD_COMMON_PKI_CERTIFICATES_H_
#define BULKHEAD_COMMON_PKI_CERTIFICATES_H_

#include <chrono>
#include <string>
#include <vector>

#include "common/pki/role.h"
#include "common/status.h"

namespace bulkhead::pki {

// Leaf certificates are short-lived: rotated (renewed) rather than kept,
// and a revoked one (revocation.h) stops being accepted even before then.
inline constexpr std::chrono::hours kDefaultLeafLifetime{24 * 7};

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
  std::chrono::seconds lifetime{kDefaultLeafLifetime};
  // Valid from this far before now (clock skew between machines).
  std::chrono::seconds backdate{3600};
  std::string stem;  // file stem; empty: role.FileStem()
};

struct IssuedFiles {
  std::string certificate;
  std::string key;
  std::string serial;  // NormalizeSerial form (identity.h)
};

StatusOr<IssuedFiles> InitCa(const CaOptions& options);
StatusOr<IssuedFiles> IssueCertificate(const IssueOptions& options);

struct RenewOptions {
  std::string dir;   // holds ca.crt, ca.key and <stem>.crt
  std::string stem;  // "agent", "admin", "tenant-team-a", ...
  std::chrono::seconds lifetime{kDefaultLeafLifetime};
};
// Issues <dir>/<stem>.crt and .key again, with a new key, for the role and
// the extra host names of the certificate there now (which may have
// expired). The old certificate stays valid until it expires; revoke its
// serial to end it sooner.
StatusOr<IssuedFiles> RenewCertificate(const RenewOptions& options);

// "30m", "12h", "7d": a certificate's validity. INVALID_ARGUMENT outside
// one minute to 365 days or in another form.
StatusOr<std::chrono::seconds> ParseValidity(std::string_view text);

// The subject common name of a PEM certificate file (exactly one: identity.h).
StatusOr<std::string> CertificateCommonName(const std::string& path);

}  // namespace bulkhead::pki

#endif  // BULKHEAD_COMMON_PKI_CERTIFICATES_H_
