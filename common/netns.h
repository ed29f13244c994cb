// Network namespace owners.
//
// NetworkNamespace creates a named namespace the way `ip netns add` does (a
// bind mount of the namespace at /run/netns/<name>, so `ip netns exec`
// works on it) and deletes it when destroyed. NetnsGuard enters a namespace
// on the calling thread and returns to the previous one when destroyed.
#ifndef BULKHEAD_COMMON_NETNS_H_
#define BULKHEAD_COMMON_NETNS_H_

#include <string>

#include "common/status.h"
#include "common/unique_fd.h"

namespace bulkhead {

class NetworkNamespace {
 public:
  static constexpr const char* kRunDir = "/run/netns";

  // Creates /run/netns/<name>; fails with ALREADY_EXISTS if it is there.
  static StatusOr<NetworkNamespace> Create(const std::string& name);

  NetworkNamespace(NetworkNamespace&& other) noexcept;
  NetworkNamespace& operator=(NetworkNamespace&& other) noexcept;
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;
  ~NetworkNamespace();

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::string path() const;
  // An fd on the namespace, for setns(2).
  [[nodiscard]] int fd() const { return fd_.get(); }

  // Unmounts and removes the namespace file now; idempotent.
  Status Remove();

 private:
  NetworkNamespace(std::string name, UniqueFd fd) : name_(std::move(name)), fd_(std::move(fd)) {}

  std::string name_;
  UniqueFd fd_;
};

class NetnsGuard {
 public:
  // Switches the calling thread into the namespace behind `netns_fd`.
  static StatusOr<NetnsGuard> Enter(int netns_fd);

  NetnsGuard(NetnsGuard&& other) noexcept = default;
  NetnsGuard& operator=(NetnsGuard&&) = delete;
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;
  ~NetnsGuard();

 private:
  explicit NetnsGuard(UniqueFd previous) : previous_(std::move(previous)) {}
  UniqueFd previous_;
};

}  // namespace bulkhead

#endif  // BULKHEAD_COMMON_NETNS_H_
