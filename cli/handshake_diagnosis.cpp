#include "cli/handshake_diagnosis.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <ctime>
#include <filesystem>
#include <memory>
#include <vector>

#include "fmt/chrono.h"
#include "fmt/format.h"

namespace bulkhead::cli {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free_all(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct StoreFree {
  void operator()(X509_STORE* store) const { X509_STORE_free(store); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* context) const { X509_STORE_CTX_free(context); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

constexpr std::string_view kCertFlag = "--cert (BULKHEAD_CERT)";
constexpr std::string_view kKeyFlag = "--key (BULKHEAD_KEY)";
constexpr std::string_view kCaFlag = "--ca (BULKHEAD_CA)";

Bio ReadOnly(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every certificate in a PEM text (a CA file may be a bundle).
std::vector<Cert> ParseCerts(const std::string& pem) {
  std::vector<Cert> certs;
  Bio bio = ReadOnly(pem);
  while (bio) {
    Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      break;
    }
    certs.push_back(std::move(cert));
  }
  return certs;
}

Cert ParseCert(const std::string& pem) {
  Bio bio = ReadOnly(pem);
  return Cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

Key ParseKey(const std::string& pem) {
  Bio bio = ReadOnly(pem);
  return Key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

// "2026-11-20 11:27:44 UTC".
std::string Utc(const ASN1_TIME* time) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1) {
    return "an unreadable date";
  }
  return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", tm);
}

// The subject common name, which is the role for certificates Bulkhead issues.
std::string CommonName(X509* cert) {
  X509_NAME* subject = X509_get_subject_name(cert);
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) {
    return {};
  }
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  const unsigned char* bytes = ASN1_STRING_get0_data(data);
  return {bytes, bytes + ASN1_STRING_length(data)};
}

// True when `cert` chains to one of `cas`, whatever the dates (they are
// checked on their own, with a clearer message).
bool SignedBy(X509* cert, const std::vector<Cert>& cas) {
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> context(X509_STORE_CTX_new());
  if (!store || !context) {
    return false;
  }
  for (const Cert& ca : cas) {
    X509_STORE_add_cert(store.get(), ca.get());
  }
  if (X509_STORE_CTX_init(context.get(), store.get(), cert, nullptr) != 1) {
    return false;
  }
  X509_STORE_CTX_set_flags(context.get(), X509_V_FLAG_NO_CHECK_TIME);
  return X509_verify_cert(context.get()) == 1;
}

// `bulkhead certs issue ...` for `role` from the CA next to the --ca file
// when its key is there too.
std::string IssueCommand(const TlsFiles& files, std::string_view role) {
  std::filesystem::path dir = std::filesystem::path(files.ca_path).parent_path();
  if (dir.empty()) {
    dir = ".";
  }
  std::error_code error;
  std::string where = std::filesystem::exists(dir / "ca.key", error)
                          ? dir.string()
                          : std::string("<the directory of ca.crt and ca.key>");
  return fmt::format("bulkhead certs issue --role {} --dir {}", role.empty() ? "<role>" : role,
                     where);
}

// The host of "host:port" or "[v6]:port".
std::string_view HostOf(std::string_view address) {
  if (address.starts_with('[')) {
    size_t end = address.find(']');
    return end == std::string_view::npos ? address : address.substr(1, end - 1);
  }
  size_t colon = address.rfind(':');
  return colon == std::string_view::npos ? address : address.substr(0, colon);
}

// The connection was made and the agent closed it in the handshake: what
// in the caller's own files explains it. The client verified the agent's
// certificate with --ca before sending its own (TLS 1.3), so --ca is the CA
// that signed the agent's certificate.
std::string RefusalReason(std::string_view address, const TlsFiles& files) {
  Cert cert = ParseCert(files.cert_pem);
  std::vector<Cert> cas = ParseCerts(files.ca_pem);
  if (!cert || cas.empty()) {
    return fmt::format("the agent at {} closed the connection during the TLS handshake", address);
  }
  std::string role = CommonName(cert.get());
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0) {
    return fmt::format(
        "the agent refused the TLS handshake: your certificate {} expired on {} (issue a new "
        "one: {})",
        files.cert_path, Utc(X509_get0_notAfter(cert.get())), IssueCommand(files, role));
  }
  if (X509_cmp_current_time(X509_get0_notBefore(cert.get())) > 0) {
    return fmt::format(
        "the agent refused the TLS handshake: your certificate {} is valid only from {} (check "
        "the clocks of this machine and the agent's)",
        files.cert_path, Utc(X509_get0_notBefore(cert.get())));
  }
  if (!SignedBy(cert.get(), cas)) {
    return fmt::format(
        "the agent refused the TLS handshake: your certificate {} is not signed by the CA the "
        "agent trusts ({}, which signed the agent's certificate; issue one from it: {})",
        files.cert_path, files.ca_path, IssueCommand(files, role));
  }
  return fmt::format(
      "the agent at {} closed the connection during the TLS handshake, though your certificate "
      "{} is valid and signed by {}: the agent may trust another CA than the one that signed its "
      "own certificate (its grpc log says why)",
      address, files.cert_path, files.ca_path);
}

}  // namespace

Status CheckTlsFiles(const TlsFiles& files) {
  Cert cert = ParseCert(files.cert_pem);
  if (!cert) {
    return absl::InvalidArgumentError(
        fmt::format("{} {} holds no PEM certificate (use the .crt written by 'bulkhead certs "
                    "issue')",
                    kCertFlag, files.cert_path));
  }
  Key key = ParseKey(files.key_pem);
  if (!key) {
    return absl::InvalidArgumentError(
        fmt::format("{} {} holds no PEM private key (use the .key written by 'bulkhead certs "
                    "issue')",
                    kKeyFlag, files.key_path));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return absl::InvalidArgumentError(
        fmt::format("{} {} is not the key of {} {} (use the .key written next to that certificate)",
                    kKeyFlag, files.key_path, kCertFlag, files.cert_path));
  }
  if (ParseCerts(files.ca_pem).empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "{} {} holds no PEM certificate (use the platform CA's ca.crt)", kCaFlag, files.ca_path));
  }
  return absl::OkStatus();
}

