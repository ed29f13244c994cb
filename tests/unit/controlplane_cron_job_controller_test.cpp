// The CronJob controller over a real store in process (ApiHarness), with a
// clock the tests move ahead: a CronJob starts its Job when its time has
// come, once per time; concurrencyPolicy, history limits, suspend and the
// starting deadline; objects no API would accept. The tests play the Job
// controller by writing Job status through the API.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/apiserver/registry/kinds/cron_schedule.h"
#include "controlplane/controllers/cron_job_controller.h"
#include "controlplane/controllers/job_controller.h"
#include "controlplane/controllers/object_helpers.h"
#include "tests/unit/controlplane_api_harness.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using SystemClock = std::chrono::system_clock;
using testing::ApiHarness;
using testing::WaitFor;

SystemClock::time_point At(const std::string& text) {
  auto at = ParseRfc3339(text);
  EXPECT_TRUE(at.has_value()) << text;
  return at.value_or(SystemClock::time_point());
}

TEST(Rfc3339Test, ZonesAndFractionsReadAndAnythingElseIsRefused) {
  EXPECT_EQ(FormatRfc3339(At("2026-12-03T10:40:00Z")), "2026-12-03T10:40:00Z");
  EXPECT_EQ(FormatRfc3339(At("2026-12-03T12:40:00.123+02:00")), "2026-12-03T10:40:00Z");
  EXPECT_EQ(FormatRfc3339(At("2026-12-03T05:10:00-05:30")), "2026-12-03T10:40:00Z");
  for (const char* bad :
       {"2026-12-03T10:40:00", "2026-12-03T10:40:00Zjunk", "2026-12-03T10:40:00+2:00",
        "2026-12-03T10:40:00+0a:00", "9999-99-99T99:99:99Z", "1969-12-31T23:59:59Z",
        "2300-01-01T00:00:00Z", ""}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

TEST(MostRecentMissedRunTest, TheLatestTimeBetweenTheLastRunAndNow) {
  auto every_five = CronSchedule::Parse("*/5 * * * *");
  ASSERT_TRUE(every_five.ok());
  MissedRun run =
      MostRecentMissedRun(*every_five, At("2026-12-03T10:00:00Z"), At("2026-12-03T10:17:30Z"));
  ASSERT_TRUE(run.latest.has_value());
  EXPECT_EQ(FormatRfc3339(*run.latest), "2026-12-03T10:15:00Z");
  EXPECT_FALSE(run.many);
  // The earliest time itself has run; now is included.
  run = MostRecentMissedRun(*every_five, At("2026-12-03T10:15:00Z"), At("2026-12-03T10:20:00Z"));
  ASSERT_TRUE(run.latest.has_value());
  EXPECT_EQ(FormatRfc3339(*run.latest), "2026-12-03T10:20:00Z");
  run = MostRecentMissedRun(*every_five, At("2026-12-03T10:15:00Z"), At("2026-12-03T10:19:59Z"));
  EXPECT_FALSE(run.latest.has_value());
  run = MostRecentMissedRun(*every_five, At("2026-12-03T11:00:00Z"), At("2026-12-03T10:00:00Z"));
  EXPECT_FALSE(run.latest.has_value());

  // A year of every minute missed: many, and the latest is this minute.
  auto every_minute = CronSchedule::Parse("* * * * *");
  ASSERT_TRUE(every_minute.ok());
  run = MostRecentMissedRun(*every_minute, At("2025-12-03T10:00:00Z"), At("2026-12-03T10:17:30Z"));
  ASSERT_TRUE(run.latest.has_value());
  EXPECT_EQ(FormatRfc3339(*run.latest), "2026-12-03T10:17:00Z");
  EXPECT_TRUE(run.many);
  // Every minute of the first of the month, now the 20th: the walk back
  // passes empty weeks and ends on the 1st's last minute.
  auto first_day = CronSchedule::Parse("* * 1 * *");
  ASSERT_TRUE(first_day.ok());
  run = MostRecentMissedRun(*first_day, At("2026-01-01T00:00:00Z"), At("2026-11-20T08:00:00Z"));
  ASSERT_TRUE(run.latest.has_value());
  EXPECT_EQ(FormatRfc3339(*run.latest), "2026-11-01T23:59:00Z");
  EXPECT_TRUE(run.many);
  // Yearly, three years missed: not many, the latest New Year.
  auto yearly = CronSchedule::Parse("@yearly");
  ASSERT_TRUE(yearly.ok());
  run = MostRecentMissedRun(*yearly, At("2023-06-01T00:00:00Z"), At("2026-12-03T10:00:00Z"));
  ASSERT_TRUE(run.latest.has_value());
  EXPECT_EQ(FormatRfc3339(*run.latest), "2026-01-01T00:00:00Z");
  EXPECT_FALSE(run.many);
}

const ObjectRef kJobs{"batch", "v1", "jobs", "default", "", ""};

// A CronJob in "default" that runs every minute; `spec` is more spec
// fields, each followed by a comma.
std::string CronJobJson(const std::string& name, const std::string& spec) {
  return R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":")" + name +
         R"("},"spec":{"schedule":"* * * * *",)" + spec +
         R"("jobTemplate":{"metadata":{"labels":{"team":"a"}},"spec":{"template":{"spec":{
             "restartPolicy":"Never","containers":[{"name":"c","image":"busybox:1"}]}}}}}})";
}

