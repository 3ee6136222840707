#!/usr/bin/env python3
"""The command-line tool's get --json and set --json against CPython's own pickle and the real
Python cshelve 1.1.0.

    cli_json.py CSHELVE_TOOL local
        A local shelf. For every tag: Python's pickle.dumps(value, 5) stored raw with `set`, then
        `get --json` must print the expected JSON (text compared); `set --json` with that JSON,
        then the raw `get` must unpickle in Python to a value equal to the original; then JSON
        text and exit codes for malformed and unmappable input, values the tool cannot read, and
        thousands of random floats printed exactly as Python's json.dumps prints them.
    cli_json.py CSHELVE_TOOL reference
        Python cshelve 1.1.0 (../shared/reference, or CSHELVE_REFERENCE_DIR; exit 77 without it)
        on the local S3 server (run under tests/s3/with-server.sh): Python stores every value
        with db[key] = value, the tool prints it with get --json; the tool stores the JSON with
        set --json, and Python reads db[key] and compares.
"""
import collections
import datetime
import decimal
import json
import math
import os
import pickle
import random
import shlex
import subprocess
import sys
import tempfile
import uuid

from value_checks import reference_runner, same

EXE_WRAPPER = shlex.split(os.environ.get("MESON_EXE_WRAPPER", ""))
tool, mode = sys.argv[1], sys.argv[2]

UTC = datetime.timezone.utc
MINUS5 = datetime.timezone(datetime.timedelta(hours=-5))
ODD = datetime.timezone(datetime.timedelta(hours=5, minutes=30, seconds=15, microseconds=7))

# (name, Python value, the JSON get --json prints). Every tag, and plain JSON around them.
CASES = [
    ("none", None, 'null'),
    ("true", True, 'true'),
    ("int", -42, '-42'),
    ("int64-edge", [2**63 - 1, -2**63], '[9223372036854775807, -9223372036854775808]'),
    ("bigint", [2**63, -2**63 - 1, 10**40],
     '[{"$int": "9223372036854775808"}, {"$int": "-9223372036854775809"}, '
     '{"$int": "10000000000000000000000000000000000000000"}]'),
    ("floats", [1.5, -0.0, 0.0, 1e16, 1e15, 1e-5, 0.0001, 5e-324, 1.7976931348623157e308, 0.1, 100.0],
     '[1.5, -0.0, 0.0, 1e+16, 1000000000000000.0, 1e-05, 0.0001, 5e-324, 1.7976931348623157e+308, 0.1, 100.0]'),
    ("float-tags", [float("nan"), float("inf"), float("-inf")],
     '[{"$float": "nan"}, {"$float": "inf"}, {"$float": "-inf"}]'),
    ("str", "é中😀 \"q\" \\ \n\t\x01\x7f", '"é中😀 \\"q\\" \\\\ \\n\\t\\u0001\x7f"'),
    ("lone-surrogate", "a\ud800b\udfff", '"a\\ud800b\\udfff"'),
    ("bytes", b"\x00\x01\xfe\xff", '{"$bytes": "AAH+/w=="}'),
    ("bytes-empty", b"", '{"$bytes": ""}'),
    ("bytearray", bytearray(b"ab"), '{"$bytearray": "YWI="}'),
    ("list", [1, "a", [None]], '[1, "a", [null]]'),
    ("tuple", (1, "a", ()), '{"$tuple": [1, "a", {"$tuple": []}]}'),
    ("set", {3}, '{"$set": [3]}'),
    ("set-empty", set(), '{"$set": []}'),
    ("frozenset", frozenset(["x"]), '{"$frozenset": ["x"]}'),
    ("complex", [3 - 4j, complex(float("inf"), -0.0)],
     '[{"$complex": [3.0, -4.0]}, {"$complex": [{"$float": "inf"}, -0.0]}]'),
    ("dict", {"name": "Ada", "n": {"deep": [1]}}, '{"name": "Ada", "n": {"deep": [1]}}'),
    ("dict-dollar", {"$int": 1, "$": 2, "$$x": 3}, '{"$$int": 1, "$$": 2, "$$$x": 3}'),
    ("dict-keys", {7: "a", (1, "t"): "b", None: 1.5, "s": 0},
     '{"$dict": [[7, "a"], [{"$tuple": [1, "t"]}, "b"], [null, 1.5], ["s", 0]]}'),
    ("dict-empty", {}, '{}'),
    ("date", datetime.date(2024, 2, 29), '{"$date": "2024-02-29"}'),
    ("date-min", datetime.date(1, 1, 1), '{"$date": "0001-01-01"}'),
    ("time", datetime.time(13, 5, 1, 7), '{"$time": "13:05:01.000007"}'),
    ("time-utc", datetime.time(0, 0, tzinfo=UTC), '{"$time": "00:00:00+00:00"}'),
    ("datetime", datetime.datetime(2024, 1, 2, 3, 4, 5), '{"$datetime": "2024-01-02T03:04:05"}'),
    ("datetime-utc", datetime.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
     '{"$datetime": "2024-01-02T03:04:05.000006+00:00"}'),
    ("datetime-offset", [datetime.datetime(1999, 12, 31, 23, 59, 59, tzinfo=MINUS5),
                         datetime.datetime(2000, 1, 1, tzinfo=ODD)],
     '[{"$datetime": "1999-12-31T23:59:59-05:00"}, {"$datetime": "2000-01-01T00:00:00+05:30:15.000007"}]'),
    ("timedelta", [datetime.timedelta(days=-1, seconds=5, microseconds=7), datetime.timedelta(0)],
     '[{"$timedelta": [-1, 5, 7]}, {"$timedelta": [0, 0, 0]}]'),
    ("decimal", [decimal.Decimal("12.50"), decimal.Decimal("-Infinity"), decimal.Decimal("NaN"),
                 decimal.Decimal("1E+3")],
     '[{"$decimal": "12.50"}, {"$decimal": "-Infinity"}, {"$decimal": "NaN"}, {"$decimal": "1E+3"}]'),
    ("uuid", uuid.UUID("12345678-1234-5678-1234-56781234abcd"),
     '{"$uuid": "12345678-1234-5678-1234-56781234abcd"}'),
    ("nested", {"rows": [{"id": 1, "at": datetime.date(2020, 1, 1), "tags": {"a"}}]},
     '{"rows": [{"id": 1, "at": {"$date": "2020-01-01"}, "tags": {"$set": ["a"]}}]}'),
]

