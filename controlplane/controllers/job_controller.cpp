#include "controlplane/controllers/job_controller.h"

#include <algorithm>
#include <boost/json.hpp>
#include <limits>

#include "common/strings.h"
#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/controllers/object_helpers.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;
using SystemClock = std::chrono::system_clock;

// Pods created or deleted in one pass; the rest in the next.
constexpr int64_t kBurst = 500;
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
// Deadlines and TTLs are cut to 50 years (times read are before 2200, so
// no time arithmetic overflows); a wait is re-checked after a day at most.
constexpr int64_t kMaxSeconds = int64_t{50} * 365 * 24 * 3600;
constexpr auto kMaxDelay = std::chrono::milliseconds(std::chrono::hours(24));
constexpr auto kMaxPodFailureBackoff = std::chrono::milliseconds(std::chrono::minutes(6));

constexpr char kIndexKey[] = "batch.kubernetes.io/job-completion-index";
constexpr char kIndexEnv[] = "JOB_COMPLETION_INDEX";
constexpr char kDefaultManager[] = "kubernetes.io/job-controller";
// The longest generateName: room is left for the 5 random characters.
constexpr size_t kMaxGenerateNameLength = 58;

constexpr char kCompletionsReached[] = "CompletionsReached";
constexpr char kCompletionsReachedMessage[] = "Reached expected number of succeeded pods";

// An integer field, absent when it is missing or not an integer (a uint64
// beyond int64 reads as the int64 maximum).
std::optional<int64_t> OptionalInt(const json::object& object, std::string_view path) {
  const json::value* value = PathValue(object, path);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (value->is_int64()) {
    return value->as_int64();
  }
  if (value->is_uint64()) {
    return static_cast<int64_t>(
        std::min<uint64_t>(value->as_uint64(), std::numeric_limits<int64_t>::max()));
  }
  return std::nullopt;
}

std::string PhaseOf(const json::object& pod) { return StringAt(pod, ".status.phase"); }

bool Ended(const json::object& pod) {
  std::string phase = PhaseOf(pod);
  return phase == "Succeeded" || phase == "Failed";
}

// Kubernetes' isPodFailed (pods are replaced when terminating or failed):
// Failed, or deleted before it succeeded.
bool CountsAsFailed(const json::object& pod) {
  std::string phase = PhaseOf(pod);
  return phase == "Failed" || (IsTerminating(pod) && phase != "Succeeded");
}

// How long to wait for `remaining`: whole milliseconds, rounded up, within
// 1 ms and a day.
std::chrono::milliseconds DelayOf(SystemClock::duration remaining) {
  return std::clamp(std::chrono::ceil<std::chrono::milliseconds>(remaining),
                    std::chrono::milliseconds(1), kMaxDelay);
}

std::optional<int64_t> IndexOf(const json::object& pod) {
  const json::value* annotations = PathValue(pod, ".metadata.annotations");
  if (annotations == nullptr || !annotations->is_object()) {
    return std::nullopt;
  }
  const json::value* value = annotations->as_object().if_contains(kIndexKey);
  if (value == nullptr || !value->is_string()) {
    return std::nullopt;
  }
  auto index = ParseInteger<int64_t>(std::string(value->as_string()));
  return index.has_value() && *index >= 0 ? index : std::nullopt;
}

int64_t Total(const IndexIntervals& intervals) {
  int64_t total = 0;
  for (const auto& interval : intervals) {
    total += interval.second - interval.first + 1;
  }
  return total;
}

// The first `count` indexes below `completions` not in `taken`.
std::vector<int64_t> FirstPendingIndexes(const IndexIntervals& taken, int64_t count,
                                         int64_t completions) {
  std::vector<int64_t> out;
  int64_t candidate = 0;
  for (const auto& interval : taken) {
    for (; candidate < completions && static_cast<int64_t>(out.size()) < count &&
           candidate < interval.first;
         ++candidate) {
      out.push_back(candidate);
    }
    candidate = std::max(candidate, interval.second + 1);
  }
  for (; candidate < completions && static_cast<int64_t>(out.size()) < count; ++candidate) {
    out.push_back(candidate);
  }
  return out;
}

// --- Conditions -------------------------------------------------------

json::array ConditionsOf(const json::object& job) {
  json::array out;
  const json::value* conditions = PathValue(job, ".status.conditions");
  if (conditions != nullptr && conditions->is_array()) {
    for (const auto& condition : conditions->as_array()) {
      if (condition.is_object()) {
        out.push_back(condition);
      }
    }
  }
  return out;
}

