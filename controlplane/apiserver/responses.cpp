#include "controlplane/apiserver/responses.h"

#include <boost/json.hpp>

#include "controlplane/apiserver/api_errors.h"

namespace bulkhead::controlplane {

void SendJson(ResponseWriter& writer, int code, const boost::json::value& document) {
  writer.Send(code, kJson, boost::json::serialize(document));
}

void SendRawJson(ResponseWriter& writer, int code, std::string body) {
  writer.Send(code, kJson, std::move(body));
}

void SendError(ResponseWriter& writer, const Status& status) {
  HttpError error = ToHttpError(status);
  writer.Send(error.code, kJson, std::move(error.body));
}

void AddWarnings(ResponseWriter& writer, const std::vector<std::string>& warnings) {
  for (const auto& warning : warnings) {
    std::string quoted;
    for (char c : warning) {
      if (c == '"' || c == '\\') {
        quoted += '\\';
      }
      quoted += c;
    }
    writer.AddHeader("Warning", "299 - \"" + quoted + "\"");
  }
}

bool WantsTable(const HttpRequest& request) {
  return request.accept.find("as=Table") != std::string::npos;
}

bool WantsAggregatedDiscovery(const HttpRequest& request) {
  return request.accept.find("as=APIGroupDiscoveryList") != std::string::npos &&
         request.accept.find("v=v2") != std::string::npos;
}

IncludeObject IncludeObjectOf(const HttpRequest& request) {
  auto value = request.Query("includeObject");
  if (value == "Object") {
    return IncludeObject::kObject;
  }
  if (value == "None") {
    return IncludeObject::kNone;
  }
  return IncludeObject::kMetadata;
}

}  // namespace bulkhead::controlplane