# JSON set --json takes besides the printed forms, and the value it means.
ALSO_ACCEPTED = [
    ('12345678901234567890123', 12345678901234567890123),
    ('{"$int": "5"}', 5),
    ('1E2', 100.0),
    ('1e-400', 0.0),
    ('{"$datetime": "2024-01-02 03:04Z"}', datetime.datetime(2024, 1, 2, 3, 4, tzinfo=UTC)),
    ('{"$time": "23:59:59.5"}', datetime.time(23, 59, 59, 500000)),
    ('{"$uuid": "12345678123456781234567812345678"}', uuid.UUID("12345678-1234-5678-1234-567812345678")),
    ('{"$complex": [1, 2]}', 1 + 2j),
    ('{"$dict": [[1, "a"], [1, "b"]]}', {1: "b"}),
    ('{"$set": [1, 1, 2]}', {1, 2}),
    ('"\\ud83d\\ude00"', "😀"),
]

# JSON set --json refuses (exit 2), with a piece of the message.
BAD_JSON = [
    ('', "expected a value"),
    ('[1,', "expected a value"),
    ('[1] x', "unexpected text after the array"),
    ('{"a": 1, "a": 2}', "duplicate member"),
    ("{'a': 1}", "expected a member name"),
    ('NaN', "expected a value"),
    ('01', "unexpected text after the number"),
    ('"\x01"', "control character"),
    ('1e400', "beyond a float"),
    ('{"$nope": 1}', "unknown tag '$nope'"),
    ('{"$int": 1, "b": 2}', "must be the only member"),
    ('{"$int": 5}', "$int takes a string, not number"),
    ('{"$int": "12a"}', "$int takes decimal digits"),
    ('{"$int": "' + "9" * 4301 + '"}', "$int takes decimal digits (up to 4300)"),
    ('{"$float": "1.5"}', '$float takes "nan", "inf" or "-inf"'),
    ('{"$bytes": "AAE"}', "standard base64"),
    ('{"$bytes": "AB=="}', "standard base64"),  # padding bits not zero: one text per byte string
    ('{"$bytes": [1]}', "$bytes takes a string, not array"),
    ('{"$tuple": {}}', "$tuple takes an array, not object"),
    ('{"$set": [[1]]}', "list is not hashable"),
    ('{"$frozenset": [{"$set": []}]}', "set is not hashable"),
    ('{"$dict": [[[1], 2]]}', "list is not hashable"),
    ('{"$dict": [[1]]}', "$dict takes [key, value] pairs"),
    ('{"$complex": [1]}', "$complex takes [real, imag]"),
    ('{"$complex": ["a", 1]}', "$complex takes two numbers"),
    ('{"$date": "2023-02-29"}', "$date takes"),
    ('{"$date": "2024-2-1"}', "$date takes"),
    ('{"$time": "24:00"}', "$time takes"),
    ('{"$time": "12:00+24:00"}', "$time takes"),
    ('{"$datetime": "2024-01-02"}', "$datetime takes"),
    ('{"$datetime": "2024-01-02T03:04:05.1234567"}', "$datetime takes"),
    ('{"$timedelta": [0, 86400, 0]}', "$timedelta takes"),
    ('{"$timedelta": [1000000000, 0, 0]}', "$timedelta takes"),
    ('{"$timedelta": [0, 0]}', "$timedelta takes"),
    ('{"$decimal": "1.2.3"}', "$decimal takes"),
    ('{"$decimal": " 1"}', "$decimal takes"),
    ('{"$uuid": "1234"}', "$uuid takes"),
    ('{"a": [{"$bytes": "!"}]}', "at $.a[0]"),
    ("[" * 1001 + "]" * 1001, "nested too deeply"),
]


