#include "node/kubelet/host_client.h"

#include <chrono>
#include <thread>

#include "common/hostapi/https_client.h"
#include "common/logging.h"
#include "fmt/format.h"

namespace bulkhead::node {
namespace {

Status FromHttp(int code, const std::string& method, const std::string& path,
                const std::string& body) {
  std::string message = body;
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string()) {
    message = parsed["message"].get<std::string>();
  }
  message = fmt::format("host API {} {}: {} ({})", method, path, message, code);
  switch (code) {
    case 404:
      return absl::NotFoundError(message);
    case 409:
      return method == "POST" ? absl::AlreadyExistsError(message) : absl::AbortedError(message);
    case 403:
      return absl::PermissionDeniedError(message);
    case 401:
      return absl::UnauthenticatedError(message);
    case 400:
    case 422:
      return absl::InvalidArgumentError(message);
    case 410:
      return absl::OutOfRangeError(message);
    default:
      return code >= 500 ? absl::UnavailableError(message) : absl::UnknownError(message);
  }
}

// metadata.resourceVersion when it is a string, else `fallback`.
std::string RevisionOf(const json& object, const std::string& fallback) {
  const json::json_pointer pointer("/metadata/resourceVersion");
  if (!object.is_object() || !object.contains(pointer) || !object[pointer].is_string()) {
    return fallback;
  }
  return object[pointer].get<std::string>();
}

void Sleep(std::chrono::milliseconds total, const std::atomic<bool>& stop) {
  for (auto left = total; left.count() > 0 && !stop.load(); left -= std::chrono::milliseconds(50)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

HostClient::HostClient(hostapi::HostApiConfig config) : config_(std::move(config)) {
  config_.user_agent = "bulkhead-node";
}

StatusOr<json> HostClient::Call(const std::string& method, const std::string& path,
                                const std::string& content_type, const std::string& body) const {
  BH_ASSIGN_OR_RETURN(hostapi::HttpsResponse response,
                      hostapi::HttpsRequest(config_, method, path, content_type, body));
  if (response.status < 200 || response.status >= 300) {
    return FromHttp(response.status, method, path, response.body);
  }
  json parsed = json::parse(response.body, nullptr, false);
  if (parsed.is_discarded()) {
    return absl::UnavailableError(
        fmt::format("host API {} {}: the answer is not JSON", method, path));
  }
  return parsed;
}

StatusOr<json> HostClient::Get(const std::string& path) const { return Call("GET", path, "", ""); }

StatusOr<json> HostClient::Create(const std::string& collection, const json& object) const {
  return Call("POST", collection, "application/json", object.dump());
}

StatusOr<json> HostClient::Update(const std::string& path, const json& object) const {
  return Call("PUT", path, "application/json", object.dump());
}

StatusOr<json> HostClient::MergePatch(const std::string& path, const json& patch) const {
  return Call("PATCH", path, "application/merge-patch+json", patch.dump());
}

StatusOr<json> HostClient::StrategicPatch(const std::string& path, const json& patch) const {
  return Call("PATCH", path, "application/strategic-merge-patch+json", patch.dump());
}

Status HostClient::Delete(const std::string& path, const json& options) const {
  return Call("DELETE", path, "application/json", options.dump()).status();
}

void HostClient::ListWatch(const std::string& collection, const std::string& query,
                           const WatchHandlers& handlers, const std::atomic<bool>& stop) const {
  std::chrono::milliseconds backoff(100);
  const std::string sep = query.empty() ? "" : "&";
  while (!stop.load()) {
    std::string list_path = collection;
    if (!query.empty()) {
      list_path += "?";
      list_path += query;
    }
    auto list = Get(list_path);
    if (!list.ok()) {
      Logger(Component::kNode)
          .warn("list {}: {}; retrying in {} ms", collection, MessageOf(list.status()),
                backoff.count());
      Sleep(backoff, stop);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
      continue;
    }
    std::vector<json> items;
    if (list->is_object() && list->contains("items") && (*list)["items"].is_array()) {
      for (json& item : (*list)["items"]) {
        items.push_back(std::move(item));
      }
    }
    handlers.on_list(items);
    std::string revision = RevisionOf(*list, "");
    bool relist = false;
    while (!stop.load() && !relist) {
      std::string path = fmt::format(
          "{}?watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion={}{}{}",
          collection, revision, sep, query);
      auto status = hostapi::HttpsStreamLines(
          config_, path,
          [&](std::string_view line) {
            json event = json::parse(line, nullptr, false);
            if (!event.is_object() || !event.contains("object") || !event["object"].is_object()) {
              Logger(Component::kNode)
                  .warn("watch {}: a line that is not an event: {}", collection,
                        std::string(line.substr(0, 200)));
              relist = true;
              return false;
            }
            const std::string type = event.contains("type") && event["type"].is_string()
                                         ? event["type"].get<std::string>()
                                         : "";
            const json& object = event["object"];
            if (type == "ERROR") {
              relist = true;  // 410 Gone or another error: start again from a list
              return false;
            }
            revision = RevisionOf(object, revision);
            if (type != "BOOKMARK") {
              handlers.on_event(type, object);
            }
            return true;
          },
          stop, std::chrono::seconds(330));
      if (!status.ok() || *status != 200) {
        relist = true;
        if (!stop.load()) {
          Logger(Component::kNode)
              .warn("watch {}: {}; relisting", collection,
                    status.ok() ? fmt::format("HTTP {}", *status) : MessageOf(status.status()));
          Sleep(backoff, stop);
          backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
        }
      } else {
        backoff = std::chrono::milliseconds(100);
      }
    }
  }
}

std::string PodPath(const std::string& ns, const std::string& name) {
  return fmt::format("/api/v1/namespaces/{}/pods/{}", ns, name);
}

}  // namespace bulkhead::node
