#include "controlplane/apiserver/discovery.h"

#include <boost/json.hpp>

#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

json::array Strings(const std::vector<std::string>& items) {
  json::array array;
  for (const auto& item : items) {
    array.emplace_back(item);
  }
  return array;
}

json::array Verbs(const ResourceType& type) {
  json::array verbs;
  for (const auto& verb : type.Verbs()) {
    verbs.emplace_back(verb);
  }
  return verbs;
}

json::object GroupVersionEntry(const std::string& group, const std::string& version) {
  return {{"groupVersion", group + "/" + version}, {"version", version}};
}

json::object LegacyGroup(const std::string& group, const std::vector<std::string>& versions) {
  json::array list;
  for (const auto& version : versions) {
    list.push_back(GroupVersionEntry(group, version));
  }
  return {{"name", group},
          {"versions", std::move(list)},
          {"preferredVersion", GroupVersionEntry(group, versions.front())}};
}

json::object ResponseKind(const std::string& group, const std::string& version,
                          const std::string& kind) {
  return {{"group", group}, {"version", version}, {"kind", kind}};
}

}  // namespace

json::object LegacyApiVersions() {
  return {{"kind", "APIVersions"},
          {"versions", json::array{"v1"}},
          {"serverAddressByClientCIDRs",
           json::array{json::object{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", ""}}}}};
}

json::object LegacyApiGroupList(const ResourceRegistry& registry) {
  json::array groups;
  for (const auto& [group, versions] : registry.GroupVersions()) {
    if (!group.empty()) {
      groups.push_back(LegacyGroup(group, versions));
    }
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(groups)}};
}

std::optional<json::object> LegacyApiGroup(const ResourceRegistry& registry,
                                           const std::string& group) {
  auto all = registry.GroupVersions();
  auto it = all.find(group);
  if (group.empty() || it == all.end()) {
    return std::nullopt;
  }
  json::object doc = LegacyGroup(group, it->second);
  doc["kind"] = "APIGroup";
  doc["apiVersion"] = "v1";
  return doc;
}

std::optional<json::object> LegacyApiResourceList(const ResourceRegistry& registry,
                                                  const std::string& group,
                                                  const std::string& version) {
  json::array resources;
  bool found = false;
  for (const auto& type : registry.All()) {
    if (type->group != group || type->version != version) {
      continue;
    }
    found = true;
    json::object entry{{"name", type->resource},
                       {"singularName", type->singular},
                       {"namespaced", type->namespaced},
                       {"kind", type->kind},
                       {"verbs", Verbs(*type)}};
    if (!type->short_names.empty()) {
      entry["shortNames"] = Strings(type->short_names);
    }
    if (!type->categories.empty()) {
      entry["categories"] = Strings(type->categories);
    }
    resources.push_back(std::move(entry));
    if (type->scale_subresource) {
      resources.push_back(json::object{{"name", type->resource + "/scale"},
                                       {"singularName", ""},
                                       {"namespaced", type->namespaced},
                                       {"group", "autoscaling"},
                                       {"version", "v1"},
                                       {"kind", "Scale"},
                                       {"verbs", json::array{"get", "patch", "update"}}});
    }
    if (type->status_subresource) {
      resources.push_back(json::object{{"name", type->resource + "/status"},
                                       {"singularName", ""},
                                       {"namespaced", type->namespaced},
                                       {"kind", type->kind},
                                       {"verbs", json::array{"get", "patch", "update"}}});
    }
    if (type->token_subresource) {
      resources.push_back(json::object{{"name", type->resource + "/token"},
                                       {"singularName", ""},
                                       {"namespaced", type->namespaced},
                                       {"group", "authentication.k8s.io"},
                                       {"version", "v1"},
                                       {"kind", "TokenRequest"},
                                       {"verbs", json::array{"create"}}});
    }
    if (type->binding_subresource) {
      resources.push_back(json::object{{"name", type->resource + "/binding"},
                                       {"singularName", ""},
                                       {"namespaced", type->namespaced},
                                       {"kind", "Binding"},
                                       {"verbs", json::array{"create"}}});
    }
    if (type->log_subresource) {
      resources.push_back(json::object{{"name", type->resource + "/log"},
                                       {"singularName", ""},
                                       {"namespaced", type->namespaced},
                                       {"kind", type->kind},
                                       {"verbs", json::array{"get"}}});
    }
    if (type->connect_subresources) {
      for (const auto& [sub, kind] :
           {std::pair{"attach", "PodAttachOptions"}, std::pair{"exec", "PodExecOptions"},
            std::pair{"portforward", "PodPortForwardOptions"}}) {
        resources.push_back(json::object{{"name", type->resource + "/" + sub},
                                         {"singularName", ""},
                                         {"namespaced", type->namespaced},
                                         {"kind", kind},
                                         {"verbs", json::array{"create", "get"}}});
      }
    }
  }
  if (!found) {
    return std::nullopt;
  }
  return json::object{{"kind", "APIResourceList"},
                      {"apiVersion", "v1"},
                      {"groupVersion", group.empty() ? version : group + "/" + version},
                      {"resources", std::move(resources)}};
}

json::object AggregatedDiscovery(const ResourceRegistry& registry, bool core) {
  json::array items;
  auto all = registry.All();
  for (const auto& [group, versions] : registry.GroupVersions()) {
    if (group.empty() != core) {
      continue;
    }
    json::array version_list;
    for (const auto& version : versions) {
      json::array resources;
      for (const auto& type : all) {
        if (type->group != group || type->version != version) {
          continue;
        }
        json::object entry{{"resource", type->resource},
                           {"responseKind", ResponseKind(group, version, type->kind)},
                           {"scope", type->namespaced ? "Namespaced" : "Cluster"},
                           {"singularResource", type->singular},
                           {"verbs", Verbs(*type)}};
        if (!type->short_names.empty()) {
          entry["shortNames"] = Strings(type->short_names);
        }
        if (!type->categories.empty()) {
          entry["categories"] = Strings(type->categories);
        }
        json::array subresources;
        if (type->scale_subresource) {
          subresources.push_back(
              json::object{{"subresource", "scale"},
                           {"responseKind", ResponseKind("autoscaling", "v1", "Scale")},
                           {"verbs", json::array{"get", "patch", "update"}}});
        }
        if (type->status_subresource) {
          subresources.push_back(
              json::object{{"subresource", "status"},
                           {"responseKind", ResponseKind(group, version, type->kind)},
                           {"verbs", json::array{"get", "patch", "update"}}});
        }
        if (type->token_subresource) {
          subresources.push_back(json::object{
              {"subresource", "token"},
              {"responseKind", ResponseKind("authentication.k8s.io", "v1", "TokenRequest")},
              {"verbs", json::array{"create"}}});
        }
        if (type->binding_subresource) {
          subresources.push_back(json::object{{"subresource", "binding"},
                                              {"responseKind", ResponseKind("", "v1", "Binding")},
                                              {"verbs", json::array{"create"}}});
        }
        if (type->log_subresource) {
          subresources.push_back(
              json::object{{"subresource", "log"},
                           {"responseKind", ResponseKind(group, version, type->kind)},
                           {"verbs", json::array{"get"}}});
        }
        if (type->connect_subresources) {
          for (const auto& [sub, kind] :
               {std::pair{"attach", "PodAttachOptions"}, std::pair{"exec", "PodExecOptions"},
                std::pair{"portforward", "PodPortForwardOptions"}}) {
            subresources.push_back(json::object{{"subresource", sub},
                                                {"responseKind", ResponseKind("", "v1", kind)},
                                                {"verbs", json::array{"create", "get"}}});
          }
        }
        if (!subresources.empty()) {
          entry["subresources"] = std::move(subresources);
        }
        resources.push_back(std::move(entry));
      }
      version_list.push_back(json::object{
          {"version", version}, {"resources", std::move(resources)}, {"freshness", "Current"}});
    }
    json::object metadata;
    if (!group.empty()) {
      metadata["name"] = group;
    }
    items.push_back(
        json::object{{"metadata", std::move(metadata)}, {"versions", std::move(version_list)}});
  }
  return {{"kind", "APIGroupDiscoveryList"},
          {"apiVersion", "apidiscovery.k8s.io/v2"},
          {"metadata", json::object()},
          {"items", std::move(items)}};
}

json::object OpenApiV3Index(const ResourceRegistry& registry) {
  json::object paths;
  std::string hash = fmt::format("{:016X}", registry.generation());
  for (const auto& [group, versions] : registry.GroupVersions()) {
    for (const auto& version : versions) {
      std::string path = group.empty() ? fmt::format("api/{}", version)
                                       : fmt::format("apis/{}/{}", group, version);
      paths[path] =
          json::object{{"serverRelativeURL", fmt::format("/openapi/v3/{}?hash={}", path, hash)}};
    }
  }
  return {{"paths", std::move(paths)}};
}

std::optional<json::object> OpenApiV3Document(const ResourceRegistry& registry,
                                              const std::string& path) {
  json::object paths;
  bool found = false;
  for (const auto& type : registry.All()) {
    std::string prefix =
        type->group.empty() ? "api/" + type->version : "apis/" + type->group + "/" + type->version;
    if (prefix != path) {
      continue;
    }
    found = true;
    if (type->review) {
      continue;
    }
    std::string base =
        "/" + prefix + (type->namespaced ? "/namespaces/{namespace}/" : "/") + type->resource;
    json::object gvk = ResponseKind(type->group, type->version, type->kind);
    auto param = [](const char* name, const char* in) {
      return json::object{{"name", name},
                          {"in", in},
                          {"schema", json::object{{"type", "string"}}},
                          {"uniqueItems", true}};
    };
    json::array write_params{param("dryRun", "query"), param("fieldManager", "query"),
                             param("fieldValidation", "query"), param("pretty", "query")};
    auto operation = [&](const char* action, const json::array& params) {
      return json::object{{"operationId", fmt::format("{}{}", action, type->kind)},
                          {"parameters", params},
                          {"responses", json::object{{"200", json::object{{"description", "OK"}}}}},
                          {"x-kubernetes-action", action},
                          {"x-kubernetes-group-version-kind", gvk}};
    };
    json::array list_params{param("labelSelector", "query"),   param("fieldSelector", "query"),
                            param("limit", "query"),           param("continue", "query"),
                            param("resourceVersion", "query"), param("watch", "query"),
                            param("timeoutSeconds", "query")};
    paths[base] = json::object{{"get", operation("list", list_params)},
                               {"post", operation("post", write_params)}};
    json::array patch_params = write_params;
    patch_params.push_back(param("force", "query"));
    json::object patch = operation("patch", patch_params);
    patch["requestBody"] = json::object{
        {"content", json::object{{"application/json-patch+json", json::object()},
                                 {"application/merge-patch+json", json::object()},
                                 {"application/strategic-merge-patch+json", json::object()}}}};
    json::object item{{"get", operation("get", json::array{param("pretty", "query")})},
                      {"put", operation("put", write_params)},
                      {"patch", std::move(patch)},
                      {"delete", operation("delete", json::array{param("dryRun", "query")})}};
    paths[base + "/{name}"] = std::move(item);
  }
  if (!found) {
    return std::nullopt;
  }
  return json::object{{"openapi", "3.0.0"},
                      {"info", json::object{{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
                      {"paths", std::move(paths)},
                      {"components", json::object{{"schemas", json::object()}}}};
}

}  // namespace bulkhead::controlplane
