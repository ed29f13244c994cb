#include "controlplane/apiserver/admission/pod_security.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

// Capabilities a container runtime grants by default: baseline lets a
// container add back only these.
const std::set<std::string, std::less<>>& DefaultCapabilities() {
  static const std::set<std::string, std::less<>> kCaps = {
      "AUDIT_WRITE",      "CHOWN",   "DAC_OVERRIDE", "FOWNER",  "FSETID", "KILL",      "MKNOD",
      "NET_BIND_SERVICE", "SETFCAP", "SETGID",       "SETPCAP", "SETUID", "SYS_CHROOT"};
  return kCaps;
}

const std::set<std::string, std::less<>>& SafeSysctls() {
  static const std::set<std::string, std::less<>> kSafe = {"kernel.shm_rmid_forced",
                                                           "net.ipv4.ip_local_port_range",
                                                           "net.ipv4.ip_unprivileged_port_start",
                                                           "net.ipv4.tcp_syncookies",
                                                           "net.ipv4.ping_group_range",
                                                           "net.ipv4.ip_local_reserved_ports",
                                                           "net.ipv4.tcp_keepalive_time",
                                                           "net.ipv4.tcp_fin_timeout",
                                                           "net.ipv4.tcp_keepalive_intvl",
                                                           "net.ipv4.tcp_keepalive_probes"};
  return kSafe;
}

const std::set<std::string, std::less<>>& RestrictedVolumeTypes() {
  static const std::set<std::string, std::less<>> kAllowed = {
      "configMap", "csi",   "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
      "projected", "secret"};
  return kAllowed;
}

const json::object* Obj(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_object() ? &value->as_object() : nullptr;
}

std::optional<bool> Bool(const json::object* object, std::string_view key) {
  const json::value* value = object == nullptr ? nullptr : object->if_contains(key);
  return value != nullptr && value->is_bool() ? std::optional<bool>(value->as_bool())
                                              : std::nullopt;
}

std::string Str(const json::object* object, std::string_view key) {
  const json::value* value = object == nullptr ? nullptr : object->if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

std::vector<std::string> Strs(const json::object* object, std::string_view key) {
  std::vector<std::string> out;
  const json::value* value = object == nullptr ? nullptr : object->if_contains(key);
  if (value != nullptr && value->is_array()) {
    for (const json::value& item : value->as_array()) {
      if (item.is_string()) {
        out.emplace_back(item.as_string());
      }
    }
  }
  return out;
}

struct Container {
  std::string name;
  const json::object* object;
  const json::object* security;  // securityContext, or null
};

std::vector<Container> ContainersOf(const json::object& spec) {
  std::vector<Container> out;
  for (const char* field : {"initContainers", "containers", "ephemeralContainers"}) {
    const json::value* list = spec.if_contains(field);
    if (list == nullptr || !list->is_array()) {
      continue;
    }
    for (const json::value& c : list->as_array()) {
      if (c.is_object()) {
        out.push_back(
            {Str(&c.as_object(), "name"), &c.as_object(), Obj(c.as_object(), "securityContext")});
      }
    }
  }
  return out;
}

// `container "a"` or `containers "a", "b"`.
std::string Named(std::string_view singular, std::string_view plural,
                  const std::vector<std::string>& names) {
  std::string out(names.size() == 1 ? singular : plural);
  for (size_t i = 0; i < names.size(); ++i) {
    out.append(i == 0 ? " " : ", ").append(fmt::format("\"{}\"", names[i]));
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    out.append(i == 0 ? "" : separator).append(parts[i]);
  }
  return out;
}

std::string QuotedList(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    out.append(i == 0 ? "" : ", ").append(fmt::format("\"{}\"", values[i]));
  }
  return out;
}

}  // namespace

std::optional<PodSecurityLevel> ParsePodSecurityLevel(std::string_view text) {
  if (text == "privileged") {
    return PodSecurityLevel::kPrivileged;
  }
  if (text == "baseline") {
    return PodSecurityLevel::kBaseline;
  }
  if (text == "restricted") {
    return PodSecurityLevel::kRestricted;
  }
  return std::nullopt;
}

std::string_view LevelName(PodSecurityLevel level) {
  switch (level) {
    case PodSecurityLevel::kPrivileged:
      return "privileged";
    case PodSecurityLevel::kBaseline:
      return "baseline";
    case PodSecurityLevel::kRestricted:
      return "restricted";
  }
  return "restricted";
}

