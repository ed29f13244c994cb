// A CronJob's spec.schedule: the five-field cron line ("m h dom mon dow")
// as Kubernetes accepts it (robfig/cron's standard parser), and the next
// time it fires.
//
// Accepted: numbers, '*' and '?', ranges a-b, lists a,b, steps */n, a-b/n
// and a/n (a to the field's maximum), month names JAN-DEC and day names
// SUN-SAT in any case, 0 and 7 both Sunday, and the descriptors @yearly,
// @annually, @monthly, @weekly, @daily, @midnight and @hourly. Refused:
// "TZ=" / "CRON_TZ=" (as Kubernetes does; spec.timeZone is the field) and
// @every.
//
// Day of month and day of week: when both are restricted, a day matches if
// either does; when either is unrestricted, both must match. As in
// robfig/cron, a field is unrestricted when an item of it is '*' or '?'
// without a step, or with step 1 ("*/2" is restricted).
//
// Times are UTC only: spec.timeZone is not supported here. Fires at second 0.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_CRON_SCHEDULE_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_CRON_SCHEDULE_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/status.h"

namespace bulkhead::controlplane {

class CronSchedule {
 public:
  // Schedules longer than this are refused.
  static constexpr size_t kMaxLength = 1024;
  // Next looks this many years ahead, no further.
  static constexpr int kSearchYears = 5;

  // Parses a schedule. Errors are INVALID_ARGUMENT and name the field and
  // the bad value: `minute: "61" is out of range 0-59`.
  static StatusOr<CronSchedule> Parse(std::string_view text);

  // The first time the schedule fires strictly after `after`, or nullopt if
  // none within kSearchYears (e.g. "0 0 30 2 *").
  std::optional<std::chrono::system_clock::time_point> Next(
      std::chrono::system_clock::time_point after) const;

 private:
  CronSchedule() = default;

  bool DayMatches(std::chrono::year_month_day day) const;

  // Bit i set: value i fires. Day of week: 0 is Sunday.
  uint64_t minutes_ = 0;
  uint64_t hours_ = 0;
  uint64_t days_of_month_ = 0;
  uint64_t months_ = 0;
  uint64_t days_of_week_ = 0;
  bool day_of_month_star_ = false;
  bool day_of_week_star_ = false;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_CRON_SCHEDULE_H_
