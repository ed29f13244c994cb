// Watch: a chunked stream of JSON events, one per line.
//
// resourceVersion unset or "0": ADDED events for the current state, then
// changes. resourceVersion N: changes after N (a compacted N gets a single
// ERROR event with a 410 Expired Status, as Kubernetes does). Label and field
// selectors filter, and an object that stops matching is sent as DELETED.
// BOOKMARK events only with allowWatchBookmarks=true. The stream ends
// cleanly (last chunk) after timeoutSeconds.
#include <boost/json.hpp>
#include <unordered_set>

#include "common/logging.h"
#include "common/strings.h"
#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/api_server.h"
#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/responses.h"
#include "controlplane/apiserver/selectors.h"
#include "controlplane/apiserver/table.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

bool Truthy(std::optional<std::string_view> value) {
  return value.has_value() && (*value == "true" || *value == "1" || *value == "True");
}

}  // namespace

void ApiServer::Watch(const ResourceTarget& target, const HttpRequest& request,
                      ResponseWriter& writer) {
  auto parsed_selectors =
      QuerySelectors::Parse(request.Query("labelSelector"), request.Query("fieldSelector"));
  if (!parsed_selectors.ok()) {
    SendError(writer, BadRequest(MessageOf(parsed_selectors.status())));
    return;
  }
  const QuerySelectors& selectors = *parsed_selectors;
  auto timeout = options_.default_watch_timeout;
  if (auto text = request.Query("timeoutSeconds"); text.has_value() && !text->empty()) {
    auto seconds = ParseInteger<int64_t>(*text);
    if (!seconds.has_value() || *seconds < 0) {
      SendError(writer, BadRequest(fmt::format("invalid timeoutSeconds \"{}\"", *text)));
      return;
    }
    // Cut to the longest watch served, so the deadline below cannot overflow.
    timeout = std::chrono::seconds(std::min<int64_t>(*seconds, options_.max_watch_timeout.count()));
  }
  const bool bookmarks = Truthy(request.Query("allowWatchBookmarks"));
  const bool send_initial = Truthy(request.Query("sendInitialEvents"));
  const bool table = WantsTable(request);
  const bool filtered = !selectors.empty();
  auto rv_param = request.Query("resourceVersion");
  const bool from_now =
      !rv_param.has_value() || rv_param->empty() || *rv_param == "0" || send_initial;

  std::string prefix = target.CollectionPrefix();
  if (const std::string* name = selectors.fields.Required("metadata.name");
      name != nullptr && (target.namespace_name.empty() == !target.type->namespaced)) {
    prefix += *name;  // the filter still applies to longer names
  }
  auto matches = [&](const json::object& object) { return selectors.Matches(object); };
  auto to_object = [&](const std::string& text) -> std::optional<json::object> {
    boost::system::error_code ec;
    json::value value = ParseJson(Present(target, text), ec);
    if (ec || !value.is_object()) {
      return std::nullopt;
    }
    return std::move(value.as_object());
  };
  auto line = [&](const char* type, const json::object& object) {
    if (table) {
      json::object t = MakeTable(*target.type, {object}, IncludeObjectOf(request), json::object(),
                                 std::chrono::system_clock::now());
      return fmt::format("{{\"type\":\"{}\",\"object\":{}}}\n", type, json::serialize(t));
    }
    return fmt::format("{{\"type\":\"{}\",\"object\":{}}}\n", type, json::serialize(object));
  };

  std::string initial;
  std::unordered_set<std::string> matched;
  int64_t start = 0;
  if (from_now) {
    auto list = store_.List(target.CollectionPrefix(), "", 0, 0);
    if (!list.ok()) {
      SendError(writer, list.status());
      return;
    }
    start = list->revision;
    for (const auto& kv : list->items) {
      auto object = to_object(kv.value);
      if (!object.has_value() || !matches(*object)) {
        continue;
      }
      matched.insert(kv.key);
      initial += line("ADDED", *object);
    }
  } else {
    auto parsed = ParseInteger<int64_t>(*rv_param);
    if (!parsed.has_value() || *parsed < 0) {
      SendError(writer, BadRequest(fmt::format("invalid resourceVersion \"{}\"", *rv_param)));
      return;
    }
    start = *parsed;
    if (start > store_.Revision()) {
      SendError(writer, TooLargeResourceVersionError(start, store_.Revision()));
      return;
    }
    if (filtered && start >= store_.CompactedRevision()) {
      // What matched at the start decides ADDED/MODIFIED/DELETED later.
      auto list = store_.List(target.CollectionPrefix(), "", 0, start);
      if (list.ok()) {
        for (const auto& kv : list->items) {
          auto object = to_object(kv.value);
          if (object.has_value() && matches(*object)) {
            matched.insert(kv.key);
          }
        }
      }
    }
  }
  auto stream = store_.Watch(prefix, start);
  if (!stream.ok()) {
    if (stream.status().code() != absl::StatusCode::kOutOfRange) {
      SendError(writer, stream.status());
      return;
    }
    HttpError gone = ToHttpError(ApiError(
        410, "Expired",
        fmt::format("too old resource version: {} ({})", start, store_.CompactedRevision())));
    if (writer.StartStream(200, kJson)) {
      writer.WriteChunk(fmt::format("{{\"type\":\"ERROR\",\"object\":{}}}\n", gone.body));
      writer.EndStream();
    }
    return;
  }
  if (!writer.StartStream(200, kJson)) {
    return;
  }
  int64_t last_revision = start;
  auto bookmark = [&](bool initial_end) {
    json::object meta{{"resourceVersion", std::to_string(last_revision)}};
    if (initial_end) {
      meta["annotations"] = json::object{{"k8s.io/initial-events-end", "true"}};
    }
    json::object object{{"kind", target.type->kind},
                        {"apiVersion", target.type->GroupVersion()},
                        {"metadata", std::move(meta)}};
    return fmt::format("{{\"type\":\"BOOKMARK\",\"object\":{}}}\n", json::serialize(object));
  };
  if (send_initial && bookmarks) {
    initial += bookmark(true);
  }
  if (!initial.empty() && !writer.WriteChunk(initial)) {
    return;
  }
  const auto deadline = SteadyClock::now() + timeout;
  auto next_bookmark = SteadyClock::now() + options_.bookmark_interval;
  while (true) {
    auto now = SteadyClock::now();
    if (now >= deadline) {
      writer.EndStream();
      return;
    }
    if (writer.PeerClosed()) {
      return;
    }
    auto wait =
        std::min({deadline, now + std::chrono::seconds(1), bookmarks ? next_bookmark : deadline});
    auto events = (*stream)->Next(wait);
    if (!events.ok()) {
      if (events.status().code() == absl::StatusCode::kResourceExhausted ||
          events.status().code() == absl::StatusCode::kOutOfRange) {
        HttpError gone = ToHttpError(ApiError(410, "Expired", MessageOf(events.status())));
        writer.WriteChunk(fmt::format("{{\"type\":\"ERROR\",\"object\":{}}}\n", gone.body));
      }
      writer.EndStream();
      return;
    }
    std::string chunk;
    for (const auto& shared : *events) {
      const Event& event = *shared;
      last_revision = event.kv.mod_revision;
      if (event.kv.key.compare(0, target.CollectionPrefix().size(), target.CollectionPrefix()) !=
          0) {
        continue;
      }
      auto object = to_object(event.kv.value);
      if (!object.has_value()) {
        continue;
      }
      if (event.type == EventType::kDelete) {
        Metadata(*object)["resourceVersion"] = std::to_string(event.kv.mod_revision);
        if (!filtered || matched.erase(event.kv.key) > 0) {
          chunk += line("DELETED", *object);
        }
        continue;
      }
      bool now_matches = matches(*object);
      if (!filtered) {
        chunk +=
            line(event.kv.create_revision == event.kv.mod_revision ? "ADDED" : "MODIFIED", *object);
      } else if (now_matches) {
        bool known = !matched.insert(event.kv.key).second;
        chunk += line(known ? "MODIFIED" : "ADDED", *object);
      } else if (matched.erase(event.kv.key) > 0) {
        chunk += line("DELETED", *object);
      }
    }
    if (bookmarks && SteadyClock::now() >= next_bookmark) {
      chunk += bookmark(false);
      next_bookmark = SteadyClock::now() + options_.bookmark_interval;
    }
    if (!chunk.empty() && !writer.WriteChunk(chunk)) {
      return;
    }
  }
}

}  // namespace bulkhead::controlplane