// Now, but not in the last 5 s of a minute (it waits the minute out): the
// controller's clock starts here while the API stamps creations with the
// real one, and a minute passing between the two would move every
// CronJob's first time a minute on.
SystemClock::time_point AwayFromAMinutesEnd() {
  const auto now = SystemClock::now();
  const auto into = now.time_since_epoch() % minutes(1);
  if (into > seconds(55)) {
    std::this_thread::sleep_for(minutes(1) - into + milliseconds(100));
  }
  return SystemClock::now();
}

class CronJobControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    controller_ =
        std::make_unique<CronJobController>(client_, cron_jobs_, jobs_, [this] { return Now(); });
    cron_jobs_.Start();
    jobs_.Start();
    ASSERT_TRUE(cron_jobs_.WaitForSync(seconds(60)));
    ASSERT_TRUE(jobs_.WaitForSync(seconds(60)));
    controller_->Start();
  }
  void TearDown() override {
    cron_jobs_.Stop();
    jobs_.Stop();
    controller_.reset();
  }

  void Create(const std::string& body) {
    auto created = api_.Call("POST", "/apis/batch/v1/namespaces/default/cronjobs", body);
    ASSERT_EQ(created.status, 201) << created.body;
  }
  // The controller's clock: stopped at the test's start, moved by the test
  // only (so no real minute that turns while a test runs starts a Job).
  SystemClock::time_point Now() { return start_ + seconds(ahead_.load()); }
  // Moves the controller's clock a minute on and has it look at `name`.
  void NextMinute(const std::string& name) {
    ahead_ += 60;
    controller_->Enqueue("default/" + name);
  }
  StatusOr<json::object> CronJob(const std::string& name) {
    return client_.Get(In(kCronJobsRef, "default", name));
  }
  // The Jobs of the CronJob `name` as the API has them, oldest first.
  std::vector<json::object> JobsOf(const std::string& name) {
    std::vector<json::object> out;
    for (const json::object& job : client_.List(kJobs).value_or(std::vector<json::object>{})) {
      auto owner = ControllerOf(job);
      if (owner && owner->kind == "CronJob" && owner->name == name) {
        out.push_back(job);
      }
    }
    std::sort(out.begin(), out.end(), [](const json::object& a, const json::object& b) {
      return MetaString(a, "name") < MetaString(b, "name");
    });
    return out;
  }
  std::vector<std::string> ActiveOf(const std::string& name) {
    std::vector<std::string> out;
    auto cron_job = CronJob(name);
    const json::value* active = cron_job.ok() ? PathValue(*cron_job, ".status.active") : nullptr;
    if (active != nullptr && active->is_array()) {
      for (const auto& ref : active->as_array()) {
        out.push_back(StringField(ref.as_object(), "name"));
      }
    }
    return out;
  }
  // Plays the Job controller: the Job ends as `type` (Complete or Failed).
  void Finish(const std::string& job, const std::string& type, const std::string& started) {
    auto written = client_.Mutate(In(kJobs, "default", job, "status"), [&](json::object& next) {
      json::object status{
          {"startTime", started},
          {"conditions", json::array{json::object{{"type", type}, {"status", "True"}}}}};
      if (type == "Complete") {
        status["completionTime"] = started;
      }
      next["status"] = status;
      return absl::OkStatus();
    });
    ASSERT_TRUE(written.ok()) << written.status();
  }
  // Nothing is written for a while: the controller does not loop (nor poll).
  bool Quiet() {
    int64_t before = api_.store().Revision();
    std::this_thread::sleep_for(milliseconds(500));
    return api_.store().Revision() == before;
  }

  ApiHarness api_;
  Client client_{api_.api().objects()};
  Informer cron_jobs_{client_, kCronJobsRef};
  Informer jobs_{client_, kJobsRef};
  const SystemClock::time_point start_ = AwayFromAMinutesEnd();
  std::atomic<int64_t> ahead_{0};
  std::unique_ptr<CronJobController> controller_;
};