std::string ExplainUnavailable(std::string_view address, const TlsFiles& files,
                               std::string_view grpc_message) {
  auto says = [grpc_message](std::string_view text) {
    return grpc_message.find(text) != std::string_view::npos;
  };
  if (says("DNS resolution failed")) {
    return fmt::format("cannot resolve the host of {} (check --agent or BULKHEAD_AGENT)", address);
  }
  // Otherwise gRPC reached no address: what it saw on the last one it tried.
  if (says("failed to connect to all addresses")) {
    if (says("Connection refused")) {
      return fmt::format(
          "no agent listening at {} (check --agent or BULKHEAD_AGENT, and that bulkhead-agent "
          "runs there with --certs-dir)",
          address);
    }
    if (says("is not in peer certificate")) {
      std::string_view host = HostOf(address);
      return fmt::format(
          "the agent's certificate does not name {}: connect by a name it has, or reissue it "
          "with '{} --host {}'",
          host, IssueCommand(files, "agent"), host);
    }
    if (says("certificate verify failed")) {
      return fmt::format(
          "this side does not trust the agent: its certificate is not signed by --ca {} (or it "
          "expired); pass the ca.crt of the agent's --certs-dir",
          files.ca_path);
    }
    if (says("wrong version number")) {
      return fmt::format(
          "{} does not speak TLS: pass the agent's API address (its --listen), not its metrics "
          "address",
          address);
    }
    if (says("Socket closed") || says("alert")) {
      return RefusalReason(address, files);
    }
  }
  return fmt::format(
      "{} (is the agent running at {}, and do your certificate and CA match its CA?)", grpc_message,
      address);
}

}  // namespace bulkhead::cli
