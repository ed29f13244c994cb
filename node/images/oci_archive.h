// An OCI image layout (image-spec v1.0), written as one tar that
// `ctr images import` takes: oci-layout, index.json and blobs/sha256/<hex>
// for each uncompressed layer, the config and the manifest.
//
// Deterministic: no timestamps, JSON with sorted keys, the tar from
// TarWriter; the same description gives the same bytes, so the same image
// gets the same digests and importing it again changes nothing.
#ifndef BULKHEAD_NODE_IMAGES_OCI_ARCHIVE_H_
#define BULKHEAD_NODE_IMAGES_OCI_ARCHIVE_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace bulkhead::node::images {

inline constexpr std::string_view kMediaTypeIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kMediaTypeManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kMediaTypeConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kMediaTypeLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kAnnotationRefName = "org.opencontainers.image.ref.name";

struct ImageDescription {
  // The index's org.opencontainers.image.ref.name: the tag only ("1"); the
  // repository is given at import (ctr --base-name).
  std::string tag;
  // Each an uncompressed tar (TarWriter), lowest first. At least one.
  std::vector<std::string> layers;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "KEY=value"
  std::string working_dir;       // empty: not set
  std::string user;              // empty: not set (root)
  // The OCI/Go name ("amd64", "arm64"); empty: this machine's.
  std::string architecture;
};

// The OCI layout of `image` as tar bytes.
StatusOr<std::string> BuildOciArchive(const ImageDescription& image);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// The OCI architecture name of this machine (uname -m mapped to Go's names:
// x86_64 -> amd64, aarch64 -> arm64, ...).
StatusOr<std::string> MachineArchitecture();

// What an image archive on disk is, from its top-level entries.
struct ArchiveContents {
  enum class Format { kOciLayout, kDockerSave };
  Format format = Format::kOciLayout;
  // OCI: the index's ref.name annotations (tags, or full references);
  // docker: the RepoTags of manifest.json.
  std::vector<std::string> names;
};

// Reads the tar headers of `path` (not its blobs) and index.json or
// manifest.json. INVALID_ARGUMENT when it is not an uncompressed tar holding
// an OCI layout or a `docker save` archive.
StatusOr<ArchiveContents> InspectImageArchive(const std::string& path);

}  // namespace bulkhead::node::images

#endif  // BULKHEAD_NODE_IMAGES_OCI_ARCHIVE_H_
