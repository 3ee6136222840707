#!/usr/bin/env python3
"""End to end with the real Python cshelve 1.1.0, through both sides' normal API, on the local S3
server (run under tests/s3/with-server.sh).

For each configuration (plain, zlib, AES, zlib and AES): Python stores values with db[key] = value,
C++ reads them with get<py::Value> (and hands them back as a pickle, compared here); C++ stores
values with set (Python's values read back, and one built in C++), Python reads them with db[key]
and compares.

    python_interop.py PICKLE_SHELF_TOOL
Needs Python cshelve's source and runner in ../shared/reference beside the repository (or
CSHELVE_REFERENCE_DIR); without them the test is skipped (exit 77).
"""
import datetime
import decimal
import os
import pickle
import struct
import shlex
import subprocess
import sys
import tempfile
import uuid

from value_checks import reference_runner, same

# A cross build runs the tool under its emulator (meson sets this for the test).
EXE_WRAPPER = shlex.split(os.environ.get("MESON_EXE_WRAPPER", ""))

runner, endpoint = reference_runner()
tool = sys.argv[1]

VALUES = {
    "dict": {"name": "Ada", "langs": ["en", "fr"], "age": 36, "score": 1.5, "none": None, "ok": True},
    "list": [1, -1, 2**31, -2**63 - 1, 2**64, 10**300, -0.0, float("inf"), "é中😀", b"\x00raw", bytearray(b"ba")],
    "nested": {"rows": [{"id": i, "vals": [i * 0.5, str(i)], "key": (i, "k")} for i in range(50)]},
    "sets": ({1, 2, 3}, frozenset({"a", "b"}), set(), frozenset()),
    "when": [datetime.date(2024, 2, 29), datetime.time(13, 5, 1, 7),
             datetime.datetime(2024, 1, 2, 3, 4, 5, 6),
             datetime.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc),
             datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))),
             datetime.timedelta(days=-1, seconds=5, microseconds=7)],
    "misc": [decimal.Decimal("12.50"), uuid.UUID("12345678-1234-5678-1234-567812345678"), 3 - 4j,
             "\ud800 lone surrogate", {7: "int key", (1, "t"): "tuple key"}],
    "bigstr": "x" * 100000,
}

NATIVE = {
    "name": "Zoë", "count": 42, "big": -123456789012345678901234567890, "ratio": 0.25,
    "tags": ["a", "b", (1, 2.5, None)], "raw": b"\x00\xff", "buffer": bytearray(b"xy"),
    "flags": {1, 2, 3}, "frozen": frozenset({"x"}), "z": 1 - 1j,
    "day": datetime.date(2024, 2, 29),
    "at": datetime.datetime(2024, 2, 29, 12, tzinfo=datetime.timezone(datetime.timedelta(hours=1))),
    "naive": datetime.datetime(1999, 12, 31, 23, 59, 59, 999999),
    "span": datetime.timedelta(days=-2, seconds=30, microseconds=5),
    "price": decimal.Decimal("19.99"),
    "id": uuid.UUID(bytes=bytes(i * 17 for i in range(16))),
    7: "int key", ("t", 1): "tuple key",
}

CONFIGS = {
    "plain": "",
    "zlib": "[compression]\nalgorithm = zlib\nlevel = 6\n",
    "aes": "[encryption]\nalgorithm = aes256\nkey = 0123456789abcdef0123456789abcdef\n",
    "both": "[compression]\nalgorithm = zlib\n[encryption]\nalgorithm = aes256\nkey = 0123456789abcdef0123456789abcdef\n",
}

PYTHON_SIDE = r'''
import pickle, sys, cshelve

ini, endpoint, mode, path = sys.argv[1:5]
params = {"endpoint_url": endpoint, "region_name": "us-east-1"}
with cshelve.open(ini, provider_params=params) as db:
    if mode == "write":
        values = pickle.load(open(path, "rb"))
        for key, value in values.items():
            db[key] = value
    else:
        keys = pickle.load(open(path, "rb"))
        pickle.dump({key: db[key] for key in keys}, open(path + ".out", "wb"), protocol=5)
'''


def main():
    failures = 0
    checks = 0
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "side.py")
        open(script, "w").write(PYTHON_SIDE)
        for name, sections in CONFIGS.items():
            bucket = f"pickle-interop-{name}-{os.getpid()}"
            ini = os.path.join(tmp, f"{name}.ini")
            open(ini, "w").write(
                "[default]\nprovider = aws-s3\nbucket_name = " + bucket + "\nauth_type = access_key\n"
                "key_id = " + os.environ["CSHELVE_TEST_S3_KEY_ID"] + "\nkey_secret = "
                + os.environ["CSHELVE_TEST_S3_KEY_SECRET"] + "\n" + sections)
            # Python writes; C++ reads.
            values_path = os.path.join(tmp, f"{name}.values")
            pickle.dump({"py/" + k: v for k, v in VALUES.items()}, open(values_path, "wb"), protocol=5)
            subprocess.run([runner, script, ini, endpoint, "write", values_path], check=True)
            keys = ["py/" + k for k in VALUES]
            out = subprocess.run(EXE_WRAPPER + [tool, ini, endpoint, "get"] + keys, check=True, stdout=subprocess.PIPE).stdout
            pos = 0
            for key in keys:
                (n,) = struct.unpack_from("<I", out, pos)
                got = pickle.loads(out[pos + 4:pos + 4 + n])
                pos += 4 + n
                checks += 1
                if not same(got, VALUES[key[3:]], fold=False):
                    failures += 1
                    print(f"FAIL {name}: C++ read {key} as {ascii(got)[:300]}")
            # C++ writes (what it read, and a value of its own); Python reads with db[key].
            for key in keys:
                pickled = pickle.dumps(VALUES[key[3:]], protocol=5)
                subprocess.run(EXE_WRAPPER + [tool, ini, endpoint, "set", "cpp/" + key[3:]], input=pickled, check=True)
            subprocess.run(EXE_WRAPPER + [tool, ini, endpoint, "set-native", "cpp/native"], check=True)
            wanted = {"cpp/" + k: v for k, v in VALUES.items()}
            wanted["cpp/native"] = NATIVE
            keys_path = os.path.join(tmp, f"{name}.keys")
            pickle.dump(list(wanted), open(keys_path, "wb"))
            subprocess.run([runner, script, ini, endpoint, "read", keys_path], check=True)
            read = pickle.load(open(keys_path + ".out", "rb"))
            for key, value in wanted.items():
                checks += 1
                if not same(read[key], value, fold=False):
                    failures += 1
                    print(f"FAIL {name}: Python read {key} as {ascii(read[key])[:300]}")
    print(f"{checks} values checked across {len(CONFIGS)} configurations, {failures} failures")
    return 1 if failures else 0


sys.exit(main())
