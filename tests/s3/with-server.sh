#!/usr/bin/env bash
# Runs COMMAND with a private local S3 stack on 127.0.0.1 and tears it down afterwards:
#
#   s3rver (pinned npm package)  <-  gate.py (verifies V4 signatures)  <-  faults.py (injects faults)
#
# Usage: tests/s3/with-server.sh [--] COMMAND [ARGS...]
# Exports the CSHELVE_TEST_S3_* variables described in tests/s3/harness/README.md and exits with
# COMMAND's status. Environment: CSHELVE_FAULT_RATE (0.1), CSHELVE_FAULT_SEED (1),
# CSHELVE_FAULT_STALL (seconds, 5), CSHELVE_TEST_S3_KEEP_DIR=1 keeps the data and logs.
set -euo pipefail

readonly HARNESS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/harness" && pwd)"
# Debian's interpreter: the one that has python3-botocore, whatever python3 PATH finds first.
readonly SYSTEM_PYTHON=/usr/bin/python3

die() { echo "with-server.sh: $*" >&2; exit 2; }

[[ "${1-}" == "--" ]] && shift
(( $# > 0 )) || die "usage: with-server.sh [--] COMMAND [ARGS...]"

if [[ -n "${CSHELVE_TEST_S3_ENDPOINT-}" ]]; then
    exec "$@"  # already inside a running stack
fi

command -v node >/dev/null || die "node is required (Node.js 20)"
command -v npm >/dev/null || die "npm is required"
"$SYSTEM_PYTHON" -c 'import botocore' 2>/dev/null || die "$SYSTEM_PYTHON needs python3-botocore"

fault_rate="${CSHELVE_FAULT_RATE:-0.1}"
fault_seed="${CSHELVE_FAULT_SEED:-1}"
fault_stall="${CSHELVE_FAULT_STALL:-5}"

install_s3rver() {
    # The lock file's hash marks a finished install; an interrupted or outdated one is redone.
    local stamp="$HARNESS_DIR/node_modules/.cshelve-installed-lock"
    local wanted
    wanted="$(sha256sum "$HARNESS_DIR/package-lock.json" | cut -d' ' -f1)"
    [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]] && return 0
    (
        # Concurrent runs must not both rewrite node_modules.
        flock 9
        [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]] && exit 0
        local npm_log
        npm_log="$(mktemp)"
        if ! (cd "$HARNESS_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) \
                >"$npm_log" 2>&1; then
            cat "$npm_log" >&2
            rm -f "$npm_log"
            die "npm ci failed in $HARNESS_DIR"
        fi
        rm -f "$npm_log"
        echo "$wanted" >"$stamp"
    ) 9<"$HARNESS_DIR/package-lock.json"
}
install_s3rver

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/cshelve-s3.XXXXXX")"
server_pids=()

stop_servers() {
    local pid
    for pid in "${server_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 50); do
        local running=0
        for pid in "${server_pids[@]}"; do kill -0 "$pid" 2>/dev/null && running=1; done
        (( running )) || break
        sleep 0.1
    done
    for pid in "${server_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for pid in "${server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    server_pids=()
    if [[ "${CSHELVE_TEST_S3_KEEP_DIR-}" == 1 ]]; then
        echo "with-server.sh: kept $work_dir" >&2
    else
        rm -rf "$work_dir"
    fi
}
command_pid=
# Bash runs traps only between commands, so COMMAND runs in the background and the script waits
# for it: a signal then reaches the trap at once instead of after COMMAND ends.
on_signal() {
    local signal_name=$1 exit_status=$2
    if [[ -n "$command_pid" ]] && kill -0 "$command_pid" 2>/dev/null; then
        # A terminal's Ctrl-C reached COMMAND too (same process group): let it finish on its own.
        [[ "$signal_name" == TERM ]] && kill -TERM "$command_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$command_pid" 2>/dev/null || break; sleep 0.1; done
        kill -TERM "$command_pid" 2>/dev/null || true
    fi
    exit "$exit_status"
}
trap stop_servers EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

NODE_OPTIONS=--openssl-legacy-provider node "$HARNESS_DIR/s3rver-start.js" \
    --directory "$work_dir/data" --port-file "$work_dir/s3rver.port" --parent-pid $$ &
server_pids+=($!)
# The proxies wait for their upstream's port file, so all three start at once.
"$SYSTEM_PYTHON" "$HARNESS_DIR/gate.py" \
    --upstream-port-file "$work_dir/s3rver.port" --port-file "$work_dir/gate.port" \
    --request-log "$work_dir/requests.jsonl" --spool-dir "$work_dir" --parent-pid $$ &
server_pids+=($!)
"$SYSTEM_PYTHON" "$HARNESS_DIR/faults.py" \
    --upstream-port-file "$work_dir/gate.port" --port-file "$work_dir/faults.port" \
    --rate "$fault_rate" --seed "$fault_seed" --stall "$fault_stall" \
    --stats "$work_dir/fault-stats.json" --parent-pid $$ &
server_pids+=($!)

"$SYSTEM_PYTHON" - "$work_dir" "${server_pids[@]}" <<'EOF' || die "the local S3 servers did not start"
import http.client, os, sys, time
work_dir, pids = sys.argv[1], [int(p) for p in sys.argv[2:]]
deadline = time.monotonic() + 60
def answers(port_file, path):
    try:
        port = int(open(os.path.join(work_dir, port_file)).read())
        connection = http.client.HTTPConnection('127.0.0.1', port, timeout=2)
        connection.request('GET', path)
        connection.getresponse().read()
        connection.close()
        return True
    except (OSError, ValueError, http.client.HTTPException):
        return False
def alive(pid):
    try:
        state = open('/proc/%d/stat' % pid).read().rpartition(')')[2].split()[0]
    except OSError:
        return False
    return state != 'Z'  # an exited child stays a zombie until the shell reaps it
waiting = {'s3rver.port': '/', 'gate.port': '/__harness/health', 'faults.port': '/__harness/health'}
while waiting:
    for port_file, path in list(waiting.items()):
        if answers(port_file, path):
            del waiting[port_file]
    if not waiting:
        break
    if not all(alive(pid) for pid in pids):
        sys.exit('a server process exited during start-up')
    if time.monotonic() > deadline:
        sys.exit('timed out waiting for ' + ', '.join(waiting))
    time.sleep(0.02)
EOF

export CSHELVE_TEST_S3_ENDPOINT="http://127.0.0.1:$(cat "$work_dir/gate.port")"
export CSHELVE_TEST_S3_DIRECT_ENDPOINT="http://127.0.0.1:$(cat "$work_dir/s3rver.port")"
export CSHELVE_TEST_S3_FAULTY_ENDPOINT="http://127.0.0.1:$(cat "$work_dir/faults.port")"
export CSHELVE_TEST_S3_KEY_ID=S3RVER
export CSHELVE_TEST_S3_KEY_SECRET=S3RVER
export CSHELVE_TEST_S3_REGION=us-east-1
export CSHELVE_TEST_S3_REQUEST_LOG="$work_dir/requests.jsonl"
export CSHELVE_TEST_S3_FAULT_STATS="$work_dir/fault-stats.json"

# An asynchronous command would ignore SIGINT and read /dev/null; both are undone here.
( trap - INT QUIT; exec "$@" ) <&0 &
command_pid=$!
set +e
wait "$command_pid"
command_status=$?
set -e
command_pid=
exit "$command_status"
