// The node's StreamLookup: a pod's sandbox and container from the kubelet,
// then the runtime's one-time streaming URL over CRI (Exec, Attach,
// PortForward). A pod the node does not run, or a container it has not
// made, is 404; a container that is not running is 400, as a kubelet
// answers them.
#ifndef BULKHEAD_NODE_SERVER_RUNTIME_STREAMS_H_
#define BULKHEAD_NODE_SERVER_RUNTIME_STREAMS_H_

#include "node/cri/cri_client.h"
#include "node/kubelet/kubelet.h"
#include "node/server/node_server.h"

namespace bulkhead::node {

StreamLookup RuntimeStreams(Kubelet& pods, cri::CriClient& cri);

}  // namespace bulkhead::node

#endif  // BULKHEAD_NODE_SERVER_RUNTIME_STREAMS_H_
