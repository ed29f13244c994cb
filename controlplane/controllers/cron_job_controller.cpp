#include "controlplane/controllers/cron_job_controller.h"

#include <algorithm>
#include <boost/json.hpp>
#include <limits>
#include <set>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/registry/propagation.h"
#include "controlplane/controllers/job_controller.h"
#include "controlplane/controllers/object_helpers.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;
using SystemClock = std::chrono::system_clock;

constexpr char kScheduledTimestamp[] = "batch.kubernetes.io/cronjob-scheduled-timestamp";
// More missed times than this and Kubernetes warns (the latest still runs).
constexpr int kManyMissed = 100;
// Deadlines are cut to 50 years, so no time arithmetic overflows.
constexpr int64_t kMaxSeconds = int64_t{50} * 365 * 24 * 3600;
// A CronJob is looked at this long after its next time (as Kubernetes does).
constexpr auto kAfterNextTime = std::chrono::milliseconds(100);
constexpr auto kMaxDelay = std::chrono::milliseconds(std::chrono::hours(24));

enum class Outcome { kRunning, kComplete, kFailed };

// A Job is finished when its Complete or Failed condition is True.
Outcome OutcomeOf(const json::object& job) {
  const json::value* conditions = PathValue(job, ".status.conditions");
  if (conditions == nullptr || !conditions->is_array()) {
    return Outcome::kRunning;
  }
  for (const auto& condition : conditions->as_array()) {
    if (!condition.is_object() || StringField(condition.as_object(), "status") != "True") {
      continue;
    }
    const std::string type = StringField(condition.as_object(), "type");
    if (type == "Complete") {
      return Outcome::kComplete;
    }
    if (type == "Failed") {
      return Outcome::kFailed;
    }
  }
  return Outcome::kRunning;
}

// startingDeadlineSeconds when set and not negative, cut to 50 years.
std::optional<int64_t> StartingDeadline(const json::object& cron_job) {
  const json::value* value = PathValue(cron_job, ".spec.startingDeadlineSeconds");
  if (value == nullptr || !(value->is_int64() || value->is_uint64())) {
    return std::nullopt;
  }
  if (value->is_uint64()) {
    return kMaxSeconds;
  }
  if (value->as_int64() < 0) {
    return std::nullopt;
  }
  return std::min(value->as_int64(), kMaxSeconds);
}

// A history limit; nothing (no limit) when unset or not a number.
std::optional<int64_t> HistoryLimit(const json::object& cron_job, std::string_view path) {
  const json::value* value = PathValue(cron_job, path);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (value->is_int64()) {
    return std::max<int64_t>(value->as_int64(), 0);
  }
  if (value->is_uint64()) {
    return std::numeric_limits<int64_t>::max();
  }
  return std::nullopt;
}

json::object ReferenceTo(const json::object& job) {
  return json::object{{"apiVersion", "batch/v1"},
                      {"kind", "Job"},
                      {"namespace", MetaString(job, "namespace")},
                      {"name", MetaString(job, "name")},
                      {"uid", MetaString(job, "uid")},
                      {"resourceVersion", MetaString(job, "resourceVersion")}};
}

