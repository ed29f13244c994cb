#include "node/images/oci_archive.h"

#include <openssl/evp.h>
#include <sys/utsname.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "node/images/tar_writer.h"

namespace bulkhead::node::images {
namespace {

using nlohmann::json;

json Descriptor(std::string_view media_type, std::string_view blob) {
  return json{
      {"mediaType", media_type}, {"digest", "sha256:" + Sha256Hex(blob)}, {"size", blob.size()}};
}

json StringArray(const std::vector<std::string>& items) {
  json array = json::array();
  for (const auto& item : items) {
    array.push_back(item);
  }
  return array;
}

constexpr size_t kBlock = 512;
// index.json and manifest.json are small; a bigger one is not what we read.
constexpr uint64_t kMaxMetadataSize = 16ULL << 20;

StatusOr<uint64_t> ParseOctal(const char* field, size_t size, const std::string& path) {
  uint64_t value = 0;
  size_t i = 0;
  while (i < size && field[i] == ' ') {
    ++i;
  }
  if (i < size && (static_cast<unsigned char>(field[i]) & 0x80) != 0) {
    return absl::InvalidArgumentError(
        fmt::format("{}: a tar entry is over 8 GiB (base-256 size): not an image archive we "
                    "read",
                    path));
  }
  for (; i < size && field[i] >= '0' && field[i] <= '7'; ++i) {
    value = value * 8 + static_cast<uint64_t>(field[i] - '0');
  }
  return value;
}

std::string FieldString(const char* field, size_t size) { return {field, strnlen(field, size)}; }

std::string_view WithoutDotSlash(std::string_view name) {
  while (name.substr(0, 2) == "./") {
    name.remove_prefix(2);
  }
  return name;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr);
  std::string hex;
  hex.reserve(size_t{2} * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex += fmt::format("{:02x}", digest[i]);
  }
  return hex;
}

StatusOr<std::string> MachineArchitecture() {
  struct utsname name {};
  if (::uname(&name) != 0) {
    return ErrnoError(errno, "uname");
  }
  static const std::map<std::string, std::string, std::less<>> kNames = {
      {"x86_64", "amd64"},    {"aarch64", "arm64"}, {"armv7l", "arm"},      {"armv6l", "arm"},
      {"i686", "386"},        {"i386", "386"},      {"ppc64le", "ppc64le"}, {"s390x", "s390x"},
      {"riscv64", "riscv64"}, {"mips64", "mips64"}};
  auto it = kNames.find(std::string_view(name.machine));
  if (it == kNames.end()) {
    return absl::UnimplementedError(
        fmt::format("machine '{}' has no known OCI architecture name", name.machine));
  }
  return it->second;
}

StatusOr<std::string> BuildOciArchive(const ImageDescription& image) {
  if (image.tag.empty()) {
    return absl::InvalidArgumentError("an image archive needs a tag (its index ref.name)");
  }
  if (image.layers.empty()) {
    return absl::InvalidArgumentError("an image needs at least one layer");
  }
  std::string architecture = image.architecture;
  if (architecture.empty()) {
    BH_ASSIGN_OR_RETURN(architecture, MachineArchitecture());
  }

  json diff_ids = json::array();
  json layer_descriptors = json::array();
  for (const auto& layer : image.layers) {
    // Uncompressed layers: the diff_id is the digest of the blob itself.
    diff_ids.push_back("sha256:" + Sha256Hex(layer));
    layer_descriptors.push_back(Descriptor(kMediaTypeLayer, layer));
  }
  json config_section = json::object();
  if (!image.env.empty()) {
    config_section["Env"] = StringArray(image.env);
  }
  if (!image.entrypoint.empty()) {
    config_section["Entrypoint"] = StringArray(image.entrypoint);
  }
  if (!image.cmd.empty()) {
    config_section["Cmd"] = StringArray(image.cmd);
  }
  if (!image.working_dir.empty()) {
    config_section["WorkingDir"] = image.working_dir;
  }
  if (!image.user.empty()) {
    config_section["User"] = image.user;
  }
  json config = {{"architecture", architecture},
                 {"os", "linux"},
                 {"config", config_section},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  std::string config_blob = config.dump();

  json manifest = {{"schemaVersion", 2},
                   {"mediaType", kMediaTypeManifest},
                   {"config", Descriptor(kMediaTypeConfig, config_blob)},
                   {"layers", layer_descriptors}};
  std::string manifest_blob = manifest.dump();

  json manifest_descriptor = Descriptor(kMediaTypeManifest, manifest_blob);
  manifest_descriptor["platform"] = {{"architecture", architecture}, {"os", "linux"}};
  manifest_descriptor["annotations"] = {{kAnnotationRefName, image.tag}};
  json index = {{"schemaVersion", 2},
                {"mediaType", kMediaTypeIndex},
                {"manifests", json::array({manifest_descriptor})}};

  TarWriter tar;
  BH_RETURN_IF_ERROR(tar.AddFile("oci-layout", json{{"imageLayoutVersion", "1.0.0"}}.dump()));
  BH_RETURN_IF_ERROR(tar.AddFile("index.json", index.dump()));
  BH_RETURN_IF_ERROR(tar.AddDirectory("blobs"));
  BH_RETURN_IF_ERROR(tar.AddDirectory("blobs/sha256"));
  // Blobs in a fixed order; two identical layers are one blob.
  std::map<std::string, std::string_view> blobs;
  for (const auto& layer : image.layers) {
    blobs.emplace(Sha256Hex(layer), layer);
  }
  blobs.emplace(Sha256Hex(config_blob), config_blob);
  blobs.emplace(Sha256Hex(manifest_blob), manifest_blob);
  for (const auto& [hex, blob] : blobs) {
    BH_RETURN_IF_ERROR(tar.AddFile("blobs/sha256/" + hex, blob));
  }
  return tar.Finish();
}

StatusOr<ArchiveContents> InspectImageArchive(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return ErrnoError(errno, fmt::format("open {}", path));
  }
  std::string not_archive = fmt::format(
      "{} is not an image archive (an uncompressed tar of an OCI layout or of `docker save`)",
      path);
  std::array<char, kBlock> header{};
  std::map<std::string, std::string, std::less<>> metadata;  // top-level JSON files
  bool first = true;
  bool has_oci_layout = false;
  std::string long_name;  // from a pax 'x' or GNU 'L' entry, for the next entry
  while (true) {
    in.read(header.data(), header.size());
    if (in.gcount() == 0 && !first) {
      break;  // no end blocks: tolerated, as tar does
    }
    if (in.gcount() != static_cast<std::streamsize>(header.size())) {
      return absl::InvalidArgumentError(not_archive + ": it ends inside a tar header");
    }
    if (first && static_cast<unsigned char>(header[0]) == 0x1f &&
        static_cast<unsigned char>(header[1]) == 0x8b) {
      return absl::InvalidArgumentError(
          fmt::format("{} is gzip-compressed: decompress it first (gunzip -k), ctr imports an "
                      "uncompressed tar",
                      path));
    }
    if (std::all_of(header.begin(), header.end(), [](char c) { return c == '\0'; })) {
      if (first) {
        return absl::InvalidArgumentError(not_archive + ": it is empty");
      }
      break;
    }
    unsigned sum = 0;
    for (size_t i = 0; i < header.size(); ++i) {
      sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(header[i]);
    }
    BH_ASSIGN_OR_RETURN(uint64_t stored_sum, ParseOctal(header.data() + 148, 8, path));
    if (sum != stored_sum) {
      return absl::InvalidArgumentError(not_archive +
                                        (first ? "" : ": a tar header has a bad checksum"));
    }
    first = false;
    BH_ASSIGN_OR_RETURN(uint64_t size, ParseOctal(header.data() + 124, 12, path));
    char type = header[156];
    std::string name = FieldString(header.data(), 100);
    if (std::memcmp(header.data() + 257, "ustar", 5) == 0) {
      std::string prefix = FieldString(header.data() + 345, 155);
      if (!prefix.empty()) {
        prefix += '/';
        name.insert(0, prefix);
      }
    }
    bool wanted = type == 'x' || type == 'L';
    if (!long_name.empty()) {
      name = std::exchange(long_name, {});
    }
    std::string_view entry = WithoutDotSlash(name);
    bool regular = type == '0' || type == '\0';
    if (regular && entry == "oci-layout") {
      has_oci_layout = true;
    }
    if (regular && (entry == "index.json" || entry == "manifest.json")) {
      wanted = true;
    }
    uint64_t padded = (size + kBlock - 1) / kBlock * kBlock;
    if (wanted) {
      if (size > kMaxMetadataSize) {
        return absl::InvalidArgumentError(
            fmt::format("{}: '{}' is {} bytes, too big for image metadata", path, name, size));
      }
      std::string content(padded, '\0');
      in.read(content.data(), static_cast<std::streamsize>(padded));
      if (in.gcount() != static_cast<std::streamsize>(padded)) {
        return absl::InvalidArgumentError(not_archive + ": it ends inside an entry");
      }
      content.resize(size);
      if (type == 'L') {
        long_name = content.c_str();
      } else if (type == 'x') {
        // Records "<len> key=value\n"; only path matters here.
        size_t at = content.find(" path=");
        if (at != std::string::npos) {
          size_t end = content.find('\n', at);
          long_name = content.substr(at + 6, end == std::string::npos ? end : end - at - 6);
        }
      } else {
        metadata.emplace(std::string(entry), std::move(content));
      }
    } else {
      in.seekg(static_cast<std::streamoff>(padded), std::ios::cur);
      if (!in) {
        return absl::InvalidArgumentError(not_archive + ": it ends inside an entry");
      }
    }
  }

  ArchiveContents contents;
  if (auto it = metadata.find("index.json"); it != metadata.end() && has_oci_layout) {
    contents.format = ArchiveContents::Format::kOciLayout;
    json index = json::parse(it->second, nullptr, false);
    if (index.is_discarded() || !index.is_object() || !index.contains("manifests") ||
        !index["manifests"].is_array()) {
      return absl::InvalidArgumentError(
          fmt::format("{}: index.json is not an OCI image index", path));
    }
    for (const auto& manifest : index["manifests"]) {
      if (manifest.is_object() && manifest.contains("annotations") &&
          manifest["annotations"].is_object() &&
          manifest["annotations"].contains(kAnnotationRefName) &&
          manifest["annotations"][kAnnotationRefName].is_string()) {
        contents.names.push_back(manifest["annotations"][kAnnotationRefName].get<std::string>());
      }
    }
    return contents;
  }
  if (auto it = metadata.find("manifest.json"); it != metadata.end()) {
    contents.format = ArchiveContents::Format::kDockerSave;
    json manifest = json::parse(it->second, nullptr, false);
    if (manifest.is_discarded() || !manifest.is_array()) {
      return absl::InvalidArgumentError(
          fmt::format("{}: manifest.json is not a `docker save` manifest", path));
    }
    for (const auto& image : manifest) {
      if (image.is_object() && image.contains("RepoTags") && image["RepoTags"].is_array()) {
        for (const auto& tag : image["RepoTags"]) {
          if (tag.is_string()) {
            contents.names.push_back(tag.get<std::string>());
          }
        }
      }
    }
    return contents;
  }
  return absl::InvalidArgumentError(
      not_archive + ": it is a tar without oci-layout and index.json, or manifest.json");
}

}  // namespace bulkhead::node::images
