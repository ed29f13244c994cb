#include "controlplane/apiserver/registry/informer.h"

#include <set>

#include "common/logging.h"
#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/object_meta.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

constexpr std::chrono::milliseconds kWatchWait{1000};
constexpr std::chrono::milliseconds kRetryAfter{100};

ObjectPtr Decode(const std::string& value) {
  boost::system::error_code ec;
  json::value parsed = ParseJson(value, ec);
  if (ec || !parsed.is_object()) {
    return nullptr;
  }
  return std::make_shared<const json::object>(std::move(parsed.as_object()));
}

}  // namespace

Informer::Informer(Client& client, ObjectRef collection)
    : client_(client), collection_(std::move(collection)) {}

Informer::~Informer() { Stop(); }

void Informer::AddHandler(std::function<void(const InformerEvent&)> handler) {
  handlers_.push_back(std::move(handler));
}

void Informer::Start() {
  if (!thread_.joinable()) {
    thread_ = std::thread([this] { Run(); });
  }
}

void Informer::Stop() {
  {
    std::lock_guard lock(wake_->mu);
    stopping_ = true;
  }
  wake_->changed.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return synced_changed_.wait_for(lock, timeout, [this] { return synced_; });
}

ObjectPtr Informer::Get(const std::string& namespace_name, const std::string& name) const {
  ObjectRef ref = collection_;
  ref.namespace_name = namespace_name;
  ref.name = name;
  auto target = client_.Target(ref);
  if (!target.ok()) {
    return nullptr;
  }
  std::lock_guard lock(mu_);
  auto cached = cache_.find(target->Key());
  return cached == cache_.end() ? nullptr : cached->second.second;
}

std::vector<ObjectPtr> Informer::List(const std::string& namespace_name) const {
  // Keys are store keys, so one namespace's objects are one range of them.
  std::string prefix;
  if (!namespace_name.empty()) {
    ObjectRef ref = collection_;
    ref.namespace_name = namespace_name;
    auto target = client_.Target(ref);
    if (!target.ok()) {
      return {};
    }
    prefix = target->CollectionPrefix();
  }
  std::lock_guard lock(mu_);
  std::vector<ObjectPtr> out;
  for (auto it = cache_.lower_bound(prefix); it != cache_.end() && it->first.starts_with(prefix);
       ++it) {
    out.push_back(it->second.second);
  }
  return out;
}

void Informer::Tell(const InformerEvent& event) {
  for (const auto& handler : handlers_) {
    handler(event);
  }
}

StatusOr<int64_t> Informer::Relist() {
  BH_ASSIGN_OR_RETURN(ResourceTarget target, client_.Target(collection_));
  ObjectRegistry& objects = client_.objects();
  BH_ASSIGN_OR_RETURN(ListResult all, objects.ListAll(target.CollectionPrefix()));
  const int64_t at = all.revision;
  std::map<std::string, std::pair<int64_t, std::string>> listed;
  for (KeyValue& kv : all.items) {
    listed[kv.key] = {kv.mod_revision, std::move(kv.value)};
  }
  std::vector<InformerEvent> events;
  {
    std::lock_guard lock(mu_);
    for (auto it = cache_.begin(); it != cache_.end();) {
      if (!listed.contains(it->first)) {
        events.push_back({InformerEvent::Type::kDeleted, it->second.second, at});
        it = cache_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [key, entry] : listed) {
      auto cached = cache_.find(key);
      if (cached != cache_.end() && cached->second.first == entry.first) {
        continue;  // unchanged
      }
      ObjectPtr object = Decode(objects.Present(target, entry.second));
      if (object == nullptr) {
        continue;
      }
      InformerEvent::Type type = InformerEvent::Type::kAdded;
      if (cached != cache_.end()) {
        // Deleted and made again under the same name while the watch was
        // down: another object (its uid), so the old one is told deleted.
        if (MetaString(*cached->second.second, "uid") != MetaString(*object, "uid")) {
          events.push_back({InformerEvent::Type::kDeleted, cached->second.second, at});
        } else {
          type = InformerEvent::Type::kModified;
        }
      }
      events.push_back({type, object, entry.first});
      cache_[key] = {entry.first, object};
    }
  }
  ++lists_;
  for (const InformerEvent& event : events) {
    Tell(event);
  }
  {
    std::lock_guard lock(mu_);
    synced_ = true;
  }
  synced_changed_.notify_all();
  return at;
}

void Informer::Apply(const Event& event) {
  InformerEvent told;
  told.revision = event.kv.mod_revision;
  {
    std::lock_guard lock(mu_);
    if (event.type == EventType::kDelete) {
      auto cached = cache_.find(event.kv.key);
      if (cached == cache_.end()) {
        return;
      }
      told.type = InformerEvent::Type::kDeleted;
      told.object = cached->second.second;
      cache_.erase(cached);
    } else {
      auto target = client_.Target(collection_);
      ObjectPtr object =
          Decode(target.ok() ? client_.objects().Present(*target, event.kv.value) : event.kv.value);
      if (object == nullptr) {
        return;
      }
      told.type = cache_.contains(event.kv.key) ? InformerEvent::Type::kModified
                                                : InformerEvent::Type::kAdded;
      told.object = object;
      cache_[event.kv.key] = {event.kv.mod_revision, object};
    }
  }
  Tell(told);
}

void Informer::Run() {
  auto log = Logger(Component::kApiserver);
  while (!stopping_) {
    StatusOr<int64_t> revision = Relist();
    if (!revision.ok()) {
      log.warn("informer list failed resource={} error=\"{}\"", collection_.resource,
               MessageOf(revision.status()));
      std::this_thread::sleep_for(kRetryAfter);
      continue;
    }
    auto stream = client_.Watch(collection_, *revision);
    if (!stream.ok()) {
      std::this_thread::sleep_for(kRetryAfter);
      continue;  // compacted meanwhile: list again
    }
    // Woken by the store when events wait (or by Stop), never polling; a
    // stream that cannot notify is read with a timed wait instead.
    auto wake = wake_;
    bool notified = (*stream)->SetNotify([wake] {
      {
        std::lock_guard lock(wake->mu);
        wake->pending = true;
      }
      wake->changed.notify_one();
    });
    // The store tells only when a watcher's queue stops being empty, so
    // after a batch (a backlog comes a page at a time) or a read that could
    // not be served, read again before waiting.
    bool more = true;
    while (!stopping_) {
      auto deadline = std::chrono::steady_clock::now() + kWatchWait;
      if (more) {
        deadline = std::chrono::steady_clock::now();
      } else if (notified) {
        std::unique_lock lock(wake->mu);
        wake->changed.wait(lock, [&] { return wake->pending || stopping_.load(); });
        wake->pending = false;
        deadline = std::chrono::steady_clock::now();
      }
      if (stopping_) {
        break;
      }
      auto events = (*stream)->Next(deadline);
      if (!events.ok()) {
        if (events.status().code() == absl::StatusCode::kUnavailable) {
          std::this_thread::sleep_for(kRetryAfter);  // nothing lost: read again
          more = true;
          continue;
        }
        if (events.status().code() == absl::StatusCode::kCancelled) {
          return;  // the store closed
        }
        log.info("informer relists resource={} reason=\"{}\"", collection_.resource,
                 MessageOf(events.status()));
        break;  // compacted (410) or fell behind: list again
      }
      more = !events->empty();
      for (const EventPtr& event : *events) {
        Apply(*event);
      }
    }
  }
}

}  // namespace bulkhead::controlplane
