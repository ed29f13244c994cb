#include "common/pki/identity.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include <memory>

#include "fmt/format.h"

namespace bulkhead::pki {
namespace {

struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free_all(bio); }
};
struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct OpenSslFree {
  void operator()(char* text) const { OPENSSL_free(text); }
};

StatusOr<std::string> EntryText(const X509_NAME_ENTRY* entry) {
  unsigned char* utf8 = nullptr;
  int length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
  if (length < 0) {
    return absl::UnauthenticatedError("the certificate subject has a name that is not text");
  }
  std::string text(
      reinterpret_cast<char*>(utf8),  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
      static_cast<size_t>(length));
  OPENSSL_free(utf8);
  return text;
}

std::string SerialOf(const X509* certificate) {
  std::unique_ptr<BIGNUM, BnFree> bn(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nullptr));
  if (!bn) {
    return {};
  }
  std::unique_ptr<char, OpenSslFree> hex(BN_bn2hex(bn.get()));
  if (!hex) {
    return {};
  }
  auto normal = NormalizeSerial(hex.get());
  return normal.ok() ? *normal : std::string();
}

}  // namespace

StatusOr<CertificateIdentity> IdentityOf(const X509* certificate) {
  if (certificate == nullptr) {
    return absl::UnauthenticatedError("no client certificate");
  }
  const X509_NAME* subject = X509_get_subject_name(certificate);
  CertificateIdentity identity;
  int common_names = 0;
  for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(subject, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry));
    if (nid != NID_commonName && nid != NID_organizationName) {
      continue;
    }
    BH_ASSIGN_OR_RETURN(std::string text, EntryText(entry));
    if (nid == NID_organizationName) {
      identity.organizations.push_back(std::move(text));
      continue;
    }
    ++common_names;
    if (common_names == 2) {
      return absl::UnauthenticatedError(fmt::format(
          "the client certificate's subject has more than one common name (\"{}\", \"{}\"): a "
          "Bulkhead certificate names its holder in exactly one CN; issue one with 'bulkhead "
          "certs issue'",
          identity.common_name, text));
    }
    identity.common_name = std::move(text);
  }
  if (common_names == 0 || identity.common_name.empty()) {
    return absl::UnauthenticatedError(
        "the client certificate's subject has no common name: a Bulkhead certificate names its "
        "holder in exactly one CN; issue one with 'bulkhead certs issue'");
  }
  identity.serial = SerialOf(certificate);
  return identity;
}

StatusOr<CertificateIdentity> IdentityOfPem(std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<X509, X509Free> cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)
                                           : nullptr);
  if (!cert) {
    return absl::UnauthenticatedError("the client certificate is not a PEM certificate");
  }
  return IdentityOf(cert.get());
}

StatusOr<Role> RoleOf(const CertificateIdentity& identity) {
  auto role = ParseRole(identity.common_name);
  if (!role.ok()) {
    return absl::UnauthenticatedError(fmt::format(
        "the client certificate (CN \"{}\") names no Bulkhead role; issue one with 'bulkhead "
        "certs issue --role ...'",
        identity.common_name));
  }
  return role;
}

StatusOr<std::string> NormalizeSerial(std::string_view text) {
  std::string_view rest = text;
  if (rest.starts_with("0x") || rest.starts_with("0X")) {
    rest.remove_prefix(2);
  }
  std::string digits;
  for (char c : rest) {
    if (c == ':') {
      continue;
    }
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) {
      digits.clear();
      break;
    }
    if (digits.empty() && c == '0') {
      continue;
    }
    digits += (c >= 'a' && c <= 'f') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  bool any_digit = rest.find_first_of("0123456789abcdefABCDEF") != std::string_view::npos;
  bool only_hex = rest.find_first_not_of("0123456789abcdefABCDEF:") == std::string_view::npos;
  if (!any_digit || !only_hex || digits.size() > 40) {
    return absl::InvalidArgumentError(fmt::format(
        "'{}' is not a certificate serial number: hex digits as 'bulkhead certs issue' prints "
        "them (or 'openssl x509 -noout -serial')",
        text));
  }
  return digits.empty() ? std::string("0") : digits;
}

}  // namespace bulkhead::pki
