// `bulkhead node import FILE.tar`: an image archive into a node's containerd
// (its k8s.io namespace, the one the CRI serves), for nodes without a
// registry. OCI layouts whose index names images by tag only need the
// repository (--name); `docker save` archives carry their names.
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "common/cli.h"
#include "fmt/format.h"
#include "node/images/image_import.h"
#include "node/images/oci_archive.h"

namespace bulkhead::cli {
namespace {

namespace images = node::images;

struct ImportFlags {
  std::string file;
  std::string socket;
  std::string name;
};

// The node's containerd socket: under BULKHEAD_HOME when set, else /var/lib/bulkhead.
std::string DefaultContainerdSocket() {
  const char* home = std::getenv("BULKHEAD_HOME");
  std::string base = home != nullptr && *home != '\0' ? home : "/var/lib/bulkhead";
  return base + "/node/containerd/containerd.sock";
}

// A reference that ctr takes as it is: it has a repository ("a/b:1", "b:1").
bool IsFullReference(const std::string& name) {
  return name.find_first_of("/:@") != std::string::npos;
}

int RunImport(const CLI::App& app, const ImportFlags& flags) {
  std::string socket = flags.socket.empty() ? DefaultContainerdSocket() : flags.socket;
  auto contents = images::InspectImageArchive(flags.file);
  if (!contents.ok()) {
    PrintCommandError(app, MessageOf(contents.status()));
    return kExitFailure;
  }
  std::string base_name;
  if (contents->format == images::ArchiveContents::Format::kDockerSave) {
    if (!flags.name.empty()) {
      PrintCommandError(app, fmt::format("{} is a `docker save` archive, which carries its "
                                         "names: --name is for OCI layouts",
                                         flags.file));
      return kExitUsage;
    }
  } else {
    if (contents->names.empty()) {
      PrintCommandError(app, fmt::format("{}: its index.json names no image (no {} annotation)",
                                         flags.file, images::kAnnotationRefName));
      return kExitFailure;
    }
    bool tag_only = false;
    for (const auto& name : contents->names) {
      tag_only = tag_only || !IsFullReference(name);
    }
    if (!flags.name.empty()) {
      if (images::SplitImageName(flags.name).ok()) {
        PrintCommandError(
            app, fmt::format("--name takes a repository without a tag ('{}' has one): the tag "
                             "comes from the archive ('{}')",
                             flags.name, contents->names.front()));
        return kExitUsage;
      }
      base_name = flags.name;
    } else if (tag_only) {
      PrintCommandError(
          app, fmt::format("{} is an OCI layout that names its image by tag only ('{}'): give "
                           "the repository with --name REPO (e.g. --name example.org/app)",
                           flags.file, contents->names.front()));
      return kExitUsage;
    }
  }
  auto imported = images::ImportArchive(socket, flags.file, base_name);
  if (!imported.ok()) {
    PrintCommandError(app, MessageOf(imported.status()));
    return kExitFailure;
  }
  if (imported->empty()) {
    PrintCommandError(
        app, fmt::format("ctr imported no image from {}{}", flags.file,
                         base_name.empty() ? "" : fmt::format(" (none named {}:...)", base_name)));
    return kExitFailure;
  }
  for (const auto& name : *imported) {
    std::cout << "imported " << name << "\n";
  }
  return kExitOk;
}

}  // namespace

Command AddNodeImportCommand(CLI::App& node) {
  auto flags = std::make_shared<ImportFlags>();
  auto* import = node.add_subcommand(
      "import",
      "Import an image archive (an OCI layout or `docker save` tar) into the node's containerd, "
      "for pods on a node without a registry");
  import->add_option("file", flags->file, "The archive (an uncompressed tar)")
      ->required()
      ->check(CLI::ExistingFile);
  import->add_option("--containerd-socket", flags->socket,
                     "containerd's socket (default: $BULKHEAD_HOME, else /var/lib/bulkhead, "
                     "+ /node/containerd/containerd.sock)");
  import->add_option("--name", flags->name,
                     "The repository of an OCI layout whose index names its image by tag only "
                     "(example.org/app for the tag 1.0)");
  import->footer(
      "Example:\n  bulkhead node import app.tar --name example.org/app\n"
      "  docker save example.org/app:1.0 -o app.tar && bulkhead node import app.tar");
  return {import, [import, flags]() { return RunImport(*import, *flags); }};
}

}  // namespace bulkhead::cli
