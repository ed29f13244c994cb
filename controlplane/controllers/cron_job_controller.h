// CronJob (batch/v1), as Kubernetes 1.32's cronjob controller runs it: at
// each time spec.schedule names, a Job from spec.jobTemplate, named
// "<cronjob>-<scheduled time in minutes since the epoch>" (so a time is run
// once however often it is reconciled), owned by the CronJob as controller
// and annotated batch.kubernetes.io/cronjob-scheduled-timestamp.
//
// - Only the most recent time missed is run: from status.lastScheduleTime
//   (or the creation time) to now; with startingDeadlineSeconds, no time
//   older than that. A time found later than its deadline is skipped.
// - concurrencyPolicy: Allow runs Jobs side by side; Forbid skips a time
//   while a Job of the CronJob is active (it runs once that one finishes,
//   if still within its starting deadline); Replace deletes the active Jobs
//   first (in the background: the garbage collector takes their pods).
// - status.active lists the Jobs it started that have not finished (a Job
//   it did not start, such as `kubectl create job --from=cronjob/...`, is
//   not listed, as in Kubernetes); status.lastSuccessfulTime is the latest
//   completion of a Job of it that succeeded.
// - successfulJobsHistoryLimit and failedJobsHistoryLimit: the oldest
//   finished Jobs (by start time) beyond them are deleted.
// - A suspended CronJob starts nothing (its history is still kept within
//   the limits); one being deleted is left to the garbage collector.
// - Nothing is polled: a CronJob is looked at again when it or one of its
//   Jobs changes, and when its next time comes.
//
// Not here: events (the server records none yet), spec.timeZone other than
// UTC (admission refuses it).
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_CRON_JOB_CONTROLLER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_CRON_JOB_CONTROLLER_H_

#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/apiserver/registry/kinds/cron_schedule.h"
#include "controlplane/controllers/controller.h"

namespace bulkhead::controlplane::controllers {

inline const ObjectRef kCronJobsRef{"batch", "v1", "cronjobs", "", "", ""};

// The latest time `schedule` fires in (earliest, now], and whether more
// than 100 times were missed in between (Kubernetes warns then).
struct MissedRun {
  std::optional<std::chrono::system_clock::time_point> latest;
  bool many = false;
};
MissedRun MostRecentMissedRun(const CronSchedule& schedule,
                              std::chrono::system_clock::time_point earliest,
                              std::chrono::system_clock::time_point now);

class CronJobController : public Controller {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // `clock` tells the time schedules are read against (tests move it).
  CronJobController(
      Client& client, Informer& cron_jobs, Informer& jobs,
      Clock clock = [] { return std::chrono::system_clock::now(); });
  ~CronJobController() override { Stop(); }
  CronJobController(const CronJobController&) = delete;
  CronJobController& operator=(const CronJobController&) = delete;

 protected:
  Status Reconcile(const std::string& key) override;

 private:
  // Starts the Job for `scheduled`; its reference for status.active, or
  // nothing when a Job of that name is the CronJob's already.
  StatusOr<std::optional<boost::json::object>> StartJob(
      const boost::json::object& cron_job, std::chrono::system_clock::time_point scheduled);
  // Deletes the oldest finished Jobs beyond the history limits; their uids.
  StatusOr<std::vector<std::string>> TrimHistory(const boost::json::object& cron_job,
                                                 const std::vector<ObjectPtr>& jobs);

  Client& client_;
  Informer& cron_jobs_;
  Informer& jobs_;
  const Clock clock_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_CRON_JOB_CONTROLLER_H_
