#include "controlplane/controllers/event_recorder.h"

#include <boost/json.hpp>

#include "common/logging.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/controllers/object_helpers.h"

namespace bulkhead::controlplane::controllers {

namespace json = boost::json;

namespace {

constexpr auto kAggregation = std::chrono::minutes(10);
constexpr size_t kRemembered = 4096;

}  // namespace

void EventRecorder::Record(const json::object& involved, const std::string& type,
                           const std::string& reason, const std::string& message) {
  const std::string ns = MetaString(involved, "namespace").empty()
                             ? std::string("default")
                             : MetaString(involved, "namespace");
  const std::string uid = MetaString(involved, "uid");
  const std::string key = uid + "\n" + reason + "\n" + message;
  const auto now = std::chrono::steady_clock::now();
  const std::string timestamp = NowRfc3339();
  {
    std::lock_guard lock(mutex_);
    auto found = written_.find(key);
    if (found != written_.end() && now - found->second.at < kAggregation) {
      const Written seen = found->second;
      auto counted =
          client_.Mutate(In(kEventsRef, seen.namespace_name, seen.name), [&](json::object& event) {
            int64_t count = IntAt(event, ".count", 1);
            event["count"] = count + 1;
            event["lastTimestamp"] = timestamp;
            return absl::OkStatus();
          });
      if (counted.ok()) {
        return;
      }
      written_.erase(found);  // gone (deleted, or its namespace): write anew
    }
    if (written_.size() >= kRemembered) {
      written_.clear();
    }
  }
  const std::string name = MetaString(involved, "name") + "." + RandomNameSuffix(10);
  json::object event{{"apiVersion", "v1"},
                     {"kind", "Event"},
                     {"metadata", json::object{{"name", name}, {"namespace", ns}}},
                     {"involvedObject",
                      json::object{{"apiVersion", StringField(involved, "apiVersion")},
                                   {"kind", StringField(involved, "kind")},
                                   {"namespace", MetaString(involved, "namespace")},
                                   {"name", MetaString(involved, "name")},
                                   {"uid", uid},
                                   {"resourceVersion", MetaString(involved, "resourceVersion")}}},
                     {"reason", reason},
                     {"message", message},
                     {"type", type},
                     {"source", json::object{{"component", component_}}},
                     {"reportingComponent", component_},
                     {"reportingInstance", component_},
                     {"firstTimestamp", timestamp},
                     {"lastTimestamp", timestamp},
                     {"count", 1}};
  if (MetaString(involved, "namespace").empty()) {
    event["involvedObject"].as_object().erase("namespace");
  }
  auto created = client_.Create(In(kEventsRef, ns), std::move(event));
  if (!created.ok()) {
    Logger(Component::kApiserver)
        .info("event not recorded component={} reason={} object={} error=\"{}\"", component_,
              reason, MetaString(involved, "name"), MessageOf(created.status()));
    return;
  }
  std::lock_guard lock(mutex_);
  written_[key] = Written{ns, name, now};
}

}  // namespace bulkhead::controlplane::controllers
