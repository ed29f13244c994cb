#include "node/kubelet/pod_volumes.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "fmt/format.h"
#include "node/kubelet/json_fields.h"
#include "node/kubelet/sub_paths.h"

namespace bulkhead::node {
namespace {

namespace fs = std::filesystem;

Status CheckRelative(const std::string& volume, const std::string& path) {
  if (!IsLocalDescendingPath(path)) {
    return absl::InvalidArgumentError(fmt::format(
        "volume {}: item path \"{}\" must be relative and stay inside the volume", volume, path));
  }
  return absl::OkStatus();
}

Status WriteAtomically(const fs::path& path, const std::string& content, int mode) {
  std::error_code error;
  // Nothing the node writes goes through a symlink (the volume is read-only
  // to containers; this holds even if one was made another way).
  for (fs::path at = path; !at.empty() && at != at.parent_path(); at = at.parent_path()) {
    if (fs::is_symlink(fs::symlink_status(at, error))) {
      return absl::PermissionDeniedError(
          fmt::format("{} is a symlink: the node does not write through it", at.string()));
    }
    if (at.filename() == "volumes") {
      break;
    }
  }
  fs::create_directories(path.parent_path(), error);
  if (error) {
    return absl::InternalError(
        fmt::format("mkdir {}: {}", path.parent_path().string(), error.message()));
  }
  fs::path temporary = path.string() + ".tmp";
  fs::remove(temporary, error);  // never through a link left there
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out.flush()) {
      return absl::InternalError(fmt::format("write {}", temporary.string()));
    }
  }
  ::chmod(temporary.c_str(), static_cast<mode_t>(mode));
  fs::rename(temporary, path, error);
  if (error) {
    return absl::InternalError(fmt::format("rename {}: {}", path.string(), error.message()));
  }
  return absl::OkStatus();
}

int Mode(const json& object, const char* key, int fallback) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int>() & 0777 : fallback;
}

std::string MapLines(const json& map) {
  std::string out;
  if (!map.is_object()) {
    return out;
  }
  std::vector<std::pair<std::string, std::string>> sorted;
  for (const auto& [key, value] : map.items()) {
    sorted.emplace_back(key, value.is_string() ? value.get<std::string>() : value.dump());
  }
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [key, value] : sorted) {
    out += fmt::format("{}=\"{}\"\n", key, value);
  }
  return out;
}

StatusOr<std::string> DownwardValue(const json& pod, const std::string& volume, const json& item) {
  const json& meta = Field(pod, "metadata");
  if (const json& field = Field(item, "fieldRef"); field.is_object()) {
    std::string path = Str(field, "fieldPath");
    if (path == "metadata.name" || path == "metadata.namespace" || path == "metadata.uid") {
      return Str(meta, path.substr(9).c_str());
    }
    if (path == "metadata.labels") {
      return MapLines(Field(meta, "labels"));
    }
    if (path == "metadata.annotations") {
      return MapLines(Field(meta, "annotations"));
    }
    if (path.starts_with("metadata.labels['") && path.ends_with("']")) {
      return Str(Field(meta, "labels"), path.substr(17, path.size() - 19).c_str());
    }
    if (path.starts_with("metadata.annotations['") && path.ends_with("']")) {
      return Str(Field(meta, "annotations"), path.substr(22, path.size() - 24).c_str());
    }
    return absl::InvalidArgumentError(
        fmt::format("volume {}: unsupported fieldPath {}", volume, path));
  }
  return absl::UnimplementedError(
      fmt::format("volume {}: only fieldRef items are supported in downwardAPI", volume));
}

