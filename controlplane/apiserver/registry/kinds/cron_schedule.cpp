// Parsing a cron line into one bitset per field, and walking the calendar
// (month, day, hour, minute, each skipped to its next set bit) to the next
// time it fires.
#include "controlplane/apiserver/registry/kinds/cron_schedule.h"

#include <array>
#include <bit>
#include <string>
#include <vector>

namespace bulkhead::controlplane {
namespace {

using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::year_month_day;

constexpr std::array<std::string_view, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kDayNames = {"sun", "mon", "tue", "wed",
                                                       "thu", "fri", "sat"};

// One of the five fields: its name in errors, its bounds, and the names its
// values may go by (names[i] is first_name + i).
struct Field {
  std::string_view name;
  int min;
  int max;
  const std::string_view* names = nullptr;
  size_t name_count = 0;
  int first_name = 0;
  std::string_view name_kind = "";
};

constexpr Field kMinute{"minute", 0, 59};
constexpr Field kHour{"hour", 0, 23};
constexpr Field kDayOfMonth{"day of month", 1, 31};
constexpr Field kMonth{"month", 1, 12, kMonthNames.data(), kMonthNames.size(), 1, "month name"};
// 7 is Sunday too; folded onto 0 once the field is parsed.
constexpr Field kDayOfWeek{"day of week", 0, 7, kDayNames.data(), kDayNames.size(), 0, "day name"};

// The descriptors and the lines they stand for.
constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kDescriptors = {{
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
}};

// Steps above this are refused (any step above 59 already picks one value).
constexpr uint64_t kMaxStep = 1'000'000;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsDigits(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

// Decimal digits as a number, saturated just above `cap` so that no input
// overflows.
uint64_t DigitsValue(std::string_view digits, uint64_t cap) {
  uint64_t value = 0;
  for (char c : digits) {
    value = value * 10 + static_cast<uint64_t>(c - '0');
    if (value > cap) {
      return cap + 1;
    }
  }
  return value;
}

// `text` for an error message: quoted, cut short, control bytes shown as '?'.
std::string Quote(std::string_view text) {
  constexpr size_t kMaxShown = 40;
  std::string quoted = "\"";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    quoted += (c < 0x20 || c == 0x7f) ? '?' : text[i];
  }
  if (text.size() > kMaxShown) {
    quoted += "...";
  }
  quoted += '"';
  return quoted;
}

Status FieldError(const Field& field, std::string_view message) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", field.name, message));
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t begin = 0;
  while (true) {
    size_t end = text.find(separator, begin);
    if (end == std::string_view::npos) {
      parts.push_back(text.substr(begin));
      return parts;
    }
    parts.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
}

std::vector<std::string_view> SplitSpaces(std::string_view text) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsSpace(text[i])) {
      ++i;
    }
    size_t begin = i;
    while (i < text.size() && !IsSpace(text[i])) {
      ++i;
    }
    if (i > begin) {
      words.push_back(text.substr(begin, i - begin));
    }
  }
  return words;
}

// A value of `field`: a number within its bounds or one of its names.
StatusOr<int> ParseValue(const Field& field, std::string_view token, std::string_view item) {
  if (token.empty()) {
    return FieldError(field, fmt::format("{} has an empty value", Quote(item)));
  }
  if (IsDigits(token)) {
    uint64_t value = DigitsValue(token, static_cast<uint64_t>(field.max));
    if (value < static_cast<uint64_t>(field.min) || value > static_cast<uint64_t>(field.max)) {
      return FieldError(
          field, fmt::format("{} is out of range {}-{}", Quote(token), field.min, field.max));
    }
    return static_cast<int>(value);
  }
  if (token.size() == 3) {
    for (size_t i = 0; i < field.name_count; ++i) {
      std::string_view name = field.names[i];
      if (Lower(token[0]) == name[0] && Lower(token[1]) == name[1] && Lower(token[2]) == name[2]) {
        return field.first_name + static_cast<int>(i);
      }
    }
  }
  if (field.name_count > 0) {
    return FieldError(field,
                      fmt::format("{} is not a number or a {}", Quote(token), field.name_kind));
  }
  return FieldError(field, fmt::format("{} is not a number", Quote(token)));
}

struct FieldBits {
  uint64_t bits = 0;
  bool star = false;  // an item was '*' or '?' (with no step, or step 1)
};

