// CronSchedule: the next times of CronJob schedules across minute, day,
// weekend, month, year and leap-day boundaries, the day-of-month / day-of-week
// rule, the descriptors, and errors that name the field for bad input. All
// times are fixed UTC instants, never the wall clock.
#include "controlplane/apiserver/registry/kinds/cron_schedule.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

using std::chrono::system_clock;

// y-m-d h:mi:s UTC.
system_clock::time_point At(int y, unsigned m, unsigned d, int h = 0, int mi = 0, int s = 0) {
  using namespace std::chrono;  // NOLINT(build/namespaces)
  return time_point_cast<system_clock::duration>(sys_days(year(y) / month(m) / day(d)) + hours(h) +
                                                 minutes(mi) + seconds(s));
}

// "2024-10-13 00:00:00", or "none".
std::string Text(std::optional<system_clock::time_point> time) {
  using namespace std::chrono;  // NOLINT(build/namespaces)
  if (!time) {
    return "none";
  }
  sys_days day = floor<days>(*time);
  year_month_day ymd(day);
  auto in_day = floor<seconds>(*time - day).count();
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     in_day / 3600, in_day / 60 % 60, in_day % 60);
}

CronSchedule MustParse(std::string_view text) {
  auto schedule = CronSchedule::Parse(text);
  EXPECT_TRUE(schedule.ok()) << text << ": " << schedule.status();
  return schedule.ok() ? *schedule : *CronSchedule::Parse("* * * * *");
}

// The next `count` times of `text` after `after`.
std::vector<std::string> Times(std::string_view text, system_clock::time_point after,
                               int count = 1) {
  CronSchedule schedule = MustParse(text);
  std::vector<std::string> times;
  for (int i = 0; i < count; ++i) {
    auto next = schedule.Next(after);
    times.push_back(Text(next));
    if (!next) {
      break;
    }
    after = *next;
  }
  return times;
}

std::string Next(std::string_view text, system_clock::time_point after) {
  return Times(text, after)[0];
}

// The message of the error for `text`, or "OK" if it parses.
std::string ErrorOf(std::string_view text) {
  auto schedule = CronSchedule::Parse(text);
  if (schedule.ok()) {
    return "OK";
  }
  EXPECT_EQ(schedule.status().code(), absl::StatusCode::kInvalidArgument) << text;
  return std::string(schedule.status().message());
}

TEST(CronScheduleTest, EveryMinuteFiresAtTheNextMinuteBoundary) {
  EXPECT_EQ(Next("* * * * *", At(2024, 10, 1, 10, 0, 0)), "2024-10-01 10:01:00");
  EXPECT_EQ(Next("* * * * *", At(2024, 10, 1, 10, 0, 30)), "2024-10-01 10:01:00");
  EXPECT_EQ(Next("* * * * *", At(2024, 10, 1, 10, 0, 59) + std::chrono::milliseconds(999)),
            "2024-10-01 10:01:00");
  EXPECT_EQ(Next("* * * * *", At(2024, 12, 31, 23, 59, 0)), "2025-01-01 00:00:00");
}

TEST(CronScheduleTest, EveryFifteenMinutes) {
  EXPECT_EQ(
      Times("*/15 * * * *", At(2024, 10, 1, 10, 0), 5),
      (std::vector<std::string>{"2024-10-01 10:15:00", "2024-10-01 10:30:00", "2024-10-01 10:45:00",
                                "2024-10-01 11:00:00", "2024-10-01 11:15:00"}));
  EXPECT_EQ(Next("*/15 * * * *", At(2024, 10, 1, 23, 46)), "2024-10-02 00:00:00");
}

TEST(CronScheduleTest, WeekdaysSkipTheWeekend) {
  // 2024-01-05 is a Friday.
  EXPECT_EQ(Times("0 9 * * MON-FRI", At(2024, 1, 5, 10, 0), 2),
            (std::vector<std::string>{"2024-01-08 09:00:00", "2024-01-09 09:00:00"}));
  EXPECT_EQ(Next("0 9 * * 1-5", At(2024, 1, 5, 8, 59, 59)), "2024-01-05 09:00:00");
  EXPECT_EQ(Next("0 9 * * 1-5", At(2024, 1, 5, 9, 0, 0)), "2024-01-08 09:00:00");
}

