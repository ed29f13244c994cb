#include "tests/support/privileged.h"

#include <unistd.h>

#include <cstdlib>
#include <string_view>

#include "common/file.h"
#include "common/strings.h"

namespace bulkhead::testing {

std::string MissingPrivileges() {
  if (::geteuid() != 0) {
    return "not running as root";
  }
  auto status = ReadFile("/proc/self/status");
  if (!status.ok()) {
    return "cannot read /proc/self/status";
  }
  for (std::string_view line : SplitNonEmpty(*status, "\n")) {
    if (ConsumePrefix(line, "CapEff:")) {
      auto caps = ParseInteger<unsigned long long>(TrimSpace(line), 16);
      constexpr int kCapSysAdmin = 21;
      if (!caps || ((*caps >> kCapSysAdmin) & 1ULL) == 0) {
        return "CAP_SYS_ADMIN is not in the effective set";
      }
      return "";
    }
  }
  return "no CapEff in /proc/self/status";
}

bool PrivilegedRequired() {
  const char* value = std::getenv("BULKHEAD_REQUIRE_PRIVILEGED");
  return value != nullptr && std::string_view(value) == "1";
}

}  // namespace bulkhead::testing
