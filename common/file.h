// Small file helpers for sysfs, procfs, cgroupfs and bpffs, with errors as
// Status. Writes are one write(2) call: cgroupfs takes a value per write.
#ifndef BULKHEAD_COMMON_FILE_H_
#define BULKHEAD_COMMON_FILE_H_

#include <string>
#include <string_view>

#include "common/status.h"

namespace bulkhead {

StatusOr<std::string> ReadFile(const std::string& path);
Status WriteFile(const std::string& path, std::string_view content);

}  // namespace bulkhead

#endif  // BULKHEAD_COMMON_FILE_H_
