#!/usr/bin/env bash
# Builds the benchmarks (release build in build-bench), starts the local S3 stack with
# tests/s3/with-server.sh and runs bench/cshelve-bench and bench/boto3_bench.py against s3rver
# directly (CSHELVE_TEST_S3_DIRECT_ENDPOINT: the signature gate is Python and would be the
# bottleneck), taking turns, then counts the instructions per SigV4 signature under callgrind.
# boto3_bench.py runs twice: with Debian's python3 and boto3, and with the pyenv interpreter's
# newer boto3 when there is one (its checksum defaults differ). Prints the table of medians
# (bench/report.py) and writes it to BUILD/bench-results.md, the raw figures to
# BUILD/bench-raw.jsonl.
#
# Settings (environment): BENCH_RUNS (5) runs of the small workloads, BENCH_LARGE_RUNS (3) of the
# large value (0: none), BENCH_OPS (1000) sequential operations, BENCH_KEYS (10000) keys of the
# bulk workloads, BENCH_LARGE_SIZE (268435456) bytes of the large value, BENCH_TUNED_CONNECTIONS
# (32) connections of the second bulk set, BENCH_BUILD_DIR (build-bench);
# BENCH_LARGE_SERVER (s3rver): "moto" runs the large values against a moto server of their own
# (started from ../shared/tools/moto-server.py, or CSHELVE_SHARED_DIR/tools), which stores and
# returns checksums as S3 does; BENCH_BASELINE: another cshelve-bench (from a build of an older
# commit, say), run in the small workloads beside this one and reported as "cshelve baseline".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BENCH_BUILD_DIR:-$root/build-bench}"
runs="${BENCH_RUNS:-5}"
large_runs="${BENCH_LARGE_RUNS:-3}"
ops="${BENCH_OPS:-1000}"
keys="${BENCH_KEYS:-10000}"
large_size="${BENCH_LARGE_SIZE:-268435456}"
tuned_connections="${BENCH_TUNED_CONNECTIONS:-32}"
python=/usr/bin/python3  # Debian's, with python3-boto3
raw="$build/bench-raw.jsonl"
large_server="${BENCH_LARGE_SERVER:-s3rver}"
baseline="${BENCH_BASELINE:-}"
shared="${CSHELVE_SHARED_DIR:-$root/../shared}"
# The peers: Debian's boto3, and the pyenv interpreter's when it has another version of boto3.
peers=("$python")
if command -v pyenv >/dev/null 2>&1; then
  newer="$(pyenv which python3 2>/dev/null || true)"
  if [[ -n "$newer" ]] && "$newer" -c 'import boto3' 2>/dev/null &&
    [[ "$("$newer" -c 'import boto3; print(boto3.__version__)')" != "$("$python" -c 'import boto3; print(boto3.__version__)')" ]]; then
    peers+=("$newer")
  fi
fi
case "$large_server" in
  s3rver | moto) ;;
  *) echo "run.sh: BENCH_LARGE_SERVER is s3rver or moto, not '$large_server'" >&2; exit 2 ;;
esac
if [[ -n "$baseline" && ! -x "$baseline" ]]; then
  echo "run.sh: BENCH_BASELINE '$baseline' is not an executable cshelve-bench" >&2
  exit 2
fi

if [[ "${1-}" != "--inside-stack" ]]; then
  bash "$root/scripts/install-deps.sh" --bench
  if [[ ! -f "$build/build.ninja" ]]; then
    meson setup "$build" "$root" --wrap-mode=nodownload -Dbuildtype=release -Dbench=true >/dev/null
  else
    meson configure "$build" -Dbench=true >/dev/null
  fi
  # Two jobs at most: the machine is usually shared.
  ninja -C "$build" -j2 bench/cshelve-bench bench/sign-bench >/dev/null
  exec bash "$root/tests/s3/with-server.sh" bash "$0" --inside-stack
fi

: >"$raw"
{
  boto3_versions="$(for peer in "${peers[@]}"; do "$peer" -c 'import boto3; print(boto3.__version__)'; done | paste -sd, | sed 's/,/, /g')"
  echo "{\"impl\": \"machine\", \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\", \"cores\": $(nproc), \"load_before\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"date\": \"$(date -u +%Y-%m-%dT%H:%MZ)\", \"libcurl\": \"$(curl-config --version | cut -d' ' -f2)\", \"boto3\": \"$boto3_versions\", \"node\": \"$(node --version)\", \"large_server\": \"$large_server\"}"
} >>"$raw"

