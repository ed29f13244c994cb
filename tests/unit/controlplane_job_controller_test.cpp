// The Job controller over a real store in process (ApiHarness), with its
// own two informers and a test kubelet that runs the Job's pods and ends
// them as each test says: completions within parallelism, the backoff
// limit, Indexed jobs, the active deadline, ttlSecondsAfterFinished,
// suspend, and objects no API would accept.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/job_controller.h"
#include "controlplane/controllers/object_helpers.h"
#include "tests/unit/controlplane_api_harness.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using testing::ApiHarness;
using testing::WaitFor;

constexpr char kIndexKey[] = "batch.kubernetes.io/job-completion-index";

TEST(JobIndexesTest, CompletedIndexesReadAndWriteAsKubernetesDoes) {
  EXPECT_EQ(FormatIndexIntervals({{0, 2}, {4, 4}}), "0-2,4");
  EXPECT_EQ(FormatIndexIntervals({{0, 1}, {5, 9}}), "0,1,5-9");
  EXPECT_EQ(FormatIndexIntervals({}), "");
  // Merged when overlapping or adjacent, whatever the order.
  EXPECT_EQ(FormatIndexIntervals(MergeIndexIntervals({{4, 4}, {0, 1}, {2, 2}, {1, 3}})), "0-4");
  EXPECT_EQ(FormatIndexIntervals(ParseIndexIntervals("0-2,4", 10)), "0-2,4");
  // Out of range is cut or dropped; what does not read is left out.
  EXPECT_EQ(FormatIndexIntervals(ParseIndexIntervals("1,x,3-2,-5,2-99999999999999,,7", 5)), "1-4");
  EXPECT_EQ(FormatIndexIntervals(ParseIndexIntervals("5,6", 5)), "");
  EXPECT_EQ(FormatIndexIntervals(ParseIndexIntervals("1-2-3,18446744073709551616", 5)), "");
}

const ObjectRef kPods{"", "v1", "pods", "default", "", ""};

// Plays the node for every pod: a pod it has not seen becomes Running and
// Ready; `run_for` later it ends as `outcome` says ("Succeeded", "Failed",
// or "" to run on).
class JobKubelet {
 public:
  JobKubelet(Client& client, std::function<std::string(const json::object&)> outcome,
             milliseconds run_for = milliseconds(100))
      : client_(client),
        outcome_(std::move(outcome)),
        run_for_(run_for),
        thread_([this] { Run(); }) {}
  ~JobKubelet() {
    stop_ = true;
    thread_.join();
  }
  JobKubelet(const JobKubelet&) = delete;
  JobKubelet& operator=(const JobKubelet&) = delete;

