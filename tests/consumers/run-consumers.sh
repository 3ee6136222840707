#!/usr/bin/env bash
# Builds the consumer project of tests/consumers/project the ways a user of cshelve would, runs
# each build, and checks that it stored and read back a value in a local shelf:
#   1. meson, with cshelve as a subproject (a copy of this source tree in subprojects/cshelve);
#   2. an installed shared build (tests, tool and examples off): meson through pkg-config, and
#      CMake through find_package(cshelve);
#   3. the same against an installed static-only build;
#   4. the same against an installed static-only build without the aws-s3 provider, configured
#      where pkg-config cannot see libcurl or pugixml, to show neither is needed then.
# It also checks that builds 1 to 4 contain the library and nothing else.
#
#   run-consumers.sh SOURCE_ROOT WORK_FOLDER
set -euo pipefail

root="$(cd "$1" && pwd)"
work="$2"
project="$root/tests/consumers/project"
jobs="${CSHELVE_CONSUMER_JOBS:-2}"

rm -rf "$work"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
shelf="$work/shelf"
log="$work/log.txt"
: > "$log"

fail() {
  echo "FAIL: $*" >&2
  echo "--- last lines of $log:" >&2
  tail -n 30 "$log" >&2
  exit 1
}

# Runs a step quietly; its output goes to the log, which is shown when it fails.
quiet() {
  echo "+ $*" >> "$log"
  "$@" >> "$log" 2>&1
}

# The build targets of a configured meson build, one "NAME TYPE SUBPROJECT" per line.
targets_of() {
  meson introspect --targets "$1" | /usr/bin/python3 -c '
import json, sys
for t in json.load(sys.stdin):
    print(t["name"], t["type"].replace(" ", "-"), t["subproject"] or "-")'
}

# Fails unless every target of cshelve's own (sub)project is one of its libraries.
expect_library_only() {
  local build="$1" subproject="$2" name type owner
  local library_targets=0
  while read -r name type owner; do
    [ "$owner" = "$subproject" ] || continue
    case "$type" in
      static-library|shared-library) library_targets=$((library_targets + 1)) ;;
      *) fail "$build builds $type '$name'; only the library was expected" ;;
    esac
  done < <(targets_of "$build")
  [ "$library_targets" -gt 0 ] || fail "$build has no library target"
}

# Runs a consumer binary built as LABEL; it must say so, and its value must be in the shelf as a
# record (version byte 0) in a file named after the key.
run_consumer() {
  local binary="$1" label="$2" output
  [ -x "$binary" ] || fail "$label: no consumer binary at $binary"
  output="$("$binary" "$shelf" "$label" 2>&1)" || fail "$label: consumer failed: $output"
  case "$output" in
    *"consumer $label: cshelve "*"value read back"*) ;;
    *) fail "$label: unexpected output: $output" ;;
  esac
  [ -f "$shelf/$label" ] || fail "$label: no record file for key '$label' in $shelf"
  [ "$(head -c 1 "$shelf/$label" | od -An -tx1 | tr -d ' \n')" = "00" ] ||
    fail "$label: the stored file does not start with record version 0"
  echo "ok: $label ($output)"
}

# This source tree without build folders or anything git ignores; untracked sources come along so
# the copy builds like the tree itself.
copy_source() {
  local target="$1"
  mkdir -p "$target"
  if git -C "$root" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    (cd "$root" && git ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' path; do [ -e "$path" ] && printf '%s\0' "$path"; done |
      tar --null -T - -cf -) | tar -xf - -C "$target"
  else
    tar -C "$root" --exclude='./build*' --exclude=node_modules -cf - . | tar -xf - -C "$target"
  fi
  [ -f "$target/meson.build" ] || fail "copying the source tree to $target"
}

# Configures, builds and installs cshelve from this tree into PREFIX with extra meson options.
install_cshelve() {
  local build="$1" prefix="$2"
  shift 2
  quiet meson setup "$build" "$root" --wrap-mode=nodownload --prefix="$prefix" \
    -Dtests=false -Dcli=false -Dexamples=false "$@" || fail "configuring $build"
  expect_library_only "$build" -
  quiet ninja -C "$build" -j "$jobs" || fail "building $build"
  quiet meson install -C "$build" --quiet || fail "installing $build"
  [ -n "$(pc_file "$prefix")" ] || fail "$prefix has no pkg-config file"
  [ -n "$(find "$prefix" -path '*/cmake/cshelve/cshelveConfig.cmake')" ] || fail "$prefix has no CMake package"
  [ -f "$prefix/include/cshelve/cshelve.hpp" ] || fail "$prefix has no headers"
}

pc_file() { find "$1" -name cshelve.pc | head -n 1; }

# Builds the consumer against an installed PREFIX with meson (pkg-config) and with CMake.
consumers_of_install() {
  local prefix="$1" kind="$2"
  local meson_build="$work/consumer-pkgconfig-$kind" cmake_build="$work/consumer-cmake-$kind"
  # nofallback: the consumer must find the installed cshelve, not build one of its own.
  PKG_CONFIG_PATH="$(dirname "$(pc_file "$prefix")")" quiet meson setup "$meson_build" "$project" \
    --wrap-mode=nofallback || fail "configuring the pkg-config consumer ($kind)"
  quiet ninja -C "$meson_build" -j "$jobs" || fail "building the pkg-config consumer ($kind)"
  run_consumer "$meson_build/consumer" "pkgconfig-$kind"

  quiet cmake -S "$project" -B "$cmake_build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo || fail "configuring the CMake consumer ($kind)"
  quiet cmake --build "$cmake_build" -j "$jobs" || fail "building the CMake consumer ($kind)"
  run_consumer "$cmake_build/consumer" "cmake-$kind"
}

