#!/usr/bin/env bash
# Installs what is missing, builds, starts the local S3 server behind the signature gate, runs
# every test, and ends with the line "N passed, N failed".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
bash "$root/scripts/install-deps.sh" --tests
BUILD_DIR="$build" bash "$root/scripts/build.sh"

status=0
bash "$root/tests/s3/with-server.sh" meson test -C "$build" --no-rebuild --print-errorlogs \
  --num-processes 2 "$@" > "$build/test-output.txt" 2>&1 || status=$?
tail -n 40 "$build/test-output.txt"
/usr/bin/python3 "$root/scripts/count-tests.py" "$build/meson-logs/testlog.json" || status=1
exit $status
