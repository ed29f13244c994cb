#include "common/pki/revocation.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <memory>

#include "common/file.h"
#include "common/pki/identity.h"
#include "fmt/format.h"

namespace bulkhead::pki {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free_all(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct CrlFree {
  void operator()(X509_CRL* crl) const { X509_CRL_free(crl); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct RevokedFree {
  void operator()(X509_REVOKED* entry) const { X509_REVOKED_free(entry); }
};
struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct AsnIntegerFree {
  void operator()(ASN1_INTEGER* value) const { ASN1_INTEGER_free(value); }
};
struct AsnTimeFree {
  void operator()(ASN1_TIME* value) const { ASN1_TIME_free(value); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Crl = std::unique_ptr<X509_CRL, CrlFree>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

std::string OpenSslReason() {
  std::string detail;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    detail += detail.empty() ? buf : fmt::format("; {}", buf);
  }
  return detail.empty() ? "OpenSSL reported no reason" : detail;
}

Bio MemoryBio(std::string_view text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

StatusOr<Cert> ParseCertificate(std::string_view pem, std::string_view what) {
  Bio bio = MemoryBio(pem);
  Cert cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    return absl::InvalidArgumentError(
        fmt::format("{} holds no PEM certificate: {}", what, OpenSslReason()));
  }
  return cert;
}

// A CRL checked against the CA: its issuer and its signature.
StatusOr<Crl> VerifiedCrl(std::string_view crl_pem, X509* ca) {
  Bio bio = MemoryBio(crl_pem);
  Crl crl(bio ? PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!crl) {
    return absl::InvalidArgumentError(fmt::format(
        "the revocation list is not a PEM X.509 CRL ({}); write it with 'bulkhead certs revoke'",
        OpenSslReason()));
  }
  EVP_PKEY* ca_key = X509_get0_pubkey(ca);
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca)) != 0 ||
      ca_key == nullptr || X509_CRL_verify(crl.get(), ca_key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "the revocation list is not signed by the platform CA (ca.crt); write it with "
        "'bulkhead certs revoke' in the CA's directory");
  }
  return crl;
}

std::set<std::string> SerialsOf(X509_CRL* crl) {
  std::set<std::string> serials;
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl);
  for (int i = 0; entries != nullptr && i < sk_X509_REVOKED_num(entries); ++i) {
    const ASN1_INTEGER* serial = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(entries, i));
    std::unique_ptr<BIGNUM, BnFree> bn(ASN1_INTEGER_to_BN(serial, nullptr));
    char* hex = bn ? BN_bn2hex(bn.get()) : nullptr;
    if (hex != nullptr) {
      if (auto normal = NormalizeSerial(hex); normal.ok()) {
        serials.insert(*normal);
      }
      OPENSSL_free(hex);
    }
  }
  return serials;
}

StatusOr<std::string> SerialArgument(std::string_view text) {
  struct stat st {};
  if (::stat(std::string(text).c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    BH_ASSIGN_OR_RETURN(std::string pem, ReadFile(std::string(text)));
    BH_ASSIGN_OR_RETURN(Cert cert, ParseCertificate(pem, text));
    auto identity = IdentityOf(cert.get());
    if (!identity.ok()) {
      return absl::InvalidArgumentError(fmt::format("{}: {}", text, MessageOf(identity.status())));
    }
    return identity->serial;
  }
  return NormalizeSerial(text);
}

}  // namespace

StatusOr<Revoked> Revoke(const std::string& dir, std::string_view serial_or_certificate) {
  Revoked result;
  BH_ASSIGN_OR_RETURN(result.serial, SerialArgument(serial_or_certificate));
  result.list = fmt::format("{}/{}", dir, kRevocationListFile);
  BH_ASSIGN_OR_RETURN(std::string ca_pem, ReadFile(dir + "/ca.crt"));
  BH_ASSIGN_OR_RETURN(std::string key_pem, ReadFile(dir + "/ca.key"));
  BH_ASSIGN_OR_RETURN(Cert ca, ParseCertificate(ca_pem, dir + "/ca.crt"));
  Bio key_bio = MemoryBio(key_pem);
  Key ca_key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!ca_key) {
    return absl::InvalidArgumentError(
        fmt::format("{}/ca.key holds no private key: {}", dir, OpenSslReason()));
  }

  // The serials listed so far, from a list this CA signed.
  std::set<std::string> serials;
  if (auto existing = ReadFile(result.list); existing.ok()) {
    auto crl = VerifiedCrl(*existing, ca.get());
    if (!crl.ok()) {
      return Annotate(crl.status(), result.list);
    }
    serials = SerialsOf(crl->get());
  }
  result.added = serials.insert(result.serial).second;

  Crl crl(X509_CRL_new());
  std::unique_ptr<ASN1_TIME, AsnTimeFree> now(ASN1_TIME_new());
  std::unique_ptr<ASN1_TIME, AsnTimeFree> next(ASN1_TIME_new());
  if (!crl || !now || !next || X509_CRL_set_version(crl.get(), 1) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.get())) != 1 ||
      X509_gmtime_adj(now.get(), 0) == nullptr ||
      ASN1_TIME_set_string(next.get(), "99991231235959Z") != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), now.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1) {
    return absl::InternalError(fmt::format("create a revocation list: {}", OpenSslReason()));
  }
  for (const std::string& serial : serials) {
    BIGNUM* raw = nullptr;
    if (BN_hex2bn(&raw, serial.c_str()) == 0) {
      return absl::InternalError(fmt::format("serial {}: {}", serial, OpenSslReason()));
    }
    std::unique_ptr<BIGNUM, BnFree> bn(raw);
    std::unique_ptr<ASN1_INTEGER, AsnIntegerFree> number(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    std::unique_ptr<X509_REVOKED, RevokedFree> entry(X509_REVOKED_new());
    if (!number || !entry || X509_REVOKED_set_serialNumber(entry.get(), number.get()) != 1 ||
        X509_REVOKED_set_revocationDate(entry.get(), now.get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), entry.get()) != 1) {
      return absl::InternalError(fmt::format("list serial {}: {}", serial, OpenSslReason()));
    }
    (void)entry.release();  // owned by the CRL now
  }
  if (X509_CRL_sort(crl.get()) != 1 || X509_CRL_sign(crl.get(), ca_key.get(), EVP_sha256()) == 0) {
    return absl::InternalError(fmt::format("sign the revocation list: {}", OpenSslReason()));
  }
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509_CRL(out.get(), crl.get()) != 1) {
    return absl::InternalError(fmt::format("encode the revocation list: {}", OpenSslReason()));
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(out.get(), &data);
  BH_RETURN_IF_ERROR(
      WriteFileAtomically(result.list, std::string(data, static_cast<size_t>(size)), 0644));
  return result;
}

StatusOr<std::set<std::string>> RevokedSerials(std::string_view crl_pem, std::string_view ca_pem) {
  BH_ASSIGN_OR_RETURN(Cert ca, ParseCertificate(ca_pem, "ca.crt"));
  BH_ASSIGN_OR_RETURN(Crl crl, VerifiedCrl(crl_pem, ca.get()));
  return SerialsOf(crl.get());
}

}  // namespace bulkhead::pki
