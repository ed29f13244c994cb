#include "controlplane/apiserver/protobuf_body.h"

#include <time.h>

#include <array>
#include <boost/json.hpp>
#include <cstring>
#include <map>
#include <unordered_map>
#include <vector>

#include "common/strings.h"
#include "controlplane/pki/base64.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

constexpr std::string_view kSchema =
#include "controlplane/apiserver/protobuf_schema.inc"
    ;

struct Field {
  std::string name;
  bool repeated = false;
  bool map = false;
  char type = 's';      // s i b y d q t n M
  std::string message;  // for 'M'
};
using Message = std::unordered_map<uint32_t, Field>;
using Schema = std::unordered_map<std::string, Message>;

const Schema& Messages() {
  static const Schema kMessages = [] {
    Schema schema;
    for (auto line : SplitNonEmpty(kSchema, "\n")) {
      size_t colon = line.find(": ");
      if (colon == std::string_view::npos) {
        continue;
      }
      Message& message = schema[std::string(line.substr(0, colon))];
      for (auto spec : SplitNonEmpty(line.substr(colon + 2), " ")) {
        size_t first = spec.find(':');
        size_t second = spec.find(':', first + 1);
        if (first == std::string_view::npos || second == std::string_view::npos) {
          continue;
        }
        auto number = ParseInteger<uint32_t>(spec.substr(0, first));
        std::string_view code = spec.substr(second + 1);
        Field field;
        field.name = std::string(spec.substr(first + 1, second - first - 1));
        if (ConsumePrefix(code, "r")) {
          field.repeated = true;
        } else if (code.size() > 1 && code.front() == 'm') {
          field.map = true;
          code.remove_prefix(1);
        }
        if (code.empty() || !number.has_value()) {
          continue;
        }
        field.type = code.front();
        if (field.type == 'M') {
          field.message = std::string(code.substr(1));
        }
        message[*number] = std::move(field);
      }
    }
    return schema;
  }();
  return kMessages;
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  [[nodiscard]] bool done() const { return pos_ >= data_.size(); }

  bool Varint(uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
      auto byte = static_cast<uint8_t>(data_[pos_++]);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        return true;
      }
    }
    return false;
  }
  bool Bytes(std::string_view& out) {
    uint64_t length = 0;
    if (!Varint(length) || length > data_.size() - pos_) {
      return false;
    }
    out = data_.substr(pos_, length);
    pos_ += length;
    return true;
  }
  bool Fixed(size_t size, uint64_t& value) {
    if (data_.size() - pos_ < size) {
      return false;
    }
    value = 0;
    std::memcpy(&value, data_.data() + pos_, size);
    pos_ += size;
    return true;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

struct Wire {
  uint32_t number = 0;
  int type = 0;
  uint64_t integer = 0;
  std::string_view bytes;
};

// The next field of a message, or an error when the encoding is broken.
StatusOr<bool> NextField(Reader& reader, Wire& wire) {
  if (reader.done()) {
    return false;
  }
  uint64_t key = 0;
  if (!reader.Varint(key)) {
    return absl::InvalidArgumentError("truncated protobuf field key");
  }
  wire.number = static_cast<uint32_t>(key >> 3);
  wire.type = static_cast<int>(key & 7);
  bool ok = false;
  switch (wire.type) {
    case 0:
      ok = reader.Varint(wire.integer);
      break;
    case 1:
      ok = reader.Fixed(8, wire.integer);
      break;
    case 2:
      ok = reader.Bytes(wire.bytes);
      break;
    case 5:
      ok = reader.Fixed(4, wire.integer);
      break;
    default:
      break;
  }
  if (!ok) {
    return absl::InvalidArgumentError(fmt::format("bad protobuf field {}", wire.number));
  }
  return true;
}

StatusOr<json::object> DecodeMessage(const std::string& name, std::string_view data, int depth);

// One value of `field` from `wire`; null when it is a zero scalar to leave out.
StatusOr<json::value> DecodeValue(const Field& field, const Wire& wire, int depth, bool keep_zero) {
  switch (field.type) {
    case 's':
      if (wire.type != 2) {
        break;
      }
      if (wire.bytes.empty() && !keep_zero) {
        return json::value(nullptr);
      }
      if (!IsValidUtf8(wire.bytes)) {
        return absl::InvalidArgumentError(fmt::format("field {} is not valid UTF-8", field.name));
      }
      return json::value(json::string(wire.bytes.data(), wire.bytes.size()));
    case 'y':
      if (wire.type != 2) {
        break;
      }
      if (wire.bytes.empty() && !keep_zero) {
        return json::value(nullptr);
      }
      return json::value(Base64Encode(wire.bytes));
    case 'i':
      if (wire.type != 0) {
        break;
      }
      if (wire.integer == 0 && !keep_zero) {
        return json::value(nullptr);
      }
      return json::value(static_cast<int64_t>(wire.integer));
    case 'b':
      if (wire.type != 0) {
        break;
      }
      if (wire.integer == 0 && !keep_zero) {
        return json::value(nullptr);
      }
      return json::value(wire.integer != 0);
    case 'd': {
      if (wire.type != 1) {
        break;
      }
      double value = 0;
      std::memcpy(&value, &wire.integer, sizeof(value));
      return json::value(value);
    }
    case 'q':
    case 't':
    case 'n': {
      if (wire.type != 2) {
        break;
      }
      Reader inner(wire.bytes);
      Wire part;
      int64_t seconds = 0;
      int64_t int_value = 0;
      int64_t kind = 0;
      std::string text;
      while (true) {
        BH_ASSIGN_OR_RETURN(bool more, NextField(inner, part));
        if (!more) {
          break;
        }
        bool text_part = (field.type == 'q' && part.number == 1 && part.type == 2) ||
                         (field.type == 'n' && part.number == 3 && part.type == 2);
        if (text_part) {
          if (!IsValidUtf8(part.bytes)) {
            return absl::InvalidArgumentError(
                fmt::format("field {} is not valid UTF-8", field.name));
          }
          text = std::string(part.bytes);
        } else if (field.type == 't' && part.number == 1 && part.type == 0) {
          seconds = static_cast<int64_t>(part.integer);
        } else if (field.type == 'n' && part.number == 1 && part.type == 0) {
          kind = static_cast<int64_t>(part.integer);
        } else if (field.type == 'n' && part.number == 2 && part.type == 0) {
          int_value = static_cast<int64_t>(part.integer);
        }
      }
      if (field.type == 'q') {
        return json::value(text);
      }
      if (field.type == 'n') {
        return kind == 1 ? json::value(text) : json::value(int_value);
      }
      if (seconds == 0) {
        return json::value(nullptr);
      }
      time_t when = seconds;
      std::tm tm{};
      ::gmtime_r(&when, &tm);
      std::array<char, 32> buffer{};
      size_t n = std::strftime(buffer.data(), buffer.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
      return json::value(std::string(buffer.data(), n));
    }
    case 'M': {
      if (wire.type != 2) {
        break;
      }
      BH_ASSIGN_OR_RETURN(json::object object, DecodeMessage(field.message, wire.bytes, depth + 1));
      return json::value(std::move(object));
    }
    default:
      break;
  }
  return absl::InvalidArgumentError(
      fmt::format("protobuf field {} has an unexpected wire type {}", field.name, wire.type));
}

StatusOr<json::object> DecodeMessage(const std::string& name, std::string_view data, int depth) {
  if (depth > 64) {
    return absl::InvalidArgumentError("protobuf object nested too deeply");
  }
  const auto& messages = Messages();
  auto it = messages.find(name);
  if (it == messages.end()) {
    return absl::InvalidArgumentError(fmt::format("no protobuf schema for {}", name));
  }
  json::object object;
  Reader reader(data);
  Wire wire;
  while (true) {
    BH_ASSIGN_OR_RETURN(bool more, NextField(reader, wire));
    if (!more) {
      break;
    }
    auto field_it = it->second.find(wire.number);
    if (field_it == it->second.end()) {
      continue;
    }
    const Field& field = field_it->second;
    if (field.map) {
      Reader entry(wire.bytes);
      Wire part;
      std::string key;
      json::value value = field.type == 'M' ? json::value(json::object()) : json::value("");
      while (true) {
        BH_ASSIGN_OR_RETURN(bool more_entry, NextField(entry, part));
        if (!more_entry) {
          break;
        }
        if (part.number == 1 && part.type == 2) {
          if (!IsValidUtf8(part.bytes)) {
            return absl::InvalidArgumentError(
                fmt::format("a key of field {} is not valid UTF-8", field.name));
          }
          key = std::string(part.bytes);
        } else if (part.number == 2) {
          BH_ASSIGN_OR_RETURN(value, DecodeValue(field, part, depth, true));
        }
      }
      json::value& map = object[field.name];
      if (!map.is_object()) {
        map = json::object();
      }
      map.as_object()[key] = std::move(value);
      continue;
    }
    if (field.repeated) {
      json::value& list = object[field.name];
      if (!list.is_array()) {
        list = json::array();
      }
      if (field.type == 'i' && wire.type == 2) {  // packed
        Reader packed(wire.bytes);
        uint64_t value = 0;
        while (!packed.done() && packed.Varint(value)) {
          list.as_array().emplace_back(static_cast<int64_t>(value));
        }
        continue;
      }
      BH_ASSIGN_OR_RETURN(json::value value, DecodeValue(field, wire, depth, true));
      list.as_array().push_back(std::move(value));
      continue;
    }
    bool keep_zero = field.name == "replicas";
    BH_ASSIGN_OR_RETURN(json::value value, DecodeValue(field, wire, depth, keep_zero));
    if (!value.is_null()) {
      object[field.name] = std::move(value);
    } else if (field.type == 't' && field.name == "creationTimestamp") {
      object[field.name] = nullptr;
    }
  }
  return object;
}

std::string PackageOf(const std::string& api_version) {
  static const std::map<std::string, std::string> kPackages = {
      {"v1", "core"},
      {"apps/v1", "apps"},
      {"batch/v1", "batch"},
      {"rbac.authorization.k8s.io/v1", "rbac"},
      {"networking.k8s.io/v1", "networking"},
      {"storage.k8s.io/v1", "storage"},
      {"coordination.k8s.io/v1", "coordination"},
      {"discovery.k8s.io/v1", "discovery"},
      {"policy/v1", "policy"},
      {"autoscaling/v1", "autoscaling"},
      {"scheduling.k8s.io/v1", "scheduling"},
      {"authorization.k8s.io/v1", "authorization"},
      {"authentication.k8s.io/v1", "authentication"}};
  auto it = kPackages.find(api_version);
  return it == kPackages.end() ? "" : it->second;
}

}  // namespace

StatusOr<json::object> DecodeProtobufObject(std::string_view body) {
  constexpr std::string_view kMagic("k8s\0", 4);
  if (!ConsumePrefix(body, kMagic)) {
    return absl::InvalidArgumentError("protobuf body without the k8s magic prefix");
  }
  Reader reader(body);
  Wire wire;
  std::string api_version;
  std::string kind;
  std::string_view raw;
  bool has_raw = false;
  while (true) {
    BH_ASSIGN_OR_RETURN(bool more, NextField(reader, wire));
    if (!more) {
      break;
    }
    if (wire.number == 1 && wire.type == 2) {
      Reader type_meta(wire.bytes);
      Wire part;
      while (true) {
        BH_ASSIGN_OR_RETURN(bool more_meta, NextField(type_meta, part));
        if (!more_meta) {
          break;
        }
        if (part.number == 1 && part.type == 2) {
          api_version = std::string(part.bytes);
        } else if (part.number == 2 && part.type == 2) {
          kind = std::string(part.bytes);
        }
      }
    } else if (wire.number == 2 && wire.type == 2) {
      raw = wire.bytes;
      has_raw = true;
    } else if (wire.number == 3 && wire.type == 2 && !wire.bytes.empty()) {
      return absl::InvalidArgumentError("protobuf body with a content encoding is not supported");
    }
  }
  std::string package = PackageOf(api_version);
  if (!has_raw || kind.empty() || package.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("protobuf body of unsupported type {} {}", api_version, kind));
  }
  BH_ASSIGN_OR_RETURN(json::object object, DecodeMessage(package + "." + kind, raw, 0));
  object["apiVersion"] = api_version;
  object["kind"] = kind;
  return object;
}

}  // namespace bulkhead::controlplane
