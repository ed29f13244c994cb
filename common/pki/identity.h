// Who a certificate names, by the one rule every Bulkhead server applies.
//
// A client certificate names its holder in exactly one subject common name
// (CN): the agent reads a role there ("admin", "tenant:team-a", ...), the
// control plane a Kubernetes user name. A subject with no CN, or with two
// (which servers used to read differently, one the first, one the last),
// is refused with the reason, never resolved by picking one. The subject's
// organizations (O) are returned in order: the control plane's groups.
#ifndef BULKHEAD_COMMON_PKI_IDENTITY_H_
#define BULKHEAD_COMMON_PKI_IDENTITY_H_

#include <openssl/x509.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/pki/role.h"
#include "common/status.h"

namespace bulkhead::pki {

struct CertificateIdentity {
  std::string common_name;
  std::vector<std::string> organizations;
  std::string serial;  // upper-case hex, no leading zeros (NormalizeSerial)
};

// UNAUTHENTICATED, with the reason, unless the subject has exactly one
// non-empty CN.
StatusOr<CertificateIdentity> IdentityOf(const X509* certificate);
// The same for a PEM certificate (the first one in `pem`).
StatusOr<CertificateIdentity> IdentityOfPem(std::string_view pem);

// The role named by the identity's CN (the agent's rule), or
// UNAUTHENTICATED saying how to get a certificate that names one.
StatusOr<Role> RoleOf(const CertificateIdentity& identity);

// A serial number as `bulkhead certs` prints it: hex digits, optionally
// with ':' between bytes and a 0x prefix, any case; returned upper-case
// without separators or leading zeros. INVALID_ARGUMENT for anything else.
StatusOr<std::string> NormalizeSerial(std::string_view text);

}  // namespace bulkhead::pki

#endif  // BULKHEAD_COMMON_PKI_IDENTITY_H_
