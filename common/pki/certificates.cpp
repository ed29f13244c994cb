#include "common/pki/certificates.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>

#include "common/file.h"
#include "common/pki/identity.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace bulkhead::pki {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free_all(bio); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct ExtFree {
  void operator()(X509_EXTENSION* ext) const { X509_EXTENSION_free(ext); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

// The OpenSSL error queue as one line.
Status OpenSslError(std::string_view what) {
  std::string detail;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    detail += detail.empty() ? buf : fmt::format("; {}", buf);
  }
  return absl::InternalError(
      fmt::format("{}: {}", what, detail.empty() ? "OpenSSL reported no reason" : detail));
}

std::string Pem(const std::function<int(BIO*)>& write) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) {
    return {};
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return {data, static_cast<size_t>(size)};
}

StatusOr<Key> NewKey() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) {
    return OpenSslError("generate an ECDSA P-256 key");
  }
  return key;
}

Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, ExtFree> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(fmt::format("add extension {}={}", OBJ_nid2sn(nid), value));
  }
  return absl::OkStatus();
}

// A certificate for `key` with subject CN=`common_name`, O=Bulkhead, not yet signed.
StatusOr<Cert> NewCertificate(EVP_PKEY* key, const std::string& common_name,
                              std::chrono::seconds backdate, std::chrono::seconds lifetime) {
  Cert cert(X509_new());
  std::unique_ptr<BIGNUM, BnFree> serial(BN_new());
  if (!cert || !serial || X509_set_version(cert.get(), 2) != 1 ||
      BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return OpenSslError("create a certificate");
  }
  long from = -static_cast<long>(backdate.count());
  long to = from + static_cast<long>(lifetime.count());
  X509_NAME* name = X509_get_subject_name(cert.get());
  auto text = [](const char* s) { return reinterpret_cast<const unsigned char*>(s); };  // NOLINT
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), from) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), to) == nullptr ||
      X509_set_pubkey(cert.get(), key) != 1 ||
      X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, text("Bulkhead"), -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, text(common_name.c_str()), -1, -1, 0) !=
          1) {
    return OpenSslError("fill in the certificate");
  }
  return cert;
}

StatusOr<Cert> ReadCertificate(const std::string& path) {
  BH_ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return OpenSslError(fmt::format("read the certificate {}", path));
  }
  return cert;
}

StatusOr<Key> ReadKey(const std::string& path) {
  BH_ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return OpenSslError(fmt::format("read the private key {}", path));
  }
  return key;
}

