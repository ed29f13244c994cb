#include "controlplane/pki/certificates.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <vector>

#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Bio = std::unique_ptr<BIO, BioFree>;

Status OpensslError(std::string_view what) {
  unsigned long code = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type
  std::string detail = "unknown error";
  if (code != 0) {
    detail.resize(256);
    ERR_error_string_n(code, detail.data(), detail.size());
    detail.resize(detail.find('\0'));
  }
  ERR_clear_error();
  return absl::InternalError(fmt::format("{}: {}", what, detail));
}

const unsigned char* Bytes(const char* text) {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  return reinterpret_cast<const unsigned char*>(text);
}

StatusOr<Pkey> NewKey() {
  Pkey key(EVP_EC_gen("P-256"));
  if (!key) {
    return OpensslError("generate P-256 key");
  }
  return key;
}

StatusOr<std::string> BioText(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);  // NOLINT(google-runtime-int)
  if (size <= 0 || data == nullptr) {
    return absl::InternalError("empty PEM");
  }
  return std::string(data, static_cast<size_t>(size));
}

StatusOr<KeyPair> ToPem(EVP_PKEY* key, X509* cert) {
  Bio key_bio(BIO_new(BIO_s_mem()));
  Bio cert_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !cert_bio ||
      PEM_write_bio_PrivateKey(key_bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_X509(cert_bio.get(), cert) != 1) {
    return OpensslError("write PEM");
  }
  KeyPair pair;
  BH_ASSIGN_OR_RETURN(pair.key_pem, BioText(key_bio.get()));
  BH_ASSIGN_OR_RETURN(pair.cert_pem, BioText(cert_bio.get()));
  return pair;
}

Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) {
    return OpensslError(fmt::format("extension {}={}", OBJ_nid2sn(nid), value));
  }
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) {
    return OpensslError("add extension");
  }
  return absl::OkStatus();
}

StatusOr<Cert> NewCertificate(EVP_PKEY* key, const CertificateRequest& request) {
  Cert cert(X509_new());
  if (!cert) {
    return OpensslError("new certificate");
  }
  X509_set_version(cert.get(), 2);
  std::string serial_hex;
  BH_ASSIGN_OR_RETURN(serial_hex, RandomHex(16));
  BIGNUM* serial = nullptr;
  serial_hex[0] = '1';  // positive, non-zero
  if (BN_hex2bn(&serial, serial_hex.c_str()) == 0) {
    return OpensslError("serial");
  }
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()),
                  static_cast<long>(request.valid_days) * 24 * 3600);  // NOLINT(google-runtime-int)
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (const auto& org : request.organizations) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, Bytes(org.c_str()), -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, Bytes(request.common_name.c_str()), -1, -1,
                             0);
  return cert;
}

}  // namespace

StatusOr<std::string> RandomHex(size_t count) {
  std::vector<unsigned char> raw(count);
  if (RAND_bytes(raw.data(), static_cast<int>(count)) != 1) {
    return OpensslError("random bytes");
  }
  std::string hex;
  hex.reserve(count * 2);
  for (unsigned char byte : raw) {
    hex += fmt::format("{:02x}", byte);
  }
  return hex;
}

StatusOr<KeyPair> MakeAuthority(const std::string& common_name) {
  BH_ASSIGN_OR_RETURN(Pkey key, NewKey());
  CertificateRequest request;
  request.common_name = common_name;
  BH_ASSIGN_OR_RETURN(Cert cert, NewCertificate(key.get(), request));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  BH_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  BH_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_key_usage,
                                  "critical,keyCertSign,cRLSign,digitalSignature"));
  BH_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return OpensslError("sign authority");
  }
  return ToPem(key.get(), cert.get());
}

StatusOr<KeyPair> MakeCertificate(const KeyPair& authority, const CertificateRequest& request) {
  Bio ca_key_bio(
      BIO_new_mem_buf(authority.key_pem.data(), static_cast<int>(authority.key_pem.size())));
  Bio ca_cert_bio(
      BIO_new_mem_buf(authority.cert_pem.data(), static_cast<int>(authority.cert_pem.size())));
  Pkey ca_key(PEM_read_bio_PrivateKey(ca_key_bio.get(), nullptr, nullptr, nullptr));
  Cert ca_cert(PEM_read_bio_X509(ca_cert_bio.get(), nullptr, nullptr, nullptr));
  if (!ca_key || !ca_cert) {
    return OpensslError("read authority");
  }
  BH_ASSIGN_OR_RETURN(Pkey key, NewKey());
  BH_ASSIGN_OR_RETURN(Cert cert, NewCertificate(key.get(), request));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  BH_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  BH_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_key_usage,
                                  "critical,digitalSignature,keyEncipherment"));
  std::string usage;
  if (request.server) {
    usage = "serverAuth";
  }
  if (request.client) {
    usage += usage.empty() ? "clientAuth" : ",clientAuth";
  }
  if (!usage.empty()) {
    BH_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_ext_key_usage, usage));
  }
  BH_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid"));
  std::string alt_names;
  for (const auto& dns : request.dns_names) {
    alt_names += (alt_names.empty() ? "" : ",") + fmt::format("DNS:{}", dns);
  }
  for (const auto& ip : request.ip_addresses) {
    alt_names += (alt_names.empty() ? "" : ",") + fmt::format("IP:{}", ip);
  }
  if (!alt_names.empty()) {
    BH_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_subject_alt_name, alt_names));
  }
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) {
    return OpensslError("sign certificate");
  }
  return ToPem(key.get(), cert.get());
}

}  // namespace bulkhead::controlplane
