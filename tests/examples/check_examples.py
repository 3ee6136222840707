#!/usr/bin/python3
"""Runs the programs of examples/ and checks what they print and store.

  check_examples.py first-shelf BINARY WORK
  check_examples.py elements BINARY CSV WORK [--s3]
  check_examples.py python-records BINARY VECTORS WORK [--s3]

Expected output is worked out here independently (from the CSV with Python's csv module, from the
vectors with Python's pickle module), never copied from a previous run. --s3 uses the local S3 stack
of tests/s3/with-server.sh (CSHELVE_TEST_S3_*); otherwise shelves are local folders.
"""
import csv
import json
import os
import pickle
import shlex
import shutil
import subprocess
import sys
import uuid


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


# A cross build runs the target's programs through the emulator meson names (qemu-user).
EXE_WRAPPER = shlex.split(os.environ.get("MESON_EXE_WRAPPER", ""))


def run(args, env=None):
    done = subprocess.run(EXE_WRAPPER + args, capture_output=True, timeout=300, env=env)
    if done.returncode != 0:
        fail(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout.decode(errors='replace')}"
             f"{done.stderr.decode(errors='replace')}")
    return done.stdout.decode("utf-8")


def expect_lines(actual, expected, what):
    got = actual.splitlines()
    if got != expected:
        fail(f"{what} printed:\n" + "\n".join(got) + "\n--- expected:\n" + "\n".join(expected))


def fresh(work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    return work


# The local provider's file names (src/providers/local.cpp): a-z 0-9 - _ kept, every other byte as
# upper-case %XX. The keys used here are short enough to need no folder pieces.
def local_file_name(key):
    raw = key.encode("utf-8")
    if not raw:
        return "%"
    kept = b"abcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(chr(b) if b in kept else "%%%02X" % b for b in raw)


def s3_env(name):
    value = os.environ.get(name)
    if not value:
        fail(f"{name} is not set: run through tests/s3/with-server.sh")
    return value


def s3_client():
    import boto3
    from botocore.config import Config
    return boto3.client(
        "s3", endpoint_url=s3_env("CSHELVE_TEST_S3_ENDPOINT"),
        aws_access_key_id=s3_env("CSHELVE_TEST_S3_KEY_ID"),
        aws_secret_access_key=s3_env("CSHELVE_TEST_S3_KEY_SECRET"),
        region_name=os.environ.get("CSHELVE_TEST_S3_REGION", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}))


def fresh_bucket(label):
    return f"example-{label}-{uuid.uuid4().hex[:12]}"


# An INI for a bucket of the local stack; the credentials and endpoint stay $VAR references.
def s3_ini(path, bucket, extra=""):
    with open(path, "w") as f:
        f.write(f"""[default]
provider    = aws-s3
bucket_name = {bucket}
auth_type   = access_key
key_id      = $CSHELVE_TEST_S3_KEY_ID
key_secret  = $CSHELVE_TEST_S3_KEY_SECRET

[provider_params]
endpoint_url = $CSHELVE_TEST_S3_ENDPOINT
{extra}""")
    return path


# --- first-shelf -------------------------------------------------------------------------------

def check_first_shelf(binary, work):
    work = fresh(work)
    folder = os.path.join(work, "first-shelf")
    out = run([binary, folder])
    planets = ["planets/mercury", "planets/venus", "planets/earth"]
    keys = sorted(planets + ["notes/why"])
    lines = out.splitlines()
    expect_lines("\n".join(lines[:4]), ["earth: 1.00 AU, 365 days", "has pluto? no",
                                        "venus: 0.72 AU, 225 days", f"4 keys in {folder}:"],
                 "first-shelf")
    if sorted(line.strip() for line in lines[4:]) != keys:
        fail(f"first-shelf listed {lines[4:]}, expected {keys}")
    # What stays on disk: the three planets (notes/why was erased), each a record file.
    files = sorted(os.listdir(folder))
    if files != sorted(local_file_name(k) for k in planets):
        fail(f"first-shelf left {files} in its folder")
    with open(os.path.join(folder, local_file_name("planets/earth")), "rb") as f:
        record = f.read()
    payload = b"1.00 AU, 365 days"
    if record != b"\x00\x00" + len(payload).to_bytes(8, "little") + payload:
        fail(f"planets/earth is stored as {record!r}, not as an unprocessed record")
    print("first-shelf: output and stored records as expected")


