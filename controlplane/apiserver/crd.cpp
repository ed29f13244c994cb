#include "controlplane/apiserver/crd.h"

#include <boost/json.hpp>

#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_validation.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

const json::object* ObjectAt(const json::object& object, const char* field) {
  const auto* value = object.if_contains(field);
  return value != nullptr && value->is_object() ? &value->as_object() : nullptr;
}

const json::array* ArrayAt(const json::object& object, const char* field) {
  const auto* value = object.if_contains(field);
  return value != nullptr && value->is_array() ? &value->as_array() : nullptr;
}

bool BoolAt(const json::object& object, const char* field) {
  const auto* value = object.if_contains(field);
  return value != nullptr && value->is_bool() && value->as_bool();
}

std::vector<std::string> StringsAt(const json::object& object, const char* field) {
  std::vector<std::string> out;
  if (const auto* array = ArrayAt(object, field)) {
    for (const auto& item : *array) {
      if (item.is_string()) {
        out.emplace_back(item.as_string());
      }
    }
  }
  return out;
}

}  // namespace

std::vector<ResourceType> ResourceTypesOfCrd(const json::object& crd) {
  std::vector<ResourceType> types;
  const json::object* spec = ObjectAt(crd, "spec");
  if (spec == nullptr) {
    return types;
  }
  const json::object* names = ObjectAt(*spec, "names");
  const json::array* versions = ArrayAt(*spec, "versions");
  if (names == nullptr || versions == nullptr) {
    return types;
  }
  for (const auto& item : *versions) {
    if (!item.is_object()) {
      continue;
    }
    const auto& version = item.as_object();
    if (const auto* served = version.if_contains("served");
        served != nullptr && served->is_bool() && !served->as_bool()) {
      continue;
    }
    ResourceType type;
    type.custom = true;
    type.crd_name = MetaString(crd, "name");
    type.group = StringField(*spec, "group");
    type.version = StringField(version, "name");
    type.resource = StringField(*names, "plural");
    type.kind = StringField(*names, "kind");
    type.singular = StringField(*names, "singular");
    if (type.singular.empty()) {
      type.singular = type.kind;
      for (auto& c : type.singular) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
    type.list_kind = StringField(*names, "listKind");
    if (type.list_kind.empty()) {
      type.list_kind = type.kind + "List";
    }
    type.namespaced = StringField(*spec, "scope") != "Cluster";
    type.short_names = StringsAt(*names, "shortNames");
    type.categories = StringsAt(*names, "categories");
    if (const auto* sub = ObjectAt(version, "subresources")) {
      type.status_subresource = sub->contains("status");
      if (const auto* scale = ObjectAt(*sub, "scale")) {
        type.scale_subresource = true;
        type.spec_replicas_path = StringField(*scale, "specReplicasPath");
        type.status_replicas_path = StringField(*scale, "statusReplicasPath");
        type.label_selector_path = StringField(*scale, "labelSelectorPath");
      }
    }
    if (const auto* schema = ObjectAt(version, "schema")) {
      if (const auto* v3 = schema->if_contains("openAPIV3Schema")) {
        type.schema = *v3;
      }
    }
    if (const auto* columns = ArrayAt(version, "additionalPrinterColumns")) {
      for (const auto& column : *columns) {
        if (!column.is_object()) {
          continue;
        }
        const auto& c = column.as_object();
        PrinterColumn printer;
        printer.name = StringField(c, "name");
        printer.type = StringField(c, "type");
        printer.format = StringField(c, "format");
        printer.description = StringField(c, "description");
        printer.json_path = StringField(c, "jsonPath");
        if (const auto* priority = c.if_contains("priority"); priority && priority->is_int64()) {
          printer.priority = static_cast<int>(priority->as_int64());
        }
        type.printer_columns.push_back(std::move(printer));
      }
    }
    types.push_back(std::move(type));
  }
  return types;
}

std::vector<StatusCause> ValidateCrd(const json::object& crd) {
  std::vector<StatusCause> causes;
  const json::object* spec = ObjectAt(crd, "spec");
  if (spec == nullptr) {
    causes.push_back({"FieldValueRequired", "Required value", "spec"});
    return causes;
  }
  std::string group = StringField(*spec, "group");
  const json::object* names = ObjectAt(*spec, "names");
  std::string plural = names != nullptr ? StringField(*names, "plural") : "";
  std::string kind = names != nullptr ? StringField(*names, "kind") : "";
  if (group.empty() || group.find('.') == std::string::npos) {
    causes.push_back(
        {"FieldValueInvalid",
         fmt::format("Invalid value: \"{}\": should be a domain with at least one dot", group),
         "spec.group"});
  }
  if (plural.empty() || !Dns1123LabelProblem(plural).empty()) {
    causes.push_back(
        {"FieldValueInvalid", fmt::format("Invalid value: \"{}\"", plural), "spec.names.plural"});
  }
  if (kind.empty()) {
    causes.push_back({"FieldValueRequired", "Required value", "spec.names.kind"});
  }
  std::string expected = plural + "." + group;
  if (MetaString(crd, "name") != expected) {
    causes.push_back(
        {"FieldValueInvalid",
         fmt::format("Invalid value: \"{}\": must be spec.names.plural+\".\"+spec.group",
                     MetaString(crd, "name")),
         "metadata.name"});
  }
  std::string scope = StringField(*spec, "scope");
  if (scope != "Namespaced" && scope != "Cluster") {
    causes.push_back({"FieldValueNotSupported",
                      fmt::format("Unsupported value: \"{}\": supported values: \"Cluster\", "
                                  "\"Namespaced\"",
                                  scope),
                      "spec.scope"});
  }
  const json::array* versions = ArrayAt(*spec, "versions");
  int storage = 0;
  if (versions == nullptr || versions->empty()) {
    causes.push_back(
        {"FieldValueRequired", "Required value: must have at least one version", "spec.versions"});
  } else {
    for (const auto& version : *versions) {
      if (version.is_object() && BoolAt(version.as_object(), "storage")) {
        ++storage;
      }
    }
    if (storage != 1) {
      causes.push_back({"FieldValueInvalid",
                        "Invalid value: must have exactly one version marked as storage version",
                        "spec.versions"});
    }
  }
  return causes;
}

json::object CrdStatus(const json::object& crd, const std::string& now) {
  json::object accepted;
  std::string storage;
  if (const json::object* spec = ObjectAt(crd, "spec")) {
    if (const json::object* names = ObjectAt(*spec, "names")) {
      accepted = *names;
    }
    if (const json::array* versions = ArrayAt(*spec, "versions")) {
      for (const auto& version : *versions) {
        if (version.is_object() && BoolAt(version.as_object(), "storage")) {
          storage = StringField(version.as_object(), "name");
        }
      }
    }
  }
  auto condition = [&now](const char* type, const char* reason, const char* message) {
    return json::object{{"type", type},
                        {"status", "True"},
                        {"lastTransitionTime", now},
                        {"reason", reason},
                        {"message", message}};
  };
  return {
      {"conditions", json::array{condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                                 condition("Established", "InitialNamesAccepted",
                                           "the initial names have been accepted")}},
      {"acceptedNames", std::move(accepted)},
      {"storedVersions", json::array{json::value(storage)}}};
}

}  // namespace bulkhead::controlplane
