// How the host's scheduler judges a node for a pod, as Kubernetes 1.32's
// default profile does with its filter plugins, in their order:
// NodeUnschedulable, TaintToleration (NoSchedule and NoExecute; a node
// whose Ready condition is not True counts as tainted not-ready until the
// node lifecycle controller says so itself), NodeAffinity (nodeSelector and
// required node affinity), NodePorts (host ports in use) and
// NodeResourcesFit (pods, cpu, memory, ephemeral-storage and any other
// requested resource against status.allocatable). The first filter that
// fails gives the node's reasons, worded as Kubernetes words them, and the
// reasons of every node make the message of an unschedulable pod.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_SCHEDULING_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_SCHEDULING_H_

#include <boost/json/object.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "controlplane/apiserver/admission/pod_resources.h"

namespace bulkhead::controlplane::controllers {

// What the pods bound to a node take of it.
struct NodeLoad {
  ResourceList requested;
  int64_t pods = 0;
  std::set<std::string> host_ports;  // "TCP/8080"
};

// Adds a pod bound to the node (one that has not ended) to `load`.
void AddToLoad(const boost::json::object& pod, NodeLoad& load);

// Why `node` cannot take `pod`: empty when it can.
std::vector<std::string> UnfitReasons(const boost::json::object& pod,
                                      const boost::json::object& node, const NodeLoad& load);

// Higher is better: the share of cpu and memory left free once the pod is
// placed (least allocated), averaged.
double Score(const boost::json::object& pod, const boost::json::object& node, const NodeLoad& load);

// "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match
// Pod's node affinity/selector." from each reason's count of nodes, or
// "no nodes available to schedule pods" when there are none.
std::string UnschedulableMessage(size_t nodes, const std::map<std::string, int>& reasons);

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_SCHEDULING_H_
