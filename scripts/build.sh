#!/usr/bin/env bash
# Configures (once) and builds the project in BUILD_DIR (default: build) with the system's libraries.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" --wrap-mode=nodownload "$@" >/dev/null
fi
ninja -C "$build" >/dev/null
