#include "controlplane/apiserver/registry/graceful_deletion.h"

#include <algorithm>
#include <boost/json.hpp>

#include "controlplane/apiserver/object_meta.h"

namespace bulkhead::controlplane {

namespace json = boost::json;

namespace {

void MarkDeleting(json::object& meta, std::chrono::system_clock::time_point at, int64_t grace) {
  meta["deletionTimestamp"] = FormatRfc3339(at);
  meta["deletionGracePeriodSeconds"] = grace;
}

}  // namespace

GracefulStep BeginGracefulDelete(const KindStrategy& strategy, json::object& object,
                                 std::optional<int64_t> requested,
                                 std::chrono::system_clock::time_point now) {
  if (requested.has_value() && *requested < 0) {
    requested = 1;
  }
  json::object& meta = Metadata(object);
  const std::string since = MetaString(object, "deletionTimestamp");
  if (!since.empty()) {
    const json::value* stored = meta.if_contains("deletionGracePeriodSeconds");
    if (stored == nullptr || !stored->is_int64() || stored->as_int64() == 0) {
      return GracefulStep::kRemove;  // marked to go at once: a delete that did not finish
    }
    const int64_t grace = std::max<int64_t>(stored->as_int64(), 1);
    if (!requested.has_value() || *requested >= grace) {
      return GracefulStep::kPending;
    }
    // The same start, a shorter wait.
    const auto at = ParseRfc3339(since).value_or(now + std::chrono::seconds(grace));
    MarkDeleting(meta, at - std::chrono::seconds(grace) + std::chrono::seconds(*requested),
                 *requested);
    return *requested == 0 ? GracefulStep::kRemove : GracefulStep::kMark;
  }
  const int64_t grace = std::max<int64_t>(strategy.GracePeriod(object, requested), 0);
  MarkDeleting(meta, now + std::chrono::seconds(grace), grace);
  return grace == 0 ? GracefulStep::kRemove : GracefulStep::kMark;
}

}  // namespace bulkhead::controlplane
