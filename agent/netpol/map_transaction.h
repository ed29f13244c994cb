// A batch of BPF map writes that lands whole or not at all: if one write
// fails, the ones before it are undone in reverse order, so a failed change
// leaves the previous state enforced.
#ifndef BULKHEAD_AGENT_NETPOL_MAP_TRANSACTION_H_
#define BULKHEAD_AGENT_NETPOL_MAP_TRANSACTION_H_

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace bulkhead::agent::netpol {

using Bytes = std::vector<std::uint8_t>;

template <typename T>
Bytes ToBytes(const T& value) {
  Bytes bytes(sizeof(T));
  std::memcpy(bytes.data(), &value, sizeof(T));
  return bytes;
}

class MapTransaction {
 public:
  // `map_name` is for error messages.
  void Put(int map_fd, std::string map_name, Bytes key, Bytes value);
  void Delete(int map_fd, std::string map_name, Bytes key);
  [[nodiscard]] bool empty() const { return ops_.empty(); }
  [[nodiscard]] size_t size() const { return ops_.size(); }

  Status Commit();

 private:
  struct Op {
    int fd;
    std::string map;
    Bytes key;
    std::optional<Bytes> value;  // nullopt: delete
  };
  std::vector<Op> ops_;
};

}  // namespace bulkhead::agent::netpol

#endif  // BULKHEAD_AGENT_NETPOL_MAP_TRANSACTION_H_
