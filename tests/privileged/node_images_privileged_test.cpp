// node/images on a real containerd (the shared one of the test binary):
// the builtin pause and busybox images import into k8s.io and are listed,
// importing again changes nothing, and a file that is not an image archive
// is refused clearly without touching the image store.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "common/file.h"
#include "node/images/builtin_images.h"
#include "node/images/image_import.h"
#include "tests/privileged/containerd_fixture.h"
#include "tests/support/command.h"

namespace bulkhead::testing {
namespace {

namespace images = node::images;

bool Contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

class NodeImagesTest : public ContainerdTest {
 protected:
  [[nodiscard]] std::string Socket() const { return shared_->containerd->socket(); }
  [[nodiscard]] std::string WorkDir() const { return shared_->options.state_dir + "/images-test"; }
};

TEST_F(NodeImagesTest, BuiltinImagesImportAndAreListed) {
  auto start = std::chrono::steady_clock::now();
  Status imported = images::ImportBuiltinImages(Socket(), WorkDir(), BULKHEAD_PAUSE_PATH);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(imported.ok()) << imported;
  std::printf("builtin images built and imported in %lld ms\n",
              static_cast<long long>(took.count()));
  auto names = images::ListImages(Socket());
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_TRUE(Contains(*names, images::kPauseImage)) << ::testing::PrintToString(*names);
  EXPECT_TRUE(Contains(*names, images::kBusyboxImage)) << ::testing::PrintToString(*names);
  // The CRI plugin sees them too (it names each by its config digest as well).
  auto listed = RunCommand({"/usr/bin/ctr", "-a", Socket(), "-n", "k8s.io", "images", "ls"});
  EXPECT_NE(listed.out.find("bulkhead.local/busybox:1.35"), std::string::npos) << listed.out;
}

TEST_F(NodeImagesTest, ImportingTwiceChangesNothing) {
  ASSERT_TRUE(images::ImportBuiltinImages(Socket(), WorkDir(), BULKHEAD_PAUSE_PATH).ok());
  auto before = RunCommand({"/usr/bin/ctr", "-a", Socket(), "-n", "k8s.io", "images", "ls"});
  auto start = std::chrono::steady_clock::now();
  Status again = images::ImportBuiltinImages(Socket(), WorkDir(), BULKHEAD_PAUSE_PATH);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(again.ok()) << again;
  std::printf("builtin images imported again in %lld ms\n", static_cast<long long>(took.count()));
  auto after = RunCommand({"/usr/bin/ctr", "-a", Socket(), "-n", "k8s.io", "images", "ls"});
  // Same names, same digests, same sizes.
  EXPECT_EQ(before.out, after.out);
}

TEST_F(NodeImagesTest, NotAnArchiveIsAClearErrorAndChangesNothing) {
  ASSERT_TRUE(images::ImportBuiltinImages(Socket(), WorkDir(), BULKHEAD_PAUSE_PATH).ok());
  auto before = images::ListImages(Socket());
  ASSERT_TRUE(before.ok()) << before.status();
  std::string junk = WorkDir() + "/junk.tar";
  ASSERT_TRUE(WriteFileAtomically(junk, std::string(4096, 'j'), 0600).ok());
  Status refused = images::ImportImageArchive(Socket(), junk, "bulkhead.local/junk:1");
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_NE(MessageOf(refused).find("is not an image archive"), std::string::npos) << refused;
  // The CLI says the same in one line and fails.
  auto cli =
      RunCommand({BULKHEAD_CLI_PATH, "node", "import", junk, "--containerd-socket", Socket()});
  EXPECT_EQ(cli.exit_code, 1);
  EXPECT_NE(cli.err.find("is not an image archive"), std::string::npos) << cli.err;
  auto after = images::ListImages(Socket());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*before, *after);
}

TEST_F(NodeImagesTest, CliImportsAnOciLayoutUnderTheGivenRepository) {
  auto archive = images::PauseImageArchive(BULKHEAD_PAUSE_PATH);
  ASSERT_TRUE(archive.ok()) << archive.status();
  std::filesystem::create_directories(WorkDir());
  std::string path = WorkDir() + "/cli-pause.tar";
  ASSERT_TRUE(WriteFileAtomically(path, *archive, 0600).ok());
  auto no_name =
      RunCommand({BULKHEAD_CLI_PATH, "node", "import", path, "--containerd-socket", Socket()});
  EXPECT_EQ(no_name.exit_code, 2);
  EXPECT_NE(no_name.err.find("--name REPO"), std::string::npos) << no_name.err;
  auto named = RunCommand({BULKHEAD_CLI_PATH, "node", "import", path, "--containerd-socket",
                           Socket(), "--name", "bulkhead.local/cli-pause"});
  EXPECT_EQ(named.exit_code, 0) << named.err;
  EXPECT_EQ(named.out, "imported bulkhead.local/cli-pause:1\n");
  auto names = images::ListImages(Socket());
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_TRUE(Contains(*names, "bulkhead.local/cli-pause:1"));
}

}  // namespace
}  // namespace bulkhead::testing