 private:
  void SetStatus(const std::string& name, json::object status) {
    ObjectRef ref = kPods;
    ref.name = name;
    ref.subresource = "status";
    (void)client_.Mutate(ref, [&](json::object& next) {
      next["status"] = status;
      return absl::OkStatus();
    });
  }
  void Run() {
    while (!stop_) {
      auto pods = client_.List(kPods);
      for (const json::object& pod : pods.ok() ? *pods : std::vector<json::object>{}) {
        if (!IsPodActive(pod)) {
          continue;
        }
        const std::string name = MetaString(pod, "name");
        auto now = std::chrono::steady_clock::now();
        auto started = started_.find(name);
        if (started == started_.end()) {
          started_[name] = now;
          SetStatus(name, json::object{
                              {"phase", "Running"},
                              {"conditions",
                               json::array{json::object{{"type", "Ready"}, {"status", "True"}}}}});
          continue;
        }
        if (now - started->second < run_for_) {
          continue;
        }
        std::string phase = outcome_(pod);
        if (!phase.empty()) {
          SetStatus(name, json::object{
                              {"phase", phase},
                              {"conditions",
                               json::array{json::object{{"type", "Ready"}, {"status", "False"}}}}});
        }
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
  }

  Client& client_;
  std::function<std::string(const json::object&)> outcome_;
  const milliseconds run_for_;
  std::map<std::string, std::chrono::steady_clock::time_point> started_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A Job in "default" of one busybox container; `spec` is more spec fields,
// each followed by a comma.
std::string JobJson(const std::string& name, const std::string& spec) {
  return R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":")" + name + R"("},"spec":{)" +
         spec +
         R"("template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox:1"}]}}}})";
}

const json::object* ConditionOf(const json::object& job, const std::string& type) {
  const json::value* conditions = PathValue(job, ".status.conditions");
  if (conditions == nullptr || !conditions->is_array()) {
    return nullptr;
  }
  for (const auto& condition : conditions->as_array()) {
    if (condition.is_object() && StringField(condition.as_object(), "type") == type) {
      return &condition.as_object();
    }
  }
  return nullptr;
}

bool HasTrue(const json::object& job, const std::string& type) {
  const json::object* condition = ConditionOf(job, type);
  return condition != nullptr && StringField(*condition, "status") == "True";
}

// Where each condition type sits in status.conditions (-1: absent).
int PositionOf(const json::object& job, const std::string& type) {
  const json::value* conditions = PathValue(job, ".status.conditions");
  if (conditions == nullptr || !conditions->is_array()) {
    return -1;
  }
  const json::array& list = conditions->as_array();
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].is_object() && StringField(list[i].as_object(), "type") == type) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

class JobControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // What the informers tell, in store order: every pod of each Job, and
    // the most of a Job's pods active at once.
    pods_.AddHandler([this](const InformerEvent& event) {
      // A slow handler holds the informer back: its cache lags the store.
      std::this_thread::sleep_for(milliseconds(pod_event_delay_ms_.load()));
      auto owner = ControllerOf(*event.object);
      if (!owner) {
        return;
      }
      std::lock_guard lock(mu_);
      const std::string pod = MetaString(*event.object, "name");
      created_[owner->name].insert(pod);
      std::set<std::string>& active = active_[owner->name];
      if (event.type != InformerEvent::Type::kDeleted && IsPodActive(*event.object)) {
        active.insert(pod);
      } else {
        active.erase(pod);
      }
      most_active_[owner->name] = std::max(most_active_[owner->name], active.size());
    });
    jobs_.AddHandler([this](const InformerEvent& event) {
      std::lock_guard lock(mu_);
      if (HasTrue(*event.object, "Complete")) {
        completed_.insert(MetaString(*event.object, "name"));
      }
    });
    controller_ = std::make_unique<JobController>(client_, jobs_, pods_, milliseconds(10));
    // As ControllerManager::Start: informers started and synced, then the controller.
    jobs_.Start();
    pods_.Start();
    ASSERT_TRUE(jobs_.WaitForSync(std::chrono::seconds(60)));
    ASSERT_TRUE(pods_.WaitForSync(std::chrono::seconds(60)));
    controller_->Start();
  }
  void TearDown() override {
    // The informers stop calling the controller first; then it goes.
    jobs_.Stop();
    pods_.Stop();
    controller_.reset();
  }

  void Create(const std::string& body) {
    auto created = api_.Call("POST", "/apis/batch/v1/namespaces/default/jobs", body);
    ASSERT_EQ(created.status, 201) << created.body;
  }
  StatusOr<json::object> Job(const std::string& name) {
    return client_.Get(In(kJobsRef, "default", name));
  }
  bool JobHas(const std::string& name, const std::string& type) {
    auto job = Job(name);
    return job.ok() && HasTrue(*job, type);
  }
  // The Job's pods as the API has them now.
  std::vector<json::object> PodsOf(const std::string& job, bool active_only = false) {
    std::vector<json::object> out;
    for (const json::object& pod : client_.List(kPods).value_or(std::vector<json::object>{})) {
      auto owner = ControllerOf(pod);
      if (owner && owner->name == job && (!active_only || IsPodActive(pod))) {
        out.push_back(pod);
      }
    }
    return out;
  }
  size_t CreatedFor(const std::string& job) {
    std::lock_guard lock(mu_);
    return created_[job].size();
  }
  size_t MostActive(const std::string& job) {
    std::lock_guard lock(mu_);
    return most_active_[job];
  }
  // Nothing is written for a while: the controller does not loop (nor poll).
  bool Quiet() {
    int64_t before = api_.store().Revision();
    std::this_thread::sleep_for(milliseconds(500));
    return api_.store().Revision() == before;
  }
  // Stores `spec` and `status` into the Job `name` as they are, past the
  // API's checks (as objects stored before a check existed would be).
  void StoreRaw(const std::string& name, const std::string& spec, const std::string& status) {
    api_.Overwrite("/registry/batch/jobs/default/" + name,
                   json::object{{"spec", json::parse(spec)}, {"status", json::parse(status)}});
  }