// The Job a CronJob starts for `scheduled`.
json::object JobFor(const json::object& cron_job, SystemClock::time_point scheduled) {
  const json::value* job_template = PathValue(cron_job, ".spec.jobTemplate");
  json::object meta;
  if (job_template != nullptr && job_template->is_object()) {
    if (const json::value* m = job_template->as_object().if_contains("metadata");
        m != nullptr && m->is_object()) {
      for (const char* field : {"labels", "annotations"}) {
        if (const json::value* v = m->as_object().if_contains(field); v != nullptr) {
          meta[field] = *v;
        }
      }
    }
  }
  const auto minutes =
      std::chrono::duration_cast<std::chrono::minutes>(scheduled.time_since_epoch()).count();
  meta["name"] = MetaString(cron_job, "name") + "-" + std::to_string(minutes);
  meta["ownerReferences"] = json::array{ControllerReference(cron_job)};
  json::object job{{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", std::move(meta)}};
  SetAnnotation(job, kScheduledTimestamp, FormatRfc3339(scheduled));
  if (job_template != nullptr && job_template->is_object()) {
    if (const json::value* spec = job_template->as_object().if_contains("spec")) {
      job["spec"] = *spec;
    }
  }
  return job;
}

std::chrono::milliseconds DelayOf(SystemClock::duration remaining) {
  return std::clamp(std::chrono::ceil<std::chrono::milliseconds>(remaining),
                    std::chrono::milliseconds(1), kMaxDelay);
}

}  // namespace

MissedRun MostRecentMissedRun(const CronSchedule& schedule, SystemClock::time_point earliest,
                              SystemClock::time_point now) {
  MissedRun run;
  if (earliest >= now) {
    return run;
  }
  int missed = 0;
  for (auto at = schedule.Next(earliest); at && *at <= now && missed <= kManyMissed;
       at = schedule.Next(*at)) {
    run.latest = at;
    ++missed;
  }
  if (missed <= kManyMissed) {
    return run;
  }
  run.many = true;
  // Many missed: look back from now in windows that double until one holds
  // a time, then walk to the last. The window before held none, so the walk
  // is over at most one window's half.
  for (auto window = std::chrono::hours(1); now - window > *run.latest; window *= 2) {
    if (auto first = schedule.Next(now - window); first && *first <= now) {
      run.latest = first;
      break;
    }
  }
  for (auto at = schedule.Next(*run.latest); at && *at <= now; at = schedule.Next(*at)) {
    run.latest = at;
  }
  return run;
}

CronJobController::CronJobController(Client& client, Informer& cron_jobs, Informer& jobs,
                                     Clock clock)
    : Controller("cronjob", 1),
      client_(client),
      cron_jobs_(cron_jobs),
      jobs_(jobs),
      clock_(std::move(clock)) {
  cron_jobs_.AddHandler([this](const InformerEvent& event) { Enqueue(KeyOf(*event.object)); });
  jobs_.AddHandler([this](const InformerEvent& event) {
    auto owner = ControllerOf(*event.object);
    if (owner && owner->kind == "CronJob") {
      Enqueue(MetaString(*event.object, "namespace") + "/" + owner->name);
    }
  });
}

StatusOr<std::optional<json::object>> CronJobController::StartJob(
    const json::object& cron_job, SystemClock::time_point scheduled) {
  const std::string ns = MetaString(cron_job, "namespace");
  json::object job = JobFor(cron_job, scheduled);
  const std::string job_name = MetaString(job, "name");
  auto created = client_.Create(In(kJobsRef, ns), std::move(job));
  if (created.ok()) {
    return std::optional<json::object>(ReferenceTo(*created));
  }
  if (ToHttpError(created.status()).code != 409) {
    return created.status();
  }
  // Started before (its status was not written then), or someone else's.
  auto existing = client_.Get(In(kJobsRef, ns, job_name));
  if (!existing.ok()) {
    return existing.status();
  }
  auto owner = ControllerOf(*existing);
  if (!owner || owner->uid != MetaString(cron_job, "uid")) {
    return absl::AlreadyExistsError("job \"" + job_name + "\" is in the way of cronjob \"" +
                                    MetaString(cron_job, "name") +
                                    "\": it is not the cronjob's; delete or rename it");
  }
  if (OutcomeOf(*existing) != Outcome::kRunning) {
    return std::optional<json::object>();
  }
  return std::optional<json::object>(ReferenceTo(*existing));
}

StatusOr<std::vector<std::string>> CronJobController::TrimHistory(
    const json::object& cron_job, const std::vector<ObjectPtr>& jobs) {
  std::vector<ObjectPtr> succeeded;
  std::vector<ObjectPtr> failed;
  for (const ObjectPtr& job : jobs) {
    if (IsTerminating(*job)) {
      continue;
    }
    Outcome outcome = OutcomeOf(*job);
    if (outcome == Outcome::kComplete) {
      succeeded.push_back(job);
    } else if (outcome == Outcome::kFailed) {
      failed.push_back(job);
    }
  }
  std::vector<std::string> deleted;
  const std::string ns = MetaString(cron_job, "namespace");
  const auto trim = [&](std::vector<ObjectPtr>& finished, std::optional<int64_t> limit) -> Status {
    if (!limit || static_cast<int64_t>(finished.size()) <= *limit) {
      return absl::OkStatus();
    }
    // Oldest start first; Jobs that never started count as the newest.
    std::sort(finished.begin(), finished.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
      auto started_a = ParseRfc3339(StringAt(*a, ".status.startTime"));
      auto started_b = ParseRfc3339(StringAt(*b, ".status.startTime"));
      if (started_a.has_value() != started_b.has_value()) {
        return started_a.has_value();
      }
      if (started_a != started_b) {
        return *started_a < *started_b;
      }
      return MetaString(*a, "name") < MetaString(*b, "name");
    });
    const auto excess = static_cast<int64_t>(finished.size()) - *limit;
    for (int64_t i = 0; i < excess; ++i) {
      const json::object& job = *finished[i];
      Status gone = client_.Delete(In(kJobsRef, ns, MetaString(job, "name")),
                                   {MetaString(job, "uid"), "", Propagation::kBackground});
      if (!Settles(gone)) {
        return gone;
      }
      deleted.push_back(MetaString(job, "uid"));
    }
    return absl::OkStatus();
  };
  BH_RETURN_IF_ERROR(trim(succeeded, HistoryLimit(cron_job, ".spec.successfulJobsHistoryLimit")));
  BH_RETURN_IF_ERROR(trim(failed, HistoryLimit(cron_job, ".spec.failedJobsHistoryLimit")));
  return deleted;
}

