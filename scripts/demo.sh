#!/usr/bin/env bash
# Installs what is missing, builds, and runs the first-shelf example on a local shelf.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh"
shelf="$(mktemp -d)/demo-shelf"
"${BUILD_DIR:-$root/build}/examples/first-shelf" "$shelf"
echo
echo "The same shelf through the command-line tool:"
"${BUILD_DIR:-$root/build}/tools/cshelve" "$shelf" keys
