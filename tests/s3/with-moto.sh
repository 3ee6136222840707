#!/usr/bin/env bash
# Runs COMMAND against a private moto (S3, IAM and STS) on 127.0.0.1, with AWS's signature checks
# on, and tears it down afterwards. Before switching the checks on it creates an IAM user with its
# access key, a role that user may assume (allowed S3 and nothing else) and a bucket, and exports:
#
#   CSHELVE_TEST_MOTO_ENDPOINT   http://127.0.0.1:PORT (S3 and STS alike)
#   CSHELVE_TEST_MOTO_KEY_ID, CSHELVE_TEST_MOTO_SECRET   the user's access key
#   CSHELVE_TEST_MOTO_ROLE_ARN   the role
#   CSHELVE_TEST_MOTO_BUCKET     the bucket
#   CSHELVE_TEST_MOTO_FAULTY_ENDPOINT   moto behind the fault injector (harness/faults.py), with
#                                       no random faults: it flips a byte of GET bodies whose
#                                       path holds "flip-a-byte"
#
# moto's launcher (moto-server.py) lives in the shared tools beside the repository
# ($repo/../shared/tools, or CSHELVE_SHARED_DIR/tools); harness/moto-start.py runs it with
# conditional writes made atomic; moto and boto3 in the interpreter pyenv names (or
# CSHELVE_MOTO_PYTHON). When either is missing the script exits 77: meson's "skipped".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shared="${CSHELVE_SHARED_DIR:-$root/../shared}"
launcher="$shared/tools/moto-server.py"
skip() { echo "with-moto.sh: skipped: $*" >&2; exit 77; }

[[ "${1-}" == "--" ]] && shift
(( $# > 0 )) || { echo "usage: with-moto.sh [--] COMMAND [ARGS...]" >&2; exit 2; }
[[ -f "$launcher" ]] || skip "moto's launcher is not at $launcher (set CSHELVE_SHARED_DIR)"
python="${CSHELVE_MOTO_PYTHON:-}"
if [[ -z "$python" ]] && command -v pyenv >/dev/null 2>&1; then python="$(pyenv which python3 2>/dev/null || true)"; fi
[[ -n "$python" ]] || python="$(command -v python3 || true)"
[[ -n "$python" ]] && "$python" -c 'import moto, boto3' 2>/dev/null ||
  skip "no python3 with moto and boto3 (set CSHELVE_MOTO_PYTHON)"

work="$(mktemp -d "${TMPDIR:-/tmp}/cshelve-moto.XXXXXX")"
port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$python" "$root/tests/s3/harness/moto-start.py" "$launcher" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
echo "$port" >"$work/moto.port"
/usr/bin/python3 "$root/tests/s3/harness/faults.py" --upstream-port-file "$work/moto.port" \
  --port-file "$work/faults.port" --rate 0 --stats "$work/fault-stats.json" --parent-pid $$ \
  >"$work/faults.log" 2>&1 &
faults_pid=$!
cleanup() {
  kill -TERM "$moto_pid" "$faults_pid" 2>/dev/null || true
  wait "$moto_pid" "$faults_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

endpoint="http://127.0.0.1:$port"
setup="$(ENDPOINT="$endpoint" "$python" - <<'PY'
import json, os, time, urllib.request
import boto3

endpoint = os.environ["ENDPOINT"]
for _ in range(100):
    try:
        urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
        break
    except Exception:
        time.sleep(0.1)
session = boto3.session.Session(aws_access_key_id="setup", aws_secret_access_key="setup", region_name="us-east-1")
iam = session.client("iam", endpoint_url=endpoint)
iam.create_user(UserName="shelf-user")
iam.put_user_policy(UserName="shelf-user", PolicyName="assume", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
key = iam.create_access_key(UserName="shelf-user")["AccessKey"]
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
role = iam.create_role(RoleName="shelf-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
iam.put_role_policy(RoleName="shelf-role", PolicyName="s3", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
session.client("s3", endpoint_url=endpoint).create_bucket(Bucket="creds-bucket")
request = urllib.request.Request(endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
                                 headers={"Content-Type": "text/plain"})
urllib.request.urlopen(request, timeout=5)
print(key["AccessKeyId"], key["SecretAccessKey"], role["Arn"])
PY
)" || { cat "$work/moto.log" >&2; echo "with-moto.sh: setting moto up failed" >&2; exit 2; }
read -r key_id secret role_arn <<<"$setup"
for _ in $(seq 100); do [[ -s "$work/faults.port" ]] && break; sleep 0.1; done
[[ -s "$work/faults.port" ]] || { cat "$work/faults.log" >&2; echo "with-moto.sh: the fault injector did not start" >&2; exit 2; }
export CSHELVE_TEST_MOTO_ENDPOINT="$endpoint" CSHELVE_TEST_MOTO_KEY_ID="$key_id" \
  CSHELVE_TEST_MOTO_SECRET="$secret" CSHELVE_TEST_MOTO_ROLE_ARN="$role_arn" CSHELVE_TEST_MOTO_BUCKET=creds-bucket \
  CSHELVE_TEST_MOTO_FAULTY_ENDPOINT="http://127.0.0.1:$(cat "$work/faults.port")"
# A cross build runs the test program under its emulator (meson sets MESON_EXE_WRAPPER for it).
wrapper=()
[ -n "${MESON_EXE_WRAPPER:-}" ] && read -r -a wrapper <<<"$MESON_EXE_WRAPPER"
status=0
"${wrapper[@]}" "$@" || status=$?
exit $status
