// The control plane on a full disk: a tmpfs of a few MiB mounted under the
// test's own temporary directory (unmounted in teardown, whatever happened).
// Writes are refused with a clear error logged once, reads and deletes keep
// working from the reserve, writes resume when room returns, and a restart
// on the full disk serves again.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "controlplane/pki/cluster_credentials.h"
#include "controlplane/store/sqlite_store.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/controlplane_harness.h"
#include "tests/support/privileged.h"

namespace bulkhead::testing {
namespace {

using controlplane::RenderValue;
using controlplane::SqliteStore;
using controlplane::SqliteStoreOptions;

class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BULKHEAD_REQUIRE_PRIVILEGES();
    std::string pattern = (std::filesystem::temp_directory_path() /
                           fmt::format("bulkhead-test-{}-disk-XXXXXX", ::getpid()))
                              .string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (mounted_) {
      EXPECT_EQ(::umount2(dir_.c_str(), MNT_DETACH), 0) << "umount " << dir_;
    }
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }
  void Mount(const std::string& size) {
    std::string options = "size=" + size + ",mode=0700";
    ASSERT_EQ(::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()), 0)
        << "mount tmpfs on " << dir_ << ": " << std::strerror(errno);
    mounted_ = true;
  }
  static RenderValue Value(size_t bytes) {
    return [bytes](int64_t, int64_t) -> StatusOr<std::string> { return std::string(bytes, 'v'); };
  }

  std::string dir_;
  bool mounted_ = false;
};

TEST_F(FullDiskTest, StoreRefusesWritesKeepsReadsAndDeletesAndResumes) {
  Mount("4m");
  {
    // Room the test frees later, as an operator would.
    std::ofstream filler(dir_ + "/filler");
    filler << std::string(size_t{1} << 20, 'f');
  }
  SqliteStoreOptions options;
  options.reserve_bytes = size_t{512} << 10;
  auto opened = SqliteStore::Open(dir_ + "/state.db", options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  auto store = std::move(opened).value();
  int created = 0;
  Status refused;
  for (; created < 200; ++created) {
    auto kv = store->Create("/k/" + std::to_string(created), Value(32 << 10));
    if (!kv.ok()) {
      refused = kv.status();
      break;
    }
  }
  ASSERT_GT(created, 5);
  ASSERT_LT(created, 200) << "the 4 MiB tmpfs never filled";
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_NE(MessageOf(refused).find("disk is full"), std::string::npos) << refused;
  EXPECT_TRUE(store->disk_full());
  // Updates are refused too, and change nothing.
  EXPECT_EQ(store->Update("/k/0", 0, Value(100)).status().code(),
            absl::StatusCode::kResourceExhausted);
  // Reads go on.
  auto got = store->Get("/k/0");
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
  EXPECT_EQ((*got)->value.size(), size_t{32} << 10);
  auto list = store->List("/k/", "", 0, 0);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->items.size(), static_cast<size_t>(created));
  // Deletes commit, the first one from the reserve.
  for (int i = 0; i < 4; ++i) {
    auto deleted = store->Delete("/k/" + std::to_string(i), 0);
    EXPECT_TRUE(deleted.ok()) << "delete " << i << ": " << deleted.status();
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/state.db.reserve"));
  // Room returns: the reserve is made again and writes are accepted.
  std::filesystem::remove(dir_ + "/filler");
  StatusOr<controlplane::KeyValue> again = absl::UnknownError("not tried");
  for (int attempt = 0; attempt < 30 && !again.ok(); ++attempt) {
    again = store->Create("/k/again", Value(1000));
    if (!again.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(store->disk_full());
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/state.db.reserve"));
  // Fill it again and open the store on the full disk.
  for (int i = 0; i < 200; ++i) {
    if (!store->Create("/k/more" + std::to_string(i), Value(32 << 10)).ok()) {
      break;
    }
  }
  EXPECT_TRUE(store->disk_full());
  store.reset();
  auto reopened = SqliteStore::Open(dir_ + "/state.db", options);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto still = (*reopened)->Get("/k/again");
  EXPECT_TRUE(still.ok() && still->has_value());
}

TEST_F(FullDiskTest, ControlPlaneAnswers507ServesReadsDeletesAndRestarts) {
  Mount("16m");
  std::string data_dir = dir_ + "/cluster";
  auto plane = ControlPlane::Start(data_dir);
  ASSERT_NE(plane, nullptr);
  const std::string configmaps = "/api/v1/namespaces/default/configmaps";
  int created = 0;
  CommandResult refused;
  for (int i = 0; i < 100; ++i) {
    nlohmann::json cm = {{"metadata", {{"name", "cm" + std::to_string(i)}}},
                         {"data", {{"a", std::string(size_t{512} << 10, 'x')}}}};
    auto result = plane->Curl("POST", configmaps, cm.dump(), "application/json");
    if (HttpStatus(result) != 201) {
      refused = result;
      break;
    }
    ++created;
  }
  ASSERT_GT(created, 0);
  ASSERT_EQ(HttpStatus(refused), 507) << refused.out.substr(0, 500);
  auto status = nlohmann::json::parse(HttpBody(refused), nullptr, false);
  EXPECT_EQ(status["reason"], "InsufficientStorage") << refused.out.substr(0, 500);
  EXPECT_NE(status["message"].get<std::string>().find("disk is full"), std::string::npos);
  // Every further write is refused the same way (and logged once only).
  EXPECT_EQ(HttpStatus(plane->Curl("POST", configmaps, R"({"metadata":{"name":"small"}})",
                                   "application/json")),
            507);
  // kubectl still reads and deletes.
  auto got = plane->Kubectl({"get", "configmap", "cm0", "-o", "name"});
  EXPECT_EQ(got.exit_code, 0) << got.err;
  auto deleted = plane->Kubectl({"delete", "configmap", "cm0", "cm1"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  auto gone = plane->Kubectl({"get", "configmap", "cm0"});
  EXPECT_NE(gone.exit_code, 0);
  // Restart on the full disk: it serves again (the kubeconfig cannot be
  // rewritten for the new port; that is logged, not fatal).
  plane->Kill9();
  plane.reset();
  auto restarted = ControlPlane::Start(data_dir);
  ASSERT_NE(restarted, nullptr) << "the control plane did not start on a full disk";
  auto listed = restarted->Curl("GET", configmaps);
  EXPECT_EQ(HttpStatus(listed), 200) << listed.out.substr(0, 300);
  auto cm2 = restarted->Curl("GET", configmaps + "/cm2");
  EXPECT_EQ(HttpStatus(cm2), 200);
}

TEST_F(FullDiskTest, UnchangedKubeconfigIsNotRewritten) {
  Mount("4m");
  auto credentials = controlplane::EnsureClusterCredentials(dir_, {});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  std::string path = dir_ + "/kubeconfig";
  ASSERT_TRUE(
      controlplane::WriteKubeconfig(path, "c", "https://127.0.0.1:6443", *credentials).ok());
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  {
    // Fill the disk.
    std::ofstream filler(dir_ + "/filler");
    filler << std::string(size_t{8} << 20, 'f');
  }
  auto same = controlplane::WriteKubeconfig(path, "c", "https://127.0.0.1:6443", *credentials);
  EXPECT_TRUE(same.ok()) << same;
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino) << "the kubeconfig was rewritten";
  auto changed = controlplane::WriteKubeconfig(path, "c", "https://127.0.0.1:7443", *credentials);
  EXPECT_FALSE(changed.ok()) << "the disk should be full";
}

}  // namespace
}  // namespace bulkhead::testing
