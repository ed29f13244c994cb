// The cgroups the runtime makes for pods under <root>/kubepods, in every
// hierarchy of the machine (each v1 controller and v2): removed when a pod
// ends, and the whole tree when the node is uninstalled.
#ifndef BULKHEAD_NODE_KUBELET_POD_CGROUPS_H_
#define BULKHEAD_NODE_KUBELET_POD_CGROUPS_H_

#include <string>
#include <vector>

namespace bulkhead::node {

// The mount points of the machine's cgroup hierarchies (v1 and v2).
std::vector<std::string> CgroupHierarchies();

// Removes the pod's cgroup directory (and what the runtime left in it) from
// every hierarchy.
void RemovePodCgroups(const std::string& cgroup_parent);

// Removes `path` and every cgroup below it from every hierarchy, deepest
// first. Cgroups that still hold processes stay (and are reported).
void RemoveCgroupTree(const std::string& path);

// Removes `path` in every hierarchy where it has no child cgroups and no
// processes (rmdir refuses otherwise); never the hierarchies' roots.
void RemoveCgroupIfEmpty(const std::string& path);

}  // namespace bulkhead::node

#endif  // BULKHEAD_NODE_KUBELET_POD_CGROUPS_H_
