// Job (batch/v1), as Kubernetes 1.32's job controller runs it: pods from
// spec.template (owned by the Job as controller, labelled
// batch.kubernetes.io/controller-uid and batch.kubernetes.io/job-name, and
// the legacy controller-uid and job-name), at most `parallelism` at once,
// until `completions` pods succeeded (NonIndexed), one pod per index
// 0..completions-1 succeeded (Indexed: the index in the
// batch.kubernetes.io/job-completion-index annotation and label, the
// JOB_COMPLETION_INDEX variable, hostname <job>-<index>, and the indexes
// done in status.completedIndexes as "0-2,4"), or, with no completions
// (a work queue), until one pod succeeded and none is active.
//
// A Job fails when more than backoffLimit pods failed (BackoffLimitExceeded;
// with restartPolicy OnFailure, also when its running pods' containers
// restarted backoffLimit times) or when it was active longer than
// activeDeadlineSeconds (DeadlineExceeded, re-checked when the deadline
// comes, never polled): its active pods are deleted and it gets the interim
// FailureTarget condition, then Failed once no pod of it is terminating. It
// succeeds with SuccessCriteriaMet, then Complete (reason CompletionsReached)
// and completionTime. A finished Job creates no more pods; with
// ttlSecondsAfterFinished it is deleted that long after it finished (in the
// background: the garbage collector takes its pods). A suspended Job has no
// pods (its active ones are deleted) and the condition Suspended=True;
// resumed, Suspended=False and its startTime starts again. After a pod
// failure, new pods wait 10 s, doubling with each failure in a row up to
// 6 min (the failures are seen from pods, kept in memory). Jobs with
// spec.managedBy naming another controller are left alone.
//
// Counting: Kubernetes tracks each finished pod with a finalizer and moves
// it into the status counters once. Here no finalizer is put on pods: the
// pods that ended stay, and succeeded and failed are the pods the Job
// controls in phase Succeeded or Failed (or being deleted before they
// succeeded), never lower than the status already says (so a finished pod
// deleted later is not uncounted, but one deleted before it was seen is
// never counted, and pods deleted while running count as nothing). Pods are
// the Job's by their controller owner reference only (no adoption by
// selector). As with ReplicaSets, until the pod cache shows the pods a pass
// created or deleted, the Job gets no new ones (30 s at most).
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_JOB_CONTROLLER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_JOB_CONTROLLER_H_

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/controller.h"
#include "controlplane/controllers/pod_expectations.h"

namespace bulkhead::controlplane::controllers {

inline const ObjectRef kJobsRef{"batch", "v1", "jobs", "", "", ""};

// Completion indexes as closed intervals {first, last}: sorted, disjoint,
// never adjacent.
using IndexIntervals = std::vector<std::pair<int64_t, int64_t>>;

// "0-2,4" as intervals, only indexes below `completions`; entries that do
// not read as an index or a range are left out.
IndexIntervals ParseIndexIntervals(std::string_view text, int64_t completions);
// Sorted and merged (overlapping or adjacent intervals become one).
IndexIntervals MergeIndexIntervals(IndexIntervals intervals);
// As Kubernetes writes them: "0-2,4", two in a row as "5,6".
std::string FormatIndexIntervals(const IndexIntervals& intervals);

class JobController : public Controller {
 public:
  static constexpr std::chrono::milliseconds kDefaultPodFailureBackoff{10000};

  // `pod_failure_backoff`: the wait for new pods after the first failure.
  JobController(Client& client, Informer& jobs, Informer& pods,
                std::chrono::milliseconds pod_failure_backoff = kDefaultPodFailureBackoff);
  ~JobController() override { Stop(); }
  JobController(const JobController&) = delete;
  JobController& operator=(const JobController&) = delete;

 protected:
  Status Reconcile(const std::string& key) override;

 private:
  struct Failures {
    std::set<std::string> seen;  // uids of the ended pods already looked at
    int64_t after_success = 0;   // failures since the last success
    std::chrono::system_clock::time_point last;
  };

  // Records the pods of `key` that ended since the last pass; how long new
  // pods must still wait.
  std::chrono::milliseconds PodFailureBackoff(const std::string& key,
                                              const std::vector<ObjectPtr>& pods,
                                              std::chrono::system_clock::time_point now);
  void Forget(const std::string& key);
  // Deletes pods (at most a burst); how many went and how many of those were ready.
  Status DeletePods(const std::string& key, const std::string& ns,
                    const std::vector<ObjectPtr>& pods, int64_t& deleted, int64_t& deleted_ready);
  // A finished Job: deleted once its ttlSecondsAfterFinished has passed.
  Status ExpireFinished(const std::string& key, const boost::json::object& job,
                        std::chrono::system_clock::time_point now);

  Client& client_;
  Informer& jobs_;
  Informer& pods_;
  const std::chrono::milliseconds pod_failure_backoff_;
  PodExpectations expectations_{pods_};
  std::mutex mu_;
  std::map<std::string, Failures> failures_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_JOB_CONTROLLER_H_
