#!/usr/bin/env bash
# The CRC tests (crc_test.cpp) on AArch64, so that the PMULL folding path runs on every test run:
# built statically with Debian's cross compiler (no arm64 packages needed) and run under qemu-user
# with a processor that has PMULL (-cpu max). The test checks that PMULL was the engine chosen.
# Skipped (exit 77) when the cross compiler, qemu-aarch64 or doctest's header is absent.
#
#   crc-aarch64.sh SOURCE_ROOT
set -euo pipefail
root="$1"
compiler="${CSHELVE_AARCH64_CXX:-aarch64-linux-gnu-g++}"
for tool in "$compiler" qemu-aarch64; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "skipped: $tool is not installed (scripts/install-deps.sh --tests installs it)"
    exit 77
  fi
done
# The cross compiler does not search /usr/include: doctest (one header, the same on every target)
# is handed to it from Debian's doctest-dev, else from a doctest subproject.
doctest=""
for candidate in /usr/include/doctest "$root"/subprojects/doctest*/doctest; do
  if [ -f "$candidate/doctest.h" ]; then
    doctest="$candidate"
    break
  fi
done
if [ -z "$doctest" ]; then
  echo "skipped: doctest/doctest.h not found"
  exit 77
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/include"
ln -s "$doctest" "$work/include/doctest"
"$compiler" -std=c++17 -O2 -static -Wall -Wextra -Wpedantic -Werror -I"$root/src" -I"$work/include" \
  "$root/src/util/crc.cpp" "$root/tests/codec/crc_test.cpp" "$root/tests/main/doctest_main.cpp" \
  -o "$work/crc_test"
CSHELVE_TEST_EXPECT_PMULL=1 qemu-aarch64 -cpu max "$work/crc_test"
