#!/usr/bin/env bash
# README command 2: installs what is needed, builds, and runs every test.
#
#   1. scripts/install-deps.sh (apt-get; quick when all is installed)
#   2. build/ci: Debug with AddressSanitizer + UBSan, warnings are errors;
#      every test (unit, privileged, e2e) once, under the sanitizers
#   3. lint: clang-format and clang-tidy must be clean (beside step 2's
#      tests and 4, at nice 19)
#   4. build/fuzz: scripts/fuzz.sh, each libFuzzer target for a few seconds
#
# Privileged tests skip with a reason when not root; with
# BULKHEAD_REQUIRE_PRIVILEGED=1 (CI) a skip is a failure.
# Flags: --quick (steps 1-2 only), -L LABEL (only tests with that ctest label).
# The optimised build is scripts/run.sh's (build/release) and the benchmarks'
# (scripts/bench.sh, build/bench); tests never need it.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
label_args=()
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    -L) label_args=(-L "$2"); shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown flag $1; see 'scripts/test.sh --help'" >&2; exit 2 ;;
  esac
  shift
done

start=$(date +%s)
stamp() { echo "== $(($(date +%s) - start))s: $*"; }

stamp "dependencies"
./scripts/install-deps.sh

configure_and_build() {  # <build dir> <cmake args...>
  local dir=$1; shift
  stamp "configure $dir"
  cmake -S . -B "$dir" -G Ninja -DBULKHEAD_WERROR=ON "$@" > "$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; return 1; }
  stamp "build $dir"
  cmake --build "$dir" -j "$(nproc)"
}

mkdir -p build
./scripts/clean-test-leftovers.sh
# One build, one run of every test, under the sanitizers: each test once with
# every check on costs less than the same tests twice. Line tables (-g1) are
# all a sanitizer report needs.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
configure_and_build build/ci -DCMAKE_BUILD_TYPE=Debug -DBULKHEAD_SANITIZE=ON \
  -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DCMAKE_C_FLAGS_DEBUG=-g1

# The lint, the longest step, runs beside the tests and the fuzz step at the
# lowest priority: it takes the CPU they leave idle (tests mostly wait on
# servers and kernels) and never slows them. Its own session, so that it
# stops with this script whatever ends it.
lint_pid=
if ((!quick)); then
  stamp "lint (in the background, nice 19)"
  setsid nice -n 19 ./scripts/lint.sh build/ci > build/lint.log 2>&1 &
  lint_pid=$!
  trap '[[ -n $lint_pid ]] && kill -- -"$lint_pid" 2> /dev/null || true' EXIT
fi

stamp "test build/ci"
ctest --test-dir build/ci --output-on-failure --no-tests=error -j "$(nproc)" "${label_args[@]}"
if ((quick)); then
  stamp "done (quick)"
  exit 0
fi

stamp "fuzz"
./scripts/fuzz.sh

stamp "waiting for the lint"
lint_status=0
wait "$lint_pid" || lint_status=$?
lint_pid=
cat build/lint.log
if ((lint_status != 0)); then
  echo "test.sh: lint failed (exit $lint_status)" >&2
  exit "$lint_status"
fi
stamp "done"