  ApiHarness api_;
  Client client_{api_.api().objects()};
  Informer jobs_{client_, kJobsRef};
  Informer pods_{client_, kPodsRef};
  std::unique_ptr<JobController> controller_;

  std::atomic<int> pod_event_delay_ms_{0};
  std::mutex mu_;
  std::map<std::string, std::set<std::string>> created_;
  std::map<std::string, std::set<std::string>> active_;
  std::map<std::string, size_t> most_active_;
  std::set<std::string> completed_;
};

TEST_F(JobControllerTest, CompletionsWithinParallelismComplete) {
  JobKubelet kubelet(
      client_, [](const json::object&) { return "Succeeded"; }, milliseconds(150));
  Create(JobJson("work", R"("completions":3,"parallelism":2,)"));
  ASSERT_TRUE(WaitFor([&] { return JobHas("work", "Complete"); }));
  auto job = Job("work");
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(IntAt(*job, ".status.succeeded", 0), 3);
  EXPECT_EQ(PathValue(*job, ".status.active"), nullptr);
  EXPECT_EQ(IntAt(*job, ".status.ready", -1), 0);
  const json::value* completion = PathValue(*job, ".status.completionTime");
  ASSERT_NE(completion, nullptr);
  ASSERT_TRUE(completion->is_string());
  EXPECT_EQ(completion->as_string().size(), 20U);  // "2026-11-21T08:40:00Z"
  EXPECT_TRUE(PathValue(*job, ".status.startTime")->is_string());
  // SuccessCriteriaMet first, then Complete, both for reaching completions.
  ASSERT_TRUE(HasTrue(*job, "SuccessCriteriaMet"));
  EXPECT_LT(PositionOf(*job, "SuccessCriteriaMet"), PositionOf(*job, "Complete"));
  const json::object* complete = ConditionOf(*job, "Complete");
  EXPECT_EQ(StringField(*complete, "reason"), "CompletionsReached");
  EXPECT_EQ(StringField(*complete, "lastTransitionTime"), std::string(completion->as_string()));
  for (const char* field : {"lastProbeTime", "message"}) {
    EXPECT_TRUE(complete->contains(field)) << field;
  }
  EXPECT_EQ(ConditionOf(*job, "Failed"), nullptr);
  // Two at a time, three in all, each made once.
  EXPECT_EQ(MostActive("work"), 2U);
  std::vector<json::object> pods = PodsOf("work");
  ASSERT_EQ(pods.size(), 3U);
  EXPECT_EQ(CreatedFor("work"), 3U);
  const std::string uid = MetaString(*job, "uid");
  for (const json::object& pod : pods) {
    EXPECT_EQ(PathValue(pod, ".status.phase")->as_string(), "Succeeded");
    EXPECT_EQ(MetaString(pod, "generateName"), "work-");
    EXPECT_EQ(MetaString(pod, "name").rfind("work-", 0), 0U);
    const json::object& labels = LabelsOf(pod);
    EXPECT_EQ(labels.at("batch.kubernetes.io/controller-uid").as_string(), uid);
    EXPECT_EQ(labels.at("batch.kubernetes.io/job-name").as_string(), "work");
    EXPECT_EQ(labels.at("controller-uid").as_string(), uid);
    EXPECT_EQ(labels.at("job-name").as_string(), "work");
    auto owner = ControllerOf(pod);
    ASSERT_TRUE(owner.has_value());
    EXPECT_EQ(owner->kind, "Job");
    EXPECT_EQ(owner->api_version, "batch/v1");
    EXPECT_EQ(owner->uid, uid);
    EXPECT_EQ(PathValue(pod, ".spec.restartPolicy")->as_string(), "Never");
  }
  EXPECT_TRUE(Quiet());
  EXPECT_EQ(CreatedFor("work"), 3U);
}

