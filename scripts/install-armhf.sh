#!/usr/bin/env bash
# Installs, from Debian's packages, what cross-building for 32-bit ARM (armhf) and running the
# result under qemu-user needs (cross/armhf-linux-gnueabihf.ini, scripts/test-armhf.sh): the cross
# compiler, the emulator, and the target's development libraries through multiarch. Asks apt only
# when something is missing. Called as `scripts/install-deps.sh --armhf`.
set -euo pipefail

packages=(g++-arm-linux-gnueabihf qemu-user
          libcurl4-openssl-dev:armhf libssl-dev:armhf libpugixml-dev:armhf zlib1g-dev:armhf
          libstdc++6:armhf)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! dpkg --print-foreign-architectures | grep -qx armhf; then
  $sudo dpkg --add-architecture armhf
fi
source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"
apt_install "${missing[@]}"