class Unhashable:  # a class instance: pickled by reference to __main__.Unhashable
    pass


def run(args, data=None):
    return subprocess.run(EXE_WRAPPER + [tool] + args, input=data, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)


class Checks:
    def __init__(self):
        self.count = 0
        self.failures = 0

    def check(self, ok, what):
        self.count += 1
        if not ok:
            self.failures += 1
            print("FAIL " + what)


def local(checks, tmp):
    shelf = os.path.join(tmp, "shelf")
    for name, value, expected in CASES:
        # Python's pickle in, JSON out.
        r = run([shelf, "set", "py/" + name], pickle.dumps(value, protocol=5))
        checks.check(r.returncode == 0, f"{name}: raw set: {r.stderr!r}")
        r = run([shelf, "get", "--json", "py/" + name])
        printed = r.stdout.decode("utf-8", "surrogatepass")
        checks.check(r.returncode == 0 and printed == expected + "\n",
                     f"{name}: get --json printed {printed!r} (exit {r.returncode}, {r.stderr!r}), expected {expected!r}")
        # JSON in, Python's unpickling out.
        r = run([shelf, "set", "--json", "js/" + name, expected])
        checks.check(r.returncode == 0, f"{name}: set --json: {r.stderr!r}")
        raw = run([shelf, "get", "js/" + name]).stdout
        got = pickle.loads(raw) if raw else "(nothing)"
        checks.check(same(got, value, fold=False), f"{name}: set --json stored {got!r}")
        checks.check(raw == pickle.dumps(value, protocol=5), f"{name}: set --json wrote other bytes than pickle.dumps")
    # JSON from standard input, and the global form of the option.
    r = run(["--json", shelf, "set", "stdin", "-"], b'{"$tuple": [1]}')
    checks.check(r.returncode == 0 and pickle.loads(run([shelf, "get", "stdin"]).stdout) == (1,),
                 f"set --json from standard input: {r.stderr!r}")
    for text, value in ALSO_ACCEPTED:
        r = run([shelf, "set", "--json", "also", text])
        got = pickle.loads(run([shelf, "get", "also"]).stdout) if r.returncode == 0 else r.stderr
        checks.check(same(got, value, fold=False), f"set --json {text!r} stored {got!r}, expected {value!r}")
    for text, message in BAD_JSON:
        r = run([os.path.join(tmp, "never-created"), "set", "--json", "bad", text])
        err = r.stderr.decode()
        checks.check(r.returncode == 2 and message in err and err.count("\n") == 1,
                     f"set --json {text[:60]!r}: exit {r.returncode}, {err!r}, expected {message!r}")
    checks.check(not os.path.exists(os.path.join(tmp, "never-created")), "bad JSON created the shelf")
    # Values get --json cannot show: exit 4 with the reason; the raw bytes stay readable.
    for key, data, message in [
            ("not-pickle", b"plain bytes", "invalid pickle"),
            ("instance", pickle.dumps(Unhashable(), protocol=5), "__main__.Unhashable"),
            ("counter", pickle.dumps(collections.Counter("aab"), protocol=5), "collections.Counter")]:
        run([shelf, "set", key], data)
        r = run([shelf, "get", "--json", key])
        checks.check(r.returncode == 4 and message in r.stderr.decode() and r.stdout == b"",
                     f"get --json {key}: exit {r.returncode}, {r.stderr!r}")
        checks.check(run([shelf, "get", key]).stdout == data, f"raw get {key}")
    # Usage: --json with other commands, a missing key.
    checks.check(run([shelf, "keys", "--json"]).returncode == 2, "keys --json is a usage error")
    checks.check(run([shelf, "get", "--json"]).returncode == 2, "get --json without KEY")
    checks.check(run([shelf, "get", "--json", "absent"]).returncode == 1, "get --json of an absent key")
    # Floats: the shortest text that reads back, as Python prints it.
    rng = random.Random(20261205)
    floats = [rng.choice([rng.random() * 10 ** rng.randint(-30, 30), struct_double(rng.getrandbits(64))])
              for _ in range(4000)]
    floats = [f if math.isfinite(f) else 0.5 for f in floats]
    run([shelf, "set", "floats"], pickle.dumps(floats, protocol=5))
    printed = run([shelf, "get", "--json", "floats"]).stdout.decode()
    checks.check(printed == json.dumps(floats) + "\n", "4000 random floats print as json.dumps prints them")
    run([shelf, "set", "--json", "floats-back", printed])
    checks.check(same(pickle.loads(run([shelf, "get", "floats-back"]).stdout), floats, fold=False),
                 "4000 random floats read back exactly")


