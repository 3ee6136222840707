#!/usr/bin/env bash
# Builds cshelve three ways and reports the stripped sizes (docs/performance.md):
#   build-size-plain    the release build (-O3), shared, for comparison
#   build-size-shared   -Dbuildtype=minsize -Db_lto=true -Dsize_optimized=true, shared library
#   build-size-static   the same with -Ddefault_library=static: the tool links libcshelve.a,
#                       while libcurl, OpenSSL, pugixml, zlib and the C++ runtime stay shared
# Prints a Markdown table and writes it to build-size-shared/size-results.md.
#
# With a cross file (bench/size.sh cross/armhf-linux-gnueabihf.ini) it builds for that target
# instead, in build-size-armhf-linux-gnueabihf-plain and so on, and strips with the target's strip.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh" --bench

common=(--wrap-mode=nodownload -Dtests=false -Dbench=false -Dexamples=false -Dfuzz=false -Dcli=true)
size="build-size"
strip_tool=strip
readelf_tool=readelf
nm_tool=nm
compiler=g++
linker=ld
if [[ $# -gt 0 ]]; then
  bash "$root/scripts/install-deps.sh" --armhf
  cross_file="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
  common+=(--cross-file "$cross_file")
  size="build-size-$(basename "$1" .ini)"
  # The target's binutils, named as the cross file's strip is (arm-linux-gnueabihf-strip, ...).
  triplet="$(sed -n "s/^strip *= *'\(.*\)-strip'.*/\1/p" "$cross_file")"
  strip_tool="$triplet-strip"
  readelf_tool="$triplet-readelf"
  nm_tool="$triplet-nm"
  compiler="$triplet-g++"
  linker="$triplet-ld"
fi
configure() {  # DIR OPTIONS...
  local dir="$root/$1"
  shift
  if [[ ! -f "$dir/build.ninja" ]]; then
    meson setup "$dir" "$root" "${common[@]}" "$@" >/dev/null
  fi
  # Two jobs at most: the machine is usually shared.
  ninja -C "$dir" -j2 >/dev/null
}
configure "$size-plain" -Dbuildtype=release -Ddefault_library=shared
configure "$size-shared" -Dbuildtype=minsize -Db_lto=true -Dsize_optimized=true -Ddefault_library=shared
configure "$size-static" -Dbuildtype=minsize -Db_lto=true -Dsize_optimized=true -Ddefault_library=static

stripped_size() {  # FILE: bytes once stripped of symbols and debug information
  local copy
  copy="$(mktemp)"
  "$strip_tool" --strip-all -o "$copy" "$1"
  stat -c %s "$copy"
  rm -f "$copy"
}
row() {  # WHAT FILE
  local bytes
  bytes=$(stripped_size "$2")
  printf '| %s | %s | %s KiB |\n' "$1" "$bytes" "$(( (bytes + 512) / 1024 ))"
}
needed() {  # FILE: its shared-library dependencies
  "$readelf_tool" -d "$1" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | paste -sd' ' -
}

out="$root/$size-shared/size-results.md"
{
  echo "| binary (stripped) | bytes | size |"
  echo "| --- | --- | --- |"
  row "libcshelve.so, release (-O3), for comparison" "$root/$size-plain/libcshelve.so"
  row "libcshelve.so, minsize + LTO + size_optimized" "$root/$size-shared/libcshelve.so"
  row "cshelve tool, dynamic against that libcshelve.so" "$root/$size-shared/tools/cshelve"
  row "cshelve tool, libcshelve.a linked in (minsize + LTO + size_optimized)" "$root/$size-static/tools/cshelve"
  echo
  echo "The statically linked tool still loads: $(needed "$root/$size-static/tools/cshelve")."
  echo "Symbols exported by the size-optimized libcshelve.so: $("$nm_tool" -D --defined-only "$root/$size-shared/libcshelve.so" | wc -l)" \
       "(release build: $("$nm_tool" -D --defined-only "$root/$size-plain/libcshelve.so" | wc -l))."
  echo "$("$compiler" --version | head -1); $("$linker" --version | head -1)."
} | tee "$out"
