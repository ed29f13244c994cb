// JSON patch (RFC 6902) as a PATCH with application/json-patch+json applies it.
// Input: the stored object as JSON on the first line, the patch body after it.
// The patch runs within limits (smaller than the server's, so that the
// fuzzer reaches them): a `copy` may double the document.
// Invariants: a failed patch reports INVALID_ARGUMENT or RESOURCE_EXHAUSTED;
// a patched document keeps within the limits and parses back; an empty
// patch changes nothing.
#include <string>

#include "controlplane/apiserver/patch.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

namespace cp = bulkhead::controlplane;
namespace fuzz = bulkhead::fuzz;
namespace json = boost::json;

constexpr cp::JsonPatchLimits kLimits{size_t{64} << 10, size_t{cp::kMaxObjectDepth}};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = fuzz::ReadDocumentAndPatch(data, size);
  if (!input.has_value()) {
    return 0;
  }
  auto unchanged = cp::ApplyJsonPatch(input->document, json::array());
  fuzz::Check(unchanged.ok() && *unchanged == input->document, "an empty patch changes nothing");

  auto patched = cp::ApplyJsonPatch(std::move(input->document), input->patch, kLimits);
  if (!patched.ok()) {
    fuzz::Check(patched.status().code() == absl::StatusCode::kInvalidArgument ||
                    patched.status().code() == absl::StatusCode::kResourceExhausted,
                "a patch that cannot apply is INVALID_ARGUMENT or RESOURCE_EXHAUSTED");
    return 0;
  }
  std::string stored = json::serialize(*patched);
  fuzz::Check(stored.size() <= kLimits.max_bytes, "a patched document keeps within the size");
  auto read_back = fuzz::ParseJson(stored);
  fuzz::Check(read_back.has_value(), "a patched document within the depth limit parses back");
  return 0;
}
