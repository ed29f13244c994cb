// Hands out items of a range (cluster IPs, node ports) so that no two
// holders ever get the same one, across writers and restarts: each item
// held is a store key, "/bulkhead/ranges/<range>/<item>", created only if
// it is not there, whose value names the holder. Nothing is kept in memory.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_RANGE_ALLOCATOR_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_RANGE_ALLOCATOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "common/status.h"
#include "controlplane/store/store.h"

namespace bulkhead::controlplane {

class RangeAllocator {
 public:
  // `item_of(i)` names item i of the `size` items of range `range_name`.
  RangeAllocator(Store& store, const std::string& range_name, uint64_t size,
                 std::function<std::string(uint64_t)> item_of);

  // Reserves an item nobody holds (not even `holder`) for `holder`, picked
  // at random (as Kubernetes does, so a deleted service's address is not
  // reused at once); a ResourceExhausted error when every item is held.
  StatusOr<std::string> AllocateNext(const std::string& holder);
  // Reserves `item` for `holder`: AlreadyExists when another holds it
  // (holding it already is not an error).
  Status Allocate(const std::string& item, const std::string& holder);
  // Frees `item` if `holder` holds it.
  Status Release(const std::string& item, const std::string& holder);
  // Who holds what: item -> holder.
  StatusOr<std::map<std::string, std::string>> Held();
  // The holder of `item`, "" when it is free.
  StatusOr<std::string> HolderOf(const std::string& item);

 private:
  // Creates the item's key for `holder`; AlreadyExists if anyone holds it.
  Status Take(const std::string& item, const std::string& holder);
  [[nodiscard]] std::string KeyOf(const std::string& item) const { return prefix_ + item; }

  Store& store_;
  const std::string prefix_;
  const uint64_t size_;
  const std::function<std::string(uint64_t)> item_of_;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_RANGE_ALLOCATOR_H_
