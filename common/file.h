// Small file helpers for sysfs, procfs, cgroupfs and bpffs, with errors as
// Status. Writes are one write(2) call: cgroupfs takes a value per write.
#ifndef BULKHEAD_COMMON_FILE_H_
#define BULKHEAD_COMMON_FILE_H_

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace bulkhead {

StatusOr<std::string> ReadFile(const std::string& path);
Status WriteFile(const std::string& path, std::string_view content);

// Replaces `path` whole or not at all: writes `content` to path.tmp with
// `mode`, fsyncs it and renames it over `path`. On error the old file stays
// and the temporary is removed.
Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode);

}  // namespace bulkhead

#endif  // BULKHEAD_COMMON_FILE_H_
