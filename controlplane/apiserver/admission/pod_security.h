// The Pod Security Standards (Kubernetes 1.32, "latest"): what a pod spec
// may not do at the baseline level (host namespaces, privileged
// containers, added capabilities beyond the default set, hostPath volumes,
// host ports, an unmasked /proc, Unconfined seccomp or AppArmor, custom
// SELinux types, unsafe sysctls) and, at restricted, also (volume types
// other than the ephemeral and projected ones, privilege escalation not
// disabled, root users, no RuntimeDefault or Localhost seccomp,
// capabilities not dropped to ALL). A pure function of the spec.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_POD_SECURITY_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_POD_SECURITY_H_

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulkhead::controlplane {

enum class PodSecurityLevel { kPrivileged = 0, kBaseline = 1, kRestricted = 2 };

// "privileged", "baseline", "restricted"; nothing for anything else.
std::optional<PodSecurityLevel> ParsePodSecurityLevel(std::string_view text);
std::string_view LevelName(PodSecurityLevel level);

// What `pod_spec` does that `level` forbids, each as Kubernetes words it:
// `privileged (container "c" must not set securityContext.privileged=true)`.
// Empty when it complies. `pod_meta`: the pod's metadata (AppArmor annotations).
std::vector<std::string> PodSecurityViolations(PodSecurityLevel level,
                                               const boost::json::object& pod_spec,
                                               const boost::json::object* pod_meta);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_POD_SECURITY_H_
