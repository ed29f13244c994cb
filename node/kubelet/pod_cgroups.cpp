#include "node/kubelet/pod_cgroups.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/logging.h"

namespace bulkhead::node {
namespace {

namespace fs = std::filesystem;

void RemoveUnder(const std::string& path, bool recursive) {
  if (fs::path(path).relative_path().empty()) {
    return;  // never the hierarchies' roots
  }
  for (const std::string& root : CgroupHierarchies()) {
    fs::path top = fs::path(root) / fs::path(path).relative_path();
    std::error_code error;
    if (!fs::is_directory(top, error)) {
      continue;
    }
    std::vector<fs::path> dirs;
    if (recursive) {
      for (auto it = fs::recursive_directory_iterator(top, error);
           !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
        if (it->is_directory(error)) {
          dirs.push_back(it->path());
        }
      }
    } else {
      for (const auto& entry : fs::directory_iterator(top, error)) {
        if (entry.is_directory(error)) {
          dirs.push_back(entry.path());
        }
      }
    }
    std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
      return a.string().size() > b.string().size();
    });
    dirs.push_back(top);
    for (const fs::path& dir : dirs) {
      if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
        Logger(Component::kNode).warn("removing cgroup {}: {}", dir.string(), std::strerror(errno));
      }
    }
  }
}

}  // namespace

std::vector<std::string> CgroupHierarchies() {
  std::ifstream mounts("/proc/self/mounts");
  std::vector<std::string> roots;
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream words(line);
    std::string source;
    std::string target;
    std::string type;
    words >> source >> target >> type;
    if (type == "cgroup" || type == "cgroup2") {
      roots.push_back(target);
    }
  }
  return roots;
}

void RemovePodCgroups(const std::string& cgroup_parent) { RemoveUnder(cgroup_parent, false); }

void RemoveCgroupTree(const std::string& path) { RemoveUnder(path, true); }

void RemoveCgroupIfEmpty(const std::string& path) {
  if (fs::path(path).relative_path().empty()) {
    return;
  }
  for (const std::string& root : CgroupHierarchies()) {
    const fs::path dir = fs::path(root) / fs::path(path).relative_path();
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY) {
      Logger(Component::kNode).warn("removing cgroup {}: {}", dir.string(), std::strerror(errno));
    }
  }
}

}  // namespace bulkhead::node