TEST_F(CronJobControllerTest, ItsJobStartsWhenTheTimeComesAndOnlyOnce) {
  Create(CronJobJson("tick", ""));
  // Created this minute: the first time is the next minute.
  EXPECT_TRUE(Quiet());
  EXPECT_TRUE(JobsOf("tick").empty());
  NextMinute("tick");
  ASSERT_TRUE(WaitFor([&] { return JobsOf("tick").size() == 1U; }));
  const json::object job = JobsOf("tick").front();
  // Named after the minute it was scheduled for, which it carries.
  const json::value* annotations = PathValue(job, ".metadata.annotations");
  ASSERT_NE(annotations, nullptr);
  const std::string scheduled(
      annotations->as_object().at("batch.kubernetes.io/cronjob-scheduled-timestamp").as_string());
  const auto minute = std::chrono::duration_cast<minutes>(At(scheduled).time_since_epoch()).count();
  EXPECT_EQ(MetaString(job, "name"), "tick-" + std::to_string(minute));
  EXPECT_EQ(StringField(PathValue(job, ".metadata.labels")->as_object(), "team"), "a");
  auto owner = ControllerOf(job);
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->kind, "CronJob");
  // Admitted as any Job: the generated selector is there.
  EXPECT_NE(PathValue(job, ".spec.selector.matchLabels"), nullptr);
  ASSERT_TRUE(WaitFor([&] { return ActiveOf("tick").size() == 1U; }));
  auto cron_job = CronJob("tick");
  ASSERT_TRUE(cron_job.ok());
  EXPECT_EQ(PathValue(*cron_job, ".status.lastScheduleTime")->as_string(), scheduled);

  // Looked at again in the same minute: nothing more.
  controller_->Enqueue("default/tick");
  EXPECT_TRUE(Quiet());
  EXPECT_EQ(JobsOf("tick").size(), 1U);

  // It completes: out of active, and lastSuccessfulTime is its completion.
  Finish(MetaString(job, "name"), "Complete", scheduled);
  ASSERT_TRUE(WaitFor([&] { return ActiveOf("tick").empty(); }));
  ASSERT_TRUE(WaitFor([&] {
    auto now = CronJob("tick");
    const json::value* success = now.ok() ? PathValue(*now, ".status.lastSuccessfulTime") : nullptr;
    return success != nullptr && success->as_string() == scheduled;
  }));
  // Allow: the next minute's Job runs beside a running one.
  NextMinute("tick");
  ASSERT_TRUE(WaitFor([&] { return JobsOf("tick").size() == 2U; }));
  NextMinute("tick");
  ASSERT_TRUE(WaitFor([&] { return ActiveOf("tick").size() == 2U; }));
  EXPECT_EQ(JobsOf("tick").size(), 3U);
}

