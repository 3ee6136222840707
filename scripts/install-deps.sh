#!/usr/bin/env bash
# Installs, from Debian's packages, whatever the build, the tests and the demo need and the machine
# lacks. Asks apt only when something is missing, so a second run is quick and offline.
set -euo pipefail

if [ "${1:-}" = "--armhf" ]; then
  # The 32-bit ARM cross build and qemu-user, through Debian's multiarch (scripts/test-armhf.sh).
  exec bash "$(dirname "${BASH_SOURCE[0]}")/install-armhf.sh"
fi

packages=(g++ meson ninja-build pkg-config cmake
          libcurl4-openssl-dev libssl-dev libpugixml-dev zlib1g-dev doctest-dev)
if [ "${1:-}" = "--tests" ] || [ "${1:-}" = "--bench" ]; then
  # The local S3 server runs on Node.js; the signature gate uses Debian's botocore.
  packages+=(python3 python3-botocore python3-boto3)
  # The Python cshelve 1.1.0 reference (../shared/reference) imports pycryptodome's AES.
  packages+=(python3-pycryptodome)
  command -v node >/dev/null 2>&1 || packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi
if [ "${1:-}" = "--tests" ] || [ "${1:-}" = "--fuzz" ]; then
  # scripts/fuzz.sh: libFuzzer and clang's sanitizer runtimes (libclang-rt-14-dev), and llvm-14's
  # symbolizer for readable stack traces. GCC's sanitizer runtimes come with g++.
  packages+=(clang-14 libclang-rt-14-dev llvm-14)
fi
if [ "${1:-}" = "--tests" ]; then
  # The format check (scripts/check-format.sh) holds the sources to .clang-format.
  packages+=(clang-format-14)
  # tests/codec/crc-aarch64.sh runs the CRC tests' PMULL path: a cross compiler and qemu-user, both
  # amd64 packages (no arm64 indexes needed).
  packages+=(g++-aarch64-linux-gnu qemu-user)
fi
if [ "${1:-}" = "--bench" ]; then
  # bench/run.sh counts instructions with callgrind; bench/size.sh strips binaries.
  packages+=(valgrind binutils)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"
apt_install "${missing[@]}"
