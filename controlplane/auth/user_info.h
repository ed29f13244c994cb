// Who a request is from, as authentication decides it: a user name, its
// uid (service accounts), its groups and extra values (what a token or an
// impersonation says), as Kubernetes' user.Info carries them.
#ifndef BULKHEAD_CONTROLPLANE_AUTH_USER_INFO_H_
#define BULKHEAD_CONTROLPLANE_AUTH_USER_INFO_H_

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bulkhead::controlplane {

inline constexpr std::string_view kGroupMasters = "system:masters";
inline constexpr std::string_view kGroupAuthenticated = "system:authenticated";
inline constexpr std::string_view kGroupUnauthenticated = "system:unauthenticated";
inline constexpr std::string_view kGroupServiceAccounts = "system:serviceaccounts";
inline constexpr std::string_view kUserAnonymous = "system:anonymous";
inline constexpr std::string_view kServiceAccountPrefix = "system:serviceaccount:";

struct UserInfo {
  std::string name;
  std::string uid;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;

  [[nodiscard]] bool InGroup(std::string_view group) const {
    return std::find(groups.begin(), groups.end(), group) != groups.end();
  }
  // system:authenticated once, at the end, unless already there.
  void AddAuthenticated() {
    if (!InGroup(kGroupAuthenticated)) {
      groups.emplace_back(kGroupAuthenticated);
    }
  }
};

// "system:serviceaccount:NS:NAME".
inline std::string ServiceAccountUserName(std::string_view ns, std::string_view name) {
  std::string out(kServiceAccountPrefix);
  out.append(ns).append(":").append(name);
  return out;
}

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_AUTH_USER_INFO_H_