json::object* FindCondition(json::array& conditions, std::string_view type) {
  for (auto& condition : conditions) {
    if (condition.is_object() && StringField(condition.as_object(), "type") == type) {
      return &condition.as_object();
    }
  }
  return nullptr;
}

const json::object* FindTrue(const json::array& conditions, std::string_view type) {
  for (const auto& condition : conditions) {
    if (condition.is_object() && StringField(condition.as_object(), "type") == type &&
        StringField(condition.as_object(), "status") == "True") {
      return &condition.as_object();
    }
  }
  return nullptr;
}

// The True Complete or Failed condition of a finished Job.
const json::object* FinishedCondition(const json::array& conditions) {
  const json::object* complete = FindTrue(conditions, "Complete");
  return complete != nullptr ? complete : FindTrue(conditions, "Failed");
}

json::object NewCondition(const std::string& type, const std::string& status,
                          const std::string& reason, const std::string& message,
                          const std::string& now) {
  return json::object{{"type", type},         {"status", status},
                      {"lastProbeTime", now}, {"lastTransitionTime", now},
                      {"reason", reason},     {"message", message}};
}

// Kubernetes' ensureJobConditionStatus: sets the condition of `type`
// (appended only when not False); whether anything changed.
bool EnsureCondition(json::array& conditions, const std::string& type, const std::string& status,
                     const std::string& reason, const std::string& message,
                     const std::string& now) {
  if (json::object* condition = FindCondition(conditions, type)) {
    if (StringField(*condition, "status") != status ||
        StringField(*condition, "reason") != reason ||
        StringField(*condition, "message") != message) {
      *condition = NewCondition(type, status, reason, message, now);
      return true;
    }
    return false;
  }
  if (status != "False") {
    conditions.push_back(NewCondition(type, status, reason, message, now));
    return true;
  }
  return false;
}

// --- The Job's spec, read defensively -----------------------------------

struct JobSpec {
  int64_t parallelism = 1;
  std::optional<int64_t> completions;  // none: a work queue
  bool indexed = false;
  int64_t backoff_limit = 6;
  std::optional<int64_t> active_deadline;  // seconds
  bool suspend = false;
  bool restart_on_failure = false;
  const json::object* pod_template = nullptr;  // into the Job; null when missing
};

// Nothing for a Job this controller does not run: an unknown completion
// mode (Kubernetes skips those), or Indexed without completions.
std::optional<JobSpec> SpecOf(const json::object& job) {
  JobSpec spec;
  const json::value* mode = PathValue(job, ".spec.completionMode");
  if (mode != nullptr && !mode->is_null()) {
    if (!mode->is_string()) {
      return std::nullopt;
    }
    if (mode->as_string() == "Indexed") {
      spec.indexed = true;
    } else if (mode->as_string() != "NonIndexed") {
      return std::nullopt;
    }
  }
  // Within int32 as Kubernetes validates; objects that are not are cut.
  spec.parallelism =
      std::clamp<int64_t>(OptionalInt(job, ".spec.parallelism").value_or(1), 0, kInt32Max);
  if (auto completions = OptionalInt(job, ".spec.completions")) {
    spec.completions = std::clamp<int64_t>(*completions, 0, kInt32Max);
  }
  if (spec.indexed && !spec.completions.has_value()) {
    return std::nullopt;
  }
  spec.backoff_limit =
      std::clamp<int64_t>(OptionalInt(job, ".spec.backoffLimit").value_or(6), 0, kInt32Max);
  if (auto deadline = OptionalInt(job, ".spec.activeDeadlineSeconds"); deadline && *deadline > 0) {
    spec.active_deadline = std::min(*deadline, kMaxSeconds);
  }
  const json::value* suspend = PathValue(job, ".spec.suspend");
  spec.suspend = suspend != nullptr && suspend->is_bool() && suspend->as_bool();
  const json::value* pod_template = PathValue(job, ".spec.template");
  if (pod_template != nullptr && pod_template->is_object()) {
    spec.pod_template = &pod_template->as_object();
  }
  spec.restart_on_failure = StringAt(job, ".spec.template.spec.restartPolicy") == "OnFailure";
  return spec;
}

