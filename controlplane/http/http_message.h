// An HTTP request as the API server sees it, and the writer it answers
// through. Kept free of Beast so that only https_server.cpp compiles it.
#ifndef BULKHEAD_CONTROLPLANE_HTTP_HTTP_MESSAGE_H_
#define BULKHEAD_CONTROLPLANE_HTTP_HTTP_MESSAGE_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bulkhead::controlplane {

struct HttpRequest {
  std::string method;                                      // "GET", "POST", ...
  std::string path;                                        // percent-decoded, without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  std::string accept;
  std::string content_type;
  std::string authorization;
  std::string user_agent;
  std::string body;
  // From a client certificate that verified against the client authority,
  // by the one CN rule (common/pki/identity.h): its CN and its O entries.
  std::optional<std::string> certificate_user;
  std::vector<std::string> certificate_groups;
  // Why a verified client certificate names no user (no CN, or two): the
  // request is refused with it, never served as someone.
  std::optional<std::string> certificate_error;

  // The first value of a query parameter.
  [[nodiscard]] std::optional<std::string_view> Query(std::string_view name) const {
    for (const auto& [key, value] : query) {
      if (key == name) {
        return value;
      }
    }
    return std::nullopt;
  }
};

// One response: either Send() once, or StartStream(), WriteChunk()... and
// EndStream() (chunked transfer encoding).
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  // Adds a header to the response that follows (for example Warning).
  virtual void AddHeader(std::string name, std::string value) = 0;
  virtual void Send(int status, std::string_view content_type, std::string body) = 0;
  // False when the client is gone.
  virtual bool StartStream(int status, std::string_view content_type) = 0;
  virtual bool WriteChunk(std::string_view data) = 0;
  virtual void EndStream() = 0;
  // True when the client closed its side of the connection.
  virtual bool PeerClosed() = 0;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_HTTP_HTTP_MESSAGE_H_
