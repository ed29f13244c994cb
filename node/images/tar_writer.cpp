#include "node/images/tar_writer.h"

#include <sys/stat.h>

#include <array>
#include <cstring>

#include "common/file.h"
#include "fmt/format.h"

namespace bulkhead::node::images {
namespace {

constexpr size_t kBlock = 512;
constexpr size_t kNameSize = 100;
constexpr size_t kPrefixSize = 155;
// 11 octal digits in the 12-byte size field.
constexpr uint64_t kMaxSize = 077777777777ULL;

// Header field offsets and sizes (POSIX ustar).
struct Field {
  size_t offset;
  size_t size;
};
constexpr Field kName{0, 100};
constexpr Field kMode{100, 8};
constexpr Field kUid{108, 8};
constexpr Field kGid{116, 8};
constexpr Field kSize{124, 12};
constexpr Field kMtime{136, 12};
constexpr Field kChecksum{148, 8};
constexpr Field kType{156, 1};
constexpr Field kLinkName{157, 100};
constexpr Field kMagic{257, 6};
constexpr Field kVersion{263, 2};
constexpr Field kUname{265, 32};
constexpr Field kGname{297, 32};
constexpr Field kPrefix{345, 155};

void Put(std::array<char, kBlock>& header, Field field, std::string_view value) {
  if (!value.empty()) {
    std::memcpy(header.data() + field.offset, value.data(), std::min(value.size(), field.size));
  }
}

// Zero-padded octal filling the field but its last byte (a NUL).
void PutOctal(std::array<char, kBlock>& header, Field field, uint64_t value) {
  Put(header, field, fmt::format("{:0{}o}", value, field.size - 1));
}

}  // namespace

StatusOr<std::string> NormalizeTarPath(std::string_view path) {
  std::string_view rest = path;
  while (!rest.empty() && rest.front() == '/') {
    rest.remove_prefix(1);
  }
  while (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  if (rest.empty()) {
    return absl::InvalidArgumentError(fmt::format("tar path '{}' names no entry", path));
  }
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = rest.find('/', start);
    if (end == std::string_view::npos) {
      end = rest.size();
    }
    std::string_view part = rest.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return absl::InvalidArgumentError(
          fmt::format("tar path '{}' has an empty, '.' or '..' component", path));
    }
    start = end + 1;
  }
  return std::string(rest);
}

Status TarWriter::AddDirectory(std::string_view path, mode_t mode) {
  return AddEntry(path, '5', mode, {}, {});
}

Status TarWriter::AddFile(std::string_view path, std::string_view content, mode_t mode) {
  return AddEntry(path, '0', mode, content, {});
}

Status TarWriter::AddHostFile(std::string_view path, const std::string& host_path,
                              std::optional<mode_t> mode) {
  struct stat info {};
  if (::stat(host_path.c_str(), &info) != 0) {
    return ErrnoError(errno, fmt::format("stat {}", host_path));
  }
  if (!S_ISREG(info.st_mode)) {
    return absl::InvalidArgumentError(
        fmt::format("{} is not a regular file: it cannot go in an image as '{}'", host_path, path));
  }
  BH_ASSIGN_OR_RETURN(std::string content, ReadFile(host_path));
  return AddEntry(path, '0', mode.value_or(info.st_mode & 07777), content, {});
}

Status TarWriter::AddSymlink(std::string_view path, std::string_view target) {
  if (target.empty()) {
    return absl::InvalidArgumentError(fmt::format("symlink '{}' has an empty target", path));
  }
  return AddEntry(path, '2', 0777, {}, target);
}

Status TarWriter::AddEntry(std::string_view path, char type, mode_t mode, std::string_view content,
                           std::string_view link_target) {
  BH_ASSIGN_OR_RETURN(std::string name, NormalizeTarPath(path));
  if (type == '5') {
    name += '/';
  }
  if ((mode & ~mode_t{07777}) != 0) {
    return absl::InvalidArgumentError(
        fmt::format("tar entry '{}': mode {:o} has bits beyond 07777", name, mode));
  }
  if (content.size() > kMaxSize) {
    return absl::InvalidArgumentError(fmt::format(
        "tar entry '{}': {} bytes is over the ustar limit of 8 GiB", name, content.size()));
  }
  if (link_target.size() > kLinkName.size) {
    return absl::InvalidArgumentError(
        fmt::format("tar entry '{}': symlink target of {} bytes is over the ustar limit of {}",
                    name, link_target.size(), kLinkName.size));
  }
  // The name must fit in 100 bytes, or split at a '/' into a prefix of up to
  // 155 bytes and a name of up to 100 (the '/' itself is not stored).
  std::string_view prefix;
  std::string_view base = name;
  if (name.size() > kNameSize) {
    std::string_view whole = name;
    // A directory's trailing '/' belongs to the name part.
    size_t search_end = whole.size() - (type == '5' ? 2 : 1);
    size_t cut = std::string_view::npos;
    for (size_t slash = whole.rfind('/', search_end); slash != std::string_view::npos;
         slash = slash == 0 ? std::string_view::npos : whole.rfind('/', slash - 1)) {
      if (whole.size() - slash - 1 > kNameSize) {
        break;  // cutting further left only makes the name part longer
      }
      if (slash <= kPrefixSize) {
        cut = slash;
        break;
      }
    }
    if (cut == std::string_view::npos || cut == 0) {
      return absl::InvalidArgumentError(fmt::format(
          "tar entry '{}' ({} bytes) does not fit ustar: a path over 100 bytes must split at a "
          "'/' into at most 155 + 100 bytes",
          name, name.size()));
    }
    prefix = whole.substr(0, cut);
    base = whole.substr(cut + 1);
  }
  if (!names_.insert(name).second) {
    return absl::InvalidArgumentError(fmt::format("tar entry '{}' is added twice", name));
  }

  std::array<char, kBlock> header{};
  Put(header, kName, base);
  PutOctal(header, kMode, mode);
  PutOctal(header, kUid, 0);
  PutOctal(header, kGid, 0);
  PutOctal(header, kSize, content.size());
  PutOctal(header, kMtime, 0);
  header[kType.offset] = type;
  Put(header, kLinkName, link_target);
  Put(header, kMagic, std::string_view("ustar\0", 6));
  Put(header, kVersion, "00");
  Put(header, kUname, "root");
  Put(header, kGname, "root");
  Put(header, kPrefix, prefix);
  // The checksum is computed with its own field as spaces, then stored as
  // six octal digits, a NUL and a space.
  std::memset(header.data() + kChecksum.offset, ' ', kChecksum.size);
  unsigned sum = 0;
  for (char c : header) {
    sum += static_cast<unsigned char>(c);
  }
  Put(header, kChecksum, fmt::format("{:06o}", sum));
  header[kChecksum.offset + 6] = '\0';

  bytes_.append(header.data(), header.size());
  bytes_.append(content.data(), content.size());
  bytes_.append((kBlock - content.size() % kBlock) % kBlock, '\0');
  return absl::OkStatus();
}

std::string TarWriter::Finish() {
  bytes_.append(2 * kBlock, '\0');
  names_.clear();
  return std::exchange(bytes_, {});
}

}  // namespace bulkhead::node::images