# --- elements ------------------------------------------------------------------------------------

def expected_elements(csv_path):
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    by_symbol = {r["symbol"]: r for r in rows}
    fe = by_symbol["Fe"]
    copper = next(r for r in rows if r["name"].lower() == "copper")
    periods = {}
    for r in rows:
        periods[int(r["period"])] = periods.get(int(r["period"]), 0) + 1
    rows.sort(key=lambda r: int(r["number"]))
    inversions = [f"{a['symbol']} ({a['atomic_mass']} > {b['atomic_mass']} of {b['symbol']})"
                  for a, b in zip(rows, rows[1:])
                  if int(b["number"]) == int(a["number"]) + 1 and float(a["atomic_mass"]) > float(b["atomic_mass"])]
    if not inversions:
        fail("the data set should hold at least one mass inversion, or that query checks nothing")
    return [
        f"loaded {len(rows)} elements ({2 * len(rows)} keys with the name index)",
        f"Fe: {fe['name']}, number {fe['number']}, atomic mass {fe['atomic_mass']}, "
        f"period {fe['period']}, group {fe['group']}",
        f"copper is {copper['symbol']}: number {copper['number']}",
        f"get_many: Na {by_symbol['Na']['name']}, Xx missing, Kr {by_symbol['Kr']['name']}",
        "elements per period: " + " ".join(f"{p}:{n}" for p, n in sorted(periods.items())),
        "noble gases: " + " ".join(r["symbol"] for r in rows if r["category"] == "noble gas"),
        "heavier than the next element: " + " ".join(inversions),
        "has Og? no",
        f"shelf holds {2 * len(rows)} keys",
    ]


def check_elements(binary, csv_path, work, use_s3):
    work = fresh(work)
    expected = expected_elements(csv_path)
    if use_s3:
        bucket = fresh_bucket("elements")
        ini = s3_ini(os.path.join(work, "elements.ini"), bucket)
    else:
        ini = os.path.join(work, "elements.ini")
        with open(ini, "w") as f:
            f.write("[default]\nprovider = local\nfolder = shelf\n\n[compression]\nalgorithm = zlib\n")
    expect_lines(run([binary, ini, csv_path]), expected, "elements")
    # Loading twice into the same shelf replaces the values: the same answers, no new keys.
    expect_lines(run([binary, ini, csv_path]), expected, "elements, second run")
    if use_s3:
        objects = s3_client().list_objects_v2(Bucket=bucket)
        names = sorted(o["Key"] for o in objects.get("Contents", []))
        if len(names) != 72 or "element/Fe" not in names or "name/iron" not in names:
            fail(f"bucket {bucket} holds {len(names)} objects: {names[:5]}...")
        body = s3_client().get_object(Bucket=bucket, Key="element/Fe")["Body"].read()
        value = b"26,Fe,Iron,55.845,4,8,transition metal"
        if body != b"\x00\x00" + len(value).to_bytes(8, "little") + value:
            fail(f"element/Fe is stored as {body!r}")
    print(f"elements ({'S3' if use_s3 else 'local, zlib'}): {len(expected)} answers as expected")


# --- python-records ----------------------------------------------------------------------------

def describe(payload):
    """What read-python-shelf prints for a payload, worked out with Python's own pickle."""
    value = pickle.loads(payload)
    if isinstance(value, str):
        out = ""
        for ch in value:
            code = ord(ch)
            if ch in '"\\':
                out += "\\" + ch
            elif ch in "\n\t\r":
                out += {"\n": "\\n", "\t": "\\t", "\r": "\\r"}[ch]
            elif code < 0x20 or code == 0x7f:
                out += "\\x%02x" % code
            else:
                out += ch
        return f'str "{out}"'
    if isinstance(value, bytes):
        text = f"bytes ({len(value)} bytes)"
        text += "".join(" %02x" % b for b in value[:16])
        return text + (" ..." if len(value) > 16 else "")
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return f"int {value}"
    names = {dict: "dict", list: "list", tuple: "tuple", set: "set"}
    return (f"not decoded: a {names.get(type(value), 'value')} ({len(payload)}-byte pickle; "
            "this example reads str, bytes, int, float, bool and None)")


