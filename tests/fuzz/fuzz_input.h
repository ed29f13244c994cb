// What the fuzz targets share: reading libFuzzer's bytes as the server reads
// a request, and failing loudly when an invariant of the code under test
// breaks (libFuzzer then saves the input as a crash).
#ifndef BULKHEAD_TESTS_FUZZ_FUZZ_INPUT_H_
#define BULKHEAD_TESTS_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <utility>

#include <boost/json.hpp>

#include "controlplane/apiserver/object_limits.h"

namespace bulkhead::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};  // NOLINT(*-reinterpret-cast)
}

// Two parts: up to the first newline, and the rest (for example a stored
// object and a patch). No newline: all of it is the first part.
inline std::pair<std::string_view, std::string_view> SplitFirstLine(std::string_view text) {
  size_t newline = text.find('\n');
  if (newline == std::string_view::npos) {
    return {text, {}};
  }
  return {text.substr(0, newline), text.substr(newline + 1)};
}

// JSON as the API server parses a body or a stored object.
inline std::optional<boost::json::value> ParseJson(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value value = controlplane::ParseJson(text, ec);
  if (ec) {
    return std::nullopt;
  }
  return value;
}

// The patch targets' input: the stored object (a JSON object) on the first
// line, the patch after it. Nothing when either does not parse or the
// stored part is not an object.
struct DocumentAndPatch {
  boost::json::value document;
  boost::json::value patch;
};
inline std::optional<DocumentAndPatch> ReadDocumentAndPatch(const uint8_t* data, size_t size) {
  auto [document_text, patch_text] = SplitFirstLine(AsText(data, size));
  auto document = ParseJson(document_text);
  auto patch = ParseJson(patch_text);
  if (!document.has_value() || !document->is_object() || !patch.has_value()) {
    return std::nullopt;
  }
  return DocumentAndPatch{std::move(*document), std::move(*patch)};
}

[[noreturn]] inline void Fail(const char* what) {
  std::fprintf(stderr, "invariant broken: %s\n", what);  // NOLINT(*-vararg)
  std::abort();
}

inline void Check(bool condition, const char* what) {
  if (!condition) {
    Fail(what);
  }
}

}  // namespace bulkhead::fuzz

#endif  // BULKHEAD_TESTS_FUZZ_FUZZ_INPUT_H_
