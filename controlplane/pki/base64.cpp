#include "controlplane/pki/base64.h"

#include <openssl/evp.h>

namespace bulkhead::controlplane {
namespace {

// OpenSSL takes bytes as unsigned char.
unsigned char* Unsigned(char* data) {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  return reinterpret_cast<unsigned char*>(data);
}
const unsigned char* Unsigned(const char* data) {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  return reinterpret_cast<const unsigned char*>(data);
}

}  // namespace

std::string Base64Encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n =
      EVP_EncodeBlock(Unsigned(out.data()), Unsigned(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  int n =
      EVP_DecodeBlock(Unsigned(out.data()), Unsigned(text.data()), static_cast<int>(text.size()));
  if (n < 0) {
    return std::nullopt;
  }
  size_t padding = 0;
  for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) {
    ++padding;
  }
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

}  // namespace bulkhead::controlplane