def bytes_field(field):
    if "hex" in field:
        return bytes.fromhex(field["hex"])
    fail(f"unexpected bytes field {sorted(field)}")


def python_shelves(vectors):
    """Shelves as Python cshelve 1.1 wrote them: {name: (ini sections, {key: (record, payload)})}."""
    with open(os.path.join(vectors, "records.json")) as f:
        main = json.load(f)
    wanted = {"plain": "plain", "zlib-default": "zlib", "aes-32byte-key": "aes",
              "zlib+aes-16byte-key": "zlib-aes"}
    shelves = {}
    for case in main["cases"]:
        group = case["name"].partition("/")[0]
        if group not in wanted or case["expect"] != "payload":
            continue
        config, records = shelves.setdefault(wanted[group], (case["config"], {}))
        if config != case["config"]:
            fail(f"{case['name']}: configuration differs within its group")
        records[case["key"]] = (bytes.fromhex(case["record_hex"]), bytes.fromhex(case["payload_hex"]))
    if sorted(shelves) != sorted(wanted.values()):
        fail(f"records.json lacks some groups: found {sorted(shelves)}")
    # From the extended set: a negative int beyond 64 bits, a small int, and a record from before
    # the versioned format (a bare pickle), all in the unprocessed shelf.
    with open(os.path.join(vectors, "extended", "records.json")) as f:
        extended = json.load(f)
    picks = {"int-big@none": "int-big", "int-small@none": "int-small",
             "migration/legacy-raw-pickle@none-reader": "legacy-raw-pickle"}
    for case in extended["cases"]:
        if case["name"] in picks:
            record = bytes_field(case["stored"])
            payload = bytes_field(case["payload"]) if "payload" in case else \
                bytes_field(extended["values"][case["value"]]["payload"])
            shelves["plain"][1][picks[case["name"]]] = (record, payload)
    if not all(k in shelves["plain"][1] for k in picks.values()):
        fail("extended/records.json lacks some of " + ", ".join(picks.values()))
    return shelves


def check_python_records(binary, vectors, work, use_s3):
    work = fresh(work)
    client = s3_client() if use_s3 else None
    checked = 0
    for name, (config, records) in sorted(python_shelves(vectors).items()):
        if use_s3:
            bucket = fresh_bucket(name)
            client.create_bucket(Bucket=bucket)
            for key, (record, _) in records.items():
                client.put_object(Bucket=bucket, Key=key, Body=record)
            ini = s3_ini(os.path.join(work, name + ".ini"), bucket, config)
        else:
            folder = os.path.join(work, name)
            os.makedirs(folder)
            for key, (record, _) in records.items():
                with open(os.path.join(folder, local_file_name(key)), "wb") as f:
                    f.write(record)
            ini = os.path.join(work, name + ".ini")
            with open(ini, "w") as f:
                f.write(f"[default]\nprovider = local\nfolder = {name}\n\n{config}")
        expected = [f"{key}: {describe(payload)}" for key, (_, payload) in sorted(records.items())]
        expect_lines(run([binary, ini]), expected, f"read-python-shelf on the {name} shelf")
        checked += len(expected)
        if config:
            # Without the processing sections the same records must be refused, not misread.
            bare = ini + ".bare.ini"
            with open(ini) as f:
                text = f.read()
            with open(bare, "w") as f:
                f.write(text[: text.index(config)])
            done = subprocess.run(EXE_WRAPPER + [binary, bare], capture_output=True, timeout=300)
            if done.returncode != 1 or b"not configured for" not in done.stderr:
                fail(f"{name} read without [compression]/[encryption]: exit {done.returncode}, "
                     f"{done.stderr.decode(errors='replace')}")
    print(f"read-python-shelf ({'S3' if use_s3 else 'local'}): {checked} records read as Python wrote them")


def main(argv):
    if len(argv) < 2:
        fail(__doc__)
    command, args = argv[1], argv[2:]
    use_s3 = "--s3" in args
    args = [a for a in args if a != "--s3"]
    if command == "first-shelf" and len(args) == 2:
        check_first_shelf(*args)
    elif command == "elements" and len(args) == 3:
        check_elements(*args, use_s3)
    elif command == "python-records" and len(args) == 3:
        check_python_records(*args, use_s3)
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)