// The keys of a ConfigMap or Secret as files: every key, or the listed
// items at their paths.
Status WriteObjectFiles(const std::string& volume, const fs::path& dir, const json& source,
                        const std::string& kind, const VolumeSources& sources, int default_mode) {
  std::string name = Str(source, "name");
  BH_ASSIGN_OR_RETURN(auto data, sources.lookup(kind, name));
  if (!data) {
    if (Field(source, "optional") == true) {
      return absl::OkStatus();
    }
    return absl::FailedPreconditionError(
        fmt::format("MountVolume.SetUp failed for volume \"{}\" : {} \"{}\" not found", volume,
                    kind == "ConfigMap" ? "configmap" : "secret", name));
  }
  const json& items = Field(source, "items");
  if (!items.is_array() || items.empty()) {
    for (const auto& [key, value] : *data) {
      BH_RETURN_IF_ERROR(CheckRelative(volume, key));
      BH_RETURN_IF_ERROR(WriteAtomically(dir / key, value, default_mode));
    }
    return absl::OkStatus();
  }
  for (const json& item : items) {
    std::string key = Str(item, "key");
    std::string path = Str(item, "path");
    BH_RETURN_IF_ERROR(CheckRelative(volume, path));
    auto it = data->find(key);
    if (it == data->end()) {
      if (Field(source, "optional") == true) {
        continue;
      }
      return absl::FailedPreconditionError(
          fmt::format("MountVolume.SetUp failed for volume \"{}\" : key {} not found in {} {}",
                      volume, key, kind, name));
    }
    BH_RETURN_IF_ERROR(WriteAtomically(dir / path, it->second, Mode(item, "mode", default_mode)));
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<std::string> DecodeBase64(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL's byte strings
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
  if (n < 0) {
    return std::nullopt;
  }
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') {
    pad = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  }
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

StatusOr<PreparedVolumes> PrepareVolumes(const json& pod, const std::string& pod_dir,
                                         const VolumeSources& sources) {
  PreparedVolumes prepared;
  const fs::path base = fs::path(pod_dir) / "volumes";
  for (const json& volume : Field(Field(pod, "spec"), "volumes")) {
    const std::string name = Str(volume, "name");
    std::error_code error;
    if (volume.contains("emptyDir")) {
      fs::path dir = base / "empty-dir" / name;
      fs::create_directories(dir, error);
      ::chmod(dir.c_str(), 0777);
      prepared.paths[name] = dir.string();
    } else if (const json& host = Field(volume, "hostPath"); host.is_object()) {
      std::string path = Str(host, "path");
      std::string type = Str(host, "type");
      if (type == "DirectoryOrCreate") {
        fs::create_directories(path, error);
      } else if (type == "FileOrCreate" && !fs::exists(path)) {
        BH_RETURN_IF_ERROR(WriteAtomically(path, "", 0644));
      } else if ((type == "Directory" && !fs::is_directory(path)) ||
                 (type == "File" && !fs::is_regular_file(path)) ||
                 (type == "Socket" && !fs::is_socket(path))) {
        return absl::FailedPreconditionError(fmt::format(
            "MountVolume.SetUp failed for volume \"{}\" : hostPath type check failed: {} is not "
            "a {}",
            name, path, type));
      }
      prepared.paths[name] = path;
    } else if (const json& cm = Field(volume, "configMap"); cm.is_object()) {
      fs::path dir = base / "configmap" / name;
      fs::create_directories(dir, error);
      BH_RETURN_IF_ERROR(
          WriteObjectFiles(name, dir, cm, "ConfigMap", sources, Mode(cm, "defaultMode", 0644)));
      prepared.paths[name] = dir.string();
      prepared.node_written.insert(name);
    } else if (const json& secret = Field(volume, "secret"); secret.is_object()) {
      fs::path dir = base / "secret" / name;
      fs::create_directories(dir, error);
      json source = secret;
      source["name"] = Str(secret, "secretName");
      BH_RETURN_IF_ERROR(WriteObjectFiles(name, dir, source, "Secret", sources,
                                          Mode(secret, "defaultMode", 0644)));
      prepared.paths[name] = dir.string();
      prepared.node_written.insert(name);
    } else if (const json& downward = Field(volume, "downwardAPI"); downward.is_object()) {
      fs::path dir = base / "downward-api" / name;
      int mode = Mode(downward, "defaultMode", 0644);
      for (const json& item : Field(downward, "items")) {
        std::string path = Str(item, "path");
        BH_RETURN_IF_ERROR(CheckRelative(name, path));
        BH_ASSIGN_OR_RETURN(std::string value, DownwardValue(pod, name, item));
        BH_RETURN_IF_ERROR(WriteAtomically(dir / path, value, Mode(item, "mode", mode)));
      }
      fs::create_directories(dir, error);
      prepared.paths[name] = dir.string();
      prepared.node_written.insert(name);
    } else if (const json& projected = Field(volume, "projected"); projected.is_object()) {
      fs::path dir = base / "projected" / name;
      fs::create_directories(dir, error);
      int mode = Mode(projected, "defaultMode", 0644);
      for (const json& source : Field(projected, "sources")) {
        if (const json& sa = Field(source, "serviceAccountToken"); sa.is_object()) {
          std::string path = Str(sa, "path");
          BH_RETURN_IF_ERROR(CheckRelative(name, path));
          int64_t seconds = 3600;
          if (auto it = sa.find("expirationSeconds"); it != sa.end() && it->is_number_integer()) {
            seconds = it->get<int64_t>();
          }
          BH_ASSIGN_OR_RETURN(ServiceAccountToken token,
                              sources.token(Str(sa, "audience"), seconds));
          BH_RETURN_IF_ERROR(WriteAtomically(dir / path, token.token, mode));
          auto now = std::chrono::system_clock::now();
          auto life = token.expires > now ? token.expires - now : std::chrono::seconds(seconds);
          prepared.refresh_at = std::min(prepared.refresh_at, now + life * 8 / 10);
        } else if (const json& pcm = Field(source, "configMap"); pcm.is_object()) {
          BH_RETURN_IF_ERROR(WriteObjectFiles(name, dir, pcm, "ConfigMap", sources, mode));
        } else if (const json& psecret = Field(source, "secret"); psecret.is_object()) {
          BH_RETURN_IF_ERROR(WriteObjectFiles(name, dir, psecret, "Secret", sources, mode));
        } else if (const json& pdown = Field(source, "downwardAPI"); pdown.is_object()) {
          for (const json& item : Field(pdown, "items")) {
            std::string path = Str(item, "path");
            BH_RETURN_IF_ERROR(CheckRelative(name, path));
            BH_ASSIGN_OR_RETURN(std::string value, DownwardValue(pod, name, item));
            BH_RETURN_IF_ERROR(WriteAtomically(dir / path, value, Mode(item, "mode", mode)));
          }
        }
      }
      prepared.paths[name] = dir.string();
      prepared.node_written.insert(name);
    } else {
      std::string type = "unknown";
      for (const auto& [key, value] : volume.items()) {
        if (key != "name") {
          type = key;
        }
      }
      return absl::UnimplementedError(
          fmt::format("volume {}: {} volumes are not supported on this node (supported: emptyDir, "
                      "configMap, secret, downwardAPI, projected, hostPath)",
                      name, type));
    }
    if (error) {
      return absl::InternalError(fmt::format("volume {}: {}", name, error.message()));
    }
  }
  return prepared;
}

}  // namespace bulkhead::node