// One list item: "*", "?", "a", "a-b", each optionally followed by "/step".
StatusOr<FieldBits> ParseItem(const Field& field, std::string_view item) {
  std::vector<std::string_view> range_and_step = Split(item, '/');
  if (range_and_step.size() > 2) {
    return FieldError(field, fmt::format("{} has more than one '/'", Quote(item)));
  }
  std::string_view range = range_and_step[0];
  std::vector<std::string_view> low_and_high = Split(range, '-');
  if (low_and_high.size() > 2) {
    return FieldError(field, fmt::format("{} has more than one '-'", Quote(item)));
  }
  int start = 0;
  int end = 0;
  FieldBits result;
  if (range == "*" || range == "?") {
    start = field.min;
    end = field.max;
    result.star = true;
  } else {
    if (low_and_high[0] == "*" || low_and_high[0] == "?") {
      return FieldError(field,
                        fmt::format("{}: '{}' cannot start a range", Quote(item), low_and_high[0]));
    }
    BH_ASSIGN_OR_RETURN(start, ParseValue(field, low_and_high[0], item));
    end = start;
    if (low_and_high.size() == 2) {
      BH_ASSIGN_OR_RETURN(end, ParseValue(field, low_and_high[1], item));
    }
  }
  uint64_t step = 1;
  if (range_and_step.size() == 2) {
    std::string_view step_text = range_and_step[1];
    if (!IsDigits(step_text)) {
      return FieldError(
          field, fmt::format("step {} in {} is not a number", Quote(step_text), Quote(item)));
    }
    step = DigitsValue(step_text, kMaxStep);
    if (step == 0) {
      return FieldError(field, fmt::format("step 0 in {} must be positive", Quote(item)));
    }
    if (step > kMaxStep) {
      return FieldError(field, fmt::format("step {} in {} is larger than {}", Quote(step_text),
                                           Quote(item), kMaxStep));
    }
    // "a/n" is "a-max/n".
    if (!result.star && low_and_high.size() == 1) {
      end = field.max;
    }
    if (step > 1) {
      result.star = false;
    }
  }
  if (start > end) {
    return FieldError(field, fmt::format("range {} runs backwards", Quote(range)));
  }
  for (uint64_t value = static_cast<uint64_t>(start); value <= static_cast<uint64_t>(end);
       value += step) {
    result.bits |= uint64_t{1} << value;
  }
  return result;
}

// A field: list items separated by ','.
StatusOr<FieldBits> ParseField(const Field& field, std::string_view text) {
  FieldBits result;
  for (std::string_view item : Split(text, ',')) {
    if (item.empty()) {
      return FieldError(field, fmt::format("empty list item in {}", Quote(text)));
    }
    BH_ASSIGN_OR_RETURN(FieldBits bits, ParseItem(field, item));
    result.bits |= bits.bits;
    result.star = result.star || bits.star;
  }
  return result;
}

Status ScheduleError(std::string_view message) {
  return absl::InvalidArgumentError(fmt::format("schedule: {}", message));
}

// Bits of `set` at `from` or above.
uint64_t AtOrAbove(uint64_t set, unsigned from) {
  return from >= 64 ? 0 : set & ~((uint64_t{1} << from) - 1);
}

}  // namespace