TEST(CronScheduleTest, MonthlyCrossesTheYearBoundary) {
  EXPECT_EQ(Times("0 0 1 * *", At(2024, 12, 15), 2),
            (std::vector<std::string>{"2025-01-01 00:00:00", "2025-02-01 00:00:00"}));
  EXPECT_EQ(Next("59 23 31 12 *", At(2024, 1, 1)), "2024-12-31 23:59:00");
  EXPECT_EQ(Next("0 0 1 1 *", At(1969, 6, 1)), "1970-01-01 00:00:00");  // before the epoch
}

TEST(CronScheduleTest, LeapDayWaitsForALeapYear) {
  EXPECT_EQ(Next("0 0 29 2 *", At(2027, 1, 1)), "2028-02-29 00:00:00");
  EXPECT_EQ(Next("0 0 29 2 *", At(2028, 2, 29)), "2032-02-29 00:00:00");
  EXPECT_EQ(Next("0 0 29 2 *", At(2099, 3, 1)), "2104-02-29 00:00:00");  // 2100 is not leap
}

TEST(CronScheduleTest, RestrictedDayOfMonthAndDayOfWeekMatchEither) {
  // 2024-10-11 is a Friday, 2024-10-13 a Sunday, 2024-09-13 a Friday.
  EXPECT_EQ(Times("0 0 13 * FRI", At(2024, 10, 11), 3),
            (std::vector<std::string>{"2024-10-13 00:00:00", "2024-10-18 00:00:00",
                                      "2024-10-25 00:00:00"}));
  EXPECT_EQ(Times("0 0 13 * FRI", At(2024, 9, 1), 3),
            (std::vector<std::string>{"2024-09-06 00:00:00", "2024-09-13 00:00:00",
                                      "2024-09-20 00:00:00"}));
  // A stepped '*' is restricted too (robfig/cron): odd days or Fridays.
  EXPECT_EQ(Times("0 0 */2 * FRI", At(2024, 10, 1), 3),
            (std::vector<std::string>{"2024-10-03 00:00:00", "2024-10-04 00:00:00",
                                      "2024-10-05 00:00:00"}));
}

TEST(CronScheduleTest, AnUnrestrictedDayFieldMeansBothMustMatch) {
  EXPECT_EQ(Next("0 0 * * FRI", At(2024, 10, 11)), "2024-10-18 00:00:00");
  EXPECT_EQ(Next("0 0 ? * FRI", At(2024, 10, 11)), "2024-10-18 00:00:00");
  EXPECT_EQ(Next("0 0 */1 * FRI", At(2024, 10, 11)), "2024-10-18 00:00:00");
  EXPECT_EQ(Next("0 0 13 * *", At(2024, 10, 11)), "2024-10-13 00:00:00");
  EXPECT_EQ(Next("0 0 13 * ?", At(2024, 10, 14)), "2024-11-13 00:00:00");
  EXPECT_EQ(Next("0 0 13 * 5", At(2024, 10, 14)), "2024-10-18 00:00:00");
}

TEST(CronScheduleTest, SevenAndZeroAreBothSunday) {
  // 2024-10-06 is a Sunday.
  for (std::string_view text : {"0 0 * * 0", "0 0 * * 7", "0 0 * * SUN", "0 0 * * sun"}) {
    EXPECT_EQ(Times(text, At(2024, 10, 1), 2),
              (std::vector<std::string>{"2024-10-06 00:00:00", "2024-10-13 00:00:00"}))
        << text;
  }
  EXPECT_EQ(Times("0 0 * * 6-7", At(2024, 10, 1), 3),
            (std::vector<std::string>{"2024-10-05 00:00:00", "2024-10-06 00:00:00",
                                      "2024-10-12 00:00:00"}));
  EXPECT_EQ(Times("0 0 * * FRI/2", At(2024, 10, 1), 3),  // Friday and Sunday (7)
            (std::vector<std::string>{"2024-10-04 00:00:00", "2024-10-06 00:00:00",
                                      "2024-10-11 00:00:00"}));
}

