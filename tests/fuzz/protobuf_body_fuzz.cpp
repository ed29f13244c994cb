// The protobuf body decoder (application/vnd.kubernetes.protobuf), as a
// create from kubectl's generator commands reaches it.
// Input: the raw body ("k8s\0", then a runtime.Unknown envelope).
// Invariants: an error is INVALID_ARGUMENT; a decoded object passes the
// checks of what is stored or is refused with a client error (never an
// internal one), and when it passes it parses back to the same value.
#include <string>

#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/protobuf_body.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

namespace cp = bulkhead::controlplane;
namespace fuzz = bulkhead::fuzz;
namespace json = boost::json;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto decoded = cp::DecodeProtobufObject(fuzz::AsText(data, size));
  if (!decoded.ok()) {
    fuzz::Check(decoded.status().code() == absl::StatusCode::kInvalidArgument,
                "a body that does not decode is INVALID_ARGUMENT");
    return 0;
  }
  std::string stored = json::serialize(*decoded);
  absl::Status storable = cp::CheckStorable(stored, cp::kDefaultMaxObjectBytes);
  fuzz::Check(storable.code() != absl::StatusCode::kInternal, "a decoded object is judged");
  if (!storable.ok()) {
    return 0;
  }
  auto read_back = fuzz::ParseJson(stored);
  fuzz::Check(read_back.has_value(), "a decoded object parses back");
  fuzz::Check(*read_back == json::value(*decoded), "a decoded object reads back unchanged");
  return 0;
}
