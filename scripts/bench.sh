#!/usr/bin/env bash
# Builds the benchmarks optimised (RelWithDebInfo, no sanitizers) in
# build/bench; docs/benchmarks.md has the commands that run them and the
# latest figures. Tests build under the sanitizers (scripts/test.sh), whose
# figures would say nothing about speed or memory.
#
#   scripts/bench.sh            build build/bench/bench/*/bulkhead-*bench*
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "bench.sh: unknown argument $1; see 'scripts/bench.sh --help'" >&2; exit 2 ;;
esac
./scripts/install-deps.sh
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > build/bench.configure.log 2>&1 ||
  { cat build/bench.configure.log; exit 1; }
cmake --build build/bench -j "$(nproc)" --target bulkhead-bench-datapath \
  bulkhead-controlplane-bench bulkhead-bench-agent-footprint bulkhead-bench-node-pod-start bulkhead-controlplane bulkhead-agent bulkhead
echo "benchmarks built in build/bench/bench/ (see docs/benchmarks.md)"
