#!/usr/bin/env bash
# Formatting and static analysis: clang-format must change nothing and
# clang-tidy (.clang-tidy) must report nothing. Needs a configured build
# directory with compile_commands.json (default: build/ci).
#
#   scripts/lint.sh [--deep] [BUILD_DIR]
#
# The static analyzer runs in its shallow mode (every checker on every
# function, less inlining across calls): on this 2-core machine the deep
# mode costs 2.5 times as much (agent/api/server.cpp: 51 s against 20 s).
# --deep runs the full analysis (before a release; docs/development.md).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=shallow
build_dir=build/ci
while (($#)); do
  case "$1" in
    --deep) mode=deep ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "lint.sh: unknown flag $1; see 'scripts/lint.sh --help'" >&2; exit 2 ;;
    *) build_dir=$1 ;;
  esac
  shift
done

mapfile -t sources < <(git ls-files -co --exclude-standard '*.cpp' '*.h' '*.c' | grep -v '^bpf/vmlinux/')
echo "lint: clang-format on ${#sources[@]} files"
clang-format --dry-run --Werror "${sources[@]}"

mapfile -t units < <(printf '%s\n' "${sources[@]}" | grep '\.cpp$')
echo "lint: clang-tidy on ${#units[@]} translation units (analyzer: $mode)"
analyzer=()
if [[ $mode == shallow ]]; then
  analyzer=(-extra-arg=-Xclang -extra-arg=-analyzer-config -extra-arg=-Xclang -extra-arg=mode=shallow)
fi
run-clang-tidy -p "$build_dir" -quiet -j "$(nproc)" "${analyzer[@]}" "${units[@]}" \
  > "$build_dir/clang-tidy.log" 2>&1 || {
  grep -E 'warning:|error:' "$build_dir/clang-tidy.log" | sort -u >&2
  echo "lint: clang-tidy found problems (full log: $build_dir/clang-tidy.log)" >&2
  exit 1
}
echo "lint: clean"
