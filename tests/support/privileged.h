// Privileged tests: skip with a reason when the process cannot touch BPF,
// cgroups and network namespaces, unless BULKHEAD_REQUIRE_PRIVILEGED=1 (CI),
// where the same condition is a failure.
#ifndef BULKHEAD_TESTS_SUPPORT_PRIVILEGED_H_
#define BULKHEAD_TESTS_SUPPORT_PRIVILEGED_H_

#include <gtest/gtest.h>

#include <string>

namespace bulkhead::testing {

// Empty when this process may run privileged tests; otherwise why not.
std::string MissingPrivileges();

// True when BULKHEAD_REQUIRE_PRIVILEGED=1.
bool PrivilegedRequired();

}  // namespace bulkhead::testing

// Use as the first statement of a privileged test or fixture SetUp().
#define BULKHEAD_REQUIRE_PRIVILEGES()                                                      \
  do {                                                                                     \
    std::string bh_missing_ = ::bulkhead::testing::MissingPrivileges();                    \
    if (!bh_missing_.empty()) {                                                            \
      if (::bulkhead::testing::PrivilegedRequired()) {                                     \
        FAIL() << "BULKHEAD_REQUIRE_PRIVILEGED=1 but " << bh_missing_;                     \
      }                                                                                    \
      GTEST_SKIP() << "privileged test skipped: " << bh_missing_                           \
                   << " (run as root; set BULKHEAD_REQUIRE_PRIVILEGED=1 to fail instead)"; \
    }                                                                                      \
  } while (false)

#endif  // BULKHEAD_TESTS_SUPPORT_PRIVILEGED_H_
