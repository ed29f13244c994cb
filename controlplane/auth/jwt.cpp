#include "controlplane/auth/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <array>
#include <boost/json.hpp>

#include "controlplane/pki/base64.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

constexpr size_t kCoordinateBytes = 32;  // P-256

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct SigFree {
  void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};
struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bio = std::unique_ptr<BIO, BioFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using Sig = std::unique_ptr<ECDSA_SIG, SigFree>;
using Bn = std::unique_ptr<BIGNUM, BnFree>;

Status OpensslError(std::string_view what) {
  ERR_clear_error();
  return absl::InternalError(fmt::format("{}: OpenSSL refused it", what));
}

const unsigned char* Bytes(std::string_view text) {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  return reinterpret_cast<const unsigned char*>(text.data());
}

std::string_view Chars(const unsigned char* data, size_t size) {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  return {reinterpret_cast<const char*>(data), size};
}

std::string Coordinate(const EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
    return "";
  }
  Bn bn(raw);
  std::string out(kCoordinateBytes, '\0');
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()),
                   static_cast<int>(out.size())) < 0) {
    return "";
  }
  return out;
}

}  // namespace

struct Es256Key::Impl {
  Pkey key;
};

std::string Base64UrlEncode(std::string_view data) {
  std::string out = Base64Encode(data);
  while (!out.empty() && out.back() == '=') {
    out.pop_back();
  }
  for (char& c : out) {
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  if (text.empty()) {
    return std::string();
  }
  std::string standard;
  standard.reserve(text.size() + 3);
  for (char c : text) {
    if (c == '+' || c == '/' || c == '=') {
      return std::nullopt;  // not the URL alphabet, or padded
    }
    standard.push_back(c == '-' ? '+' : c == '_' ? '/' : c);
  }
  if (standard.size() % 4 == 1) {
    return std::nullopt;
  }
  while (standard.size() % 4 != 0) {
    standard.push_back('=');
  }
  return Base64Decode(standard);
}

Es256Key::Es256Key(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  unsigned char* der = nullptr;
  int size = i2d_PUBKEY(impl_->key.get(), &der);
  if (size > 0) {
    std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
    SHA256(der, static_cast<size_t>(size), digest.data());
    key_id_ = Base64UrlEncode(Chars(digest.data(), digest.size()));
  }
  OPENSSL_free(der);
}

Es256Key::Es256Key(Es256Key&&) noexcept = default;
Es256Key& Es256Key::operator=(Es256Key&&) noexcept = default;
Es256Key::~Es256Key() = default;

StatusOr<Es256Key> Es256Key::FromPrivatePem(std::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    return OpensslError("read the service account key");
  }
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return OpensslError("read the service account key");
  }
  std::array<char, 64> curve{};
  size_t length = 0;
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve.data(),
                                     curve.size(), &length) != 1 ||
      std::string_view(curve.data(), length) != "prime256v1") {
    ERR_clear_error();
    return absl::InvalidArgumentError("the service account key is not an ECDSA P-256 key");
  }
  auto impl = std::make_unique<Impl>();
  impl->key = std::move(key);
  return Es256Key(std::move(impl));
}

StatusOr<std::string> Es256Key::GeneratePem() {
  Pkey key(EVP_EC_gen("P-256"));
  if (!key) {
    return OpensslError("generate the service account key");
  }
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpensslError("write the service account key");
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);  // NOLINT(google-runtime-int)
  return std::string(data, static_cast<size_t>(size));
}

json::object Es256Key::PublicJwk() const {
  return {{"use", "sig"},
          {"kty", "EC"},
          {"kid", key_id_},
          {"crv", "P-256"},
          {"alg", "ES256"},
          {"x", Base64UrlEncode(Coordinate(impl_->key.get(), OSSL_PKEY_PARAM_EC_PUB_X))},
          {"y", Base64UrlEncode(Coordinate(impl_->key.get(), OSSL_PKEY_PARAM_EC_PUB_Y))}};
}

StatusOr<std::string> Es256Key::Sign(const json::object& claims) const {
  std::string token =
      Base64UrlEncode(json::serialize(json::object{{"alg", "ES256"}, {"kid", key_id_}}));
  token.push_back('.');
  token += Base64UrlEncode(json::serialize(claims));
  MdCtx ctx(EVP_MD_CTX_new());
  size_t size = 0;
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, impl_->key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, Bytes(token), token.size()) != 1) {
    return OpensslError("sign a token");
  }
  std::string der(size, '\0');
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &size, Bytes(token),
                     token.size()) != 1) {
    return OpensslError("sign a token");
  }
  const unsigned char* cursor = Bytes(der);
  Sig sig(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(size)));  // NOLINT(google-runtime-int)
  if (!sig) {
    return OpensslError("sign a token");
  }
  std::string raw(2 * kCoordinateBytes, '\0');
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, kCoordinateBytes) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + kCoordinateBytes, kCoordinateBytes) < 0) {
    return OpensslError("sign a token");
  }
  token.push_back('.');
  token += Base64UrlEncode(raw);
  return token;
}

StatusOr<json::object> Es256Key::Verify(std::string_view token) const {
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return absl::UnauthenticatedError("not a JWT (three dot-separated parts)");
  }
  auto header_text = Base64UrlDecode(token.substr(0, first));
  auto payload_text = Base64UrlDecode(token.substr(first + 1, second - first - 1));
  auto signature = Base64UrlDecode(token.substr(second + 1));
  if (!header_text || !payload_text || !signature) {
    return absl::UnauthenticatedError("not a JWT (a part is not base64url)");
  }
  boost::system::error_code ec;
  json::value header = json::parse(*header_text, ec);
  if (ec || !header.is_object()) {
    return absl::UnauthenticatedError("not a JWT (the header is not a JSON object)");
  }
  const json::value* alg = header.as_object().if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->as_string() != "ES256") {
    return absl::UnauthenticatedError(
        "the token's algorithm is not ES256, the only one this server accepts");
  }
  const json::value* kid = header.as_object().if_contains("kid");
  if (kid != nullptr && (!kid->is_string() || kid->as_string() != key_id_)) {
    return absl::UnauthenticatedError("the token was signed by another key");
  }
  if (signature->size() != 2 * kCoordinateBytes) {
    return absl::UnauthenticatedError("the token's signature is not an ES256 signature");
  }
  Bn r(BN_bin2bn(Bytes(*signature), kCoordinateBytes, nullptr));
  Bn s(BN_bin2bn(Bytes(*signature) + kCoordinateBytes, kCoordinateBytes, nullptr));
  Sig sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return OpensslError("verify a token");
  }
  (void)r.release();  // owned by sig now
  (void)s.release();
  unsigned char* der = nullptr;
  int der_size = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_size <= 0) {
    return OpensslError("verify a token");
  }
  std::unique_ptr<unsigned char, void (*)(unsigned char*)> der_owner(
      der, [](unsigned char* p) { OPENSSL_free(p); });
  MdCtx ctx(EVP_MD_CTX_new());
  const std::string_view signed_part = token.substr(0, second);
  if (!ctx ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, impl_->key.get()) != 1) {
    return OpensslError("verify a token");
  }
  if (EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(der_size), Bytes(signed_part),
                       signed_part.size()) != 1) {
    ERR_clear_error();
    return absl::UnauthenticatedError("the token's signature does not verify");
  }
  json::value payload = json::parse(*payload_text, ec);
  if (ec || !payload.is_object()) {
    return absl::UnauthenticatedError("the token's claims are not a JSON object");
  }
  return std::move(payload.as_object());
}

}  // namespace bulkhead::controlplane
