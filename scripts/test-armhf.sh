#!/usr/bin/env bash
# The 32-bit ARM stage: cross-builds cshelve for armhf (cross/armhf-linux-gnueabihf.ini) and runs
# its test suite under qemu-user, the S3 integration tests included, against the local S3 stack of
# tests/s3/with-server.sh (the emulated programs share the host's loopback).
#
# Usage: scripts/test-armhf.sh [--build-only | --test-only] [MESON TEST ARGUMENTS...]
# ARMHF_BUILD_DIR (default build-armhf) holds the tree; its meson-logs/testlog.json is what
# scripts/test.sh counts. Left out: 'consumers' builds native copies of the library and 'docs'
# compiles the documentation's snippets natively; neither says anything about the target.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ARMHF_BUILD_DIR:-$root/build-armhf}"
mode=all
case "${1:-}" in
  --build-only) mode=build; shift ;;
  --test-only) mode=test; shift ;;
esac

if [ "$mode" != test ]; then
  # A log left from an earlier run must never be counted for this one.
  rm -f "$build/meson-logs/testlog.json"
  bash "$root/scripts/install-deps.sh" --armhf
  if [ ! -f "$build/build.ninja" ]; then
    # -O1 without debug information: compiles in about half the time of -O2 -g, and the tests
    # under emulation still run at a useful speed.
    meson setup "$build" "$root" --cross-file "$root/cross/armhf-linux-gnueabihf.ini" \
      --wrap-mode=nodownload -Dbuildtype=plain -Doptimization=1 -Ddebug=false -Dbench=false >/dev/null
  fi
  nice -n 10 ninja -C "$build" -j2 >"$build/build-output.txt" 2>&1 || {
    tail -n 40 "$build/build-output.txt"
    echo "the armhf build failed (log: $build/build-output.txt)" >&2
    exit 1
  }
fi

if [ "$mode" != build ]; then
  rm -f "$build/meson-logs/testlog.json"
  started=$(date +%s)
  status=0
  # Emulation makes the programs several times slower than native ones: more room before a
  # test's timeout, none in what the tests themselves expect of the library.
  bash "$root/tests/s3/with-server.sh" meson test -C "$build" --no-rebuild --print-errorlogs \
    --num-processes 2 --timeout-multiplier 4 --no-suite consumers --no-suite docs --no-suite format --no-suite native-only --no-suite slow-emulated "$@" \
    >"$build/test-output.txt" 2>&1 || status=$?
  tail -n 30 "$build/test-output.txt"
  echo "armhf tests under qemu-user: $(( $(date +%s) - started )) s"
  exit $status
fi
