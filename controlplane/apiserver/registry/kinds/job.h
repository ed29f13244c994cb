// batch/v1 Job and CronJob as Kubernetes 1.32's registry takes them: what
// a spec must be to be stored (ValidateJob, ValidateCronJob: 422 causes
// worded as kube-apiserver words them), and the selector a new Job gets.
//
// A Job's selector is made by the API server, not by its author: unless
// spec.manualSelector is true, a new Job gets spec.selector
// {batch.kubernetes.io/controller-uid: <its uid>} and its pod template the
// labels batch.kubernetes.io/controller-uid, batch.kubernetes.io/job-name,
// controller-uid and job-name; a selector sent without manualSelector is
// refused ("`selector` will be auto-generated").
//
// A CronJob's schedule is read by CronSchedule (cron_schedule.h), UTC
// only: a spec.timeZone other than UTC is refused here, where Kubernetes
// would run it in that zone.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_JOB_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_JOB_H_

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "controlplane/apiserver/api_errors.h"

namespace bulkhead::controlplane {

// A Job's name may be no longer than this: its pods' names and labels
// carry it. A CronJob's, 52: its Jobs' names add 11 characters.
inline constexpr size_t kMaxCronJobNameLength = 52;

// `job` as it is sent to be created or updated (before the selector is
// made). `creating`: a selector is refused unless manualSelector is true.
std::vector<StatusCause> ValidateJob(const boost::json::object& job, bool creating);
std::vector<StatusCause> ValidateCronJob(const boost::json::object& cron_job);

// Gives a new Job (`uid` its metadata.uid) its selector and its template
// the labels that select it, unless spec.manualSelector is true.
void GenerateJobSelector(boost::json::object& job, const std::string& uid);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_JOB_H_
