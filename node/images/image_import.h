// Imports image archives into a containerd's CRI namespace (k8s.io) with
// ctr, so that pods can use them with no registry.
#ifndef BULKHEAD_NODE_IMAGES_IMAGE_IMPORT_H_
#define BULKHEAD_NODE_IMAGES_IMAGE_IMPORT_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace bulkhead::node::images {

inline constexpr std::string_view kCtrPath = "/usr/bin/ctr";
// The containerd namespace that the CRI plugin serves.
inline constexpr std::string_view kCriNamespace = "k8s.io";

// "bulkhead.local/pause:1" -> {"bulkhead.local/pause", "1"}. A colon before
// the last '/' is a registry port, not a tag ("host:5000/x" has none).
// INVALID_ARGUMENT without a tag or with a digest ("@sha256:...").
struct ImageReference {
  std::string repository;
  std::string tag;
};
StatusOr<ImageReference> SplitImageName(std::string_view image_name);

// Imports the OCI archive `archive_path`, whose index names the image by tag
// only, as `image_name`:
//   ctr -a SOCK -n k8s.io images import --base-name <repository> FILE
// Checks that `image_name` is then listed (ctr imports nothing, silently,
// when the archive's tag is another). Errors carry ctr's message.
Status ImportImageArchive(const std::string& containerd_socket, const std::string& archive_path,
                          const std::string& image_name,
                          const std::string& ctr = std::string(kCtrPath));

// Imports any archive: an OCI layout with `base_name` (its refs being tags)
// or without (full refs), a `docker save` archive without (it carries its
// names). Returns the names ctr reports it imported.
StatusOr<std::vector<std::string>> ImportArchive(const std::string& containerd_socket,
                                                 const std::string& archive_path,
                                                 const std::string& base_name,
                                                 const std::string& ctr = std::string(kCtrPath));

// `ctr -a SOCK -n k8s.io images ls -q`: the names of the images.
StatusOr<std::vector<std::string>> ListImages(const std::string& containerd_socket,
                                              const std::string& ctr = std::string(kCtrPath));

// Builds the pause (from `pause_binary`) and busybox (/bin/busybox) images,
// writes them to work_dir/pause.tar and work_dir/busybox.tar (work_dir is
// created when missing) and imports them as kPauseImage and kBusyboxImage.
// Idempotent: the same files give the same digests, and importing an image
// again changes nothing. Logs the time taken (node component).
Status ImportBuiltinImages(const std::string& containerd_socket, const std::string& work_dir,
                           const std::string& pause_binary,
                           const std::string& ctr = std::string(kCtrPath));

}  // namespace bulkhead::node::images

#endif  // BULKHEAD_NODE_IMAGES_IMAGE_IMPORT_H_
