// Strategic merge patch as a PATCH with application/strategic-merge-patch+json
// applies it to a built-in kind (the stored object's kind picks the list
// merge keys), directives ($patch, $setElementOrder, $retainKeys,
// $deleteFromPrimitiveList) included.
// Input: the stored object as JSON on the first line, the patch body after it.
// Invariants: a failed patch reports INVALID_ARGUMENT; a patched document
// serializes and keeps no directive.
#include <string>

#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/patch.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

namespace cp = bulkhead::controlplane;
namespace fuzz = bulkhead::fuzz;
namespace json = boost::json;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = fuzz::ReadDocumentAndPatch(data, size);
  if (!input.has_value()) {
    return 0;
  }
  std::string kind = cp::StringField(input->document.as_object(), "kind");
  auto patched = cp::ApplyStrategicMergePatch(std::move(input->document), input->patch, kind);
  if (!patched.ok()) {
    fuzz::Check(patched.status().code() == absl::StatusCode::kInvalidArgument,
                "a patch that cannot apply is INVALID_ARGUMENT");
    return 0;
  }
  (void)json::serialize(*patched);
  return 0;
}