// When a finished Job with ttlSecondsAfterFinished is to be deleted.
std::optional<SystemClock::time_point> ExpiresAt(const json::object& job) {
  auto ttl = OptionalInt(job, ".spec.ttlSecondsAfterFinished");
  if (!ttl.has_value() || *ttl < 0) {
    return std::nullopt;
  }
  json::array conditions = ConditionsOf(job);
  const json::object* finished = FinishedCondition(conditions);
  if (finished == nullptr) {
    return std::nullopt;
  }
  auto at = ParseRfc3339(StringField(*finished, "lastTransitionTime"));
  if (!at.has_value()) {
    return std::nullopt;
  }
  return *at + std::chrono::seconds(std::min(*ttl, kMaxSeconds));
}

// --- Pods ---------------------------------------------------------------

json::object OwnerReferenceTo(const json::object& job) {
  return json::object{
      {"apiVersion", "batch/v1"},      {"kind", "Job"},      {"name", MetaString(job, "name")},
      {"uid", MetaString(job, "uid")}, {"controller", true}, {"blockOwnerDeletion", true}};
}

// Kubernetes' podGenerateNameWithIndex: "<job>-<index>-", the job's name
// cut when it is too long.
std::string GenerateNameWithIndex(const std::string& job_name, int64_t index) {
  std::string suffix = "-" + std::to_string(index) + "-";
  std::string prefix = job_name + suffix;
  if (prefix.size() > kMaxGenerateNameLength) {
    prefix = prefix.substr(0, kMaxGenerateNameLength - suffix.size()) + suffix;
  }
  return prefix;
}

void AddIndexEnv(json::object& pod_spec, const char* field) {
  json::value* containers = pod_spec.if_contains(field);
  if (containers == nullptr || !containers->is_array()) {
    return;
  }
  for (auto& item : containers->as_array()) {
    if (!item.is_object()) {
      continue;
    }
    json::value& env = item.as_object()["env"];
    if (env.is_null()) {
      env = json::array();
    }
    if (!env.is_array()) {
      continue;
    }
    bool present = std::any_of(env.as_array().begin(), env.as_array().end(), [](const auto& v) {
      return v.is_object() && StringField(v.as_object(), "name") == kIndexEnv;
    });
    if (!present) {
      env.as_array().push_back(json::object{
          {"name", kIndexEnv},
          {"valueFrom",
           json::object{{"fieldRef", json::object{{"apiVersion", "v1"},
                                                  {"fieldPath", std::string("metadata.labels['") +
                                                                    kIndexKey + "']"}}}}}});
    }
  }
}

json::object PodFor(const json::object& job, const json::object& pod_template,
                    std::optional<int64_t> index) {
  const std::string job_name = MetaString(job, "name");
  const std::string uid = MetaString(job, "uid");
  json::object meta;
  json::object labels;
  json::object annotations;
  if (const json::value* m = pod_template.if_contains("metadata"); m != nullptr && m->is_object()) {
    const json::object& template_meta = m->as_object();
    if (const json::value* v = template_meta.if_contains("labels");
        v != nullptr && v->is_object()) {
      labels = v->as_object();
    }
    if (const json::value* v = template_meta.if_contains("annotations");
        v != nullptr && v->is_object()) {
      annotations = v->as_object();
    }
    if (const json::value* v = template_meta.if_contains("finalizers");
        v != nullptr && v->is_array()) {
      meta["finalizers"] = *v;
    }
  }
  // What Kubernetes' API puts on a Job's template (its generated selector).
  labels["batch.kubernetes.io/controller-uid"] = uid;
  labels["batch.kubernetes.io/job-name"] = job_name;
  labels["controller-uid"] = uid;
  labels["job-name"] = job_name;
  json::value spec = json::object();
  if (const json::value* s = pod_template.if_contains("spec"); s != nullptr && s->is_object()) {
    spec = *s;
  }
  std::string generate_name = job_name + "-";
  if (index.has_value()) {
    const std::string text = std::to_string(*index);
    annotations[kIndexKey] = text;
    labels[kIndexKey] = text;
    generate_name = GenerateNameWithIndex(job_name, *index);
    json::object& pod_spec = spec.as_object();
    pod_spec["hostname"] = job_name + "-" + text;
    AddIndexEnv(pod_spec, "initContainers");
    AddIndexEnv(pod_spec, "containers");
  }
  meta["generateName"] = generate_name;
  meta["labels"] = std::move(labels);
  if (!annotations.empty()) {
    meta["annotations"] = std::move(annotations);
  }
  meta["ownerReferences"] = json::array{OwnerReferenceTo(job)};
  return json::object{
      {"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", std::move(meta)}, {"spec", spec}};
}