Status WritePair(X509* cert, EVP_PKEY* key, const IssuedFiles& files) {
  std::string cert_pem = Pem([cert](BIO* bio) { return PEM_write_bio_X509(bio, cert); });
  std::string key_pem = Pem([key](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (cert_pem.empty() || key_pem.empty()) {
    return OpenSslError("encode PEM");
  }
  // The key first: a watcher that sees the new certificate finds its key.
  BH_RETURN_IF_ERROR(WriteFileAtomically(files.key, key_pem, 0600));
  return WriteFileAtomically(files.certificate, cert_pem, 0644);
}

bool IsIpAddress(const std::string& host) {
  return host.find_first_not_of("0123456789.") == std::string::npos ||
         host.find(':') != std::string::npos;
}

}  // namespace

StatusOr<IssuedFiles> InitCa(const CaOptions& options) {
  IssuedFiles files{options.dir + "/ca.crt", options.dir + "/ca.key", ""};
  if (::mkdir(options.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError(errno, fmt::format("create {}", options.dir));
  }
  struct stat st {};
  if (!options.overwrite && ::stat(files.key.c_str(), &st) == 0) {
    return absl::AlreadyExistsError(
        fmt::format("{} already exists: a new CA would invalidate every certificate it issued; "
                    "pass --force to replace it",
                    files.key));
  }
  BH_ASSIGN_OR_RETURN(Key key, NewKey());
  BH_ASSIGN_OR_RETURN(Cert cert, NewCertificate(key.get(), "Bulkhead platform CA",
                                                std::chrono::seconds(3600), options.lifetime));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  BH_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  BH_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  BH_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return OpenSslError("sign the CA certificate");
  }
  BH_RETURN_IF_ERROR(WritePair(cert.get(), key.get(), files));
  return files;
}

StatusOr<IssuedFiles> IssueCertificate(const IssueOptions& options) {
  BH_ASSIGN_OR_RETURN(Cert ca, ReadCertificate(options.dir + "/ca.crt"));
  BH_ASSIGN_OR_RETURN(Key ca_key, ReadKey(options.dir + "/ca.key"));
  std::string stem = options.stem.empty() ? options.role.FileStem() : options.stem;
  IssuedFiles files{fmt::format("{}/{}.crt", options.dir, stem),
                    fmt::format("{}/{}.key", options.dir, stem), ""};
  BH_ASSIGN_OR_RETURN(Key key, NewKey());
  BH_ASSIGN_OR_RETURN(Cert cert, NewCertificate(key.get(), options.role.ToString(),
                                                options.backdate, options.lifetime));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get())) != 1) {
    return OpenSslError("set the issuer");
  }
  std::string san = fmt::format("URI:{}", options.role.Uri());
  if (options.role.kind == Role::Kind::kAgent) {
    san += ",DNS:localhost,IP:127.0.0.1,IP:::1";
    for (const std::string& host : options.hosts) {
      san += fmt::format(",{}:{}", IsIpAddress(host) ? "IP" : "DNS", host);
    }
  }
  BH_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE"));
  BH_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca.get(), NID_key_usage, "critical,digitalSignature"));
  BH_RETURN_IF_ERROR(AddExtension(
      cert.get(), ca.get(), NID_ext_key_usage,
      options.role.kind == Role::Kind::kAgent ? "serverAuth,clientAuth" : "clientAuth"));
  BH_RETURN_IF_ERROR(AddExtension(cert.get(), ca.get(), NID_subject_alt_name, san));
  BH_RETURN_IF_ERROR(AddExtension(cert.get(), ca.get(), NID_authority_key_identifier, "keyid"));
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) {
    return OpenSslError("sign the certificate");
  }
  BH_RETURN_IF_ERROR(WritePair(cert.get(), key.get(), files));
  BH_ASSIGN_OR_RETURN(CertificateIdentity identity, IdentityOf(cert.get()));
  files.serial = identity.serial;
  return files;
}

StatusOr<IssuedFiles> RenewCertificate(const RenewOptions& options) {
  std::string path = fmt::format("{}/{}.crt", options.dir, options.stem);
  BH_ASSIGN_OR_RETURN(Cert old, ReadCertificate(path));
  auto identity = IdentityOf(old.get());
  if (!identity.ok()) {
    return absl::FailedPreconditionError(
        fmt::format("{}: {}; issue a new one instead", path, MessageOf(identity.status())));
  }
  auto role = RoleOf(*identity);
  if (!role.ok()) {
    return absl::FailedPreconditionError(fmt::format("{}: {}", path, MessageOf(role.status())));
  }
  IssueOptions issue;
  issue.dir = options.dir;
  issue.role = *role;
  issue.stem = options.stem;
  issue.lifetime = options.lifetime;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(old.get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    std::string host;
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = name->d.dNSName;
      host.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),  // NOLINT
                  static_cast<size_t>(ASN1_STRING_length(dns)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
      if (::inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof(text)) != nullptr) {
        host = text;
      }
    }
    if (!host.empty() && host != "localhost" && host != "127.0.0.1" && host != "::1") {
      issue.hosts.push_back(host);
    }
  }
  GENERAL_NAMES_free(names);
  return IssueCertificate(issue);
}

StatusOr<std::chrono::seconds> ParseValidity(std::string_view text) {
  auto invalid = [text] {
    return absl::InvalidArgumentError(fmt::format(
        "'{}' is not a validity: a number and a unit, m (minutes), h (hours) or d (days), "
        "from 1m to 365d, e.g. 7d",
        text));
  };
  if (text.size() < 2) {
    return invalid();
  }
  auto count = ParseInteger<std::int64_t>(text.substr(0, text.size() - 1));
  std::int64_t unit = 0;
  switch (text.back()) {
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      return invalid();
  }
  if (!count || *count < 1 || *count > std::int64_t{365} * 86400 / unit) {
    return invalid();
  }
  return std::chrono::seconds(*count * unit);
}

StatusOr<std::string> CertificateCommonName(const std::string& path) {
  BH_ASSIGN_OR_RETURN(Cert cert, ReadCertificate(path));
  auto identity = IdentityOf(cert.get());
  if (!identity.ok()) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", path, MessageOf(identity.status())));
  }
  return identity->common_name;
}

}  // namespace bulkhead::pki
