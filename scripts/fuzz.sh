#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (AddressSanitizer, UndefinedBehaviorSanitizer
# and LeakSanitizer on) and runs each for a bounded time.
#
# Usage: scripts/fuzz.sh [SECONDS [TARGET...]]
#        scripts/fuzz.sh --build-only
#   SECONDS  how long each target runs (default 30)
#   TARGET   xml, ini, record, pickle json (default: all)
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_LOG (a JSON-lines file that gets one
# meson-testlog-style record per target, for scripts/count-tests.py), FUZZ_ARGS (more libFuzzer
# options, e.g. "-runs=10000000" to bound by executions instead of time).
#
# Each target starts from its checked-in seed corpus (tests/fuzz/TARGET/corpus, left untouched)
# plus what earlier runs found (kept in the build folder). A crash, leak or undefined behaviour
# stops the target, leaves the input in the build folder as crash-*, leak-* (...) and fails the
# script; add such an input to the seed corpus once the bug is fixed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
build_only=0
if [ "${1:-}" = "--build-only" ]; then build_only=1; shift; fi
seconds="${1:-30}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(xml ini record pickle json)
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number" >&2; exit 2 ;; esac

bash "$root/scripts/install-deps.sh" --fuzz
cxx=""
for candidate in clang++-14 clang++; do
  if command -v "$candidate" >/dev/null 2>&1; then cxx="$candidate"; break; fi
done
[ -n "$cxx" ] || { echo "fuzz.sh: clang++ is needed (Debian: clang-14 libclang-rt-14-dev)" >&2; exit 2; }

if [ ! -f "$build/build.ninja" ]; then
  # Only what the targets need; the library is instrumented for coverage, not linked with main.
  CXX="$cxx" meson setup "$build" "$root" --wrap-mode=nodownload \
    -Dfuzz=true -Dtests=false -Dcli=false -Dexamples=false \
    -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
    -Dcpp_args=-fsanitize=fuzzer-no-link >/dev/null
fi
ninja_targets=()
for target in "${targets[@]}"; do ninja_targets+=("tests/fuzz/fuzz-$target"); done
ninja -C "$build" -j2 "${ninja_targets[@]}" >/dev/null
[ "$build_only" = 0 ] || exit 0

# Symbolized stack traces when Debian's llvm-symbolizer is there.
for symbolizer in llvm-symbolizer-14 llvm-symbolizer; do
  if command -v "$symbolizer" >/dev/null 2>&1; then
    export ASAN_SYMBOLIZER_PATH="$(command -v "$symbolizer")"
    break
  fi
done
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}"
# UBSan only warns by default; a fuzz run must stop at the first undefined behaviour.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

json_string() {
  /usr/bin/python3 -c 'import json, sys; print(json.dumps(sys.stdin.read()))'
}

failed=0
for target in "${targets[@]}"; do
  seeds="$root/tests/fuzz/$target/corpus"
  work="$build/corpus/$target"
  artifacts="$build/artifacts/$target"
  mkdir -p "$work" "$artifacts"
  log="$build/fuzz-$target.log"
  status=0
  # New inputs go to the first folder (the build folder's), never into the checked-in seeds.
  # shellcheck disable=SC2086
  "$build/tests/fuzz/fuzz-$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} \
    "$work" "$seeds" >"$log" 2>&1 || status=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  if [ "$status" -eq 0 ]; then
    echo "fuzz $target: ok, ${runs:-?} executions, ${speed:-?} exec/s"
    result=OK
  else
    echo "fuzz $target: FAILED (exit $status) after ${runs:-?} executions; log: $log" >&2
    grep -E "ERROR|SUMMARY|runtime error|property violated|Test unit written" "$log" | head -n 20 >&2 || true
    result=FAIL
    failed=1
  fi
  if [ -n "${FUZZ_LOG:-}" ]; then
    summary="fuzz-$target: ${runs:-?} executions, ${speed:-?} exec/s, exit $status"
    printf '{"name": "fuzz-%s", "result": "%s", "stdout": %s}\n' \
      "$target" "$result" "$(printf '%s' "$summary" | json_string)" >>"$FUZZ_LOG"
  fi
done
exit $failed