TEST_F(JobControllerTest, APodCacheThatLagsNeverMakesItCreateTwice) {
  pod_event_delay_ms_ = 150;
  Create(JobJson("lag", R"("completions":4,"parallelism":4,)"));
  // Its own status writes bring the Job back while the pods are not cached yet.
  ASSERT_TRUE(WaitFor([&] { return PodsOf("lag", true).size() >= 4U; }));
  ASSERT_TRUE(WaitFor([&] {
    auto job = Job("lag");
    return job.ok() && IntAt(*job, ".status.active", 0) == 4;
  }));
  EXPECT_TRUE(Quiet());
  EXPECT_EQ(PodsOf("lag").size(), 4U);
  pod_event_delay_ms_ = 0;
}

TEST_F(JobControllerTest, FailingPodsExhaustTheBackoffLimit) {
  JobKubelet kubelet(
      client_, [](const json::object&) { return "Failed"; }, milliseconds(30));
  Create(JobJson("flaky", R"("backoffLimit":2,"completions":1,"parallelism":1,)"));
  ASSERT_TRUE(WaitFor([&] { return JobHas("flaky", "Failed"); }));
  auto job = Job("flaky");
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(IntAt(*job, ".status.failed", 0), 3);
  EXPECT_EQ(PathValue(*job, ".status.succeeded"), nullptr);
  EXPECT_EQ(PathValue(*job, ".status.active"), nullptr);
  EXPECT_EQ(PathValue(*job, ".status.completionTime"), nullptr);
  const json::object* failed = ConditionOf(*job, "Failed");
  EXPECT_EQ(StringField(*failed, "reason"), "BackoffLimitExceeded");
  EXPECT_EQ(StringField(*failed, "message"), "Job has reached the specified backoff limit");
  const json::object* target = ConditionOf(*job, "FailureTarget");
  ASSERT_NE(target, nullptr);
  EXPECT_EQ(StringField(*target, "status"), "True");
  EXPECT_EQ(StringField(*target, "reason"), "BackoffLimitExceeded");
  EXPECT_LT(PositionOf(*job, "FailureTarget"), PositionOf(*job, "Failed"));
  EXPECT_EQ(ConditionOf(*job, "Complete"), nullptr);
  EXPECT_TRUE(PodsOf("flaky", /*active_only=*/true).empty());
  EXPECT_EQ(MostActive("flaky"), 1U);
  // The failed pods stay; a failed Job makes no more.
  EXPECT_TRUE(Quiet());
  EXPECT_EQ(PodsOf("flaky").size(), 3U);
  EXPECT_EQ(CreatedFor("flaky"), 3U);
}

