// Why the CLI could not talk to an agent over mutual TLS, in one line that
// says what to do.
//
// A refused TLS handshake reaches a gRPC client as UNAVAILABLE with text
// such as "Socket closed": the agent's TLS stack closes the connection and
// names no reason. So the CLI checks its own files with OpenSSL: before
// connecting (a file without a certificate or key, a key that is not the
// certificate's: usage errors) and after a call fails UNAVAILABLE (an
// expired certificate, one not signed by the CA that signed the agent's),
// and reads gRPC's text for what the client saw itself (nobody listening,
// the agent's certificate not trusted, not a TLS server).
#ifndef BULKHEAD_CLI_HANDSHAKE_DIAGNOSIS_H_
#define BULKHEAD_CLI_HANDSHAKE_DIAGNOSIS_H_

#include <string>
#include <string_view>

#include "common/status.h"

namespace bulkhead::cli {

// The caller's certificate, key and CA: paths as given, and their PEM text.
struct TlsFiles {
  std::string cert_path;
  std::string key_path;
  std::string ca_path;
  std::string cert_pem;
  std::string key_pem;
  std::string ca_pem;
};

// INVALID_ARGUMENT when the files cannot make a TLS connection at all: no
// certificate in --cert or --ca, no private key in --key, or a key that is
// not the certificate's.
Status CheckTlsFiles(const TlsFiles& files);

// The message of a call to `address` that failed UNAVAILABLE with gRPC's
// text `grpc_message`: why, and what to do. gRPC's text with a hint when no
// reason is known.
std::string ExplainUnavailable(std::string_view address, const TlsFiles& files,
                               std::string_view grpc_message);

}  // namespace bulkhead::cli

#endif  // BULKHEAD_CLI_HANDSHAKE_DIAGNOSIS_H_
