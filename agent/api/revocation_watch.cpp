#include "agent/api/revocation_watch.h"

#include <cerrno>

#include "common/file.h"
#include "common/logging.h"
#include "common/pki/revocation.h"
#include "fmt/format.h"

namespace bulkhead::agent::api {

StatusOr<std::unique_ptr<RevocationWatch>> RevocationWatch::Start(const std::string& certs_dir,
                                                                  std::chrono::milliseconds period,
                                                                  OnChange on_change) {
  std::unique_ptr<RevocationWatch> watch(
      new RevocationWatch(certs_dir, period, std::move(on_change)));
  auto revoked = watch->Load(watch->seen_);
  if (!revoked.ok()) {
    return absl::FailedPreconditionError(
        fmt::format("{}/{}: {}", certs_dir, pki::kRevocationListFile, MessageOf(revoked.status())));
  }
  watch->revoked_ = std::move(*revoked);
  Logger(Component::kGrpc)
      .info("revocation list read path={}/{} revoked={}", certs_dir, pki::kRevocationListFile,
            watch->revoked_.size());
  watch->thread_ = std::thread([raw = watch.get()] { raw->Loop(); });
  return watch;
}

RevocationWatch::RevocationWatch(std::string certs_dir, std::chrono::milliseconds period,
                                 OnChange on_change)
    : certs_dir_(std::move(certs_dir)), period_(period), on_change_(std::move(on_change)) {}

RevocationWatch::~RevocationWatch() {
  {
    std::scoped_lock lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool RevocationWatch::IsRevoked(const std::string& serial) const {
  std::scoped_lock lock(mutex_);
  return revoked_.contains(serial);
}

StatusOr<std::set<std::string>> RevocationWatch::Load(Files& files) const {
  std::string list_path = fmt::format("{}/{}", certs_dir_, pki::kRevocationListFile);
  auto list = ReadFile(list_path);
  if (!list.ok()) {
    if (absl::IsNotFound(list.status())) {
      files = {};
      return std::set<std::string>{};
    }
    return list.status();
  }
  BH_ASSIGN_OR_RETURN(std::string ca, ReadFile(certs_dir_ + "/ca.crt"));
  files = {std::move(*list), std::move(ca)};
  return pki::RevokedSerials(files.list, files.ca);
}

void RevocationWatch::Loop() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, period_, [this] { return stopping_; })) {
    lock.unlock();
    Files now;
    auto revoked = Load(now);
    if (now == seen_) {
      lock.lock();
      continue;
    }
    seen_ = now;
    if (!revoked.ok()) {
      Logger(Component::kGrpc)
          .error("revocation list refused, the previous one stays in force path={}/{} error=\"{}\"",
                 certs_dir_, pki::kRevocationListFile, MessageOf(revoked.status()));
      lock.lock();
      continue;
    }
    Logger(Component::kGrpc)
        .info("revocation list changed path={}/{} revoked={}", certs_dir_, pki::kRevocationListFile,
              revoked->size());
    {
      std::scoped_lock swap(mutex_);
      revoked_ = *revoked;
    }
    if (on_change_) {
      on_change_(*revoked);
    }
    lock.lock();
  }
}

}  // namespace bulkhead::agent::api