TEST_F(JobControllerTest, AnIndexedJobRunsEachIndexToSuccess) {
  // The first pod of index 1 fails: the index is run again.
  std::set<std::string> failed_once;
  JobKubelet kubelet(
      client_,
      [failed_once](const json::object& pod) mutable -> std::string {
        const json::value* index = PathValue(pod, ".metadata.annotations");
        bool one = index != nullptr && index->is_object() &&
                   index->as_object().if_contains(kIndexKey) != nullptr &&
                   index->as_object().at(kIndexKey) == "1";
        if (one && failed_once.empty()) {
          failed_once.insert(MetaString(pod, "name"));
          return "Failed";
        }
        return "Succeeded";
      },
      milliseconds(50));
  Create(JobJson("idx", R"("completions":3,"parallelism":3,"completionMode":"Indexed",)"));
  ASSERT_TRUE(WaitFor([&] { return JobHas("idx", "Complete"); }));
  auto job = Job("idx");
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(PathValue(*job, ".status.completedIndexes")->as_string(), "0-2");
  EXPECT_EQ(IntAt(*job, ".status.succeeded", 0), 3);
  EXPECT_EQ(IntAt(*job, ".status.failed", 0), 1);
  std::vector<json::object> pods = PodsOf("idx");
  ASSERT_EQ(pods.size(), 4U);
  std::map<std::string, int> succeeded_by_index;
  for (const json::object& pod : pods) {
    const json::object& annotations = PathValue(pod, ".metadata.annotations")->as_object();
    ASSERT_TRUE(annotations.contains(kIndexKey));
    const std::string index(annotations.at(kIndexKey).as_string());
    EXPECT_EQ(LabelsOf(pod).at(kIndexKey).as_string(), index);
    EXPECT_EQ(PathValue(pod, ".spec.hostname")->as_string(), "idx-" + index);
    EXPECT_EQ(MetaString(pod, "generateName"), "idx-" + index + "-");
    EXPECT_EQ(MetaString(pod, "name").rfind("idx-" + index + "-", 0), 0U);
    EXPECT_NE(json::serialize(*PathValue(pod, ".spec.containers")).find("JOB_COMPLETION_INDEX"),
              std::string::npos);
    if (PathValue(pod, ".status.phase")->as_string() == "Succeeded") {
      ++succeeded_by_index[index];
    }
  }
  EXPECT_EQ(succeeded_by_index, (std::map<std::string, int>{{"0", 1}, {"1", 1}, {"2", 1}}));
  EXPECT_TRUE(Quiet());
}

TEST_F(JobControllerTest, AJobPastItsActiveDeadlineFails) {
  JobKubelet kubelet(client_, [](const json::object&) { return ""; });  // runs for ever
  Create(JobJson("slow", R"("activeDeadlineSeconds":1,"completions":2,"parallelism":2,)"));
  ASSERT_TRUE(WaitFor([&] { return PodsOf("slow", true).size() == 2U; }));
  EXPECT_FALSE(JobHas("slow", "Failed"));
  // Re-checked when the deadline comes (within a second of the start time
  // the status holds, which has whole seconds).
  ASSERT_TRUE(WaitFor([&] { return JobHas("slow", "Failed"); }, milliseconds(5000)));
  auto job = Job("slow");
  ASSERT_TRUE(job.ok());
  const json::object* failed = ConditionOf(*job, "Failed");
  EXPECT_EQ(StringField(*failed, "reason"), "DeadlineExceeded");
  EXPECT_EQ(StringField(*failed, "message"), "Job was active longer than specified deadline");
  EXPECT_TRUE(HasTrue(*job, "FailureTarget"));
  EXPECT_LT(PositionOf(*job, "FailureTarget"), PositionOf(*job, "Failed"));
  EXPECT_EQ(PathValue(*job, ".status.active"), nullptr);
  EXPECT_TRUE(PodsOf("slow").empty()) << "the running pods of a failed Job are deleted";
  EXPECT_TRUE(Quiet());
  EXPECT_EQ(CreatedFor("slow"), 2U);
}

TEST_F(JobControllerTest, AFinishedJobWithATtlOfZeroIsDeleted) {
  JobKubelet kubelet(
      client_, [](const json::object&) { return "Succeeded"; }, milliseconds(20));
  Create(JobJson("brief", R"("ttlSecondsAfterFinished":0,"completions":1,"parallelism":1,)"));
  ASSERT_TRUE(WaitFor([&] { return !Job("brief").ok(); }));
  EXPECT_EQ(Job("brief").status().code(), absl::StatusCode::kNotFound) << Job("brief").status();
  std::lock_guard lock(mu_);
  EXPECT_TRUE(completed_.contains("brief")) << "deleted before it was seen complete";
  EXPECT_EQ(created_["brief"].size(), 1U);
}

