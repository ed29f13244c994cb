#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (AddressSanitizer and
# UndefinedBehaviorSanitizer on) in build/fuzz and runs each for a while,
# starting from its corpus in tests/fuzz/corpus/<target>/.
#
#   scripts/fuzz.sh [--seconds N] [--merge] [TARGET...]
#
#   --seconds N  how long each target runs (default 10; CI uses the default)
#   --merge      afterwards, add the inputs that found new coverage to
#                tests/fuzz/corpus/<target>/ (minimised; commit them)
#   TARGET       only these targets (default: all)
#
# New inputs go to build/fuzz/corpus/<target>/, crashes to
# build/fuzz/crashes/<target>-crash-*; a crash, leak, timeout or out-of-memory
# fails the script and prints how to reproduce it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=10
merge=0
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift ;;
    --merge) merge=1 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown flag $1; see 'scripts/fuzz.sh --help'" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done

if ! command -v clang++ > /dev/null; then
  echo "fuzz.sh: clang++ is missing (scripts/install-deps.sh installs it)" >&2
  exit 1
fi

dir=build/fuzz
mkdir -p "$dir"
launcher=()
if command -v ccache > /dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
# -O1 and asserts on: the usual trade between speed and checks for fuzzing.
# Warnings are not errors here: build/ci (gcc) and clang-tidy judge them.
CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DBULKHEAD_FUZZ=ON -DBULKHEAD_WERROR=OFF \
  -DBULKHEAD_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" \
  "${launcher[@]}" > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
cmake --build "$dir" --target bulkhead_fuzz -j "$(nproc)"

if ((${#targets[@]} == 0)); then
  for corpus in tests/fuzz/corpus/*/; do
    targets+=("$(basename "$corpus")")
  done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$dir/crashes"
failed=()
for target in "${targets[@]}"; do
  binary=$dir/tests/fuzz/$target
  seeds=tests/fuzz/corpus/$target
  [[ -x $binary && -d $seeds ]] || { echo "fuzz.sh: no target or corpus named $target" >&2; exit 2; }
  work=$dir/corpus/$target
  mkdir -p "$work"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$dir/crashes/$target-")
  [[ -f tests/fuzz/$target.dict ]] && args+=(-dict="tests/fuzz/$target.dict")
  echo "== fuzz $target for ${seconds}s"
  if ! "$binary" "${args[@]}" "$work" "$seeds" > "$dir/$target.log" 2>&1; then
    tail -n 60 "$dir/$target.log"
    echo "fuzz.sh: $target failed; reproduce with: $binary $dir/crashes/$target-<file>" >&2
    failed+=("$target")
    continue
  fi
  grep -E '^(stat::number_of_executed_units|stat::new_units_added)' "$dir/$target.log" |
    tr '\n' ' ' && echo
  if ((merge)); then
    "$binary" -merge=1 "$seeds" "$work" > "$dir/$target.merge.log" 2>&1
  fi
done

if ((${#failed[@]})); then
  echo "fuzz.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets ran ${seconds}s each without a finding"