def struct_double(bits):
    import struct
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


REFERENCE_SIDE = r'''
import pickle, sys, cshelve

ini, endpoint, mode, path = sys.argv[1:5]
params = {"endpoint_url": endpoint, "region_name": "us-east-1"}
with cshelve.open(ini, provider_params=params) as db:
    if mode == "write":
        for key, value in pickle.load(open(path, "rb")).items():
            db[key] = value
    else:
        keys = pickle.load(open(path, "rb"))
        pickle.dump({key: db[key] for key in keys}, open(path + ".out", "wb"), protocol=5)
'''


def reference(checks, tmp):
    runner, endpoint = reference_runner()
    script = os.path.join(tmp, "side.py")
    open(script, "w").write(REFERENCE_SIDE)
    for config, sections in [("plain", ""), ("both", "[compression]\nalgorithm = zlib\n[encryption]\n"
                                                     "algorithm = aes256\nkey = 0123456789abcdef0123456789abcdef\n")]:
        bucket = f"cli-json-{config}-{os.getpid()}"
        ini = os.path.join(tmp, f"{config}.ini")
        open(ini, "w").write(
            "[default]\nprovider = aws-s3\nbucket_name = " + bucket + "\nauth_type = access_key\n"
            "key_id = " + os.environ["CSHELVE_TEST_S3_KEY_ID"] + "\nkey_secret = "
            + os.environ["CSHELVE_TEST_S3_KEY_SECRET"] + "\n" + sections)
        params = ["-p", "endpoint_url=" + endpoint]
        values_path = os.path.join(tmp, f"{config}.values")
        pickle.dump({"py/" + name: value for name, value, _ in CASES}, open(values_path, "wb"), protocol=5)
        subprocess.run([runner, script, ini, endpoint, "write", values_path], check=True)
        for name, value, expected in CASES:
            r = run(params + [ini, "get", "--json", "py/" + name])
            printed = r.stdout.decode("utf-8", "surrogatepass")
            checks.check(r.returncode == 0 and printed == expected + "\n",
                         f"{config} {name}: Python wrote, get --json printed {printed!r} ({r.stderr!r})")
            r = run(params + [ini, "set", "--json", "js/" + name, expected])
            checks.check(r.returncode == 0, f"{config} {name}: set --json: {r.stderr!r}")
        keys_path = os.path.join(tmp, f"{config}.keys")
        pickle.dump(["js/" + name for name, _, _ in CASES], open(keys_path, "wb"))
        subprocess.run([runner, script, ini, endpoint, "read", keys_path], check=True)
        read = pickle.load(open(keys_path + ".out", "rb"))
        for name, value, _ in CASES:
            checks.check(same(read["js/" + name], value, fold=False),
                         f"{config} {name}: set --json wrote, Python read {read['js/' + name]!r}")


def main():
    checks = Checks()
    with tempfile.TemporaryDirectory() as tmp:
        (local if mode == "local" else reference)(checks, tmp)
    print(f"{checks.count} checks, {checks.failures} failures")
    return 1 if checks.failures else 0


sys.exit(main())
