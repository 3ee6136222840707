#!/usr/bin/env bash
# Builds cshelve three ways and reports the stripped sizes (docs/performance.md):
#   build-size-plain    the release build (-O3), shared, for comparison
#   build-size-shared   -Dbuildtype=minsize -Db_lto=true -Dsize_optimized=true, shared library
#   build-size-static   the same with -Ddefault_library=static: the tool links libcshelve.a,
#                       while libcurl, OpenSSL, pugixml, zlib and the C++ runtime stay shared
# Prints a Markdown table and writes it to build-size-shared/size-results.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh" --bench

common=(--wrap-mode=nodownload -Dtests=false -Dbench=false -Dexamples=false -Dfuzz=false -Dcli=true)
configure() {  # DIR OPTIONS...
  local dir="$root/$1"
  shift
  if [[ ! -f "$dir/build.ninja" ]]; then
    meson setup "$dir" "$root" "${common[@]}" "$@" >/dev/null
  fi
  # Two jobs at most: the machine is usually shared.
  ninja -C "$dir" -j2 >/dev/null
}
configure build-size-plain -Dbuildtype=release -Ddefault_library=shared
configure build-size-shared -Dbuildtype=minsize -Db_lto=true -Dsize_optimized=true -Ddefault_library=shared
configure build-size-static -Dbuildtype=minsize -Db_lto=true -Dsize_optimized=true -Ddefault_library=static

stripped_size() {  # FILE: bytes once stripped of symbols and debug information
  local copy
  copy="$(mktemp)"
  strip --strip-all -o "$copy" "$1"
  stat -c %s "$copy"
  rm -f "$copy"
}
row() {  # WHAT FILE
  local bytes
  bytes=$(stripped_size "$2")
  printf '| %s | %s | %s KiB |\n' "$1" "$bytes" "$(( (bytes + 512) / 1024 ))"
}
needed() {  # FILE: its shared-library dependencies
  readelf -d "$1" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | paste -sd' ' -
}

out="$root/build-size-shared/size-results.md"
{
  echo "| binary (stripped) | bytes | size |"
  echo "| --- | --- | --- |"
  row "libcshelve.so, release (-O3), for comparison" "$root/build-size-plain/libcshelve.so"
  row "libcshelve.so, minsize + LTO + size_optimized" "$root/build-size-shared/libcshelve.so"
  row "cshelve tool, dynamic against that libcshelve.so" "$root/build-size-shared/tools/cshelve"
  row "cshelve tool, libcshelve.a linked in (minsize + LTO + size_optimized)" "$root/build-size-static/tools/cshelve"
  echo
  echo "The statically linked tool still loads: $(needed "$root/build-size-static/tools/cshelve")."
  echo "Symbols exported by the size-optimized libcshelve.so: $(nm -D --defined-only "$root/build-size-shared/libcshelve.so" | wc -l)" \
       "(release build: $(nm -D --defined-only "$root/build-size-plain/libcshelve.so" | wc -l))."
  echo "$(g++ --version | head -1); $(ld --version | head -1)."
} | tee "$out"
