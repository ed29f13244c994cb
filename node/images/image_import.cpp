#include "node/images/image_import.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "common/file.h"
#include "common/logging.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "node/images/builtin_images.h"
#include "node/images/oci_archive.h"
#include "node/images/run_program.h"

namespace bulkhead::node::images {
namespace {

// Importing a large archive unpacks every layer; a generous bound.
constexpr int kImportTimeoutSeconds = 600;
constexpr int kListTimeoutSeconds = 60;

// ctr's error, without its "ctr: " prefix.
std::string CtrMessage(const ProgramResult& result) {
  std::string line = LastLineOf(result);
  if (line.rfind("ctr: ", 0) == 0) {
    line.erase(0, 5);
  }
  return line;
}

std::string CtrError(std::string_view what, const std::string& socket,
                     const ProgramResult& result) {
  std::string message = CtrMessage(result);
  std::string hint;
  if (message.find("connect: no such file") != std::string::npos ||
      message.find("connection refused") != std::string::npos ||
      message.find("context deadline exceeded") != std::string::npos) {
    hint = fmt::format(" (is containerd running with its socket at {}?)", socket);
  }
  return fmt::format("{}: ctr failed: {}{}", what, message, hint);
}

// Names from ctr's "unpacking NAME (sha256:...)...done" lines.
std::vector<std::string> UnpackedNames(std::string_view out) {
  std::vector<std::string> names;
  for (std::string_view line : SplitNonEmpty(out, "\n")) {
    line = TrimSpace(line);
    constexpr std::string_view kUnpacking = "unpacking ";
    if (line.substr(0, kUnpacking.size()) != kUnpacking) {
      continue;
    }
    line.remove_prefix(kUnpacking.size());
    names.emplace_back(line.substr(0, line.find(' ')));
  }
  return names;
}

// ctr waits 10 s for a socket that is not there; say so at once.
Status CheckSocket(const std::string& socket) {
  struct stat info {};
  if (::stat(socket.c_str(), &info) != 0) {
    return absl::UnavailableError(
        fmt::format("containerd socket {} does not exist ({}): is containerd running?", socket,
                    std::strerror(errno)));
  }
  if (!S_ISSOCK(info.st_mode)) {
    return absl::InvalidArgumentError(
        fmt::format("containerd socket {} is not a unix socket", socket));
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<ImageReference> SplitImageName(std::string_view image_name) {
  if (image_name.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        fmt::format("image '{}': a digest reference cannot be imported by name", image_name));
  }
  size_t slash = image_name.rfind('/');
  size_t colon = image_name.rfind(':');
  if (colon == std::string_view::npos || (slash != std::string_view::npos && colon < slash) ||
      colon == 0 || colon + 1 == image_name.size()) {
    return absl::InvalidArgumentError(
        fmt::format("image '{}' has no tag (expected REPOSITORY:TAG)", image_name));
  }
  return ImageReference{std::string(image_name.substr(0, colon)),
                        std::string(image_name.substr(colon + 1))};
}

StatusOr<std::vector<std::string>> ImportArchive(const std::string& containerd_socket,
                                                 const std::string& archive_path,
                                                 const std::string& base_name,
                                                 const std::string& ctr) {
  // A file that is not an image archive is refused before containerd sees it.
  BH_RETURN_IF_ERROR(InspectImageArchive(archive_path).status());
  BH_RETURN_IF_ERROR(CheckSocket(containerd_socket));
  std::vector<std::string> argv = {
      ctr, "-a", containerd_socket, "-n", std::string(kCriNamespace), "images", "import"};
  if (!base_name.empty()) {
    argv.insert(argv.end(), {"--base-name", base_name});
  }
  argv.push_back(archive_path);
  std::string what = fmt::format("import {}", archive_path);
  BH_ASSIGN_OR_RETURN(ProgramResult result, RunProgram(argv, kImportTimeoutSeconds));
  if (result.exit_code != 0) {
    return absl::FailedPreconditionError(CtrError(what, containerd_socket, result));
  }
  return UnpackedNames(result.out);
}

StatusOr<std::vector<std::string>> ListImages(const std::string& containerd_socket,
                                              const std::string& ctr) {
  BH_RETURN_IF_ERROR(CheckSocket(containerd_socket));
  BH_ASSIGN_OR_RETURN(ProgramResult result,
                      RunProgram({ctr, "-a", containerd_socket, "-n", std::string(kCriNamespace),
                                  "images", "ls", "-q"},
                                 kListTimeoutSeconds));
  if (result.exit_code != 0) {
    return absl::FailedPreconditionError(CtrError("list images", containerd_socket, result));
  }
  std::vector<std::string> names;
  for (std::string_view line : SplitNonEmpty(result.out, "\n")) {
    if (std::string_view name = TrimSpace(line); !name.empty()) {
      names.emplace_back(name);
    }
  }
  return names;
}

Status ImportImageArchive(const std::string& containerd_socket, const std::string& archive_path,
                          const std::string& image_name, const std::string& ctr) {
  BH_ASSIGN_OR_RETURN(ImageReference reference, SplitImageName(image_name));
  BH_RETURN_IF_ERROR(
      ImportArchive(containerd_socket, archive_path, reference.repository, ctr).status());
  BH_ASSIGN_OR_RETURN(std::vector<std::string> names, ListImages(containerd_socket, ctr));
  if (std::find(names.begin(), names.end(), image_name) == names.end()) {
    return absl::NotFoundError(fmt::format(
        "import {}: ctr imported no image named {} (the archive's index has no ref.name '{}')",
        archive_path, image_name, reference.tag));
  }
  return absl::OkStatus();
}

Status ImportBuiltinImages(const std::string& containerd_socket, const std::string& work_dir,
                           const std::string& pause_binary, const std::string& ctr) {
  auto start = std::chrono::steady_clock::now();
  auto ms_since = [](std::chrono::steady_clock::time_point from) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 from)
        .count();
  };
  std::error_code made;
  std::filesystem::create_directories(work_dir, made);
  if (made) {
    return ErrnoError(made.value(), fmt::format("create directory {}", work_dir));
  }
  BH_ASSIGN_OR_RETURN(std::string pause, PauseImageArchive(pause_binary));
  BH_ASSIGN_OR_RETURN(std::string busybox, BusyboxImageArchive(std::string(kBusyboxPath)));
  std::string pause_path = work_dir + "/pause.tar";
  std::string busybox_path = work_dir + "/busybox.tar";
  BH_RETURN_IF_ERROR(WriteFileAtomically(pause_path, pause, 0600));
  BH_RETURN_IF_ERROR(WriteFileAtomically(busybox_path, busybox, 0600));
  auto built = ms_since(start);
  auto import_start = std::chrono::steady_clock::now();
  BH_RETURN_IF_ERROR(
      ImportImageArchive(containerd_socket, pause_path, std::string(kPauseImage), ctr));
  BH_RETURN_IF_ERROR(
      ImportImageArchive(containerd_socket, busybox_path, std::string(kBusyboxImage), ctr));
  Logger(Component::kNode)
      .info("builtin images imported images={},{} build_ms={} import_ms={} bytes={}", kPauseImage,
            kBusyboxImage, built, ms_since(import_start), pause.size() + busybox.size());
  return absl::OkStatus();
}

}  // namespace bulkhead::node::images
