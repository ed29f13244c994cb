#include "node/images/builtin_images.h"

#include "common/strings.h"
#include "fmt/format.h"
#include "node/images/oci_archive.h"
#include "node/images/run_program.h"
#include "node/images/tar_writer.h"

namespace bulkhead::node::images {
namespace {

// "1" from "bulkhead.local/pause:1".
std::string TagOf(std::string_view image) {
  return std::string(image.substr(image.rfind(':') + 1));
}

constexpr std::string_view kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
constexpr std::string_view kGroup =
    "root:x:0:\n"
    "nobody:x:65534:\n";

}  // namespace

StatusOr<std::string> PauseImageArchive(const std::string& pause_binary) {
  TarWriter layer;
  BH_RETURN_IF_ERROR(Annotate(layer.AddHostFile("pause", pause_binary, 0755), "pause image"));
  ImageDescription image;
  image.tag = TagOf(kPauseImage);
  image.layers.push_back(layer.Finish());
  image.entrypoint = {"/pause"};
  image.working_dir = "/";
  return BuildOciArchive(image);
}

StatusOr<std::vector<std::string>> BusyboxApplets(const std::string& busybox) {
  BH_ASSIGN_OR_RETURN(ProgramResult listed, RunProgram({busybox, "--list"}, 30));
  if (listed.exit_code != 0) {
    return absl::FailedPreconditionError(
        fmt::format("{} --list failed: {}", busybox, LastLineOf(listed)));
  }
  std::vector<std::string> applets;
  for (std::string_view line : SplitNonEmpty(listed.out, "\n")) {
    std::string_view applet = TrimSpace(line);
    if (applet.empty() || applet == "busybox") {
      continue;
    }
    if (applet.find('/') != std::string_view::npos || applet == "." || applet == "..") {
      return absl::FailedPreconditionError(
          fmt::format("{} --list printed '{}', not an applet name", busybox, applet));
    }
    applets.emplace_back(applet);
  }
  if (applets.empty()) {
    return absl::FailedPreconditionError(fmt::format("{} --list printed no applet", busybox));
  }
  return applets;
}

StatusOr<std::string> BusyboxVersion(const std::string& busybox) {
  BH_ASSIGN_OR_RETURN(ProgramResult banner, RunProgram({busybox}, 30));
  std::string_view first = banner.out;
  first = first.substr(0, first.find('\n'));
  size_t at = first.find(" v");
  if (first.substr(0, 8) != "BusyBox " || at == std::string_view::npos) {
    return absl::FailedPreconditionError(
        fmt::format("{} printed '{}', not a BusyBox banner", busybox, first));
  }
  std::string_view version = first.substr(at + 2);
  version = version.substr(0, version.find(' '));
  // Major.minor: "1.35.0" -> "1.35".
  size_t dot = version.find('.');
  if (dot != std::string_view::npos) {
    size_t second = version.find('.', dot + 1);
    version = version.substr(0, second);
  }
  return std::string(version);
}

StatusOr<std::string> BusyboxImageArchive(const std::string& busybox) {
  BH_ASSIGN_OR_RETURN(std::vector<std::string> applets, BusyboxApplets(busybox));
  TarWriter layer;
  for (const char* dir : {"bin", "etc", "sbin", "usr", "usr/bin", "usr/sbin", "var"}) {
    BH_RETURN_IF_ERROR(layer.AddDirectory(dir, 0755));
  }
  BH_RETURN_IF_ERROR(layer.AddDirectory("root", 0700));
  BH_RETURN_IF_ERROR(layer.AddDirectory("tmp", 01777));
  BH_RETURN_IF_ERROR(Annotate(layer.AddHostFile("bin/busybox", busybox, 0755), "busybox image"));
  for (const auto& applet : applets) {
    BH_RETURN_IF_ERROR(layer.AddSymlink("bin/" + applet, "busybox"));
  }
  BH_RETURN_IF_ERROR(layer.AddFile("etc/passwd", kPasswd, 0644));
  BH_RETURN_IF_ERROR(layer.AddFile("etc/group", kGroup, 0644));
  ImageDescription image;
  image.tag = TagOf(kBusyboxImage);
  image.layers.push_back(layer.Finish());
  image.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  image.cmd = {"sh"};
  image.working_dir = "/";
  return BuildOciArchive(image);
}

}  // namespace bulkhead::node::images
