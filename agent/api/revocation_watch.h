// The revocation list the agent enforces: <certs_dir>/revoked.crl, written
// by `bulkhead certs revoke` and signed by the platform CA
// (common/pki/revocation.h), re-read when it or ca.crt changes.
//
// The file as it is now is the list: none means nothing is revoked. A list
// that is not a CRL signed by ca.crt stops the agent at start; later, the
// agent keeps the list it had and logs why the new one was refused.
#ifndef BULKHEAD_AGENT_API_REVOCATION_WATCH_H_
#define BULKHEAD_AGENT_API_REVOCATION_WATCH_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "common/status.h"

namespace bulkhead::agent::api {

class RevocationWatch {
 public:
  // Runs on the watch's thread after a changed list was taken, with the
  // serials now revoked.
  using OnChange = std::function<void(const std::set<std::string>& revoked)>;

  static StatusOr<std::unique_ptr<RevocationWatch>> Start(const std::string& certs_dir,
                                                          std::chrono::milliseconds period,
                                                          OnChange on_change);
  RevocationWatch(const RevocationWatch&) = delete;
  RevocationWatch& operator=(const RevocationWatch&) = delete;
  ~RevocationWatch();

  // `serial` in pki::NormalizeSerial form.
  [[nodiscard]] bool IsRevoked(const std::string& serial) const;

 private:
  struct Files {
    std::string list;  // empty: no list
    std::string ca;
    bool operator==(const Files&) const = default;
  };
  RevocationWatch(std::string certs_dir, std::chrono::milliseconds period, OnChange on_change);
  // The list on disk now, checked against ca.crt.
  StatusOr<std::set<std::string>> Load(Files& files) const;
  void Loop();

  const std::string certs_dir_;
  const std::chrono::milliseconds period_;
  const OnChange on_change_;
  Files seen_;  // the watch thread's only
  mutable std::mutex mutex_;
  std::set<std::string> revoked_;
  bool stopping_ = false;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace bulkhead::agent::api

#endif  // BULKHEAD_AGENT_API_REVOCATION_WATCH_H_
