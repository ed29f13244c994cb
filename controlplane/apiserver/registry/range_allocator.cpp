#include "controlplane/apiserver/registry/range_allocator.h"

#include <random>
#include <utility>

#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

// Random picks tried before the held items are read to find a free one.
constexpr int kRandomTries = 16;

uint64_t RandomBelow(uint64_t bound) {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return std::uniform_int_distribution<uint64_t>(0, bound - 1)(generator);
}

}  // namespace

RangeAllocator::RangeAllocator(Store& store, const std::string& range_name, uint64_t size,
                               std::function<std::string(uint64_t)> item_of)
    : store_(store),
      prefix_("/bulkhead/ranges/" + range_name + "/"),
      size_(size),
      item_of_(std::move(item_of)) {}

Status RangeAllocator::Take(const std::string& item, const std::string& holder) {
  auto created =
      store_.Create(KeyOf(item), [&](int64_t, int64_t) -> StatusOr<std::string> { return holder; });
  return created.ok() ? absl::OkStatus() : created.status();
}

Status RangeAllocator::Allocate(const std::string& item, const std::string& holder) {
  Status taken = Take(item, holder);
  if (taken.code() != absl::StatusCode::kAlreadyExists) {
    return taken;
  }
  BH_ASSIGN_OR_RETURN(std::string current, HolderOf(item));
  if (current == holder) {
    return absl::OkStatus();
  }
  return absl::AlreadyExistsError(fmt::format("{} is held by {}", item, current));
}

StatusOr<std::string> RangeAllocator::AllocateNext(const std::string& holder) {
  if (size_ == 0) {
    return absl::ResourceExhaustedError("the range is empty");
  }
  for (int i = 0; i < kRandomTries; ++i) {
    std::string item = item_of_(RandomBelow(size_));
    // Only an item nobody holds: one this holder already has (another port
    // of the same Service) is not a new one.
    Status allocated = Take(item, holder);
    if (allocated.ok()) {
      return item;
    }
    if (allocated.code() != absl::StatusCode::kAlreadyExists) {
      return allocated;
    }
  }
  // Crowded: read what is held and walk from a random place to a free item.
  // Another writer may take it first; then walk on.
  BH_ASSIGN_OR_RETURN(auto held, Held());
  if (held.size() >= size_) {
    return absl::ResourceExhaustedError("every item of the range is held");
  }
  const uint64_t start = RandomBelow(size_);
  for (uint64_t step = 0; step < size_; ++step) {
    std::string item = item_of_((start + step) % size_);
    if (held.contains(item)) {
      continue;
    }
    Status allocated = Take(item, holder);
    if (allocated.ok()) {
      return item;
    }
    if (allocated.code() != absl::StatusCode::kAlreadyExists) {
      return allocated;
    }
  }
  return absl::ResourceExhaustedError("every item of the range is held");
}

Status RangeAllocator::Release(const std::string& item, const std::string& holder) {
  BH_ASSIGN_OR_RETURN(auto current, store_.Get(KeyOf(item)));
  if (!current.has_value() || current->value != holder) {
    return absl::OkStatus();
  }
  auto deleted = store_.Delete(KeyOf(item), current->mod_revision);
  if (!deleted.ok() && deleted.status().code() != absl::StatusCode::kNotFound &&
      deleted.status().code() != absl::StatusCode::kAborted) {
    return deleted.status();
  }
  return absl::OkStatus();
}

StatusOr<std::map<std::string, std::string>> RangeAllocator::Held() {
  BH_ASSIGN_OR_RETURN(ListResult list, store_.List(prefix_, "", 0, 0));
  std::map<std::string, std::string> held;
  for (KeyValue& kv : list.items) {
    held.emplace(kv.key.substr(prefix_.size()), std::move(kv.value));
  }
  return held;
}

StatusOr<std::string> RangeAllocator::HolderOf(const std::string& item) {
  BH_ASSIGN_OR_RETURN(auto current, store_.Get(KeyOf(item)));
  return current.has_value() ? current->value : std::string();
}

}  // namespace bulkhead::controlplane
