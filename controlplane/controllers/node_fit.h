// Whether a pod may run on a node, as Kubernetes 1.32's scheduler plugins
// judge it for a DaemonSet (NodeName, NodeAffinity, TaintToleration): the
// pod's spec.nodeName, spec.nodeSelector, required node affinity
// (nodeSelectorTerms: any term, each of whose matchExpressions on labels
// and matchFields on metadata.name all hold; In, NotIn, Exists,
// DoesNotExist, Gt, Lt) and the node's taints its tolerations must
// tolerate.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_NODE_FIT_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_NODE_FIT_H_

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <string_view>

namespace bulkhead::controlplane::controllers {

// spec.nodeName (when set), spec.nodeSelector and required node affinity
// of `pod_spec` hold for `node`.
bool NodeSelectionMatches(const boost::json::object& pod_spec, const boost::json::object& node);

// Every taint of `node` whose effect is `effect` (or, with effect "", each
// NoSchedule and NoExecute taint) is tolerated by one of `tolerations`.
bool ToleratesTaints(const boost::json::array& tolerations, const boost::json::object& node,
                     std::string_view effect = "");
// The first of those taints that none of `tolerations` tolerates, or null.
const boost::json::object* UntoleratedTaint(const boost::json::array& tolerations,
                                            const boost::json::object& node,
                                            std::string_view effect = "");

// The tolerations Kubernetes gives every DaemonSet pod (node not ready,
// unreachable, under disk, memory or PID pressure, unschedulable; and,
// with host networking, network unavailable), added to `pod_spec`'s own
// where it has none of that key and effect.
void AddDaemonTolerations(boost::json::object& pod_spec);

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_NODE_FIT_H_
