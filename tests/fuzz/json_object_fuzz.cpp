// The JSON object path of a create or update: the body parsed as the API
// server parses it, then what the write path applies before storing
// (unknown fields pruned, metadata validated, defaults set).
// Input: a JSON object. Its apiVersion/kind pick the built-in type; any other
// kind is checked against a custom resource type with a schema.
// Invariants: what would be stored serializes to JSON that parses back to the
// same value; pruning and defaulting a second time change nothing.
#include <string>

#include "controlplane/apiserver/defaults.h"
#include "controlplane/apiserver/field_schema.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_validation.h"
#include "controlplane/apiserver/resource_registry.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

namespace cp = bulkhead::controlplane;
namespace fuzz = bulkhead::fuzz;
namespace json = boost::json;

// A custom resource whose schema has the parts pruning treats differently:
// typed fields, required fields, arrays of objects, a preserved subtree.
cp::ResourceTypePtr WidgetType() {
  cp::ResourceType type;
  type.group = "example.com";
  type.version = "v1";
  type.resource = "widgets";
  type.kind = "Widget";
  type.singular = "widget";
  type.list_kind = "WidgetList";
  type.custom = true;
  type.crd_name = "widgets.example.com";
  type.schema = json::parse(R"({"type":"object","properties":{
    "spec":{"type":"object","required":["size"],"properties":{
      "size":{"type":"integer"},"color":{"type":"string"},"enabled":{"type":"boolean"},
      "ratio":{"type":"number"},
      "parts":{"type":"array","items":{"type":"object","properties":{
        "name":{"type":"string"},"count":{"type":"integer"}}}},
      "extra":{"type":"object","x-kubernetes-preserve-unknown-fields":true},
      "labels":{"type":"object","additionalProperties":{"type":"string"}}}},
    "status":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}})");
  return std::make_shared<const cp::ResourceType>(std::move(type));
}

cp::ResourceTypePtr TypeOf(const cp::ResourceRegistry& registry, const json::object& object) {
  static const cp::ResourceTypePtr kWidget = WidgetType();
  std::string api_version = cp::StringField(object, "apiVersion");
  size_t slash = api_version.find('/');
  std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  cp::ResourceTypePtr type = registry.FindKind(group, cp::StringField(object, "kind"));
  return type != nullptr ? type : kWidget;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const cp::ResourceRegistry kRegistry;
  auto body = fuzz::ParseJson(fuzz::AsText(data, size));
  if (!body.has_value() || !body->is_object()) {
    return 0;
  }
  const cp::ResourceType& type = *TypeOf(kRegistry, body->as_object());

  json::value whole = std::move(*body);
  cp::FieldCheck check = cp::PruneUnknownFields(type, whole);
  json::object& object = whole.as_object();
  auto causes = cp::ValidateObjectMeta(type, object);
  if (!check.invalid.empty() || !causes.empty()) {
    return 0;  // refused with a 422
  }
  if (!type.custom && !cp::NonIntegerNumberPath(object).empty()) {
    return 0;  // refused with a 400, as ObjectRegistry::Admit does
  }
  cp::ApplyDefaults(type, object);

  std::string stored = json::serialize(object);
  auto read_back = fuzz::ParseJson(stored);
  fuzz::Check(read_back.has_value(), "a stored object parses back");
  fuzz::Check(*read_back == whole, "a stored object reads back unchanged");

  cp::FieldCheck again = cp::PruneUnknownFields(type, *read_back);
  fuzz::Check(again.unknown.empty() && again.invalid.empty(), "pruning once removes all");
  cp::ApplyDefaults(type, read_back->as_object());
  fuzz::Check(*read_back == whole, "defaults applied twice change nothing");
  return 0;
}
