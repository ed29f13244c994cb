// Label and field selectors as a list or watch parses them from its query
// (labelSelector=..., fieldSelector=...), matched against an object.
// Input: the label selector on the first line, the field selector after it.
// Invariants: parse errors are INVALID_ARGUMENT; an empty selector matches
// everything; a term the field selector requires holds for what it matches.
#include <string>

#include "controlplane/apiserver/selectors.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

namespace cp = bulkhead::controlplane;
namespace fuzz = bulkhead::fuzz;
namespace json = boost::json;

const json::object& Pod() {
  static const json::object kPod = json::parse(R"({"apiVersion":"v1","kind":"Pod",
    "metadata":{"name":"web-0","namespace":"default","labels":{"app":"web","tier":"front",
    "app.kubernetes.io/name":"web","release":"","version":"1.2"}},
    "spec":{"nodeName":"node-1","restartPolicy":"Always","priority":0,"hostNetwork":false},
    "status":{"phase":"Running","podIP":"10.0.0.7"}})")
                                       .as_object();
  return kPod;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [label_text, field_text] = fuzz::SplitFirstLine(fuzz::AsText(data, size));
  auto selectors = cp::QuerySelectors::Parse(label_text, field_text);
  if (!selectors.ok()) {
    fuzz::Check(selectors.status().code() == absl::StatusCode::kInvalidArgument,
                "a selector that does not parse is INVALID_ARGUMENT");
    return 0;
  }
  bool matches = selectors->Matches(Pod());
  if (selectors->empty()) {
    fuzz::Check(matches, "an empty selector matches everything");
  }
  if (matches) {
    for (const char* field : {"metadata.name", "metadata.namespace", "spec.nodeName",
                              "status.phase", "spec.priority"}) {
      if (const std::string* value = selectors->fields.Required(field)) {
        fuzz::Check(*value == cp::FieldValue(Pod(), field), "a required field value holds");
      }
    }
  }
  return 0;
}
