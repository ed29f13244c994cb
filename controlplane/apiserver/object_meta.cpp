#include "controlplane/apiserver/object_meta.h"

#include <time.h>

#include <array>
#include <boost/json.hpp>
#include <cstring>
#include <random>

#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

std::mt19937_64& Random() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return generator;
}

}  // namespace

json::object& Metadata(json::object& object) {
  json::value& metadata = object["metadata"];
  if (!metadata.is_object()) {
    metadata = json::object();
  }
  return metadata.as_object();
}

std::string MetaString(const json::object& object, const char* field) {
  const auto* metadata = object.if_contains("metadata");
  if (metadata == nullptr || !metadata->is_object()) {
    return "";
  }
  const auto* value = metadata->as_object().if_contains(field);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

std::string StringField(const json::object& object, const char* field) {
  const auto* value = object.if_contains(field);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

std::vector<std::string> StringListField(const json::object& object, const char* field) {
  std::vector<std::string> out;
  const json::value* value = object.if_contains(field);
  if (value != nullptr && value->is_array()) {
    for (const json::value& item : value->as_array()) {
      if (item.is_string()) {
        out.emplace_back(item.as_string());
      }
    }
  }
  return out;
}

json::array StringArray(const std::vector<std::string>& values) {
  json::array out;
  out.reserve(values.size());
  for (const std::string& value : values) {
    out.emplace_back(value);
  }
  return out;
}

std::string NowRfc3339() { return FormatRfc3339(std::chrono::system_clock::now()); }

std::string FormatRfc3339(std::chrono::system_clock::time_point time) {
  time_t now = std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(time));
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  std::array<char, 32> buffer{};
  size_t n = std::strftime(buffer.data(), buffer.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return {buffer.data(), n};
}

std::optional<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text) {
  std::tm tm{};
  const char* rest =
      text.size() < 19 ? nullptr : ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) {
    return std::nullopt;
  }
  // Fractions of a second are dropped; the zone is Z or an offset +hh:mm.
  if (*rest == '.') {
    do {
      ++rest;
    } while (*rest >= '0' && *rest <= '9');
  }
  long offset = 0;
  if ((*rest == '+' || *rest == '-') && std::strlen(rest) == 6 && rest[3] == ':') {
    const auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (!digit(rest[1]) || !digit(rest[2]) || !digit(rest[4]) || !digit(rest[5])) {
      return std::nullopt;
    }
    const long hours = ((rest[1] - '0') * 10) + (rest[2] - '0');
    const long minutes = ((rest[4] - '0') * 10) + (rest[5] - '0');
    offset = ((hours * 60) + minutes) * 60;
    offset = *rest == '-' ? -offset : offset;
  } else if (!(rest[0] == 'Z' && rest[1] == '\0')) {
    return std::nullopt;
  }
  time_t seconds = ::timegm(&tm) - offset;
  if (seconds < 0 || seconds > time_t{7258118400}) {
    return std::nullopt;
  }
  return std::chrono::system_clock::from_time_t(seconds);
}

std::string NewUid() {
  std::uniform_int_distribution<uint64_t> dist;
  uint64_t high = dist(Random());
  uint64_t low = dist(Random());
  high = (high & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  low = (low & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", high >> 32, (high >> 16) & 0xffff,
                     high & 0xffff, low >> 48, low & 0xffffffffffffULL);
}

std::string RandomNameSuffix(size_t count) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::uniform_int_distribution<size_t> dist(0, kAlphabet.size() - 1);
  std::string suffix;
  for (size_t i = 0; i < count; ++i) {
    suffix += kAlphabet[dist(Random())];
  }
  return suffix;
}

}  // namespace bulkhead::controlplane
