// Standard base64 (with padding), as Kubernetes uses for Secret data,
// kubeconfig certificate data and continue tokens.
#ifndef BULKHEAD_CONTROLPLANE_PKI_BASE64_H_
#define BULKHEAD_CONTROLPLANE_PKI_BASE64_H_

#include <optional>
#include <string>
#include <string_view>

namespace bulkhead::controlplane {

std::string Base64Encode(std::string_view data);
// Nothing when `text` is not valid base64.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_PKI_BASE64_H_
