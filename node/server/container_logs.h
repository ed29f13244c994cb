// Containers' logs as a kubelet serves them: CRI log files read and
// rendered for `kubectl logs`.
//
// A CRI log file holds one record a line:
//   <RFC3339Nano timestamp> <stdout|stderr> <F|P> <content>
// where P marks a partial line that the stream's next record continues and
// F ends the line. Rendered, a line is its records' contents joined (per
// stream), and with timestamps the first record's timestamp, a space, then
// the content. tailLines counts whole lines, sinceSeconds/sinceTime drop
// the lines written before, limitBytes cuts the output at that many bytes.
// Following keeps reading the file as it grows until the container has
// exited and the file is read to its end, or the reader is told to stop.
#ifndef BULKHEAD_NODE_SERVER_CONTAINER_LOGS_H_
#define BULKHEAD_NODE_SERVER_CONTAINER_LOGS_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace bulkhead::node {

using LogClock = std::chrono::system_clock;

struct CriLogRecord {
  std::string_view timestamp;  // as written
  LogClock::time_point time;
  bool is_stderr = false;
  bool partial = false;  // P: the stream's next record continues the line
  std::string_view content;
};

// One line of a CRI log file, without its newline; nullopt when malformed.
// The views point into `line`.
std::optional<CriLogRecord> ParseCriLogLine(std::string_view line);

// An RFC 3339 time with optional fraction and a Z or ±hh:mm offset.
std::optional<LogClock::time_point> ParseRfc3339(std::string_view text);

struct LogOptions {
  bool follow = false;
  bool previous = false;
  bool timestamps = false;
  std::optional<int64_t> tail_lines;   // >= 0
  std::optional<int64_t> limit_bytes;  // >= 1
  // From sinceSeconds or sinceTime: lines written before are left out.
  std::optional<LogClock::time_point> since;
};

// The query of /containerLogs (follow, previous, timestamps, tailLines,
// limitBytes, sinceSeconds, sinceTime); INVALID_ARGUMENT worded for the
// client when a value is malformed or out of range.
StatusOr<LogOptions> ParseLogOptions(const std::vector<std::pair<std::string, std::string>>& query,
                                     LogClock::time_point now = LogClock::now());

// Reads one CRI log file from where the options start it (the last
// tailLines lines, or the beginning) and renders it, piece by piece.
class ContainerLogReader {
 public:
  ContainerLogReader(std::string path, LogOptions options);
  ~ContainerLogReader();
  ContainerLogReader(const ContainerLogReader&) = delete;
  ContainerLogReader& operator=(const ContainerLogReader&) = delete;

  // Opens the file and finds where to start (NOT_FOUND when it is missing).
  Status Open();
  // The rendered lines the file holds past what was read, about `max_bytes`
  // at most; "" when nothing more is there yet. A last line still being
  // written waits for its newline. `final`: the file will not grow
  // (the container has exited): a last line without its newline and
  // partial lines never ended are rendered too.
  std::string Read(size_t max_bytes = size_t{64} << 10, bool final = false);
  // limitBytes is used up: nothing more will ever be rendered.
  [[nodiscard]] bool done() const;

 private:
  void Render(const CriLogRecord& record, std::string& out);
  void Emit(std::string_view text, std::string& out);
  void FlushPartials(std::string& out);

  std::string path_;
  LogOptions options_;
  std::FILE* file_ = nullptr;
  std::string carry_;  // the start of a line not yet ended
  // A line's parts so far, per stream (0 stdout, 1 stderr), and the
  // timestamp of its first part.
  struct Pending {
    std::string text;
    std::string timestamp;
    bool skip = false;  // before `since`
    bool open = false;
  };
  Pending pending_[2];
  int64_t written_ = 0;
};

// Writes the container's log to `sink` (false from it: the client is gone,
// and the stream ends); when following, polls the file every `poll` until
// `running` says the container has exited and the file is read to its
// end, or `cancelled` says so. NOT_FOUND when the file is missing.
struct LogStreamHooks {
  std::function<bool(std::string_view)> sink;
  std::function<bool()> running;    // unset: not running
  std::function<bool()> cancelled;  // unset: never
  std::chrono::milliseconds poll{250};
};
Status StreamContainerLog(const std::string& path, const LogOptions& options,
                          const LogStreamHooks& hooks);

}  // namespace bulkhead::node

#endif  // BULKHEAD_NODE_SERVER_CONTAINER_LOGS_H_
