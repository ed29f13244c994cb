#include "controlplane/apiserver/registry/kinds/job.h"

#include <boost/json.hpp>

#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/registry/kinds/cron_schedule.h"
#include "controlplane/apiserver/registry/kinds/field_checks.h"
#include "controlplane/apiserver/selectors.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

bool ManualSelector(const json::object& spec) {
  const json::value* manual = spec.if_contains("manualSelector");
  return manual != nullptr && manual->is_bool() && manual->as_bool();
}

// The JobSpec at `at` ("spec.", "spec.jobTemplate.spec."). `generated`: the
// API server makes the selector, so one sent without manualSelector is
// refused.
void ValidateJobSpec(const json::object& spec, const std::string& at, bool generated,
                     std::vector<StatusCause>& causes) {
  for (const char* count :
       {"parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
        "ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"}) {
    CheckAtLeast(spec, count, at + count, 0, causes);
  }
  CheckEnum(spec, "completionMode", at + "completionMode", {"Indexed", "NonIndexed"}, causes);
  CheckEnum(spec, "podReplacementPolicy", at + "podReplacementPolicy",
            {"Failed", "TerminatingOrFailed"}, causes);
  const json::value* completions = spec.if_contains("completions");
  if (Text(spec, "completionMode") == "Indexed" &&
      (completions == nullptr || completions->is_null())) {
    causes.push_back({"FieldValueRequired", "Required value: when completion mode is Indexed",
                      at + "completions"});
  }
  const json::object* pod_template = ObjectAt(spec, "template");
  const json::object* pod_spec =
      pod_template != nullptr ? ObjectAt(*pod_template, "spec") : nullptr;
  // Pods of a Job end: they may not restart for ever (defaulted: Always).
  const json::value* restart =
      pod_spec != nullptr ? pod_spec->if_contains("restartPolicy") : nullptr;
  const json::value always("Always");
  const json::value& policy = restart != nullptr && !restart->is_null() ? *restart : always;
  if (!policy.is_string() || (policy.as_string() != "OnFailure" && policy.as_string() != "Never")) {
    // Kubernetes lists these two in this order.
    causes.push_back(
        Unsupported(at + "template.spec.restartPolicy", policy, {"OnFailure", "Never"}));
  }
  const json::value* selector = spec.if_contains("selector");
  const bool has_selector = selector != nullptr && !selector->is_null();
  if (ManualSelector(spec)) {
    const json::value* labels =
        pod_template != nullptr ? pod_template->if_contains("metadata") : nullptr;
    const json::object none;
    const json::object* label_map = labels != nullptr && labels->is_object()
                                        ? ObjectAt(labels->as_object(), "labels")
                                        : nullptr;
    if (!has_selector) {
      causes.push_back({"FieldValueRequired", "Required value", at + "selector"});
    } else if (!MatchesLabelSelector(selector, label_map != nullptr ? *label_map : none)) {
      causes.push_back({"FieldValueInvalid",
                        fmt::format("Invalid value: {}: `selector` does not match template "
                                    "`labels`",
                                    json::serialize(label_map != nullptr ? *label_map : none)),
                        at + "template.metadata.labels"});
    }
  } else if (generated && has_selector) {
    causes.push_back({"FieldValueInvalid",
                      fmt::format("Invalid value: {}: `selector` will be auto-generated",
                                  json::serialize(*selector)),
                      at + "selector"});
  }
}

}  // namespace

std::vector<StatusCause> ValidateJob(const json::object& job, bool creating) {
  std::vector<StatusCause> causes;
  const json::object* spec = ObjectAt(job, "spec");
  if (spec == nullptr) {
    causes.push_back({"FieldValueRequired", "Required value", "spec.template"});
    return causes;
  }
  ValidateJobSpec(*spec, "spec.", creating, causes);
  return causes;
}

std::vector<StatusCause> ValidateCronJob(const json::object& cron_job) {
  std::vector<StatusCause> causes;
  const std::string name = MetaString(cron_job, "name");
  if (name.size() > kMaxCronJobNameLength) {
    causes.push_back({"FieldValueInvalid",
                      fmt::format("Invalid value: \"{}\": must be no more than {} characters", name,
                                  kMaxCronJobNameLength),
                      "metadata.name"});
  }
  const json::object* spec = ObjectAt(cron_job, "spec");
  const json::object none;
  const json::object& s = spec != nullptr ? *spec : none;
  const json::value* schedule = s.if_contains("schedule");
  if (schedule == nullptr || schedule->is_null() ||
      (schedule->is_string() && schedule->as_string().empty())) {
    causes.push_back({"FieldValueRequired", "Required value", "spec.schedule"});
  } else if (!schedule->is_string()) {
    causes.push_back(
        {"FieldValueInvalid",
         fmt::format("Invalid value: {}: must be a string", json::serialize(*schedule)),
         "spec.schedule"});
  } else if (auto parsed = CronSchedule::Parse(schedule->as_string()); !parsed.ok()) {
    causes.push_back({"FieldValueInvalid",
                      fmt::format("Invalid value: {}: {}", json::serialize(*schedule),
                                  parsed.status().message()),
                      "spec.schedule"});
  }
  const std::string zone = Text(s, "timeZone");
  if (s.contains("timeZone") && !s.at("timeZone").is_null() && zone != "UTC" && zone != "Etc/UTC") {
    causes.push_back({"FieldValueInvalid",
                      fmt::format("Invalid value: {}: this API server runs schedules in UTC "
                                  "only: leave timeZone out or set it to \"Etc/UTC\"",
                                  json::serialize(s.at("timeZone"))),
                      "spec.timeZone"});
  }
  CheckEnum(s, "concurrencyPolicy", "spec.concurrencyPolicy", {"Allow", "Forbid", "Replace"},
            causes);
  for (const char* count :
       {"startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"}) {
    CheckAtLeast(s, count, std::string("spec.") + count, 0, causes);
  }
  const json::object* job_template = ObjectAt(s, "jobTemplate");
  const json::object* job_spec =
      job_template != nullptr ? ObjectAt(*job_template, "spec") : nullptr;
  if (job_spec == nullptr) {
    causes.push_back({"FieldValueRequired", "Required value", "spec.jobTemplate.spec.template"});
  } else {
    ValidateJobSpec(*job_spec, "spec.jobTemplate.spec.", /*generated=*/true, causes);
  }
  return causes;
}

void GenerateJobSelector(json::object& job, const std::string& uid) {
  json::value& spec = job["spec"];
  if (!spec.is_object() || ManualSelector(spec.as_object())) {
    return;
  }
  const std::string name = MetaString(job, "name");
  spec.as_object()["selector"] =
      json::object{{"matchLabels", json::object{{"batch.kubernetes.io/controller-uid", uid}}}};
  json::value& pod_template = spec.as_object()["template"];
  if (!pod_template.is_object()) {
    pod_template = json::object();
  }
  json::value& meta = pod_template.as_object()["metadata"];
  if (!meta.is_object()) {
    meta = json::object();
  }
  json::value& labels = meta.as_object()["labels"];
  if (!labels.is_object()) {
    labels = json::object();
  }
  json::object& l = labels.as_object();
  l["batch.kubernetes.io/controller-uid"] = uid;
  l["batch.kubernetes.io/job-name"] = name;
  l["controller-uid"] = uid;
  l["job-name"] = name;
}

}  // namespace bulkhead::controlplane
