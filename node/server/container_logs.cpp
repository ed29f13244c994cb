#include "node/server/container_logs.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <thread>

#include "fmt/format.h"

namespace bulkhead::node {
namespace {

// A line longer than this (no CRI writer makes one) is dropped; a line
// joined from more partial records is written out in pieces.
constexpr size_t kMaxLineBytes = size_t{1} << 20;

bool Digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int ToInt(std::string_view text) {
  int value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::optional<bool> ParseBool(std::string_view text) {
  if (text == "1" || text == "t" || text == "T" || text == "true" || text == "TRUE" ||
      text == "True") {
    return true;
  }
  if (text == "0" || text == "f" || text == "F" || text == "false" || text == "FALSE" ||
      text == "False") {
    return false;
  }
  return std::nullopt;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::optional<LogClock::time_point> ParseRfc3339(std::string_view text) {
  // 2006-01-02T15:04:05[.frac](Z|±hh:mm)
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  for (size_t at : {0, 5, 8, 11, 14, 17}) {
    if (!Digits(text.substr(at, at == 0 ? 4 : 2))) {
      return std::nullopt;
    }
  }
  std::tm tm{};
  tm.tm_year = ToInt(text.substr(0, 4)) - 1900;
  tm.tm_mon = ToInt(text.substr(5, 2)) - 1;
  tm.tm_mday = ToInt(text.substr(8, 2));
  tm.tm_hour = ToInt(text.substr(11, 2));
  tm.tm_min = ToInt(text.substr(14, 2));
  tm.tm_sec = ToInt(text.substr(17, 2));
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(19);
  int64_t nanos = 0;
  if (!rest.empty() && rest[0] == '.') {
    size_t digits = 1;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
      ++digits;
    }
    std::string_view fraction = rest.substr(1, digits - 1);
    if (fraction.empty()) {
      return std::nullopt;
    }
    for (size_t i = 0; i < 9; ++i) {
      nanos = nanos * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
    }
    rest = rest.substr(digits);
  }
  int64_t offset_seconds = 0;
  if (rest == "Z" || rest == "z") {
    offset_seconds = 0;
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
             Digits(rest.substr(1, 2)) && Digits(rest.substr(4, 2))) {
    offset_seconds = (ToInt(rest.substr(1, 2)) * 3600) + (ToInt(rest.substr(4, 2)) * 60);
    if (rest[0] == '-') {
      offset_seconds = -offset_seconds;
    }
  } else {
    return std::nullopt;
  }
  const time_t seconds = ::timegm(&tm) - offset_seconds;
  return LogClock::time_point(std::chrono::duration_cast<LogClock::duration>(
      std::chrono::seconds(seconds) + std::chrono::nanoseconds(nanos)));
}

std::optional<CriLogRecord> ParseCriLogLine(std::string_view line) {
  CriLogRecord record;
  size_t space = line.find(' ');
  if (space == std::string_view::npos) {
    return std::nullopt;
  }
  record.timestamp = line.substr(0, space);
  auto time = ParseRfc3339(record.timestamp);
  if (!time.has_value()) {
    return std::nullopt;
  }
  record.time = *time;
  line.remove_prefix(space + 1);
  if (line.substr(0, 7) == "stdout ") {
    record.is_stderr = false;
  } else if (line.substr(0, 7) == "stderr ") {
    record.is_stderr = true;
  } else {
    return std::nullopt;
  }
  line.remove_prefix(7);
  // The tag: F or P, possibly more colon-separated tags after it.
  size_t tag_end = line.find(' ');
  std::string_view tags = line.substr(0, tag_end);
  std::string_view first = tags.substr(0, tags.find(':'));
  if (first == "F") {
    record.partial = false;
  } else if (first == "P") {
    record.partial = true;
  } else {
    return std::nullopt;
  }
  record.content =
      tag_end == std::string_view::npos ? std::string_view() : line.substr(tag_end + 1);
  return record;
}

StatusOr<LogOptions> ParseLogOptions(const std::vector<std::pair<std::string, std::string>>& query,
                                     LogClock::time_point now) {
  LogOptions out;
  std::optional<int64_t> since_seconds;
  std::optional<std::string> since_time;
  for (const auto& entry : query) {
    const std::string& key = entry.first;
    const std::string& value = entry.second;
    auto boolean = [&](bool& field) -> Status {
      auto parsed = ParseBool(value);
      if (!parsed.has_value()) {
        return absl::InvalidArgumentError(
            fmt::format("{}: Invalid value: \"{}\": not a boolean", key, value));
      }
      field = *parsed;
      return absl::OkStatus();
    };
    auto integer = [&](std::optional<int64_t>& field, int64_t minimum) -> Status {
      auto parsed = ParseInt(value);
      if (!parsed.has_value()) {
        return absl::InvalidArgumentError(
            fmt::format("{}: Invalid value: \"{}\": not an integer", key, value));
      }
      if (*parsed < minimum) {
        return absl::InvalidArgumentError(fmt::format(
            "{}: Invalid value: {}: must be greater than or equal to {}", key, *parsed, minimum));
      }
      field = *parsed;
      return absl::OkStatus();
    };
    if (key == "follow") {
      BH_RETURN_IF_ERROR(boolean(out.follow));
    } else if (key == "previous") {
      BH_RETURN_IF_ERROR(boolean(out.previous));
    } else if (key == "timestamps") {
      BH_RETURN_IF_ERROR(boolean(out.timestamps));
    } else if (key == "tailLines") {
      BH_RETURN_IF_ERROR(integer(out.tail_lines, 0));
    } else if (key == "limitBytes") {
      BH_RETURN_IF_ERROR(integer(out.limit_bytes, 1));
    } else if (key == "sinceSeconds") {
      BH_RETURN_IF_ERROR(integer(since_seconds, 1));
    } else if (key == "sinceTime") {
      since_time = value;
    }
  }
  if (since_seconds.has_value() && since_time.has_value()) {
    return absl::InvalidArgumentError("at most one of sinceTime or sinceSeconds may be specified");
  }
  if (since_seconds.has_value()) {
    // Past a century back, everything is in.
    const int64_t seconds = std::min<int64_t>(*since_seconds, int64_t{100} * 365 * 86400);
    out.since = now - std::chrono::seconds(seconds);
  }
  if (since_time.has_value()) {
    auto parsed = ParseRfc3339(*since_time);
    if (!parsed.has_value()) {
      return absl::InvalidArgumentError(
          fmt::format("sinceTime: Invalid value: \"{}\": not an RFC 3339 time", *since_time));
    }
    out.since = *parsed;
  }
  return out;
}

ContainerLogReader::ContainerLogReader(std::string path, LogOptions options)
    : path_(std::move(path)), options_(options) {}

ContainerLogReader::~ContainerLogReader() {
  if (file_ != nullptr) {
    std::fclose(file_);
  }
}

Status ContainerLogReader::Open() {
  file_ = std::fopen(path_.c_str(), "rb");
  if (file_ == nullptr) {
    return absl::NotFoundError(fmt::format("the log file {} is missing", path_));
  }
  if (!options_.tail_lines.has_value()) {
    return absl::OkStatus();
  }
  // The start of each whole line, the last tailLines + 1 of them: the
  // first is where the last tailLines lines begin.
  const auto keep = static_cast<size_t>(std::min<int64_t>(*options_.tail_lines, int64_t{1} << 40));
  std::deque<long> starts{0};
  std::string line;
  std::vector<char> buffer(size_t{64} << 10);
  long offset = 0;
  size_t got = 0;
  while ((got = std::fread(buffer.data(), 1, buffer.size(), file_)) > 0) {
    for (size_t i = 0; i < got; ++i) {
      const char c = buffer[i];
      ++offset;
      if (c != '\n') {
        if (line.size() < kMaxLineBytes) {
          line.push_back(c);
        }
        continue;
      }
      auto record = ParseCriLogLine(line);
      line.clear();
      if (record.has_value() && !record->partial) {
        starts.push_back(offset);
        while (starts.size() > keep + 1) {
          starts.pop_front();
        }
      }
    }
  }
  std::clearerr(file_);
  if (std::fseek(file_, starts.front(), SEEK_SET) != 0) {
    return absl::InternalError(fmt::format("seeking in {}", path_));
  }
  return absl::OkStatus();
}

bool ContainerLogReader::done() const {
  return options_.limit_bytes.has_value() && written_ >= *options_.limit_bytes;
}

void ContainerLogReader::Emit(std::string_view text, std::string& out) {
  if (options_.limit_bytes.has_value()) {
    const int64_t left = *options_.limit_bytes - written_;
    if (left <= 0) {
      return;
    }
    text = text.substr(
        0, static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(text.size()))));
  }
  written_ += static_cast<int64_t>(text.size());
  out.append(text);
}

void ContainerLogReader::Render(const CriLogRecord& record, std::string& out) {
  Pending& line = pending_[record.is_stderr ? 1 : 0];
  if (!line.open) {
    line.open = true;
    line.timestamp = std::string(record.timestamp);
    line.skip = options_.since.has_value() && record.time < *options_.since;
    line.text.clear();
    if (options_.timestamps && !line.skip) {
      line.text = line.timestamp + " ";
    }
  }
  if (line.skip) {
    line.open = record.partial;
    return;
  }
  line.text.append(record.content);
  if (!record.partial) {
    line.text.push_back('\n');
    Emit(line.text, out);
    line.text.clear();
    line.open = false;
  } else if (line.text.size() >= kMaxLineBytes) {
    // A very long line goes out in pieces; it stays open.
    Emit(line.text, out);
    line.text.clear();
  }
}

void ContainerLogReader::FlushPartials(std::string& out) {
  for (Pending& line : pending_) {
    if (line.open && !line.skip) {
      Emit(line.text, out);
    }
    line.text.clear();
    line.open = false;
  }
}

std::string ContainerLogReader::Read(size_t max_bytes, bool final) {
  std::string out;
  if (file_ == nullptr || done()) {
    return out;
  }
  std::vector<char> buffer(std::min<size_t>(max_bytes, size_t{64} << 10) + 1);
  while (out.size() < max_bytes && !done()) {
    std::clearerr(file_);
    const size_t got = std::fread(buffer.data(), 1, buffer.size(), file_);
    if (got == 0) {
      if (final) {
        if (!carry_.empty()) {
          if (auto record = ParseCriLogLine(carry_); record.has_value()) {
            Render(*record, out);
          }
          carry_.clear();
        }
        FlushPartials(out);
      }
      break;
    }
    std::string_view data(buffer.data(), got);
    while (!data.empty()) {
      const size_t newline = data.find('\n');
      if (newline == std::string_view::npos) {
        if (carry_.size() + data.size() <= kMaxLineBytes) {
          carry_.append(data);
        } else {
          carry_.clear();  // malformed: no CRI record is this long
        }
        break;
      }
      std::string_view line = data.substr(0, newline);
      data.remove_prefix(newline + 1);
      std::optional<CriLogRecord> record;
      if (carry_.empty()) {
        record = ParseCriLogLine(line);
        if (record.has_value()) {
          Render(*record, out);
        }
      } else {
        carry_.append(line);
        record = ParseCriLogLine(carry_);
        if (record.has_value()) {
          Render(*record, out);
        }
        carry_.clear();
      }
    }
  }
  return out;
}

Status StreamContainerLog(const std::string& path, const LogOptions& options,
                          const LogStreamHooks& hooks) {
  ContainerLogReader reader(path, options);
  BH_RETURN_IF_ERROR(reader.Open());
  auto cancelled = [&hooks] { return hooks.cancelled && hooks.cancelled(); };
  for (;;) {
    if (cancelled()) {
      return absl::OkStatus();
    }
    std::string chunk = reader.Read(size_t{64} << 10, !options.follow);
    if (!chunk.empty()) {
      if (!hooks.sink(chunk)) {
        return absl::OkStatus();
      }
      continue;
    }
    if (reader.done() || !options.follow) {
      return absl::OkStatus();
    }
    if (!hooks.running || !hooks.running()) {
      // Exited: what it wrote before is in the file; read to its end.
      for (;;) {
        chunk = reader.Read(size_t{64} << 10, true);
        if (chunk.empty() || !hooks.sink(chunk)) {
          return absl::OkStatus();
        }
      }
    }
    // Wait for more, a slice at a time so a cancel is seen soon.
    const auto until = std::chrono::steady_clock::now() + hooks.poll;
    while (std::chrono::steady_clock::now() < until && !cancelled()) {
      std::this_thread::sleep_for(
          std::min<std::chrono::milliseconds>(hooks.poll, std::chrono::milliseconds(50)));
    }
  }
}

}  // namespace bulkhead::node