int PhaseRank(const json::object& pod) {
  std::string phase = PhaseOf(pod);
  return phase == "Running" ? 2 : phase == "Unknown" ? 1 : 0;
}

// Kubernetes' ActivePods order, the pod to delete first first: not on a
// node, pending, not ready, newest.
bool DeleteFirst(const ObjectPtr& a, const ObjectPtr& b) {
  bool a_placed = !StringAt(*a, ".spec.nodeName").empty();
  bool b_placed = !StringAt(*b, ".spec.nodeName").empty();
  if (a_placed != b_placed) {
    return !a_placed;
  }
  if (PhaseRank(*a) != PhaseRank(*b)) {
    return PhaseRank(*a) < PhaseRank(*b);
  }
  if (IsPodReady(*a) != IsPodReady(*b)) {
    return !IsPodReady(*a);
  }
  return MetaString(*a, "creationTimestamp") > MetaString(*b, "creationTimestamp");
}

// The active pods to delete for `want` to remain: for an Indexed Job, first
// those with no valid index and all but one of each index.
std::vector<ObjectPtr> PodsToRemove(std::vector<ObjectPtr> active, const JobSpec& spec,
                                    int64_t at_least) {
  std::vector<ObjectPtr> remove;
  std::vector<ObjectPtr> left;
  if (spec.indexed) {
    std::map<int64_t, std::vector<ObjectPtr>> by_index;
    for (const ObjectPtr& pod : active) {
      auto index = IndexOf(*pod);
      if (!index.has_value() || *index >= *spec.completions) {
        remove.push_back(pod);
      } else {
        by_index[*index].push_back(pod);
      }
    }
    for (auto& entry : by_index) {
      std::vector<ObjectPtr>& same = entry.second;
      std::sort(same.begin(), same.end(), DeleteFirst);
      remove.insert(remove.end(), same.begin(), same.end() - 1);
      left.push_back(same.back());
    }
  } else {
    left = std::move(active);
  }
  if (static_cast<int64_t>(remove.size()) < at_least) {
    std::sort(left.begin(), left.end(), DeleteFirst);
    auto more = std::min<int64_t>(static_cast<int64_t>(left.size()),
                                  at_least - static_cast<int64_t>(remove.size()));
    remove.insert(remove.end(), left.begin(), left.begin() + more);
  }
  return remove;
}

// Container restarts of a pod (restartPolicy OnFailure counts them).
int64_t RestartsOf(const json::object& pod) {
  int64_t restarts = 0;
  for (const char* path : {".status.initContainerStatuses", ".status.containerStatuses"}) {
    const json::value* statuses = PathValue(pod, path);
    if (statuses == nullptr || !statuses->is_array()) {
      continue;
    }
    for (const auto& status : statuses->as_array()) {
      if (status.is_object()) {
        restarts += std::clamp<int64_t>(
            OptionalInt(status.as_object(), ".restartCount").value_or(0), 0, kInt32Max);
      }
    }
  }
  return restarts;
}

// Kubernetes' getFinishedTime: when its last container ended, else when it
// stopped being ready, else when it was deleted, else now.
SystemClock::time_point FinishTime(const json::object& pod, SystemClock::time_point now) {
  std::optional<SystemClock::time_point> latest;
  for (const char* path : {".status.initContainerStatuses", ".status.containerStatuses"}) {
    const json::value* statuses = PathValue(pod, path);
    if (statuses == nullptr || !statuses->is_array()) {
      continue;
    }
    for (const auto& status : statuses->as_array()) {
      if (!status.is_object()) {
        continue;
      }
      auto at = ParseRfc3339(StringAt(status.as_object(), ".state.terminated.finishedAt"));
      if (at.has_value() && (!latest.has_value() || *at > *latest)) {
        latest = at;
      }
    }
  }
  if (latest.has_value()) {
    return *latest;
  }
  const json::value* conditions = PathValue(pod, ".status.conditions");
  if (conditions != nullptr && conditions->is_array()) {
    for (const auto& condition : conditions->as_array()) {
      if (condition.is_object() && StringField(condition.as_object(), "type") == "Ready" &&
          StringField(condition.as_object(), "status") == "False") {
        if (auto at = ParseRfc3339(StringField(condition.as_object(), "lastTransitionTime"))) {
          return *at;
        }
      }
    }
  }
  if (auto at = ParseRfc3339(MetaString(pod, "deletionTimestamp"))) {
    return *at;
  }
  return now;
}

}  // namespace

