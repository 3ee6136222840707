#!/usr/bin/env bash
# Builds the benchmarks (release build in build-bench), starts the local S3 stack with
# tests/s3/with-server.sh and runs bench/cshelve-bench and bench/boto3_bench.py against s3rver
# directly (CSHELVE_TEST_S3_DIRECT_ENDPOINT: the signature gate is Python and would be the
# bottleneck), alternating them, then counts the instructions per SigV4 signature under callgrind.
# Prints the table of medians (bench/report.py) and writes it to BUILD/bench-results.md, the raw
# figures to BUILD/bench-raw.jsonl.
#
# Settings (environment): BENCH_RUNS (5) runs of the small workloads, BENCH_LARGE_RUNS (3) of the
# large value, BENCH_OPS (1000) sequential operations, BENCH_KEYS (10000) keys of the bulk
# workloads, BENCH_LARGE_SIZE (268435456) bytes of the large value, BENCH_TUNED_CONNECTIONS (32)
# connections of the second bulk set, BENCH_BUILD_DIR (build-bench).
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
  echo "{\"impl\": \"machine\", \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\", \"cores\": $(nproc), \"load_before\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"date\": \"$(date -u +%Y-%m-%dT%H:%MZ)\", \"libcurl\": \"$(curl-config --version | cut -d' ' -f2)\", \"boto3\": \"$($python -c 'import boto3; print(boto3.__version__)')\", \"node\": \"$(node --version)\"}"
} >>"$raw"

bench="$build/bench/cshelve-bench"
for ((run = 1; run <= runs; run++)); do
  echo "small workloads, run $run of $runs" >&2
  # Alternate which side goes first, so that neither always meets the fresher server.
  if ((run % 2)); then
    "$bench" small --ops "$ops" --keys "$keys" >>"$raw"
    "$python" "$root/bench/boto3_bench.py" small --ops "$ops" --keys "$keys" >>"$raw"
  else
    "$python" "$root/bench/boto3_bench.py" small --ops "$ops" --keys "$keys" >>"$raw"
    "$bench" small --ops "$ops" --keys "$keys" >>"$raw"
  fi
done

# Bulk set again with more connections than the default 10 (max_pool_connections), once a run.
for ((run = 1; run <= runs; run++)); do
  echo "bulk set with $tuned_connections connections, run $run of $runs" >&2
  BENCH_CONNECTIONS="$tuned_connections" "$bench" bulk-set --keys "$keys" >>"$raw"
done

for ((run = 1; run <= large_runs; run++)); do
  echo "large value, run $run of $large_runs" >&2
  # Each step in a process of its own, so that its peak resident set is its own.
  bucket="bench-large-$run-$$"
  "$bench" large-put "$bucket" --size "$large_size" >>"$raw"
  "$bench" large-get "$bucket" --size "$large_size" >>"$raw"
  "$python" "$root/bench/boto3_bench.py" large-delete "$bucket"
  bucket="bench-file-large-$run-$$"
  "$bench" large-put-file "$bucket" --size "$large_size" >>"$raw"
  "$bench" large-get-file "$bucket" --size "$large_size" >>"$raw"
  "$python" "$root/bench/boto3_bench.py" large-delete "$bucket"
  bucket="bench-py-large-$run-$$"
  "$python" "$root/bench/boto3_bench.py" large-put "$bucket" --size "$large_size" >>"$raw"
  "$python" "$root/bench/boto3_bench.py" large-get "$bucket" --size "$large_size" >>"$raw"
  "$python" "$root/bench/boto3_bench.py" large-delete "$bucket"
done

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
