#include "agent/netpol/map_transaction.h"

#include <bpf/bpf.h>

#include <cerrno>

#include "common/logging.h"
#include "fmt/format.h"

namespace bulkhead::agent::netpol {
namespace {

struct Undo {
  int fd;
  Bytes key;
  std::optional<Bytes> previous;  // nullopt: the key was absent
};

std::optional<Bytes> Lookup(int fd, const Bytes& key, size_t value_size) {
  Bytes value(value_size);
  if (bpf_map_lookup_elem(fd, key.data(), value.data()) != 0) {
    return std::nullopt;
  }
  return value;
}

void Restore(const Undo& undo) {
  int rc = undo.previous
               ? bpf_map_update_elem(undo.fd, undo.key.data(), undo.previous->data(), BPF_ANY)
               : bpf_map_delete_elem(undo.fd, undo.key.data());
  if (rc != 0 && !(rc < 0 && errno == ENOENT && !undo.previous)) {
    Logger(Component::kNetpol).error("rollback of a map write failed errno={}", errno);
  }
}

}  // namespace

void MapTransaction::Put(int map_fd, std::string map_name, Bytes key, Bytes value) {
  ops_.push_back({map_fd, std::move(map_name), std::move(key), std::move(value)});
}

void MapTransaction::Delete(int map_fd, std::string map_name, Bytes key) {
  ops_.push_back({map_fd, std::move(map_name), std::move(key), std::nullopt});
}

Status MapTransaction::Commit() {
  std::vector<Undo> applied;
  applied.reserve(ops_.size());
  for (const Op& op : ops_) {
    bpf_map_info info{};
    __u32 info_len = sizeof(info);
    if (bpf_obj_get_info_by_fd(op.fd, &info, &info_len) != 0) {
      Status status = ErrnoError(errno, fmt::format("inspect map {}", op.map));
      for (auto it = applied.rbegin(); it != applied.rend(); ++it) {
        Restore(*it);
      }
      return status;
    }
    Undo undo{op.fd, op.key, Lookup(op.fd, op.key, info.value_size)};
    int rc = op.value ? bpf_map_update_elem(op.fd, op.key.data(), op.value->data(), BPF_ANY)
                      : bpf_map_delete_elem(op.fd, op.key.data());
    int err = errno;
    if (rc != 0 && !(op.value == std::nullopt && err == ENOENT)) {
      for (auto it = applied.rbegin(); it != applied.rend(); ++it) {
        Restore(*it);
      }
      if (err == E2BIG || err == ENOMEM || err == ENOSPC) {
        return absl::ResourceExhaustedError(fmt::format(
            "BPF map {} is full; nothing was changed (remove entries or raise the limit)", op.map));
      }
      return ErrnoError(err,
                        fmt::format("{} BPF map {}", op.value ? "write" : "delete from", op.map));
    }
    applied.push_back(std::move(undo));
  }
  ops_.clear();
  return absl::OkStatus();
}

}  // namespace bulkhead::agent::netpol