std::vector<std::string> PodSecurityViolations(PodSecurityLevel level, const json::object& spec,
                                               const json::object* meta) {
  std::vector<std::string> out;
  if (level == PodSecurityLevel::kPrivileged) {
    return out;
  }
  const bool restricted = level == PodSecurityLevel::kRestricted;
  const json::object* pod_security = Obj(spec, "securityContext");
  const std::vector<Container> containers = ContainersOf(spec);

  // ---- baseline
  std::vector<std::string> host;
  for (const char* field : {"hostNetwork", "hostPID", "hostIPC"}) {
    if (Bool(&spec, field).value_or(false)) {
      host.push_back(std::string(field) + "=true");
    }
  }
  if (!host.empty()) {
    const std::string joined = Join(host, ", ");
    out.push_back(fmt::format("host namespaces ({})", joined));
  }
  std::vector<std::string> privileged;
  for (const Container& c : containers) {
    if (Bool(c.security, "privileged").value_or(false)) {
      privileged.push_back(c.name);
    }
  }
  if (!privileged.empty()) {
    out.push_back(fmt::format("privileged ({} must not set securityContext.privileged=true)",
                              Named("container", "containers", privileged)));
  }
  if (!restricted) {
    std::vector<std::string> parts;
    for (const Container& c : containers) {
      std::vector<std::string> added;
      for (const std::string& cap :
           Strs(c.security == nullptr ? nullptr : Obj(*c.security, "capabilities"), "add")) {
        if (!DefaultCapabilities().contains(cap)) {
          added.push_back(cap);
        }
      }
      if (!added.empty()) {
        parts.push_back(
            fmt::format("container \"{}\" must not include {} in securityContext.capabilities.add",
                        c.name, QuotedList(added)));
      }
    }
    if (!parts.empty()) {
      const std::string joined = Join(parts, "; ");
      out.push_back(fmt::format("non-default capabilities ({})", joined));
    }
  }
  std::vector<std::string> host_paths;
  std::vector<std::string> restricted_volumes;
  if (const json::value* volumes = spec.if_contains("volumes");
      volumes != nullptr && volumes->is_array()) {
    for (const json::value& v : volumes->as_array()) {
      if (!v.is_object()) {
        continue;
      }
      const std::string name = Str(&v.as_object(), "name");
      for (const auto& field : v.as_object()) {
        if (field.key() == "name") {
          continue;
        }
        if (field.key() == "hostPath") {
          host_paths.push_back(name);
        }
        if (!RestrictedVolumeTypes().contains(field.key())) {
          restricted_volumes.push_back(
              fmt::format("volume \"{}\" uses restricted volume type \"{}\"", name,
                          std::string_view(field.key())));
        }
      }
    }
  }
  if (!restricted && !host_paths.empty()) {
    out.push_back(fmt::format("hostPath volumes ({})", Named("volume", "volumes", host_paths)));
  }
  std::vector<std::string> ports;
  for (const Container& c : containers) {
    const json::value* list = c.object->if_contains("ports");
    std::vector<std::string> used;
    if (list != nullptr && list->is_array()) {
      for (const json::value& port : list->as_array()) {
        const json::value* host_port =
            port.is_object() ? port.as_object().if_contains("hostPort") : nullptr;
        if (host_port != nullptr && host_port->is_number() &&
            host_port->to_number<int64_t>() != 0) {
          used.push_back(std::to_string(host_port->to_number<int64_t>()));
        }
      }
    }
    if (!used.empty()) {
      const std::string joined = Join(used, ", ");
      ports.push_back(fmt::format("container \"{}\" uses {} {}", c.name,
                                  used.size() == 1 ? "hostPort" : "hostPorts", joined));
    }
  }
  if (!ports.empty()) {
    const std::string joined = Join(ports, "; ");
    out.push_back(fmt::format("hostPort ({})", joined));
  }
  // AppArmor: the field and the old annotations; "unconfined" is refused.
  std::vector<std::string> apparmor;
  if (Str(pod_security == nullptr ? nullptr : Obj(*pod_security, "appArmorProfile"), "type") ==
      "Unconfined") {
    apparmor.emplace_back(
        "pod must not set securityContext.appArmorProfile.type to \"Unconfined\"");
  }
  for (const Container& c : containers) {
    if (Str(c.security == nullptr ? nullptr : Obj(*c.security, "appArmorProfile"), "type") ==
        "Unconfined") {
      apparmor.push_back(fmt::format(
          "container \"{}\" must not set securityContext.appArmorProfile.type to \"Unconfined\"",
          c.name));
    }
  }
  if (const json::object* annotations = meta == nullptr ? nullptr : Obj(*meta, "annotations")) {
    for (const auto& a : *annotations) {
      if (std::string_view(a.key()).starts_with(
              "container.apparmor.security.beta.kubernetes.io/") &&
          a.value().is_string() && a.value().as_string() == "unconfined") {
        apparmor.push_back(fmt::format("annotation {}=\"unconfined\"", std::string_view(a.key())));
      }
    }
  }
  if (!apparmor.empty()) {
    const std::string joined = Join(apparmor, "; ");
    out.push_back(fmt::format("forbidden AppArmor profile ({})", joined));
  }
  // SELinux: only the container types, no user or role.
  auto selinux_bad = [](const json::object* context) {
    const json::object* options = context == nullptr ? nullptr : Obj(*context, "seLinuxOptions");
    if (options == nullptr) {
      return false;
    }
    const std::string type = Str(options, "type");
    return !(type.empty() || type == "container_t" || type == "container_init_t" ||
             type == "container_kvm_t" || type == "container_engine_t") ||
           !Str(options, "user").empty() || !Str(options, "role").empty();
  };
  std::vector<std::string> selinux;
  if (selinux_bad(pod_security)) {
    selinux.emplace_back("pod");
  }
  for (const Container& c : containers) {
    if (selinux_bad(c.security)) {
      selinux.push_back(fmt::format("container \"{}\"", c.name));
    }
  }
  if (!selinux.empty()) {
    const std::string joined = Join(selinux, ", ");
    out.push_back(
        fmt::format("seLinuxOptions ({} set forbidden securityContext.seLinuxOptions)", joined));
  }
  std::vector<std::string> unmasked;
  for (const Container& c : containers) {
    const std::string proc = Str(c.security, "procMount");
    if (!proc.empty() && proc != "Default") {
      unmasked.push_back(c.name);
    }
  }
  if (!unmasked.empty()) {
    out.push_back(fmt::format("procMount ({} must not set securityContext.procMount=\"Unmasked\")",
                              Named("container", "containers", unmasked)));
  }
  auto seccomp_type = [](const json::object* context) {
    return Str(context == nullptr ? nullptr : Obj(*context, "seccompProfile"), "type");
  };
  if (!restricted) {
    std::vector<std::string> unconfined;
    if (seccomp_type(pod_security) == "Unconfined") {
      unconfined.emplace_back("pod");
    }
    std::vector<std::string> names;
    for (const Container& c : containers) {
      if (seccomp_type(c.security) == "Unconfined") {
        names.push_back(c.name);
      }
    }
    if (!names.empty()) {
      unconfined.push_back(Named("container", "containers", names));
    }
    if (!unconfined.empty()) {
      const std::string joined = Join(unconfined, " and ");
      out.push_back(fmt::format(
          "seccompProfile ({} must not set securityContext.seccompProfile.type to \"Unconfined\")",
          joined));
    }
  }
  std::vector<std::string> sysctls;
  if (const json::value* list =
          pod_security == nullptr ? nullptr : pod_security->if_contains("sysctls");
      list != nullptr && list->is_array()) {
    for (const json::value& sysctl : list->as_array()) {
      const std::string name = sysctl.is_object() ? Str(&sysctl.as_object(), "name") : "";
      if (!SafeSysctls().contains(name)) {
        sysctls.push_back(name);
      }
    }
  }
  if (!sysctls.empty()) {
    const std::string joined = Join(sysctls, ", ");
    out.push_back(fmt::format("forbidden sysctls ({})", joined));
  }
  if (!restricted) {
    return out;
  }

  // ---- restricted
  if (!restricted_volumes.empty()) {
    const std::string joined = Join(restricted_volumes, ", ");
    out.push_back(fmt::format("restricted volume types ({})", joined));
  }
  std::vector<std::string> escalating;
  for (const Container& c : containers) {
    if (Bool(c.security, "allowPrivilegeEscalation") != std::optional<bool>(false)) {
      escalating.push_back(c.name);
    }
  }
  if (!escalating.empty()) {
    out.push_back(
        fmt::format("allowPrivilegeEscalation != false ({} must set "
                    "securityContext.allowPrivilegeEscalation=false)",
                    Named("container", "containers", escalating)));
  }
  const std::optional<bool> pod_non_root = Bool(pod_security, "runAsNonRoot");
  std::vector<std::string> root_allowed;
  std::vector<std::string> explicit_root;
  for (const Container& c : containers) {
    const std::optional<bool> own = Bool(c.security, "runAsNonRoot");
    if (own == std::optional<bool>(false)) {
      explicit_root.push_back(c.name);
    } else if (!own.has_value() && pod_non_root != std::optional<bool>(true)) {
      root_allowed.push_back(c.name);
    }
  }
  if (pod_non_root == std::optional<bool>(false) || !explicit_root.empty() ||
      !root_allowed.empty()) {
    std::string why;
    if (pod_non_root == std::optional<bool>(false)) {
      why = "pod must not set securityContext.runAsNonRoot=false";
    } else if (!explicit_root.empty()) {
      why = fmt::format("{} must not set securityContext.runAsNonRoot=false",
                        Named("container", "containers", explicit_root));
    } else {
      why = fmt::format("pod or {} must set securityContext.runAsNonRoot=true",
                        Named("container", "containers", root_allowed));
    }
    out.push_back(fmt::format("runAsNonRoot != true ({})", why));
  }
  std::vector<std::string> root_users;
  auto is_root = [](const json::object* context) {
    const json::value* user = context == nullptr ? nullptr : context->if_contains("runAsUser");
    return user != nullptr && user->is_number() && user->to_number<int64_t>() == 0;
  };
  if (is_root(pod_security)) {
    root_users.emplace_back("pod");
  }
  std::vector<std::string> root_names;
  for (const Container& c : containers) {
    if (is_root(c.security)) {
      root_names.push_back(c.name);
    }
  }
  if (!root_names.empty()) {
    root_users.push_back(Named("container", "containers", root_names));
  }
  if (!root_users.empty()) {
    const std::string joined = Join(root_users, " and ");
    out.push_back(fmt::format("runAsUser=0 ({} must not set runAsUser=0)", joined));
  }
  const std::string pod_seccomp = seccomp_type(pod_security);
  const bool pod_seccomp_ok = pod_seccomp == "RuntimeDefault" || pod_seccomp == "Localhost";
  std::vector<std::string> seccomp_bad;
  for (const Container& c : containers) {
    const std::string own = seccomp_type(c.security);
    if (own.empty() ? !pod_seccomp_ok : own != "RuntimeDefault" && own != "Localhost") {
      seccomp_bad.push_back(c.name);
    }
  }
  if (!seccomp_bad.empty()) {
    out.push_back(
        fmt::format("seccompProfile (pod or {} must set securityContext.seccompProfile.type to "
                    "\"RuntimeDefault\" or \"Localhost\")",
                    Named("container", "containers", seccomp_bad)));
  }
  std::vector<std::string> undropped;
  std::vector<std::string> cap_parts;
  for (const Container& c : containers) {
    const json::object* caps = c.security == nullptr ? nullptr : Obj(*c.security, "capabilities");
    std::vector<std::string> drop = Strs(caps, "drop");
    if (std::find(drop.begin(), drop.end(), "ALL") == drop.end()) {
      undropped.push_back(c.name);
    }
    std::vector<std::string> added;
    for (const std::string& cap : Strs(caps, "add")) {
      if (cap != "NET_BIND_SERVICE") {
        added.push_back(cap);
      }
    }
    if (!added.empty()) {
      cap_parts.push_back(
          fmt::format("container \"{}\" must not include {} in securityContext.capabilities.add",
                      c.name, QuotedList(added)));
    }
  }
  if (!undropped.empty()) {
    cap_parts.insert(cap_parts.begin(),
                     fmt::format("{} must set securityContext.capabilities.drop=[\"ALL\"]",
                                 Named("container", "containers", undropped)));
  }
  if (!cap_parts.empty()) {
    const std::string joined = Join(cap_parts, "; ");
    out.push_back(fmt::format("unrestricted capabilities ({})", joined));
  }
  return out;
}

}  // namespace bulkhead::controlplane