StatusOr<CronSchedule> CronSchedule::Parse(std::string_view text) {
  if (text.size() > kMaxLength) {
    return ScheduleError(fmt::format("longer than {} characters", kMaxLength));
  }
  while (!text.empty() && IsSpace(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && IsSpace(text.back())) {
    text.remove_suffix(1);
  }
  if (text.empty()) {
    return ScheduleError("empty");
  }
  if (text.find("TZ") != std::string_view::npos) {
    return ScheduleError("TZ and CRON_TZ cannot be used in the schedule; use spec.timeZone");
  }
  if (text.front() == '@') {
    if (text.starts_with("@every")) {
      return ScheduleError("@every is not supported; use five fields or a descriptor");
    }
    for (const auto& [descriptor, line] : kDescriptors) {
      if (text == descriptor) {
        return Parse(line);
      }
    }
    return ScheduleError(fmt::format(
        "unknown descriptor {} (want @yearly, @annually, @monthly, @weekly, @daily, @midnight or "
        "@hourly)",
        Quote(text)));
  }
  std::vector<std::string_view> fields = SplitSpaces(text);
  if (fields.size() != 5) {
    return ScheduleError(fmt::format(
        "expected 5 fields (minute hour day-of-month month day-of-week), found {}", fields.size()));
  }
  CronSchedule schedule;
  BH_ASSIGN_OR_RETURN(FieldBits minutes, ParseField(kMinute, fields[0]));
  BH_ASSIGN_OR_RETURN(FieldBits hours, ParseField(kHour, fields[1]));
  BH_ASSIGN_OR_RETURN(FieldBits days_of_month, ParseField(kDayOfMonth, fields[2]));
  BH_ASSIGN_OR_RETURN(FieldBits months, ParseField(kMonth, fields[3]));
  BH_ASSIGN_OR_RETURN(FieldBits days_of_week, ParseField(kDayOfWeek, fields[4]));
  schedule.minutes_ = minutes.bits;
  schedule.hours_ = hours.bits;
  schedule.days_of_month_ = days_of_month.bits;
  schedule.months_ = months.bits;
  constexpr uint64_t kSunday7 = uint64_t{1} << 7;
  schedule.days_of_week_ = days_of_week.bits & ~kSunday7;
  if ((days_of_week.bits & kSunday7) != 0) {
    schedule.days_of_week_ |= 1;
  }
  schedule.day_of_month_star_ = days_of_month.star;
  schedule.day_of_week_star_ = days_of_week.star;
  return schedule;
}

bool CronSchedule::DayMatches(year_month_day day) const {
  bool dom = ((days_of_month_ >> static_cast<unsigned>(day.day())) & 1) != 0;
  bool dow = ((days_of_week_ >> std::chrono::weekday(sys_days(day)).c_encoding()) & 1) != 0;
  if (day_of_month_star_ || day_of_week_star_) {
    return dom && dow;
  }
  return dom || dow;
}

std::optional<std::chrono::system_clock::time_point> CronSchedule::Next(
    std::chrono::system_clock::time_point after) const {
  using std::chrono::floor;
  using std::chrono::hours;
  using std::chrono::minutes;
  using std::chrono::month;
  using Minute = std::chrono::time_point<std::chrono::system_clock, minutes>;

  Minute start = floor<minutes>(after) + minutes(1);
  sys_days start_day = floor<days>(start);
  year_month_day day(start_day);
  unsigned hour = static_cast<unsigned>(floor<hours>(start - start_day).count());
  unsigned minute = static_cast<unsigned>((start - start_day - hours(hour)).count());
  const int last_year = static_cast<int>(day.year()) + kSearchYears;

  auto next_day = [&] {
    day = year_month_day(sys_days(day) + days(1));
    hour = 0;
    minute = 0;
  };
  // Each turn moves to the next month, day or hour that may fire, so this
  // runs at most a few thousand times.
  while (static_cast<int>(day.year()) <= last_year) {
    unsigned m = static_cast<unsigned>(day.month());
    if (((months_ >> m) & 1) == 0) {
      uint64_t later = AtOrAbove(months_, m + 1);
      if (later != 0) {
        day = day.year() / month(static_cast<unsigned>(std::countr_zero(later))) / 1;
      } else {
        day = (day.year() + std::chrono::years(1)) /
              month(static_cast<unsigned>(std::countr_zero(months_))) / 1;
      }
      hour = 0;
      minute = 0;
      continue;
    }
    if (!DayMatches(day)) {
      next_day();
      continue;
    }
    uint64_t hours_left = AtOrAbove(hours_, hour);
    if (hours_left == 0) {
      next_day();
      continue;
    }
    unsigned next_hour = static_cast<unsigned>(std::countr_zero(hours_left));
    if (next_hour != hour) {
      hour = next_hour;
      minute = 0;
    }
    uint64_t minutes_left = AtOrAbove(minutes_, minute);
    if (minutes_left == 0) {
      if (++hour == 24) {
        next_day();
      } else {
        minute = 0;
      }
      continue;
    }
    minute = static_cast<unsigned>(std::countr_zero(minutes_left));
    Minute fires = sys_days(day) + hours(hour) + minutes(minute);
    if (fires > floor<minutes>(std::chrono::system_clock::time_point::max())) {
      return std::nullopt;
    }
    return std::chrono::time_point_cast<std::chrono::system_clock::duration>(fires);
  }
  return std::nullopt;
}

}  // namespace bulkhead::controlplane