bench="$build/bench/cshelve-bench"
run_cshelve() { "$bench" small --ops "$ops" --keys "$keys" >>"$raw"; }
run_baseline() {
  [[ -n "$baseline" ]] || return 0
  "$baseline" small --ops "$ops" --keys "$keys" | sed 's/"impl": "cshelve"/"impl": "cshelve baseline"/' >>"$raw"
}
run_peers() {
  for peer in "${peers[@]}"; do "$peer" "$root/bench/boto3_bench.py" small --ops "$ops" --keys "$keys" >>"$raw"; done
}
for ((run = 1; run <= runs; run++)); do
  echo "small workloads, run $run of $runs" >&2
  # Take turns at going first, so that no side always meets the fresher server.
  if ((run % 2)); then
    run_cshelve
    run_baseline
    run_peers
  else
    run_peers
    run_baseline
    run_cshelve
  fi
done

# Bulk set again with more connections than the default 10 (max_pool_connections), once a run.
for ((run = 1; run <= runs; run++)); do
  echo "bulk set with $tuned_connections connections, run $run of $runs" >&2
  BENCH_CONNECTIONS="$tuned_connections" "$bench" bulk-set --keys "$keys" >>"$raw"
done

# The large values, against s3rver or a moto of their own (BENCH_LARGE_SERVER).
moto_pid=""
stop_moto() { [[ -z "$moto_pid" ]] || { kill -TERM "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; }; }
trap stop_moto EXIT
if [[ "$large_server" == moto && $large_runs -gt 0 ]]; then
  moto_python="${CSHELVE_MOTO_PYTHON:-${peers[-1]}}"
  port="$("$moto_python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$moto_python" "$shared/tools/moto-server.py" -H 127.0.0.1 -p "$port" >"$build/bench-moto.log" 2>&1 &
  moto_pid=$!
  for ((i = 0; i < 100; i++)); do
    curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/" && break
    sleep 0.1
  done
  export CSHELVE_BENCH_ENDPOINT="http://127.0.0.1:$port"  # moto's authentication stays off: any key passes
fi
for ((run = 1; run <= large_runs; run++)); do
  echo "large value ($large_server), run $run of $large_runs" >&2
  # Each step in a process of its own, so that its peak resident set is its own.
  bucket="bench-large-$run-$$"
  "$bench" large-put "$bucket" --size "$large_size" >>"$raw"
  "$bench" large-get "$bucket" --size "$large_size" >>"$raw"
  "$python" "$root/bench/boto3_bench.py" large-delete "$bucket"
  bucket="bench-file-large-$run-$$"
  "$bench" large-put-file "$bucket" --size "$large_size" >>"$raw"
  "$bench" large-get-file "$bucket" --size "$large_size" >>"$raw"
  "$python" "$root/bench/boto3_bench.py" large-delete "$bucket"
  for ((p = 0; p < ${#peers[@]}; p++)); do
    bucket="bench-py-large-$run-$p-$$"
    "${peers[p]}" "$root/bench/boto3_bench.py" large-put "$bucket" --size "$large_size" >>"$raw"
    "${peers[p]}" "$root/bench/boto3_bench.py" large-get "$bucket" --size "$large_size" >>"$raw"
    "${peers[p]}" "$root/bench/boto3_bench.py" large-delete "$bucket"
  done
done
stop_moto
moto_pid=""
unset CSHELVE_BENCH_ENDPOINT

echo "instructions per signature (callgrind)" >&2
instructions() {  # total instructions of sign-bench N [flag]
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$build/bench/sign-bench" "$@" 2>&1 >/dev/null |
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
for flag in "" --with-payload-hash; do
  small=$(instructions 1000 $flag)
  large=$(instructions 3000 $flag)
  workload=sign
  [[ -n "$flag" ]] && workload=sign_with_payload_hash
  echo "{\"impl\": \"cshelve\", \"workload\": \"$workload\", \"ops\": 2000, \"instructions\": $((large - small))}" >>"$raw"
done
echo "{\"impl\": \"machine\", \"load_after\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >>"$raw"

"$python" "$root/bench/report.py" "$raw" | tee "$build/bench-results.md"
