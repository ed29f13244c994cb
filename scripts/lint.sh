#!/usr/bin/env bash
# Formatting and static analysis: clang-format must change nothing and
# clang-tidy (.clang-tidy) must report nothing. Needs a configured build
# directory with compile_commands.json (default: build/ci).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build/ci}

mapfile -t sources < <(git ls-files -co --exclude-standard '*.cpp' '*.h' '*.c' | grep -v '^bpf/vmlinux/')
echo "lint: clang-format on ${#sources[@]} files"
clang-format --dry-run --Werror "${sources[@]}"

mapfile -t units < <(printf '%s\n' "${sources[@]}" | grep '\.cpp$')
echo "lint: clang-tidy on ${#units[@]} translation units"
run-clang-tidy -p "$build_dir" -quiet -j "$(nproc)" "${units[@]}" > "$build_dir/clang-tidy.log" 2>&1 || {
  grep -E 'warning:|error:' "$build_dir/clang-tidy.log" | sort -u >&2
  echo "lint: clang-tidy found problems (full log: $build_dir/clang-tidy.log)" >&2
  exit 1
}
echo "lint: clean"
