// A deterministic tar (ustar) writer for image layers and OCI layouts.
//
// Every entry is owned by 0:0 ("root"), has mtime 0 and no extended
// headers, so the same entries in the same order give the same bytes.
// Paths are given with or without a leading "/" and are stored relative
// ("bin/sh"); directories get a trailing "/". A path longer than 100 bytes
// is split into the ustar prefix (up to 155 bytes) and name (up to 100);
// one that cannot be split, a symlink target over 100 bytes, ".." or empty
// components and a path added twice are refused with INVALID_ARGUMENT.
#ifndef BULKHEAD_NODE_IMAGES_TAR_WRITER_H_
#define BULKHEAD_NODE_IMAGES_TAR_WRITER_H_

#include <sys/types.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/status.h"

namespace bulkhead::node::images {

class TarWriter {
 public:
  Status AddDirectory(std::string_view path, mode_t mode = 0755);
  Status AddFile(std::string_view path, std::string_view content, mode_t mode = 0644);
  // The content of `host_path`; its permission bits unless `mode` is given.
  Status AddHostFile(std::string_view path, const std::string& host_path,
                     std::optional<mode_t> mode = std::nullopt);
  Status AddSymlink(std::string_view path, std::string_view target);

  // The archive with its two end-of-archive blocks; the writer is then empty.
  std::string Finish();

 private:
  Status AddEntry(std::string_view path, char type, mode_t mode, std::string_view content,
                  std::string_view link_target);

  std::string bytes_;
  std::set<std::string, std::less<>> names_;
};

// "bin/sh" from "/bin/sh" or "bin/sh/", or INVALID_ARGUMENT for "", "/",
// "a//b", "./a", "a/../b".
StatusOr<std::string> NormalizeTarPath(std::string_view path);

}  // namespace bulkhead::node::images

#endif  // BULKHEAD_NODE_IMAGES_TAR_WRITER_H_