TEST_F(JobControllerTest, AFinishedJobWithoutTtlStays) {
  JobKubelet kubelet(
      client_, [](const json::object&) { return "Succeeded"; }, milliseconds(20));
  Create(JobJson("kept", R"("completions":1,"parallelism":1,)"));
  ASSERT_TRUE(WaitFor([&] { return JobHas("kept", "Complete"); }));
  EXPECT_TRUE(Quiet());
  EXPECT_TRUE(Job("kept").ok());
}

TEST_F(JobControllerTest, ASuspendedJobHasNoPodsUntilResumed) {
  Create(JobJson("later", R"("suspend":true,"completions":2,"parallelism":2,)"));
  ASSERT_TRUE(WaitFor([&] { return JobHas("later", "Suspended"); }));
  EXPECT_TRUE(Quiet());
  auto job = Job("later");
  ASSERT_TRUE(job.ok());
  const json::object* suspended = ConditionOf(*job, "Suspended");
  EXPECT_EQ(StringField(*suspended, "reason"), "JobSuspended");
  EXPECT_EQ(StringField(*suspended, "message"), "Job suspended");
  EXPECT_EQ(PathValue(*job, ".status.startTime"), nullptr);
  EXPECT_EQ(PathValue(*job, ".status.active"), nullptr);
  EXPECT_EQ(CreatedFor("later"), 0U);
  EXPECT_TRUE(PodsOf("later").empty());

  // Resumed: pods, Suspended=False, a start time.
  auto patch = [&](const std::string& body) {
    return api_
        .Call("PATCH", "/apis/batch/v1/namespaces/default/jobs/later", body,
              testing::WithContentType("application/merge-patch+json"))
        .status;
  };
  ASSERT_EQ(patch(R"({"spec":{"suspend":false}})"), 200);
  ASSERT_TRUE(WaitFor([&] {
    auto now = Job("later");
    return PodsOf("later", true).size() == 2U && now.ok() &&
           IntAt(*now, ".status.active", 0) == 2 && !HasTrue(*now, "Suspended");
  }));
  job = Job("later");
  ASSERT_TRUE(job.ok());
  suspended = ConditionOf(*job, "Suspended");
  ASSERT_NE(suspended, nullptr);
  EXPECT_EQ(StringField(*suspended, "status"), "False");
  EXPECT_EQ(StringField(*suspended, "reason"), "JobResumed");
  EXPECT_TRUE(PathValue(*job, ".status.startTime")->is_string());

  // Suspended again: its active pods go.
  ASSERT_EQ(patch(R"({"spec":{"suspend":true}})"), 200);
  ASSERT_TRUE(WaitFor([&] { return PodsOf("later").empty() && JobHas("later", "Suspended"); }));
  job = Job("later");
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(PathValue(*job, ".status.active"), nullptr);
  EXPECT_EQ(CreatedFor("later"), 2U);
  EXPECT_TRUE(Quiet());
}

TEST_F(JobControllerTest, AWorkQueueJobCompletesWhenOnePodSucceededAndNoneRuns) {
  // No completions: done once any pod succeeded and the others ended.
  JobKubelet kubelet(
      client_, [](const json::object&) { return "Succeeded"; }, milliseconds(50));
  Create(JobJson("queue", R"("completions":null,"parallelism":2,)"));
  ASSERT_TRUE(WaitFor([&] { return JobHas("queue", "Complete"); }));
  auto job = Job("queue");
  ASSERT_TRUE(job.ok());
  ASSERT_NE(PathValue(*job, ".spec.completions"), nullptr);
  ASSERT_TRUE(PathValue(*job, ".spec.completions")->is_null()) << "the API set completions";
  EXPECT_EQ(IntAt(*job, ".status.succeeded", 0), 2);
  EXPECT_TRUE(Quiet());
  EXPECT_EQ(CreatedFor("queue"), 2U) << "a work queue that has a success makes no more pods";
}

