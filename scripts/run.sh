#!/usr/bin/env bash
# README command 1: installs what is needed, builds, and runs Bulkhead on
# this one machine (single-machine mode).
#
# Single-machine mode grows with the project. Today it builds the binaries
# and runs what exists: `bulkhead version` and `bulkhead-agent check`, which
# reports whether this node has every kernel feature the agent needs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "run.sh: needs root (apt-get, BPF and cgroups); run it as root" >&2
  exit 1
fi

./scripts/install-deps.sh
echo "== build"
mkdir -p build
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBULKHEAD_BUILD_TESTS=OFF \
  > build/release.configure.log 2>&1 || { cat build/release.configure.log; exit 1; }
cmake --build build/release -j "$(nproc)"

echo "== bulkhead version"
build/release/cli/bulkhead version
echo "== bulkhead-agent check"
build/release/agent/bulkhead-agent check
