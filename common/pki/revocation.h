// The platform's certificate revocation list: an X.509 CRL signed by the
// platform CA, naming revoked certificates by serial.
//
// `bulkhead certs revoke SERIAL --dir PKI` adds a serial to
// PKI/revoked.crl (signing needs ca.key, so it runs where the admin keeps
// the CA); the admin copies that file into each agent's certs dir, where
// the agent re-reads it and refuses the serials in it on every call, and
// ends the open streams of a certificate newly revoked.
#ifndef BULKHEAD_COMMON_PKI_REVOCATION_H_
#define BULKHEAD_COMMON_PKI_REVOCATION_H_

#include <set>
#include <string>
#include <string_view>

#include "common/status.h"

namespace bulkhead::pki {

inline constexpr std::string_view kRevocationListFile = "revoked.crl";

struct Revoked {
  std::string list;    // the path of the list written
  std::string serial;  // NormalizeSerial form
  bool added = false;  // false: it was already in the list
};

// Adds `serial_or_certificate` (a serial, or the path of a certificate file
// whose serial is meant) to <dir>/revoked.crl, signed by <dir>/ca.key; the
// file is replaced atomically. The list keeps every serial it had.
StatusOr<Revoked> Revoke(const std::string& dir, std::string_view serial_or_certificate);

// The serials of a PEM CRL after checking it is signed by the CA in
// `ca_pem`. INVALID_ARGUMENT, with the reason, for a list that is not a
// CRL or is not signed by that CA (a forged list changes nothing).
StatusOr<std::set<std::string>> RevokedSerials(std::string_view crl_pem, std::string_view ca_pem);

}  // namespace bulkhead::pki

#endif  // BULKHEAD_COMMON_PKI_REVOCATION_H_
