// Reads Kubernetes protobuf request bodies ("application/vnd.kubernetes.protobuf":
// the "k8s\0" magic, then a runtime.Unknown envelope holding the type and
// the encoded object), as kubectl's generator commands send them (kubectl
// create deployment, namespace, configmap, secret, service, ...). The object
// becomes the JSON the API server stores, using the field table generated
// from k8s.io/api's generated.proto files (protobuf_schema.inc) for the
// groups served. Zero scalars are left out, as the JSON encoding's
// omitempty does; empty nested objects stay ({}), as in Kubernetes' JSON.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_PROTOBUF_BODY_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_PROTOBUF_BODY_H_

#include <string_view>

#include <boost/json/object.hpp>

#include "common/status.h"

namespace bulkhead::controlplane {

inline constexpr std::string_view kProtobufContentType = "application/vnd.kubernetes.protobuf";

// INVALID_ARGUMENT when the body is not a protobuf object of a known kind.
StatusOr<boost::json::object> DecodeProtobufObject(std::string_view body);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_PROTOBUF_BODY_H_