TEST_F(CronJobControllerTest, ForbidWaitsForTheRunningJobAndReplaceDeletesIt) {
  Create(CronJobJson("forbid", R"("concurrencyPolicy":"Forbid",)"));
  Create(CronJobJson("replace", R"("concurrencyPolicy":"Replace",)"));
  NextMinute("forbid");
  controller_->Enqueue("default/replace");
  ASSERT_TRUE(WaitFor([&] { return ActiveOf("forbid").size() == 1U; }));
  ASSERT_TRUE(WaitFor([&] { return ActiveOf("replace").size() == 1U; }));
  const std::string first_replace = ActiveOf("replace").front();

  NextMinute("forbid");
  controller_->Enqueue("default/replace");
  // Replace: the running Job is deleted and the new one is the only active.
  ASSERT_TRUE(WaitFor([&] {
    auto active = ActiveOf("replace");
    return active.size() == 1U && active.front() != first_replace;
  }));
  ASSERT_TRUE(WaitFor([&] { return JobsOf("replace").size() == 1U; }));
  // Forbid: skipped while its Job runs.
  EXPECT_TRUE(Quiet());
  ASSERT_EQ(JobsOf("forbid").size(), 1U);
  // Once it finished, the time it skipped runs (no starting deadline).
  Finish(MetaString(JobsOf("forbid").front(), "name"), "Failed", NowRfc3339());
  ASSERT_TRUE(WaitFor([&] { return JobsOf("forbid").size() == 2U; }));
  ASSERT_TRUE(WaitFor([&] { return ActiveOf("forbid").size() == 1U; }));
}

TEST_F(CronJobControllerTest, FinishedJobsBeyondTheHistoryLimitsAreDeleted) {
  Create(CronJobJson("history", R"("successfulJobsHistoryLimit":1,"failedJobsHistoryLimit":0,)"));
  std::vector<std::string> started;
  for (int run = 0; run < 3; ++run) {
    NextMinute("history");
    ASSERT_TRUE(WaitFor([&] { return ActiveOf("history").size() == 1U; })) << run;
    started.push_back(ActiveOf("history").front());
    // Start times in the order they ran.
    Finish(started.back(), "Complete", "2026-12-0" + std::to_string(run + 1) + "T00:00:00Z");
    ASSERT_TRUE(WaitFor([&] { return ActiveOf("history").empty(); })) << run;
  }
  // Only the newest success is kept.
  ASSERT_TRUE(WaitFor([&] { return JobsOf("history").size() == 1U; }));
  EXPECT_EQ(MetaString(JobsOf("history").front(), "name"), started.back());
  // A failure, with a limit of none, goes at once.
  NextMinute("history");
  ASSERT_TRUE(WaitFor([&] { return ActiveOf("history").size() == 1U; }));
  const std::string failing = ActiveOf("history").front();
  Finish(failing, "Failed", "2026-12-04T00:00:00Z");
  ASSERT_TRUE(WaitFor([&] {
    auto jobs = JobsOf("history");
    return jobs.size() == 1U && MetaString(jobs.front(), "name") == started.back();
  }));
}

TEST_F(CronJobControllerTest, SuspendedOrPastItsStartingDeadlineNothingStarts) {
  Create(CronJobJson("paused", R"("suspend":true,)"));
  // Its first time passed 30 s before the clock: beyond a 10 s deadline.
  Create(CronJobJson("late", R"("startingDeadlineSeconds":10,)"));
  ahead_ += 60;
  const auto now = Now();
  const auto past_minute = now - (now.time_since_epoch() % minutes(1));
  ahead_ += 30 - std::chrono::duration_cast<seconds>(now - past_minute).count();
  controller_->Enqueue("default/paused");
  controller_->Enqueue("default/late");
  EXPECT_TRUE(Quiet());
  EXPECT_TRUE(JobsOf("paused").empty());
  EXPECT_TRUE(JobsOf("late").empty());
  // Resumed: the time it missed runs (it has no deadline).
  auto resumed = client_.Mutate(In(kCronJobsRef, "default", "paused"), [](json::object& next) {
    next["spec"].as_object()["suspend"] = false;
    return absl::OkStatus();
  });
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ASSERT_TRUE(WaitFor([&] { return JobsOf("paused").size() == 1U; }));
}

