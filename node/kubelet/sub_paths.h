// A volumeMount's subPath, pinned so a container cannot swap it: the path
// is opened beneath the volume (openat2 RESOLVE_BENEATH: no "..", no
// absolute or escaping symlink, no magic links), created as directories
// when missing as a kubelet does, and the opened file is bind-mounted onto
// a node-private path that the container mounts instead. A symlink that a
// container planted in a shared volume therefore never points the mount
// outside the volume, not even if it is changed between the check and the
// runtime's mount.
#ifndef BULKHEAD_NODE_KUBELET_SUB_PATHS_H_
#define BULKHEAD_NODE_KUBELET_SUB_PATHS_H_

#include <string>
#include <string_view>

#include "common/status.h"

namespace bulkhead::node {

// A relative path that stays below where it starts, by its text, as
// Kubernetes validates subPaths and volume item paths: not empty, not
// absolute, and no component that is exactly ".." ("a..b" is a name).
bool IsLocalDescendingPath(std::string_view path);

// Pins `sub_path` of the volume at `volume_path` onto `target` (made as a
// directory or file to match). PERMISSION_DENIED when the path leaves the
// volume; INVALID_ARGUMENT when it is absolute or empty.
Status PinSubPath(const std::string& volume_path, const std::string& sub_path,
                  const std::string& target);

// Unmounts every mount at or below `dir` (deepest first). True when none is
// left, so that `dir` may be removed without reaching into a volume.
bool UnmountAllUnder(const std::string& dir);

}  // namespace bulkhead::node

#endif  // BULKHEAD_NODE_KUBELET_SUB_PATHS_H_
