// The two images every node has without a registry, built from files on
// the node: the pod sandbox's pause image (our static bulkhead-pause) and a
// busybox image (Debian's busybox-static) for tools, probes and tests.
#ifndef BULKHEAD_NODE_IMAGES_BUILTIN_IMAGES_H_
#define BULKHEAD_NODE_IMAGES_BUILTIN_IMAGES_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace bulkhead::node::images {

inline constexpr std::string_view kPauseImage = "bulkhead.local/pause:1";
// The tag is the busybox-static version of Debian 12 (`busybox | head -1`
// prints "BusyBox v1.35.0"); a unit test checks that they still agree.
inline constexpr std::string_view kBusyboxImage = "bulkhead.local/busybox:1.35";
inline constexpr std::string_view kBusyboxPath = "/bin/busybox";

// An OCI archive (tag "1") whose rootfs is /pause, entrypoint ["/pause"].
StatusOr<std::string> PauseImageArchive(const std::string& pause_binary);

// An OCI archive (tag "1.35") whose rootfs is /bin/busybox with a symlink
// /bin/<applet> -> busybox for every applet of `busybox --list`; /etc/passwd
// (root, nobody), /etc/group, /root, /tmp (1777), /var, /usr/bin, /usr/sbin,
// /sbin; PATH=/usr/sbin:/usr/bin:/sbin:/bin; cmd ["sh"]. /etc/hosts,
// /etc/resolv.conf and /etc/hostname are left out: the runtime mounts them.
StatusOr<std::string> BusyboxImageArchive(const std::string& busybox = std::string(kBusyboxPath));

// The applets `busybox --list` prints (without "busybox" itself).
StatusOr<std::vector<std::string>> BusyboxApplets(const std::string& busybox);

// "1.35" from the first line of `busybox` ("BusyBox v1.35.0 (...)").
StatusOr<std::string> BusyboxVersion(const std::string& busybox);

}  // namespace bulkhead::node::images

#endif  // BULKHEAD_NODE_IMAGES_BUILTIN_IMAGES_H_
