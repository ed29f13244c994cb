#include "common/pki/role.h"

#include "common/strings.h"
#include "fmt/format.h"

namespace bulkhead::pki {
namespace {

bool IsDnsLabel(std::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string Role::ToString() const {
  switch (kind) {
    case Kind::kAdmin:
      return "admin";
    case Kind::kAgent:
      return "agent";
    case Kind::kTenant:
      return fmt::format("tenant:{}", tenant);
    case Kind::kControlplane:
      return fmt::format("controlplane:{}", tenant);
  }
  return "unknown";
}

std::string Role::Uri() const {
  std::string text = ToString();
  for (char& c : text) {
    if (c == ':') {
      c = '/';
    }
  }
  return fmt::format("bulkhead://role/{}", text);
}

std::string Role::FileStem() const {
  std::string text = ToString();
  for (char& c : text) {
    if (c == ':') {
      c = '-';
    }
  }
  return text;
}

StatusOr<Role> ParseRole(std::string_view text) {
  if (text == "admin") {
    return Role{Role::Kind::kAdmin, ""};
  }
  if (text == "agent") {
    return Role{Role::Kind::kAgent, ""};
  }
  std::string_view rest = text;
  Role role;
  if (ConsumePrefix(rest, "tenant:")) {
    role.kind = Role::Kind::kTenant;
  } else if (ConsumePrefix(rest, "controlplane:")) {
    role.kind = Role::Kind::kControlplane;
  } else {
    return absl::InvalidArgumentError(fmt::format(
        "'{}' is not a role: use admin, agent, tenant:<name> or controlplane:<name>", text));
  }
  if (!IsDnsLabel(rest)) {
    return absl::InvalidArgumentError(fmt::format(
        "'{}' is not a tenant name: a DNS label (lower-case letters, digits and '-', at most 63)",
        rest));
  }
  role.tenant = std::string(rest);
  return role;
}

}  // namespace bulkhead::pki
