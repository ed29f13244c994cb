// The object a request carries: protobuf when its Content-Type says so
// (kubectl's generator commands, kube-scheduler's bindings), else JSON. A
// body that is neither is a 400 whose message starts with `what`.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REQUEST_BODY_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REQUEST_BODY_H_

#include <boost/json/object.hpp>

#include "common/status.h"
#include "controlplane/http/http_message.h"

namespace bulkhead::controlplane {

StatusOr<boost::json::object> ParseRequestObject(const HttpRequest& request, const char* what);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REQUEST_BODY_H_
