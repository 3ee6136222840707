#!/usr/bin/env bash
# Installs what is missing, builds, starts the local S3 server behind the signature gate, runs
# every test, and ends with the line "N passed, N failed".
#
# After the normal run (BUILD_DIR, default build) come the sanitizer runs, whose counts join the
# total: the whole suite again under AddressSanitizer and UndefinedBehaviorSanitizer (build-asan),
# the thread tests under ThreadSanitizer (build-tsan), and each fuzz target for FUZZ_SECONDS
# (default 10; build-fuzz, scripts/fuzz.sh). CSHELVE_SANITIZERS=0 skips them. Arguments go to the
# normal `meson test` and to the AddressSanitizer one.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
# The sanitizer trees sit beside the normal one: build-asan, build-tsan and build-fuzz by default.
asan_build="$build-asan"
tsan_build="$build-tsan"
fuzz_build="$build-fuzz"
sanitizers="${CSHELVE_SANITIZERS:-1}"
bash "$root/scripts/install-deps.sh" --tests
# The armhf packages are installed now, before anything runs in the background: apt upgrading a
# package for multiarch leaves it half-installed for a moment, which another install check would
# take for missing.
armhf="${CSHELVE_ARMHF:-1}"
if [ "$armhf" = 1 ] && ! bash "$root/scripts/install-deps.sh" --armhf; then
  # Only apt can fail here (a mirror caught mid-sync serves armhf indexes that disagree with the
  # amd64 ones). That says nothing of the code, so the other stages still run; the skip is told
  # again beside the final count.
  armhf=0
  armhf_skipped="the armhf stage was skipped: apt could not install its packages (see above)"
  echo "$armhf_skipped" >&2
fi
BUILD_DIR="$build" bash "$root/scripts/build.sh"

# The sanitizer trees build in the background, at low priority, while the normal tests run: those
# spend most of their time waiting on the network (retries, stalled answers), not on the CPU.
builder=""
if [ "$sanitizers" = 1 ]; then
  mkdir -p "$asan_build"
  (
    set -e
    if [ ! -f "$asan_build/build.ninja" ]; then
      # -O0: with sanitizers, GCC takes several times longer to optimize than the tests take to run.
      meson setup "$asan_build" "$root" --wrap-mode=nodownload -Dbench=false -Dbuildtype=debug \
        -Db_sanitize=address,undefined -Db_lundef=false
    fi
    nice -n 10 ninja -C "$asan_build" -j2
    if [ ! -f "$tsan_build/build.ninja" ]; then
      meson setup "$tsan_build" "$root" --wrap-mode=nodownload -Dbench=false -Dbuildtype=debug -Dcli=false \
        -Dexamples=false -Db_sanitize=thread -Db_lundef=false
    fi
    # Only the thread tests run there; the rest of the suite has no threads of its own to race.
    nice -n 10 ninja -C "$tsan_build" -j2 tests/reliability/reliability-threads tests/s3/credentials-refresh \
      tests/shelf/concurrency-tests
    FUZZ_BUILD_DIR="$fuzz_build" nice -n 10 bash "$root/scripts/fuzz.sh" --build-only
  ) >"$asan_build/sanitizer-build.txt" 2>&1 &
  builder=$!
fi

# The 32-bit ARM stage (scripts/test-armhf.sh, CSHELVE_ARMHF=0 skips it): cross-built in the
# background too, then tested under qemu-user once the normal tests are done.
armhf_build="$build-armhf"
armhf_builder=""
if [ "$armhf" = 1 ]; then
  mkdir -p "$armhf_build"
  ARMHF_BUILD_DIR="$armhf_build" bash "$root/scripts/test-armhf.sh" --build-only >"$armhf_build/stage-build.txt" 2>&1 &
  armhf_builder=$!
fi

status=0
bash "$root/tests/s3/with-server.sh" meson test -C "$build" --no-rebuild --print-errorlogs \
  --num-processes 2 "$@" > "$build/test-output.txt" 2>&1 || status=$?
tail -n 40 "$build/test-output.txt"
logs=("$build/meson-logs/testlog.json")

if [ -n "$armhf_builder" ]; then
  logs+=("$armhf_build/meson-logs/testlog.json")
  if wait "$armhf_builder"; then
    ARMHF_BUILD_DIR="$armhf_build" bash "$root/scripts/test-armhf.sh" --test-only "$@" || status=$?
  else
    tail -n 40 "$armhf_build/stage-build.txt"
    status=1
  fi
fi

if [ "$sanitizers" = 1 ]; then
  logs+=("$asan_build/meson-logs/testlog.json" "$tsan_build/meson-logs/testlog.json"
         "$fuzz_build/fuzz-testlog.json")
  if ! wait "$builder"; then
    tail -n 40 "$asan_build/sanitizer-build.txt"
    echo "the sanitizer builds failed (log: $asan_build/sanitizer-build.txt)" >&2
    status=1
  fi
  rm -f "$asan_build/meson-logs/testlog.json" "$tsan_build/meson-logs/testlog.json" "$fuzz_build/fuzz-testlog.json"

  # Any report stops the program, so the test fails; stack traces name the culprit.
  export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  # libcurl and OpenSSL are not built with ThreadSanitizer: tests/reliability/tsan.supp is where any
  # false report from their internals would be suppressed, with its reason (never one of ours).
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/reliability/tsan.supp"
  # Left out: 'consumers' builds its own copies of the library with the plain compiler, and 'docs'
  # compiles the documentation's snippets with it, which cannot run against this tree's library
  # (the sanitizer runtime must come first); the library code they reach runs here anyway.
  bash "$root/tests/s3/with-server.sh" bash -c '
      status=0
      meson test -C "$1" --no-rebuild --print-errorlogs --num-processes 2 \
        --no-suite consumers --no-suite docs --no-suite format --no-suite native-only "${@:3}" || status=1
      meson test -C "$2" --no-rebuild --print-errorlogs reliability-threads credentials-refresh \
        concurrency-threads || status=1
      exit $status' sanitizers "$asan_build" "$tsan_build" "$@" \
    > "$asan_build/test-output.txt" 2>&1 || status=$?
  tail -n 25 "$asan_build/test-output.txt"

  FUZZ_BUILD_DIR="$fuzz_build" FUZZ_LOG="$fuzz_build/fuzz-testlog.json" \
    bash "$root/scripts/fuzz.sh" "${FUZZ_SECONDS:-10}" || status=1
fi

[ -n "${armhf_skipped:-}" ] && echo "$armhf_skipped"
/usr/bin/python3 "$root/scripts/count-tests.py" "${logs[@]}" || status=1
exit $status