TEST(CronScheduleTest, DescriptorsAreTheirFiveFieldLines) {
  const std::vector<std::pair<std::string_view, std::string_view>> equivalents = {
      {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
      {"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
      {"@annually", "0 0 1 1 *"},
  };
  for (const auto& [descriptor, line] : equivalents) {
    for (auto after : {At(2024, 2, 28, 23, 30), At(2024, 12, 31, 23, 59, 59), At(2025, 6, 15, 7)}) {
      EXPECT_EQ(Times(descriptor, after, 3), Times(line, after, 3)) << descriptor;
    }
  }
  EXPECT_EQ(Next("@hourly", At(2024, 10, 1, 10, 30)), "2024-10-01 11:00:00");
  EXPECT_EQ(Next("@daily", At(2024, 10, 1, 10, 30)), "2024-10-02 00:00:00");
  EXPECT_EQ(Next("@weekly", At(2024, 10, 1)), "2024-10-06 00:00:00");
  EXPECT_EQ(Next("@yearly", At(2024, 10, 1)), "2025-01-01 00:00:00");
  EXPECT_EQ(Next("  @monthly\t", At(2024, 10, 1)), "2024-11-01 00:00:00");
}

TEST(CronScheduleTest, ListsRangesStepsAndNames) {
  EXPECT_EQ(
      Times("5,10-12,50/5 * * * *", At(2024, 10, 1, 10, 0), 7),
      (std::vector<std::string>{"2024-10-01 10:05:00", "2024-10-01 10:10:00", "2024-10-01 10:11:00",
                                "2024-10-01 10:12:00", "2024-10-01 10:50:00", "2024-10-01 10:55:00",
                                "2024-10-01 11:05:00"}));
  EXPECT_EQ(Times("0 8-18/5 * * *", At(2024, 10, 1), 4),
            (std::vector<std::string>{"2024-10-01 08:00:00", "2024-10-01 13:00:00",
                                      "2024-10-01 18:00:00", "2024-10-02 08:00:00"}));
  EXPECT_EQ(Times("30 2 1 jan,Jul *", At(2024, 2, 1), 2),
            (std::vector<std::string>{"2024-07-01 02:30:00", "2025-01-01 02:30:00"}));
  EXPECT_EQ(Next("0 0 1 FEB-mar *", At(2024, 2, 1)), "2024-03-01 00:00:00");
  EXPECT_EQ(Next("*/100 * * * *", At(2024, 10, 1, 10, 1)), "2024-10-01 11:00:00");
  EXPECT_EQ(Next(" 0\t0  1 * *  ", At(2024, 10, 1)), "2024-11-01 00:00:00");
}

TEST(CronScheduleTest, ImpossibleSchedulesNeverFire) {
  EXPECT_EQ(Next("0 0 30 2 *", At(2024, 1, 1)), "none");
  EXPECT_EQ(Next("0 0 31 4,6,9,11 *", At(2024, 1, 1)), "none");
  EXPECT_EQ(Next("* * 31 2 ?", At(2024, 1, 1)), "none");
  // No time beyond what system_clock holds.
  EXPECT_EQ(Text(MustParse("* * * * *").Next(system_clock::time_point::max())), "none");
  EXPECT_EQ(Text(MustParse("0 0 1 1 *").Next(At(2262, 1, 1))), "none");
}

TEST(CronScheduleTest, ManyImpossibleSearchesAreQuick) {
  CronSchedule schedule = MustParse("* * 30,31 2 *");
  auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(schedule.Next(At(2024, 1, 1, 0, i)).has_value());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(2));
}

TEST(CronScheduleTest, BadValuesAreNamedWithTheirField) {
  EXPECT_EQ(ErrorOf("61 * * * *"), "minute: \"61\" is out of range 0-59");
  EXPECT_EQ(ErrorOf("* 24 * * *"), "hour: \"24\" is out of range 0-23");
  EXPECT_EQ(ErrorOf("* * 0 * *"), "day of month: \"0\" is out of range 1-31");
  EXPECT_EQ(ErrorOf("* * 32 * *"), "day of month: \"32\" is out of range 1-31");
  EXPECT_EQ(ErrorOf("* * * 13 *"), "month: \"13\" is out of range 1-12");
  EXPECT_EQ(ErrorOf("* * * * 8"), "day of week: \"8\" is out of range 0-7");
  EXPECT_EQ(ErrorOf("99999999999999999999 * * * *"),
            "minute: \"99999999999999999999\" is out of range 0-59");
  EXPECT_EQ(ErrorOf("*/0 * * * *"), "minute: step 0 in \"*/0\" must be positive");
  EXPECT_EQ(ErrorOf("* 1-5/0 * * *"), "hour: step 0 in \"1-5/0\" must be positive");
  EXPECT_EQ(ErrorOf("* * 5-1 * *"), "day of month: range \"5-1\" runs backwards");
  EXPECT_EQ(ErrorOf("* * * * SAT-SUN"), "day of week: range \"SAT-SUN\" runs backwards");
  EXPECT_EQ(ErrorOf("1, * * * *"), "minute: empty list item in \"1,\"");
  EXPECT_EQ(ErrorOf("* ,1 * * *"), "hour: empty list item in \",1\"");
  EXPECT_EQ(ErrorOf("* * * 1,,2 *"), "month: empty list item in \"1,,2\"");
  EXPECT_EQ(ErrorOf("* * * FOO *"), "month: \"FOO\" is not a number or a month name");
  EXPECT_EQ(ErrorOf("* * * * MONDAY"), "day of week: \"MONDAY\" is not a number or a day name");
  EXPECT_EQ(ErrorOf("jan * * * *"), "minute: \"jan\" is not a number");
  EXPECT_EQ(ErrorOf("1-2-3 * * * *"), "minute: \"1-2-3\" has more than one '-'");
  EXPECT_EQ(ErrorOf("*/2/3 * * * *"), "minute: \"*/2/3\" has more than one '/'");
  EXPECT_EQ(ErrorOf("*-5 * * * *"), "minute: \"*-5\": '*' cannot start a range");
  EXPECT_EQ(ErrorOf("-5 * * * *"), "minute: \"-5\" has an empty value");
  EXPECT_EQ(ErrorOf("5- * * * *"), "minute: \"5-\" has an empty value");
  EXPECT_EQ(ErrorOf("*/x * * * *"), "minute: step \"x\" in \"*/x\" is not a number");
  EXPECT_EQ(ErrorOf("*/-1 * * * *"), "minute: step \"-1\" in \"*/-1\" is not a number");
  EXPECT_EQ(ErrorOf("*/ * * * *"), "minute: step \"\" in \"*/\" is not a number");
  EXPECT_EQ(ErrorOf("*/99999999999999999999 * * * *"),
            "minute: step \"99999999999999999999\" in \"*/99999999999999999999\" is larger than "
            "1000000");
  EXPECT_EQ(ErrorOf("+5 * * * *"), "minute: \"+5\" is not a number");
}

TEST(CronScheduleTest, BadShapesAreRefused) {
  EXPECT_EQ(ErrorOf(""), "schedule: empty");
  EXPECT_EQ(ErrorOf(" \t\n"), "schedule: empty");
  EXPECT_EQ(ErrorOf("* * * *"),
            "schedule: expected 5 fields (minute hour day-of-month month day-of-week), found 4");
  EXPECT_EQ(ErrorOf("0 * * * * *"),
            "schedule: expected 5 fields (minute hour day-of-month month day-of-week), found 6");
  EXPECT_EQ(ErrorOf(std::string(1025, ' ')), "schedule: longer than 1024 characters");
  EXPECT_EQ(ErrorOf("* * * * " + std::string(1020, '*')).substr(0, 13), "schedule: lon");
  // Just under the limit: refused for what it says, quoted short.
  std::string digits = "* * * * " + std::string(1016, '9');
  ASSERT_EQ(digits.size(), CronSchedule::kMaxLength);
  EXPECT_EQ(ErrorOf(digits),
            "day of week: \"" + std::string(40, '9') + "...\" is out of range 0-7");
  EXPECT_EQ(ErrorOf(std::string_view("* * * * \0\x01", 10)),
            "day of week: \"??\" is not a number or a day name");
}

TEST(CronScheduleTest, TimeZonesAndEveryAreRefused) {
  const std::string tz =
      "schedule: TZ and CRON_TZ cannot be used in the schedule; use spec.timeZone";
  EXPECT_EQ(ErrorOf("TZ=UTC 0 0 * * *"), tz);
  EXPECT_EQ(ErrorOf("CRON_TZ=Europe/Berlin 0 0 * * *"), tz);
  EXPECT_EQ(ErrorOf("TZ=America/New_York @daily"), tz);
  EXPECT_EQ(ErrorOf("@every 1h"),
            "schedule: @every is not supported; use five fields or a descriptor");
  EXPECT_EQ(ErrorOf("@often"),
            "schedule: unknown descriptor \"@often\" (want @yearly, @annually, @monthly, @weekly, "
            "@daily, @midnight or @hourly)");
  EXPECT_EQ(ErrorOf("@daily 0"),
            "schedule: unknown descriptor \"@daily 0\" (want @yearly, @annually, @monthly, "
            "@weekly, @daily, @midnight or @hourly)");
  EXPECT_EQ(ErrorOf("@DAILY").substr(0, 28), "schedule: unknown descriptor");
}

}  // namespace
}  // namespace bulkhead::controlplane
