// The HTTP/1.1 request parser as the server runs it: Beast's request parser
// over the raw bytes of a connection, with the server's header and body
// limits, the bytes arriving in pieces as reads return them.
// Input: the first byte picks the size of the pieces, the rest is what the
// client sends (request line, headers, body, possibly chunked).
// A parsed request's target is then split as the server splits it.
// Invariants: a parsed request keeps within both limits; Beast's own
// assertions hold (built with BOOST_ENABLE_ASSERT_HANDLER, see below).
#include <algorithm>
#include <boost/assert.hpp>
#include <boost/beast/http.hpp>
#include <string_view>

#include "controlplane/http/https_server.h"
#include "controlplane/http/request_target.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

namespace cp = bulkhead::controlplane;
namespace fuzz = bulkhead::fuzz;
namespace http = boost::beast::http;

// What https_server.cpp sets on its parser.
const size_t kHeaderLimit = cp::HttpsServerLimits{}.max_header_bytes;
const size_t kBodyLimit = cp::HttpsServerLimits{}.max_body_bytes;

}  // namespace

// Beast 1.81 asserts "n >= 5" in parse_chunk_header where 3 bytes are valid
// when a chunk header arrives in small pieces; the code after it handles
// them (the assertion was corrected upstream in 2024, Beast pull request
// 2861). Release builds, like the server's, compile assertions out; here
// every other assertion still aborts.
namespace boost {
void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  if (std::string_view(expr) == "n >= 5" &&
      std::string_view(function).find("parse_chunk_header") != std::string_view::npos) {
    return;
  }
  std::fprintf(stderr, "%s:%ld: %s: assertion %s failed\n", file, line, function,  // NOLINT
               expr);
  std::abort();
}
void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file,
                          long line) {
  std::fprintf(stderr, "%s (%s)\n", msg, expr);  // NOLINT
  assertion_failed(expr, function, file, line);
}
}  // namespace boost

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  size_t piece = size_t{data[0]} + 1;
  std::string_view wire = fuzz::AsText(data + 1, size - 1);

  http::request_parser<http::string_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(kBodyLimit);
  boost::beast::error_code ec;
  // The bytes received so far and not yet consumed, as in the server's buffer.
  size_t received = 0;
  size_t consumed = 0;
  while (!parser.is_done()) {
    std::string_view pending = wire.substr(consumed, received - consumed);
    size_t used = 0;
    if (pending.empty()) {
      ec = http::error::need_more;
    } else {
      used = parser.put(boost::asio::const_buffer(pending.data(), pending.size()), ec);
      consumed += used;
    }
    if (ec == http::error::need_more || (!ec && used == 0)) {
      ec = {};
      if (received == wire.size()) {  // the client closed its side
        if (!parser.got_some()) {
          return 0;  // as Beast's read does: end of stream, no request
        }
        parser.put_eof(ec);
        break;
      }
      received = std::min(wire.size(), received + piece);  // the next read
      continue;
    }
    if (ec) {
      return 0;  // the server answers 400 (or 413, 431) and closes
    }
  }
  if (ec || !parser.is_done()) {
    return 0;
  }
  const auto& request = parser.get();
  fuzz::Check(request.body().size() <= kBodyLimit, "a parsed body keeps within the body limit");
  fuzz::Check(request.target().size() <= kHeaderLimit, "a target keeps within the header limit");
  cp::RequestTarget target =
      cp::ParseRequestTarget(std::string_view(request.target().data(), request.target().size()));
  fuzz::Check(target.path.size() <= request.target().size(), "a decoded path is no longer");
  return 0;
}
