#include "controlplane/apiserver/object_meta.h"

#include <time.h>

#include <array>
#include <boost/json.hpp>
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
  if (text.size() < 19 || ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) {
    return std::nullopt;
  }
  time_t seconds = ::timegm(&tm);
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