TEST_F(CronJobControllerTest, AJobOfItsNameThatIsNotItsBlocksOnlyThatCronJob) {
  Create(CronJobJson("blocked", ""));
  Create(CronJobJson("free", ""));
  // Someone else's Job holds the name "blocked" will want a minute from
  // now, taken before the clock moves (the controller may look at once).
  const auto minute =
      std::chrono::duration_cast<minutes>((Now() + seconds(60)).time_since_epoch()).count();
  auto taken = api_.Call("POST", "/apis/batch/v1/namespaces/default/jobs",
                         R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"blocked-)" +
                             std::to_string(minute) +
                             R"("},"spec":{"template":{"spec":{"restartPolicy":"Never",
                               "containers":[{"name":"c","image":"x"}]}}}})");
  ASSERT_EQ(taken.status, 201) << taken.body;
  ahead_ += 60;
  controller_->Enqueue("default/blocked");
  controller_->Enqueue("default/free");
  ASSERT_TRUE(WaitFor([&] { return ActiveOf("free").size() == 1U; }));
  EXPECT_TRUE(JobsOf("blocked").empty());
  EXPECT_TRUE(ActiveOf("blocked").empty());
}

TEST_F(CronJobControllerTest, HostileCronJobsNeitherCrashNorLoop) {
  for (const char* name : {"badschedule", "notemplate", "badstatus", "zone"}) {
    Create(CronJobJson(name, R"("suspend":true,)"));
  }
  const std::string prefix = "/registry/batch/cronjobs/default/";
  api_.Overwrite(
      prefix + "badschedule",
      json::object{{"spec", json::parse(R"({"schedule":"61 * * * *","jobTemplate":{}})")}});
  // No template, limits and deadlines of the wrong type or sign.
  api_.Overwrite(prefix + "notemplate",
                 json::object{{"spec", json::parse(R"({"schedule":"* * * * *","jobTemplate":5,
                     "successfulJobsHistoryLimit":-3,"failedJobsHistoryLimit":"x",
                     "startingDeadlineSeconds":-10,"suspend":"no"})")}});
  // A status of garbage.
  api_.Overwrite(
      prefix + "badstatus",
      json::object{{"spec", json::parse(R"({"schedule":"* * * * *","jobTemplate":{"spec":
                     {"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"x"}]}}}}})")},
                   {"status", json::parse(R"({"active":[5,{"name":7},{"uid":"u","name":"gone"}],
                     "lastScheduleTime":"9999-99-99T99:99:99Z","lastSuccessfulTime":3})")}});
  api_.Overwrite(
      prefix + "zone",
      json::object{{"spec", json::parse(R"({"schedule":"* * * * *","timeZone":"Mars/Olympus",
                     "jobTemplate":{}})")}});
  ahead_ += 120;
  for (const char* name : {"badschedule", "notemplate", "badstatus", "zone"}) {
    controller_->Enqueue("default/" + std::string(name));
  }
  // The one whose template admission refuses gets no Job (its retries back
  // off); the one with a usable template runs, its garbage status cleaned.
  ASSERT_TRUE(WaitFor([&] { return JobsOf("badstatus").size() == 1U; }));
  ASSERT_TRUE(WaitFor([&] { return ActiveOf("badstatus").size() == 1U; }));
  EXPECT_TRUE(Quiet());
  EXPECT_TRUE(JobsOf("badschedule").empty());
  EXPECT_TRUE(JobsOf("notemplate").empty());
  EXPECT_TRUE(JobsOf("zone").empty());
}

}  // namespace
}  // namespace bulkhead::controlplane::controllers