// --- Completed indexes ----------------------------------------------------

IndexIntervals ParseIndexIntervals(std::string_view text, int64_t completions) {
  IndexIntervals out;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    std::string_view piece = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    start = comma == std::string_view::npos ? text.size() : comma + 1;
    size_t dash = piece.find('-');
    auto first = ParseInteger<int64_t>(piece.substr(0, dash));
    auto last =
        dash == std::string_view::npos ? first : ParseInteger<int64_t>(piece.substr(dash + 1));
    if (!first.has_value() || !last.has_value() || *first < 0 || *last < *first ||
        *first >= completions) {
      continue;
    }
    out.emplace_back(*first, std::min(*last, completions - 1));
  }
  return MergeIndexIntervals(std::move(out));
}

IndexIntervals MergeIndexIntervals(IndexIntervals intervals) {
  std::sort(intervals.begin(), intervals.end());
  IndexIntervals out;
  for (const auto& interval : intervals) {
    if (interval.first < 0 || interval.second < interval.first) {
      continue;
    }
    if (!out.empty() && interval.first - out.back().second <= 1) {
      out.back().second = std::max(out.back().second, interval.second);
    } else {
      out.push_back(interval);
    }
  }
  return out;
}

std::string FormatIndexIntervals(const IndexIntervals& intervals) {
  std::string out;
  for (const auto& interval : intervals) {
    if (!out.empty()) {
      out += ',';
    }
    out += std::to_string(interval.first);
    if (interval.second > interval.first) {
      out += interval.second == interval.first + 1 ? ',' : '-';
      out += std::to_string(interval.second);
    }
  }
  return out;
}

// --- The controller -------------------------------------------------------

JobController::JobController(Client& client, Informer& jobs, Informer& pods,
                             std::chrono::milliseconds pod_failure_backoff)
    : Controller("job", 2),
      client_(client),
      jobs_(jobs),
      pods_(pods),
      pod_failure_backoff_(pod_failure_backoff) {
  jobs_.AddHandler([this](const InformerEvent& event) { Enqueue(KeyOf(*event.object)); });
  pods_.AddHandler([this](const InformerEvent& event) {
    auto owner = ControllerOf(*event.object);
    if (owner && owner->kind == "Job" && owner->api_version == "batch/v1") {
      Enqueue(MetaString(*event.object, "namespace") + "/" + owner->name);
    }
  });
}

