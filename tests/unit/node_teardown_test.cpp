// Teardown removes a node's state directory whole: it must refuse any
// directory that is not one (a wrong --state-dir given to --uninstall)
// before it stops, unmounts or removes anything. (What it removes is
// tested on the real kernel by the node tests' fixture.)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <cstdlib>
#include <string>

#include "node/containerd/containerd_process.h"

namespace bulkhead::node {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "bulkhead-teardown-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code error;
    fs::remove_all(path_, error);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] fs::path path() const { return path_; }

 private:
  std::string path_;
};

TEST(TeardownTest, RefusesADirectoryThatIsNotANodesState) {
  TempDir dir;
  const fs::path state = dir.path() / "home";
  fs::create_directories(state / "pods");
  std::ofstream(state / "precious.txt") << "keep me";
  ContainerdOptions options;
  options.state_dir = state.string();
  options.bridge.clear();
  Status down = Teardown(options);
  EXPECT_EQ(down.code(), absl::StatusCode::kFailedPrecondition) << down;
  EXPECT_NE(down.message().find("not a node's state directory"), std::string_view::npos) << down;
  EXPECT_TRUE(fs::exists(state / "precious.txt"));
}

TEST(TeardownTest, RefusesTheRootAndRelativePaths) {
  for (const char* bad : {"/", "", "relative/dir", "/.."}) {
    ContainerdOptions options;
    options.state_dir = bad;
    options.bridge.clear();
    EXPECT_EQ(Teardown(options).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace bulkhead::node