needs_library() {  # binary library-name: fails unless the binary links that shared library
  readelf -d "$1" | grep -q "NEEDED.*\[$2" || fail "$1 does not link $2"
}
lacks_library() {
  if readelf -d "$1" | grep -q "NEEDED.*\[$2"; then fail "$1 links $2"; fi
}

# --- 1. subproject -----------------------------------------------------------------------------
sub="$work/subproject-consumer"
mkdir -p "$sub/subprojects"
cp "$project/consumer.cpp" "$project/meson.build" "$sub/"
copy_source "$sub/subprojects/cshelve"
[ ! -e "$sub/subprojects/cshelve/build" ] || fail "the copy holds a build folder"
# nodownload: Debian's packages satisfy cshelve's own dependencies; nothing is fetched.
quiet meson setup "$sub/build" "$sub" --wrap-mode=nodownload || fail "configuring the subproject consumer"
grep -q "Dependency cshelve found: YES .*(overridden)" "$sub/build/meson-logs/meson-log.txt" ||
  fail "dependency('cshelve') did not resolve through the subproject"
expect_library_only "$sub/build" cshelve
quiet ninja -C "$sub/build" -j "$jobs" || fail "building the subproject consumer"
run_consumer "$sub/build/consumer" subproject

# --- 2. installed, shared ------------------------------------------------------------------------
install_cshelve "$work/build-shared" "$work/prefix-shared" -Ddefault_library=shared
consumers_of_install "$work/prefix-shared" shared
needs_library "$work/consumer-pkgconfig-shared/consumer" libcshelve.so
needs_library "$work/consumer-cmake-shared/consumer" libcshelve.so
# The CMake package declines a project built for another pointer size.
printf 'set(PACKAGE_FIND_VERSION 0.1)\nset(CMAKE_SIZEOF_VOID_P 1)\ninclude("%s")\n%s\n' \
  "$(find "$work/prefix-shared" -name cshelveConfigVersion.cmake)" \
  'if(NOT PACKAGE_VERSION_UNSUITABLE)
  message(FATAL_ERROR "a 1-byte-pointer project was offered this package")
endif()' > "$work/pointer-size.cmake"
quiet cmake -P "$work/pointer-size.cmake" || fail "the CMake package accepts another pointer size"

# --- 3. installed, static ------------------------------------------------------------------------
# A libdir one level deep, where the shared build used Debian's two-level one: the CMake package
# finds its prefix relative to itself at either depth.
install_cshelve "$work/build-static" "$work/prefix-static" -Ddefault_library=static --libdir=lib
consumers_of_install "$work/prefix-static" static
for binary in "$work/consumer-pkgconfig-static/consumer" "$work/consumer-cmake-static/consumer"; do
  lacks_library "$binary" libcshelve
  needs_library "$binary" libcurl   # the static library's own dependencies come along
done

# --- 4. installed, static, without aws-s3, libcurl and pugixml out of sight ------------------------
# A pkg-config folder holding every .pc file the system has except libcurl's and pugixml's.
pcdir="$work/pkgconfig-without-curl"
mkdir -p "$pcdir"
shopt -s nullglob
IFS=: read -r -a pc_path <<< "$(pkg-config --variable pc_path pkg-config)"
for folder in "${pc_path[@]}"; do
  for pc in "$folder"/*.pc; do
    name="$(basename "$pc")"
    case "$name" in libcurl.pc|pugixml.pc) continue ;; esac
    [ -e "$pcdir/$name" ] || ln -s "$pc" "$pcdir/$name"
  done
done
shopt -u nullglob
PKG_CONFIG_LIBDIR="$pcdir" pkg-config --exists libcurl && fail "libcurl is still visible in $pcdir"
PKG_CONFIG_LIBDIR="$pcdir" install_cshelve "$work/build-nos3" "$work/prefix-nos3" \
  -Ddefault_library=static -Daws_s3=disabled --libdir=lib
meson introspect --dependencies "$work/build-nos3" > "$work/nos3-dependencies.json"
if grep -Eq '"name": *"(libcurl|pugixml)"' "$work/nos3-dependencies.json"; then
  fail "a build without aws-s3 still looks for libcurl or pugixml"
fi
if grep -Eq 'libcurl|pugixml' "$(pc_file "$work/prefix-nos3")"; then
  fail "the pkg-config file of a build without aws-s3 requires libcurl or pugixml"
fi
consumers_of_install "$work/prefix-nos3" nos3
for binary in "$work/consumer-pkgconfig-nos3/consumer" "$work/consumer-cmake-nos3/consumer"; do
  lacks_library "$binary" libcurl
  lacks_library "$binary" libpugixml
done

echo "all consumer builds stored and read back their values"