void JobController::Forget(const std::string& key) {
  expectations_.Forget(key);
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

std::chrono::milliseconds JobController::PodFailureBackoff(const std::string& key,
                                                           const std::vector<ObjectPtr>& pods,
                                                           SystemClock::time_point now) {
  std::lock_guard lock(mu_);
  Failures& record = failures_[key];
  // Pods that ended since the last pass, in the order they ended (at the
  // same second, a failure before a success).
  std::vector<std::pair<SystemClock::time_point, bool>> ended;  // (when, succeeded)
  std::set<std::string> seen;
  for (const ObjectPtr& pod : pods) {
    bool succeeded = PhaseOf(*pod) == "Succeeded";
    if (!succeeded && !CountsAsFailed(*pod)) {
      continue;
    }
    std::string uid = MetaString(*pod, "uid");
    if (!record.seen.contains(uid)) {
      ended.emplace_back(FinishTime(*pod, now), succeeded);
    }
    seen.insert(std::move(uid));
  }
  record.seen = std::move(seen);
  std::sort(ended.begin(), ended.end());
  for (const auto& pod : ended) {
    if (pod.second) {
      record.after_success = 0;
    } else {
      ++record.after_success;
      record.last = std::max(record.last, pod.first);
    }
  }
  if (record.after_success == 0 || pod_failure_backoff_.count() <= 0) {
    return std::chrono::milliseconds(0);
  }
  // 10 s, doubled with each failure in a row, up to 6 min (Kubernetes').
  std::chrono::milliseconds backoff = pod_failure_backoff_;
  for (int64_t i = 1; i < record.after_success && backoff < kMaxPodFailureBackoff; ++i) {
    backoff *= 2;
  }
  backoff = std::min(backoff, std::max(kMaxPodFailureBackoff, pod_failure_backoff_));
  auto elapsed = now - record.last;
  if (elapsed >= backoff) {
    return std::chrono::milliseconds(0);
  }
  return DelayOf(backoff - elapsed);
}

Status JobController::DeletePods(const std::string& key, const std::string& ns,
                                 const std::vector<ObjectPtr>& pods, int64_t& deleted,
                                 int64_t& deleted_ready) {
  PodExpectations::Pass pass;
  Status first_error = absl::OkStatus();
  for (size_t i = 0; i < pods.size() && static_cast<int64_t>(i) < kBurst; ++i) {
    const json::object& pod = *pods[i];
    std::string pod_name = MetaString(pod, "name");
    // Only the pod seen: another one by its name is not ours to delete.
    Status status = client_.Delete(In(kPodsRef, ns, pod_name), {MetaString(pod, "uid"), ""});
    int code = status.ok() ? 200 : ToHttpError(status).code;
    if (code != 200 && code != 404 && code != 409) {
      first_error = status;
      break;
    }
    ++deleted;
    deleted_ready += IsPodReady(pod) ? 1 : 0;
    if (code == 200) {
      pass.deleted.insert(std::move(pod_name));
    }
  }
  expectations_.Expect(key, std::move(pass));
  return first_error;
}

Status JobController::ExpireFinished(const std::string& key, const json::object& job,
                                     SystemClock::time_point now) {
  auto expires = ExpiresAt(job);
  if (!expires.has_value() || IsTerminating(job)) {
    return absl::OkStatus();
  }
  if (now < *expires) {
    EnqueueAfter(key, DelayOf(*expires - now));
    return absl::OkStatus();
  }
  // The cache may lag (the TTL changed, or another Job by that name): the
  // API decides, and the delete is of the version judged only.
  const ObjectRef ref = In(kJobsRef, MetaString(job, "namespace"), MetaString(job, "name"));
  auto fresh = client_.Get(ref);
  if (!fresh.ok()) {
    return ToHttpError(fresh.status()).code == 404 ? absl::OkStatus() : fresh.status();
  }
  auto fresh_expires = ExpiresAt(*fresh);
  if (MetaString(*fresh, "uid") != MetaString(job, "uid") || !fresh_expires.has_value() ||
      IsTerminating(*fresh)) {
    return absl::OkStatus();
  }
  if (now < *fresh_expires) {
    EnqueueAfter(key, DelayOf(*fresh_expires - now));
    return absl::OkStatus();
  }
  // In the background (a Job's own default is to orphan): its pods go too.
  Status deleted = client_.Delete(
      ref,
      {MetaString(*fresh, "uid"), MetaString(*fresh, "resourceVersion"), Propagation::kBackground});
  int code = deleted.ok() ? 200 : ToHttpError(deleted).code;
  // 409: changed since it was read; its event brings it back.
  return code == 200 || code == 404 || code == 409 ? absl::OkStatus() : deleted;
}

Status JobController::Reconcile(const std::string& key) {
  // Plain strings, not a structured binding: the lambdas below capture them.
  const auto split = SplitKey(key);
  const std::string& ns = split.first;
  const std::string& name = split.second;
  ObjectPtr found = jobs_.Get(ns, name);
  if (found == nullptr) {
    Forget(key);
    return absl::OkStatus();
  }
  const json::object& job = *found;
  const SystemClock::time_point now = SystemClock::now();
  const std::string now_text = NowRfc3339();
  if (const json::value* manager = PathValue(job, ".spec.managedBy");
      manager != nullptr && manager->is_string() && !manager->as_string().empty() &&
      manager->as_string() != kDefaultManager) {
    Forget(key);
    return absl::OkStatus();
  }
  json::array conditions = ConditionsOf(job);
  if (FinishedCondition(conditions) != nullptr) {
    Forget(key);
    return ExpireFinished(key, job, now);
  }
  const std::optional<JobSpec> parsed = SpecOf(job);
  if (!parsed.has_value()) {
    Forget(key);
    return absl::OkStatus();
  }
  const JobSpec& spec = *parsed;
  const std::string uid = MetaString(job, "uid");
  // Before the pods are read: a pod created after is seen by the next pass.
  const bool settled = expectations_.Settled(key, ns);
  if (!settled) {
    EnqueueAfter(key, std::chrono::seconds(1));  // in case an event was folded
  }

  // The pods it controls.
  std::vector<ObjectPtr> pods;
  std::vector<ObjectPtr> active;
  int64_t terminating = 0;
  int64_t ready = 0;
  int64_t succeeded_pods = 0;
  int64_t failed_pods = 0;
  int64_t restarts = 0;
  for (const ObjectPtr& pod : pods_.List(ns)) {
    auto owner = ControllerOf(*pod);
    if (!owner || owner->uid != uid) {
      continue;
    }
    pods.push_back(pod);
    const std::string phase = PhaseOf(*pod);
    succeeded_pods += phase == "Succeeded" ? 1 : 0;
    failed_pods += CountsAsFailed(*pod) ? 1 : 0;
    if (IsPodActive(*pod)) {
      active.push_back(pod);
      ready += IsPodReady(*pod) ? 1 : 0;
      restarts += (phase == "Running" || phase == "Pending") ? RestartsOf(*pod) : 0;
    } else if (IsTerminating(*pod) && !Ended(*pod)) {
      ++terminating;
    }
  }
  int64_t failed =
      std::max(std::clamp<int64_t>(IntAt(job, ".status.failed", 0), 0, kInt32Max), failed_pods);
  IndexIntervals succeeded_indexes;
  int64_t succeeded = 0;
  if (spec.indexed) {
    succeeded_indexes =
        ParseIndexIntervals(StringAt(job, ".status.completedIndexes"), *spec.completions);
    for (const ObjectPtr& pod : pods) {
      auto index = IndexOf(*pod);
      if (PhaseOf(*pod) == "Succeeded" && index.has_value() && *index < *spec.completions) {
        succeeded_indexes.emplace_back(*index, *index);
      }
    }
    succeeded_indexes = MergeIndexIntervals(std::move(succeeded_indexes));
    succeeded = Total(succeeded_indexes);
  } else {
    succeeded = std::max(std::clamp<int64_t>(IntAt(job, ".status.succeeded", 0), 0, kInt32Max),
                         succeeded_pods);
  }
  const std::chrono::milliseconds creation_wait = PodFailureBackoff(key, pods, now);

  // Started when first seen not suspended; again when resumed.
  std::string start_time = StringAt(job, ".status.startTime");
  if (!spec.suspend && (start_time.empty() || !ParseRfc3339(start_time).has_value())) {
    start_time = now_text;
  }
  const bool resuming = !spec.suspend && FindTrue(conditions, "Suspended") != nullptr;

  // How it ends, if it does: an interim condition, then the final one.
  struct Finish {
    std::string interim;
    std::string final_type;
    std::string reason;
    std::string message;
  };
  std::optional<Finish> finish;
  if (const json::object* met = FindTrue(conditions, "SuccessCriteriaMet")) {
    finish = Finish{"SuccessCriteriaMet", "Complete", StringField(*met, "reason"),
                    StringField(*met, "message")};
  } else if (const json::object* target = FindTrue(conditions, "FailureTarget")) {
    finish = Finish{"FailureTarget", "Failed", StringField(*target, "reason"),
                    StringField(*target, "message")};
  } else if (failed > spec.backoff_limit ||
             (spec.restart_on_failure &&
              (spec.backoff_limit == 0 ? restarts > 0 : restarts >= spec.backoff_limit))) {
    finish = Finish{"FailureTarget", "Failed", "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit"};
  } else if (spec.active_deadline.has_value() && !spec.suspend) {
    const auto started = resuming ? now : ParseRfc3339(start_time).value_or(now);
    const auto deadline = started + std::chrono::seconds(*spec.active_deadline);
    if (now >= deadline) {
      finish = Finish{"FailureTarget", "Failed", "DeadlineExceeded",
                      "Job was active longer than specified deadline"};
    } else {
      EnqueueAfter(key, DelayOf(deadline - now));
    }
  }

  auto active_count = static_cast<int64_t>(active.size());
  int64_t terminating_after = terminating;
  Status first_error = absl::OkStatus();
  if (finish.has_value()) {
    // Ends: no pod of it runs on.
    const bool failing = finish->final_type == "Failed";
    int64_t deleted = 0;
    int64_t deleted_ready = 0;
    first_error = DeletePods(key, ns, active, deleted, deleted_ready);
    if (deleted != active_count || !settled) {
      finish.reset();  // not yet: pods remain, or the cache lags
    }
    active_count -= deleted;
    ready -= deleted_ready;
    // As Kubernetes counts them: a pod a failing Job ends has failed.
    failed += failing ? deleted : 0;
    // What was just deleted may linger (a finalizer): the final condition
    // waits for the next pass.
    terminating_after += deleted;
  } else {
    bool managed = false;
    if (settled && !IsTerminating(job)) {
      managed = true;
      int64_t want = 0;
      if (spec.suspend) {
        want = 0;
      } else if (!spec.completions.has_value()) {
        want = succeeded > 0 ? active_count : spec.parallelism;
      } else {
        want = std::clamp<int64_t>(*spec.completions - succeeded, 0, spec.parallelism);
      }
      std::vector<ObjectPtr> remove =
          PodsToRemove(active, spec, std::max<int64_t>(0, active_count - want));
      if (!remove.empty()) {
        int64_t deleted = 0;
        int64_t deleted_ready = 0;
        first_error = DeletePods(key, ns, remove, deleted, deleted_ready);
        active_count -= deleted;
        ready -= deleted_ready;
      } else if (want > active_count && spec.pod_template != nullptr) {
        if (creation_wait.count() > 0) {
          EnqueueAfter(key, creation_wait);
        } else {
          std::vector<std::optional<int64_t>> indexes;
          const int64_t count = std::min(want - active_count, kBurst);
          if (spec.indexed) {
            std::vector<std::pair<int64_t, int64_t>> taken = succeeded_indexes;
            for (const ObjectPtr& pod : active) {
              if (auto index = IndexOf(*pod)) {
                taken.emplace_back(*index, *index);
              }
            }
            for (int64_t index : FirstPendingIndexes(MergeIndexIntervals(std::move(taken)), count,
                                                     *spec.completions)) {
              indexes.emplace_back(index);
            }
          } else {
            indexes.resize(static_cast<size_t>(count));
          }
          PodExpectations::Pass pass;
          for (const std::optional<int64_t>& index : indexes) {
            auto created = client_.Create(In(kPodsRef, ns), PodFor(job, *spec.pod_template, index));
            if (!created.ok()) {
              first_error = created.status();
              break;
            }
            pass.created.insert(MetaString(*created, "name"));
            ++active_count;
          }
          expectations_.Expect(key, std::move(pass));
        }
      }
    }
    const bool complete = spec.completions.has_value()
                              ? succeeded >= *spec.completions && active_count == 0
                              : succeeded > 0 && active_count == 0;
    if (complete) {
      finish =
          Finish{"SuccessCriteriaMet", "Complete", kCompletionsReached, kCompletionsReachedMessage};
    } else if (managed) {
      if (spec.suspend) {
        EnsureCondition(conditions, "Suspended", "True", "JobSuspended", "Job suspended", now_text);
      } else if (EnsureCondition(conditions, "Suspended", "False", "JobResumed", "Job resumed",
                                 now_text)) {
        start_time = now_text;  // the deadline counts from the resume
      }
    }
  }
  std::string completion_time;
  if (finish.has_value()) {
    EnsureCondition(conditions, finish->interim, "True", finish->reason, finish->message, now_text);
    if (terminating_after == 0) {
      EnsureCondition(conditions, finish->final_type, "True", finish->reason, finish->message,
                      now_text);
      if (finish->final_type == "Complete") {
        completion_time = now_text;
      }
    }
  }

  // Kubernetes leaves zero counts out, but ready and terminating.
  json::object status;
  if (!conditions.empty()) {
    status["conditions"] = std::move(conditions);
  }
  if (!start_time.empty()) {
    status["startTime"] = start_time;
  }
  if (!completion_time.empty()) {
    status["completionTime"] = completion_time;
  }
  if (active_count > 0) {
    status["active"] = active_count;
  }
  if (succeeded > 0) {
    status["succeeded"] = succeeded;
  }
  if (failed > 0) {
    status["failed"] = failed;
  }
  if (std::string indexes = FormatIndexIntervals(succeeded_indexes); !indexes.empty()) {
    status["completedIndexes"] = indexes;
  }
  status["terminating"] = terminating;
  status["ready"] = std::max<int64_t>(0, ready);
  status["uncountedTerminatedPods"] = json::object();
  const json::value* current = job.if_contains("status");
  if (current == nullptr || !current->is_object() || current->as_object() != status) {
    // Written over the version judged only: when the cache lags, its event
    // brings the Job back.
    const std::string judged = MetaString(job, "resourceVersion");
    bool stale = false;
    auto written = client_.Mutate(In(kJobsRef, ns, name, "status"), [&](json::object& next) {
      if (MetaString(next, "resourceVersion") != judged) {
        stale = true;
        return absl::AbortedError("the job changed since it was read");
      }
      next["status"] = status;
      return absl::OkStatus();
    });
    if (!written.ok() && !stale && ToHttpError(written.status()).code != 404) {
      return written.status();
    }
  }
  return first_error;
}

}  // namespace bulkhead::controlplane::controllers
