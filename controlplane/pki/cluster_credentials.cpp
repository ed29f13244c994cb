#include "controlplane/pki/cluster_credentials.h"

#include "controlplane/auth/jwt.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "common/file.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "controlplane/pki/base64.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

bool IsIpAddress(const std::string& text) {
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

// Reads name.crt and name.key under `dir`, or makes them with `make`.
template <typename Make>
StatusOr<KeyPair> LoadOrMake(const std::string& dir, const std::string& name, bool& created,
                             Make&& make) {
  std::string cert_path = fmt::format("{}/{}.crt", dir, name);
  std::string key_path = fmt::format("{}/{}.key", dir, name);
  if (std::filesystem::exists(cert_path) && std::filesystem::exists(key_path)) {
    KeyPair pair;
    BH_ASSIGN_OR_RETURN(pair.cert_pem, ReadFile(cert_path));
    BH_ASSIGN_OR_RETURN(pair.key_pem, ReadFile(key_path));
    return pair;
  }
  BH_ASSIGN_OR_RETURN(KeyPair pair, make());
  BH_RETURN_IF_ERROR(WriteFileAtomically(key_path, pair.key_pem, 0600));
  BH_RETURN_IF_ERROR(WriteFileAtomically(cert_path, pair.cert_pem, 0644));
  created = true;
  return pair;
}

}  // namespace

Status WriteFileAtomically(const std::string& path, std::string_view content, unsigned mode) {
  std::string temp = path + ".tmp";
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) {
    return ErrnoError(errno, fmt::format("create {}", temp));
  }
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoError(errno, fmt::format("write {}", temp));
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd.get(), mode) != 0 || ::fsync(fd.get()) != 0) {
    return ErrnoError(errno, fmt::format("sync {}", temp));
  }
  fd.reset();
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return ErrnoError(errno, fmt::format("rename {} to {}", temp, path));
  }
  return absl::OkStatus();
}

StatusOr<ClusterCredentials> EnsureClusterCredentials(const std::string& data_dir,
                                                      const std::vector<std::string>& extra_names) {
  std::string dir = data_dir + "/pki";
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return ErrnoError(error.value(), fmt::format("create {}", dir));
  }
  ::chmod(dir.c_str(), 0700);
  ClusterCredentials credentials;
  bool& created = credentials.created;
  BH_ASSIGN_OR_RETURN(credentials.serving_authority, LoadOrMake(dir, "ca", created, [] {
                        return MakeAuthority("bulkhead-cluster-ca");
                      }));
  BH_ASSIGN_OR_RETURN(
      credentials.serving, LoadOrMake(dir, "serving", created, [&] {
        CertificateRequest request;
        request.common_name = "bulkhead-apiserver";
        request.server = true;
        request.dns_names = {"localhost", "kubernetes", "kubernetes.default",
                             "kubernetes.default.svc"};
        request.ip_addresses = {"127.0.0.1", "::1"};
        for (const auto& name : extra_names) {
          (IsIpAddress(name) ? request.ip_addresses : request.dns_names).push_back(name);
        }
        return MakeCertificate(credentials.serving_authority, request);
      }));
  BH_ASSIGN_OR_RETURN(credentials.client_authority, LoadOrMake(dir, "client-ca", created, [] {
                        return MakeAuthority("bulkhead-client-ca");
                      }));
  BH_ASSIGN_OR_RETURN(credentials.admin, LoadOrMake(dir, "admin", created, [&] {
                        CertificateRequest request;
                        request.common_name = "admin";
                        request.organizations = {"system:masters"};
                        request.client = true;
                        return MakeCertificate(credentials.client_authority, request);
                      }));
  std::string token_path = dir + "/admin.token";
  if (std::filesystem::exists(token_path)) {
    BH_ASSIGN_OR_RETURN(std::string token, ReadFile(token_path));
    credentials.admin_token = std::string(TrimSpace(token));
  } else {
    BH_ASSIGN_OR_RETURN(credentials.admin_token, RandomHex(32));
    BH_RETURN_IF_ERROR(WriteFileAtomically(token_path, credentials.admin_token + "\n", 0600));
    created = true;
  }
  if (credentials.admin_token.empty()) {
    return absl::FailedPreconditionError(fmt::format("{} is empty", token_path));
  }
  std::string signing_path = dir + "/service-account.key";
  if (std::filesystem::exists(signing_path)) {
    BH_ASSIGN_OR_RETURN(credentials.service_account_key_pem, ReadFile(signing_path));
  } else {
    BH_ASSIGN_OR_RETURN(credentials.service_account_key_pem, Es256Key::GeneratePem());
    BH_RETURN_IF_ERROR(
        WriteFileAtomically(signing_path, credentials.service_account_key_pem, 0600));
    created = true;
  }
  return credentials;
}

Status WriteKubeconfig(const std::string& path, const std::string& cluster_name,
                       const std::string& server_url, const ClusterCredentials& credentials) {
  std::string text = fmt::format(
      "apiVersion: v1\n"
      "kind: Config\n"
      "clusters:\n"
      "- name: {0}\n"
      "  cluster:\n"
      "    server: {1}\n"
      "    certificate-authority-data: {2}\n"
      "users:\n"
      "- name: {0}-admin\n"
      "  user:\n"
      "    client-certificate-data: {3}\n"
      "    client-key-data: {4}\n"
      "    token: {5}\n"
      "contexts:\n"
      "- name: {0}\n"
      "  context:\n"
      "    cluster: {0}\n"
      "    user: {0}-admin\n"
      "    namespace: default\n"
      "current-context: {0}\n",
      cluster_name, server_url, Base64Encode(credentials.serving_authority.cert_pem),
      Base64Encode(credentials.admin.cert_pem), Base64Encode(credentials.admin.key_pem),
      credentials.admin_token);
  // Unchanged (the usual restart): nothing is written, so a start on a full
  // disk does not depend on room for a file it already has.
  if (auto current = ReadFile(path); current.ok() && *current == text) {
    return absl::OkStatus();
  }
  return WriteFileAtomically(path, text, 0600);
}

}  // namespace bulkhead::controlplane
