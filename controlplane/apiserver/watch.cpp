// Watch: a chunked stream of JSON events, one per line.
//
// resourceVersion unset or "0": ADDED events for the current state, then
// changes. resourceVersion N: changes after N (a compacted N gets a single
// ERROR event with a 410 Expired Status, as Kubernetes does). Label and field
// selectors filter, and an object that stops matching is sent as DELETED.
// BOOKMARK events only with allowWatchBookmarks=true. The stream ends
// cleanly (last chunk) after timeoutSeconds, whether or not the client reads.
// A resourceVersion newer than the store's gets the Kubernetes "Too large
// resource version" error.
//
// After the initial state, a watch is a WatchSession run by the server's
// WatchPump on its connection's IO loop: no thread waits for it. It writes to a ResponseStream
// whose queue is bounded; a client that lets the queue fill is too slow and its stream is ended (it
// lists again), as Kubernetes does.
#include <algorithm>
#include <boost/json.hpp>
#include <deque>
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
#include "controlplane/apiserver/watch_event_cache.h"
#include "controlplane/apiserver/watch_pump.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

// How soon a watch with more to send (a backlog, a full writer queue) runs again.
constexpr std::chrono::milliseconds kDrainPoll{10};
// How soon a watch whose backlog page found every store reader busy tries again.
constexpr std::chrono::milliseconds kBusyRetry{20};

bool Truthy(std::optional<std::string_view> value) {
  return value.has_value() && (*value == "true" || *value == "1" || *value == "True");
}

}  // namespace

class ApiServer::WatchSession : public WatchPump::Task {
 public:
  WatchSession(ApiServer& api, const ResourceTarget& target, const HttpRequest& request,
               QuerySelectors selectors)
      : api_(api),
        target_(target),
        selectors_(std::move(selectors)),
        filtered_(!selectors_.empty()),
        bookmarks_(Truthy(request.Query("allowWatchBookmarks"))),
        table_(WantsTable(request)),
        include_(IncludeObjectOf(request)) {}

  std::optional<json::object> ToObject(const std::string& text) {
    boost::system::error_code ec;
    json::value value = ParseJson(api_.objects_.Present(target_, text), ec);
    if (ec || !value.is_object()) {
      return std::nullopt;
    }
    return std::move(value.as_object());
  }
  bool Matches(const json::object& object) const { return selectors_.Matches(object); }

  std::string Line(const char* type, const json::object& object) const {
    if (table_) {
      json::object t = MakeTable(*target_.type, {object}, include_, json::object(),
                                 std::chrono::system_clock::now());
      return fmt::format("{{\"type\":\"{}\",\"object\":{}}}\n", type, json::serialize(t));
    }
    return fmt::format("{{\"type\":\"{}\",\"object\":{}}}\n", type, json::serialize(object));
  }
  // The same from an event rendered once for every watcher.
  std::string Line(const char* type, const WatchEventCache::Rendered& rendered) const {
    if (table_) {
      return Line(type, *rendered.object);
    }
    return fmt::format("{{\"type\":\"{}\",\"object\":{}}}\n", type, rendered.json);
  }

  std::string Bookmark(bool initial_end) const {
    json::object meta{{"resourceVersion", std::to_string(last_revision_)}};
    if (initial_end) {
      meta["annotations"] = json::object{{"k8s.io/initial-events-end", "true"}};
    }
    json::object object{{"kind", target_.type->kind},
                        {"apiVersion", target_.type->GroupVersion()},
                        {"metadata", std::move(meta)}};
    return fmt::format("{{\"type\":\"BOOKMARK\",\"object\":{}}}\n", json::serialize(object));
  }

