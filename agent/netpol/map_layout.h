// Versioned map layouts and the move of pinned maps from an older layout
// to the current one, without detaching a program.
//
// Layout N's maps are pinned under <bpf_root>/maps-v<N> (layout 1, which
// predates the numbering: <bpf_root>/maps); the version is in the path, so
// the pins say which layout they hold. An agent that finds an older
// layout's pins loads its programs over fresh maps of its own layout,
// fills them from the old maps (converting entries whose layout changed),
// swaps the programs into the pinned links with BPF_LINK_UPDATE, copies
// once more what the old programs added meanwhile, and only then removes
// the old pins. Until the swap the old programs enforce from the old maps;
// after it the new programs enforce from maps that hold the same state.
#ifndef BULKHEAD_AGENT_NETPOL_MAP_LAYOUT_H_
#define BULKHEAD_AGENT_NETPOL_MAP_LAYOUT_H_

#include <bpf/libbpf.h>

#include <optional>
#include <string>

#include "common/status.h"

namespace bulkhead::agent::netpol {

// The layout this agent's programs use (NETPOL_LAYOUT_VERSION).
int CurrentLayout();
// Where layout `version`'s maps are pinned.
std::string MapsDir(const std::string& bpf_root, int version);

// The layout of the pins under bpf_root other than the current one, if
// any: an older one to migrate from. FAILED_PRECONDITION for a newer one
// (a downgrade: this agent cannot read it).
StatusOr<std::optional<int>> FindOlderLayout(const std::string& bpf_root);

struct MigrationCount {
  size_t maps = 0;     // maps copied (same name in both layouts)
  size_t entries = 0;  // entries written
};

// Copies every map pinned under `old_dir` (layout `old_version`) into the
// map of the same name in `object`, converting entries whose layout
// changed. `only_new` writes only keys the new map lacks (the second pass).
StatusOr<MigrationCount> CopyPinnedMaps(const std::string& old_dir, int old_version,
                                        bpf_object* object, bool only_new);

// Unpins every map under `dir` and removes the directory.
Status RemovePinnedMaps(const std::string& dir);

}  // namespace bulkhead::agent::netpol

#endif  // BULKHEAD_AGENT_NETPOL_MAP_LAYOUT_H_
