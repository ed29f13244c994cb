// Attaching the netpol programs to the pods cgroup through pinned bpf_links,
// replacing them in place on restart, and removing them on uninstall.
#ifndef BULKHEAD_AGENT_NETPOL_LINKS_H_
#define BULKHEAD_AGENT_NETPOL_LINKS_H_

#include <bpf/libbpf.h>

#include <string>
#include <vector>

#include "common/bpf_owner.h"
#include "common/status.h"

namespace bulkhead::agent::netpol {

// Mounts bpffs at /sys/fs/bpf when `root` is below it and it is not mounted,
// then creates root, `maps_dir` (the current layout's, below root) and root/links.
Status PrepareBpfRoot(const std::string& root, const std::string& maps_dir);

struct AttachResult {
  std::vector<BpfLink> links;
  bool replaced = false;  // existing pinned links were updated in place
};

// For each program: if <links_dir>/<program name> is pinned, swap the
// program into that link (BPF_LINK_UPDATE); otherwise attach it to
// `cgroup_path` and pin the new link. Refuses (FAILED_PRECONDITION) when the
// pinned links belong to a different cgroup. Nothing is detached on failure.
StatusOr<AttachResult> AttachOrReplace(const std::vector<bpf_program*>& programs,
                                       const std::string& cgroup_path,
                                       const std::string& links_dir);

// Detaches and unpins every link under links_dir; NOT_FOUND is OK.
Status DetachPinnedLinks(const std::string& links_dir);

}  // namespace bulkhead::agent::netpol

#endif  // BULKHEAD_AGENT_NETPOL_LINKS_H_
