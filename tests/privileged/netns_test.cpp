#include <arpa/inet.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/netns.h"
#include "tests/support/privileged.h"

namespace bulkhead {
namespace {

std::string UniqueName(const char* tag) { return fmt::format("bh-test-{}-{}", tag, ::getpid()); }

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Interfaces visible from the calling thread's network namespace.
std::vector<std::string> Interfaces() {
  std::vector<std::string> names;
  struct if_nameindex* list = if_nameindex();
  for (struct if_nameindex* it = list; it != nullptr && it->if_index != 0; ++it) {
    names.emplace_back(it->if_name);
  }
  if_freenameindex(list);
  return names;
}

TEST(NetworkNamespace, CreateEnterAndRemove) {
  BULKHEAD_REQUIRE_PRIVILEGES();
  std::string path;
  {
    auto netns = NetworkNamespace::Create(UniqueName("ns"));
    ASSERT_TRUE(netns.ok()) << netns.status();
    path = netns->path();
    EXPECT_TRUE(Exists(path));
    auto host_interfaces = Interfaces();
    {
      auto guard = NetnsGuard::Enter(netns->fd());
      ASSERT_TRUE(guard.ok()) << guard.status();
      // A new namespace has only its (down) loopback device.
      EXPECT_EQ(Interfaces(), std::vector<std::string>{"lo"});
    }
    EXPECT_EQ(Interfaces(), host_interfaces);
  }
  EXPECT_FALSE(Exists(path)) << path << " left behind";
}

TEST(NetworkNamespace, DuplicateNameIsRefusedAndLeavesTheFirstIntact) {
  BULKHEAD_REQUIRE_PRIVILEGES();
  auto first = NetworkNamespace::Create(UniqueName("dup"));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = NetworkNamespace::Create(UniqueName("dup"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(Exists(first->path()));
  auto guard = NetnsGuard::Enter(first->fd());
  EXPECT_TRUE(guard.ok()) << guard.status();
}

TEST(NetworkNamespace, InvalidNamesAreRefused) {
  BULKHEAD_REQUIRE_PRIVILEGES();
  for (const char* name : {"", "..", "a/b"}) {
    auto netns = NetworkNamespace::Create(name);
    ASSERT_FALSE(netns.ok()) << name;
    EXPECT_EQ(netns.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace bulkhead