  std::optional<SteadyClock::time_point> Run(SteadyClock::time_point now) override {
    if (out_->closed()) {
      return std::nullopt;
    }
    if (now >= deadline_) {
      out_->End();
      return std::nullopt;
    }
    // Lines go out a quarter of the writer's queue at a time, and the next
    // part waits until the client has taken most of the last one: a large
    // initial list or a burst of large events never overfills the queue of
    // a client that keeps up (the queue is bounded: past it the watch ends).
    if (out_->queued_bytes() > out_->queue_limit() / 4) {
      if (stream_->FellBehind()) {
        // Its client takes nothing while a queue's worth of events waits in
        // the store's hub too: too slow, ended (it watches again or lists).
        Logger(Component::kApiserver).info("watch ended: the client does not read fast enough");
        out_->End();
        return std::nullopt;
      }
      return now + kDrainPoll;
    }
    const size_t budget = std::max<size_t>(out_->queue_limit() / 4, 1);
    std::string chunk;
    while (!initial_lines_.empty() && chunk.size() < budget) {
      chunk += initial_lines_.front();
      initial_lines_.pop_front();
    }
    bool fetched = false;
    if (initial_lines_.empty() && pending_.empty() && chunk.size() < budget) {
      // Never waits: the pump runs this when the stream has something.
      auto events = stream_->Next(now);
      if (!events.ok() && events.status().code() == absl::StatusCode::kUnavailable) {
        return now + kBusyRetry;  // every store reader busy: its backlog page later
      }
      if (!events.ok()) {
        if (events.status().code() == absl::StatusCode::kResourceExhausted ||
            events.status().code() == absl::StatusCode::kOutOfRange) {
          HttpError gone = ToHttpError(ApiError(410, "Expired", MessageOf(events.status())));
          chunk += fmt::format("{{\"type\":\"ERROR\",\"object\":{}}}\n", gone.body);
        }
        out_->Write(std::move(chunk));
        out_->End();
        return std::nullopt;
      }
      fetched = !events->empty();
      pending_.assign(std::make_move_iterator(events->begin()),
                      std::make_move_iterator(events->end()));
    }
    while (initial_lines_.empty() && !pending_.empty() && chunk.size() < budget) {
      chunk += LineOf(pending_.front());
      pending_.pop_front();
    }
    const bool more = fetched || !initial_lines_.empty() || !pending_.empty();
    if (bookmarks_ && now >= next_bookmark_ && !more) {
      chunk += Bookmark(false);
      next_bookmark_ = now + api_.options_.bookmark_interval;
    }
    if (!chunk.empty() && !out_->Write(std::move(chunk))) {
      return std::nullopt;
    }
    auto next = deadline_;
    if (bookmarks_) {
      next = std::min(next, next_bookmark_);
    }
    if (!notifies_) {
      next = std::min(next, now + std::chrono::seconds(1));
    }
    // More may wait (what is left of this batch, a backlog page, or events
    // published meanwhile) that no notification announces: run again soon.
    if (more) {
      next = std::min(next, now + kDrainPoll);
    }
    return next;
  }

  // The line a watcher gets for one stored event, or nothing (another
  // collection, unreadable, or outside the selectors).
  std::string LineOf(const EventPtr& event) {
    last_revision_ = event->kv.mod_revision;
    const std::string prefix = target_.CollectionPrefix();
    if (event->kv.key.compare(0, prefix.size(), prefix) != 0) {
      return {};
    }
    auto rendered = api_.watch_events_->Get(event, target_.type, [this](const Event& e) {
      WatchEventCache::Rendered r;
      r.object = ToObject(e.kv.value);
      if (r.object.has_value()) {
        if (e.type == EventType::kDelete) {
          Metadata(*r.object)["resourceVersion"] = std::to_string(e.kv.mod_revision);
        }
        r.json = json::serialize(*r.object);
      }
      return r;
    });
    if (!rendered->object.has_value()) {
      return {};
    }
    if (event->type == EventType::kDelete) {
      if (!filtered_ || matched_.erase(event->kv.key) > 0) {
        return Line("DELETED", *rendered);
      }
      return {};
    }
    if (!filtered_) {
      return Line(event->kv.create_revision == event->kv.mod_revision ? "ADDED" : "MODIFIED",
                  *rendered);
    }
    if (Matches(*rendered->object)) {
      bool known = !matched_.insert(event->kv.key).second;
      return Line(known ? "MODIFIED" : "ADDED", *rendered);
    }
    if (matched_.erase(event->kv.key) > 0) {
      return Line("DELETED", *rendered);
    }
    return {};
  }

  ApiServer& api_;
  ResourceTarget target_;
  QuerySelectors selectors_;
  const bool filtered_;
  const bool bookmarks_;
  const bool table_;
  const IncludeObject include_;
  std::unordered_set<std::string> matched_;
  int64_t last_revision_ = 0;
  SteadyClock::time_point deadline_;
  SteadyClock::time_point next_bookmark_;
  std::unique_ptr<WatchStream> stream_;
  std::shared_ptr<ResponseStream> out_;
  bool notifies_ = false;
  // Not yet written: the initial events, then what is left of the last batch.
  std::deque<std::string> initial_lines_;
  std::deque<EventPtr> pending_;
};

