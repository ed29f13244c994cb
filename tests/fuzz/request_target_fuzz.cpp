// The request target of every request ("/api/v1/pods?watch=1&limit=5"),
// split as the server splits it into a percent-decoded path and query.
// Input: a request target as a client sends it. Its lines also name a path
// and query keys and values for a round trip (path, key, value, key, ...).
// Invariants: decoding never grows the text; the target a client builds by
// percent-encoding a path and parameters parses back to exactly them.
#include <string>
#include <utility>
#include <vector>

#include "controlplane/http/request_target.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

namespace cp = bulkhead::controlplane;
namespace fuzz = bulkhead::fuzz;

// Every byte but letters, digits, '/', '-', '.' and '_' as %XX.
std::string Encode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if ((byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
        (byte >= '0' && byte <= '9') || byte == '-' || byte == '.' || byte == '_' ||
        (keep_slash && byte == '/')) {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  cp::RequestTarget parsed = cp::ParseRequestTarget(text);
  size_t decoded = parsed.path.size();
  for (const auto& [key, value] : parsed.query) {
    decoded += key.size() + value.size();
  }
  fuzz::Check(decoded <= text.size(), "decoding never grows the target");

  auto [path, rest] = fuzz::SplitFirstLine(text);
  std::vector<std::pair<std::string, std::string>> wanted;
  while (!rest.empty()) {
    auto [key, after_key] = fuzz::SplitFirstLine(rest);
    auto [value, after_value] = fuzz::SplitFirstLine(after_key);
    wanted.emplace_back(std::string(key), std::string(value));
    rest = after_value;
  }
  std::string target = Encode(path, true);
  for (size_t i = 0; i < wanted.size(); ++i) {
    target += (i == 0 ? "?" : "&") + Encode(wanted[i].first, false) + "=" +
              Encode(wanted[i].second, false);
  }
  cp::RequestTarget round_trip = cp::ParseRequestTarget(target);
  fuzz::Check(round_trip.path == path, "an encoded path decodes back");
  fuzz::Check(round_trip.query == wanted, "encoded parameters decode back in order");
  return 0;
}