Status CronJobController::Reconcile(const std::string& key) {
  const auto [ns, name] = SplitKey(key);
  ObjectPtr cron_job = cron_jobs_.Get(ns, name);
  if (cron_job == nullptr) {
    return absl::OkStatus();
  }
  const std::string uid = MetaString(*cron_job, "uid");
  std::vector<ObjectPtr> owned;
  std::map<std::string, ObjectPtr> owned_by_uid;
  for (const ObjectPtr& job : jobs_.List(ns)) {
    auto owner = ControllerOf(*job);
    if (owner && owner->uid == uid) {
      owned.push_back(job);
      owned_by_uid[MetaString(*job, "uid")] = job;
    }
  }
  const json::value* current = cron_job->if_contains("status");
  const json::object current_status =
      current != nullptr && current->is_object() ? current->as_object() : json::object();
  json::object status = current_status;

  // status.active: the Jobs it started that exist and have not finished. One
  // not in the cache yet is asked for, so a lagging cache drops nothing.
  json::array active;
  if (const json::value* listed = current_status.if_contains("active");
      listed != nullptr && listed->is_array()) {
    for (const auto& ref : listed->as_array()) {
      if (!ref.is_object()) {
        continue;
      }
      const std::string ref_uid = StringField(ref.as_object(), "uid");
      const std::string ref_name = StringField(ref.as_object(), "name");
      if (ref_uid.empty() || ref_name.empty()) {
        continue;  // not a reference to anything
      }
      auto cached = owned_by_uid.find(ref_uid);
      if (cached != owned_by_uid.end()) {
        if (OutcomeOf(*cached->second) == Outcome::kRunning) {
          active.push_back(ref);
        }
        continue;
      }
      auto found = client_.Get(In(kJobsRef, ns, ref_name));
      if (!found.ok() && ToHttpError(found.status()).code != 404) {
        return found.status();
      }
      if (found.ok() && MetaString(*found, "uid") == ref_uid &&
          OutcomeOf(*found) == Outcome::kRunning) {
        active.push_back(ref);
      }
    }
  }
  // status.lastSuccessfulTime: the latest completion of a Job of it.
  auto last_success = ParseRfc3339(StringAt(current_status, ".lastSuccessfulTime"));
  for (const ObjectPtr& job : owned) {
    if (OutcomeOf(*job) != Outcome::kComplete) {
      continue;
    }
    auto completed = ParseRfc3339(StringAt(*job, ".status.completionTime"));
    if (completed && (!last_success || *completed > *last_success)) {
      last_success = completed;
    }
  }
  if (last_success) {
    status["lastSuccessfulTime"] = FormatRfc3339(*last_success);
  }

  const bool terminating = IsTerminating(*cron_job);
  Status first_error = absl::OkStatus();
  if (!terminating) {
    auto trimmed = TrimHistory(*cron_job, owned);
    if (!trimmed.ok()) {
      first_error = trimmed.status();
    } else {
      const std::set<std::string> gone(trimmed->begin(), trimmed->end());
      active.erase(std::remove_if(active.begin(), active.end(),
                                  [&](const json::value& ref) {
                                    return gone.contains(StringField(ref.as_object(), "uid"));
                                  }),
                   active.end());
    }
  }

  const json::value* suspend = PathValue(*cron_job, ".spec.suspend");
  const bool suspended = suspend != nullptr && suspend->is_bool() && suspend->as_bool();
  auto schedule = CronSchedule::Parse(StringAt(*cron_job, ".spec.schedule"));
  // Stored before admission checked it, or in another time zone: not run.
  const std::string zone = StringAt(*cron_job, ".spec.timeZone");
  const bool runnable = !terminating && !suspended && schedule.ok() &&
                        (zone.empty() || zone == "UTC" || zone == "Etc/UTC");
  if (runnable && first_error.ok()) {
    const SystemClock::time_point now = clock_();
    auto earliest = ParseRfc3339(StringAt(current_status, ".lastScheduleTime"));
    if (!earliest) {
      earliest = ParseRfc3339(MetaString(*cron_job, "creationTimestamp")).value_or(now);
    }
    const auto deadline = StartingDeadline(*cron_job);
    if (deadline) {
      earliest = std::max(*earliest, now - std::chrono::seconds(*deadline));
    }
    MissedRun run = MostRecentMissedRun(*schedule, *earliest, now);
    const std::string policy = StringAt(*cron_job, ".spec.concurrencyPolicy");
    const bool too_late =
        run.latest && deadline && *run.latest + std::chrono::seconds(*deadline) < now;
    if (run.latest && !too_late && !(policy == "Forbid" && !active.empty())) {
      if (policy == "Replace") {
        for (const auto& ref : active) {
          Status gone =
              client_.Delete(In(kJobsRef, ns, StringField(ref.as_object(), "name")),
                             {StringField(ref.as_object(), "uid"), "", Propagation::kBackground});
          if (!Settles(gone)) {
            return gone;
          }
        }
        active.clear();
      }
      auto started = StartJob(*cron_job, *run.latest);
      if (!started.ok()) {
        first_error = started.status();
      } else {
        const bool listed =
            *started && std::any_of(active.begin(), active.end(), [&](const json::value& ref) {
              return StringField(ref.as_object(), "uid") == StringField(**started, "uid");
            });
        if (*started && !listed) {
          active.push_back(std::move(**started));
        }
        status["lastScheduleTime"] = FormatRfc3339(*run.latest);
      }
    }
    if (auto next = schedule->Next(now)) {
      EnqueueAfter(key, DelayOf(*next - now) + kAfterNextTime);
    }
  }

  // Kubernetes leaves an empty active list out.
  if (active.empty()) {
    status.erase("active");
  } else {
    status["active"] = std::move(active);
  }
  if (status != current_status) {
    auto written = client_.Mutate(In(kCronJobsRef, ns, name, "status"), [&](json::object& next) {
      // Times never go back, whatever the cache this pass read was.
      json::object fresh = status;
      for (const char* field : {"lastScheduleTime", "lastSuccessfulTime"}) {
        const std::string path = std::string(".status.") + field;
        auto stored = ParseRfc3339(StringAt(next, path));
        auto ours = ParseRfc3339(StringAt(fresh, std::string(".") + field));
        if (stored && (!ours || *stored > *ours)) {
          fresh[field] = FormatRfc3339(*stored);
        }
      }
      next["status"] = std::move(fresh);
      return absl::OkStatus();
    });
    if (!written.ok() && ToHttpError(written.status()).code != 404) {
      return written.status();
    }
  }
  return first_error;
}

}  // namespace bulkhead::controlplane::controllers