void ApiServer::Watch(const ResourceTarget& target, const HttpRequest& request,
                      ResponseWriter& writer) {
  auto parsed_selectors =
      QuerySelectors::Parse(request.Query("labelSelector"), request.Query("fieldSelector"));
  if (!parsed_selectors.ok()) {
    SendError(writer, BadRequest(MessageOf(parsed_selectors.status())));
    return;
  }
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
  const bool send_initial = Truthy(request.Query("sendInitialEvents"));
  auto rv_param = request.Query("resourceVersion");
  const bool from_now =
      !rv_param.has_value() || rv_param->empty() || *rv_param == "0" || send_initial;
  auto session = std::make_shared<WatchSession>(*this, target, request, *parsed_selectors);
  const QuerySelectors& selectors = session->selectors_;

  std::string prefix = target.CollectionPrefix();
  if (const std::string* name = selectors.fields.Required("metadata.name");
      name != nullptr && (target.namespace_name.empty() == !target.type->namespaced)) {
    prefix += *name;  // the filter still applies to longer names
  }

  int64_t start = 0;
  if (from_now) {
    auto list = objects_.List(target.CollectionPrefix(), "", 0, 0);
    if (!list.ok()) {
      SendError(writer, list.status());
      return;
    }
    start = list->revision;
    for (const auto& kv : list->items) {
      auto object = session->ToObject(kv.value);
      if (!object.has_value() || !session->Matches(*object)) {
        continue;
      }
      session->matched_.insert(kv.key);
      session->initial_lines_.push_back(session->Line("ADDED", *object));
    }
  } else {
    auto parsed = ParseInteger<int64_t>(*rv_param);
    if (!parsed.has_value() || *parsed < 0) {
      SendError(writer, BadRequest(fmt::format("invalid resourceVersion \"{}\"", *rv_param)));
      return;
    }
    start = *parsed;
    if (start > objects_.Revision()) {
      SendError(writer, TooLargeResourceVersionError(start, objects_.Revision()));
      return;
    }
    if (session->filtered_ && start >= objects_.CompactedRevision()) {
      // What matched at the start decides ADDED/MODIFIED/DELETED later.
      auto list = objects_.List(target.CollectionPrefix(), "", 0, start);
      if (list.ok()) {
        for (const auto& kv : list->items) {
          auto object = session->ToObject(kv.value);
          if (object.has_value() && session->Matches(*object)) {
            session->matched_.insert(kv.key);
          }
        }
      }
    }
  }
  auto stream = objects_.Watch(prefix, start);
  if (!stream.ok()) {
    if (stream.status().code() != absl::StatusCode::kOutOfRange) {
      SendError(writer, stream.status());
      return;
    }
    HttpError gone = ToHttpError(ApiError(
        410, "Expired",
        fmt::format("too old resource version: {} ({})", start, objects_.CompactedRevision())));
    auto out = writer.StartStream(200, kJson);
    out->Write(fmt::format("{{\"type\":\"ERROR\",\"object\":{}}}\n", gone.body));
    out->End();
    return;
  }
  session->stream_ = std::move(*stream);
  session->out_ = writer.StartStream(200, kJson);
  session->last_revision_ = start;
  if (send_initial && session->bookmarks_) {
    session->initial_lines_.push_back(session->Bookmark(true));
  }
  const auto now = SteadyClock::now();
  session->deadline_ = now + timeout;
  session->next_bookmark_ = now + options_.bookmark_interval;
  // Told before it is added, so no wake-up is lost and the pump cannot
  // drop the session while these are set.
  WatchPump* pump = watch_pump_.get();
  uint64_t id = pump->NewId();
  session->out_->OnClosed([pump, id] { pump->Wake(id); });
  session->notifies_ = session->stream_->SetNotify([pump, id] { pump->Wake(id); });
  // Run where its connection is written: no hand-off per event, and the
  // watches are spread over every IO loop.
  WatchPump::Lane lane{session->out_->loop_id(), session->out_->loop()};
  pump->Add(id, std::move(session), std::move(lane));
}

}  // namespace bulkhead::controlplane