TEST_F(JobControllerTest, HostileJobsNeitherCrashNorLoop) {
  for (const char* name : {"huge", "notemplate", "badstatus", "badmode", "unwritable"}) {
    Create(JobJson(name, R"("suspend":true,)"));
  }
  ASSERT_TRUE(WaitFor([&] { return JobHas("unwritable", "Suspended"); }));
  // Counts past int32, an Indexed job of 2^40 completions: cut, so 3 pods
  // (indexes 0-2) for a parallelism of 3.
  StoreRaw("huge",
           R"({"parallelism":3,"completions":1099511627776,"completionMode":"Indexed",
               "backoffLimit":9223372036854775807,"activeDeadlineSeconds":9223372036854775807,
               "ttlSecondsAfterFinished":-5,
               "template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"x"}]}}})",
           R"({"startTime":"9999-99-99T99:99:99Z","failed":-7,"succeeded":"x"})");
  // No template, counts of the wrong type or sign.
  StoreRaw("notemplate",
           R"({"parallelism":-5,"completions":"three","template":5,"activeDeadlineSeconds":-3,
               "suspend":"yes","backoffLimit":-1})",
           R"("not an object")");
  // A status of garbage: the completed indexes that read are kept.
  StoreRaw("badstatus",
           R"({"parallelism":0,"completions":4,"completionMode":"Indexed","template":{}})",
           R"({"conditions":"x","completedIndexes":"9-1,a,-5,1,3,3-1","startTime":7})");
  // A completion mode Kubernetes does not know: left alone.
  StoreRaw("badmode", R"({"completionMode":"Sometimes","parallelism":1,"template":{}})", "{}");
  // Numbers the API refuses to write back (its status writes fail): its
  // one pod is made once, and the retries back off.
  StoreRaw("unwritable",
           R"({"parallelism":1,"completions":1,"activeDeadlineSeconds":1.5,
               "ttlSecondsAfterFinished":18446744073709551615,
               "template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"x"}]}}})",
           "{}");

  ASSERT_TRUE(WaitFor([&] { return PodsOf("huge", true).size() == 3U; }));
  ASSERT_TRUE(WaitFor([&] { return PodsOf("unwritable", true).size() == 1U; }));
  ASSERT_TRUE(WaitFor([&] {
    auto bad = Job("badstatus");
    const json::value* indexes = bad.ok() ? PathValue(*bad, ".status.completedIndexes") : nullptr;
    return indexes != nullptr && indexes->is_string() && indexes->as_string() == "1,3";
  }));
  ASSERT_TRUE(WaitFor([&] {
    auto none = Job("notemplate");
    return none.ok() && PathValue(*none, ".status.startTime") != nullptr;
  }));
  EXPECT_TRUE(Quiet());
  std::set<std::string> indexes;
  for (const json::object& pod : PodsOf("huge")) {
    indexes.insert(std::string(
        PathValue(pod, ".metadata.annotations")->as_object().at(kIndexKey).as_string()));
  }
  EXPECT_EQ(indexes, (std::set<std::string>{"0", "1", "2"}));
  auto huge = Job("huge");
  ASSERT_TRUE(huge.ok());
  EXPECT_EQ(PathValue(*huge, ".status.failed"), nullptr);
  EXPECT_EQ(PathValue(*huge, ".status.startTime")->as_string().size(), 20U);
  EXPECT_FALSE(HasTrue(*huge, "Failed"));
  auto bad = Job("badstatus");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(IntAt(*bad, ".status.succeeded", 0), 2);
  EXPECT_TRUE(PathValue(*bad, ".status.startTime")->is_string());
  EXPECT_EQ(PathValue(*bad, ".status.conditions"), nullptr);
  EXPECT_TRUE(PodsOf("notemplate").empty());
  EXPECT_TRUE(PodsOf("badstatus").empty());
  EXPECT_TRUE(PodsOf("badmode").empty());
  EXPECT_EQ(PodsOf("unwritable").size(), 1U);
  auto mode = Job("badmode");
  ASSERT_TRUE(mode.ok());
  EXPECT_EQ(json::serialize(mode->at("status")), "{}");
}

}  // namespace
}  // namespace bulkhead::controlplane::controllers
