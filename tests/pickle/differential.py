#!/usr/bin/env python3
"""Differential test of the pickle codec against CPython's own pickle.

Random nested values of every supported type, with the edges that matter (ints around 2^31, 2^63
and 2^64, 300-digit ints, -0.0, NaN, infinities, long, non-ASCII and lone-surrogate strings, deep
nesting, shared objects), are pickled here at protocols 0 to 5 (each value at 5 and at one other)
and read by the C++ tool
(pickle_tool), which writes each again at protocols 2 to 5. Each of those must equal CPython's
pickle.dumps(value, protocol) byte for byte, and unpickle here to the original value.

    differential.py PICKLE_TOOL [COUNT] [SEED]
"""
import datetime
import decimal
import math
import os
import pickle
import pickletools
import random
import struct
import shlex
import subprocess
import sys
import uuid

from value_checks import same

# A cross build runs the tool under its emulator (meson sets this for the test).
EXE_WRAPPER = shlex.split(os.environ.get("MESON_EXE_WRAPPER", ""))

tool = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 20261204
rng = random.Random(seed)

INT_EDGES = [0, 1, -1, 255, 256, -256, 65535, 65536, 2**31 - 1, 2**31, -2**31, -2**31 - 1,
             2**32, 2**63 - 1, 2**63, -2**63, -2**63 - 1, 2**64 - 1, 2**64, -2**64, 2**64 + 1,
             10**300, -10**300 + 7, 2**127, -2**127]
FLOAT_EDGES = [0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1e308, 5e-324, -1.5, 0.1]
STR_EDGES = ["", "a", "é", "\x00", "中文", "😀", "\ud800", "a\udfffb", "\ud83d\ude00", "\\u0041",
             "line\nbreak", "x" * 255, "x" * 256, "ÿ"]
pool = []  # objects already made, for "the same object twice"


def rand_int():
    r = rng.random()
    if r < 0.4:
        return rng.choice(INT_EDGES) + rng.choice([0, 0, 0, 1, -1])
    if r < 0.7:
        return rng.randint(-1000, 1000)
    return rng.getrandbits(rng.randint(1, 400)) * rng.choice([1, -1])


def rand_str():
    r = rng.random()
    if r < 0.3:
        return rng.choice(STR_EDGES)
    alphabet = "abcxyz é中😀\ud800\n\\"
    s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
    if rng.random() < 0.002:
        s = s + "L" * 70000  # beyond a frame
    return s


def rand_bytes():
    n = rng.choice([0, 1, 2, 5, 40, 255, 256, 1000])
    if rng.random() < 0.002:
        n = 66000
    return bytes(rng.getrandbits(8) for _ in range(n)) if n < 2000 else bytes(n)


def rand_tz():
    r = rng.random()
    if r < 0.4:
        return None
    if r < 0.6:
        return datetime.timezone.utc
    minutes = rng.randint(-24 * 60 + 1, 24 * 60 - 1)
    return datetime.timezone(datetime.timedelta(minutes=minutes, microseconds=rng.choice([0, 0, 5])))


def rand_scalar(hashable_only=False):
    kinds = ["none", "bool", "int", "float", "str", "bytes", "complex", "date", "time", "datetime",
             "timedelta", "decimal", "uuid"]
    if not hashable_only:
        kinds.append("bytearray")
    k = rng.choice(kinds)
    if k == "none":
        return None
    if k == "bool":
        return rng.random() < 0.5
    if k == "int":
        return rand_int()
    if k == "float":
        return rng.choice(FLOAT_EDGES) if rng.random() < 0.5 else rng.uniform(-1e6, 1e6)
    if k == "str":
        return rand_str()
    if k == "bytes":
        return rand_bytes()
    if k == "bytearray":
        return bytearray(rand_bytes())
    if k == "complex":
        return complex(rng.choice(FLOAT_EDGES), rng.uniform(-10, 10))
    if k == "date":
        return datetime.date(rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, 28))
    if k == "time":
        return datetime.time(rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59),
                             rng.choice([0, rng.randint(0, 999999)]), tzinfo=rand_tz(), fold=rng.randint(0, 1))
    if k == "datetime":
        return datetime.datetime(rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, 28),
                                 rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59),
                                 rng.choice([0, rng.randint(0, 999999)]), tzinfo=rand_tz(),
                                 fold=rng.randint(0, 1))
    if k == "timedelta":
        return datetime.timedelta(days=rng.randint(-999999999, 999999999), seconds=rng.randint(0, 86399),
                                  microseconds=rng.randint(0, 999999))
    if k == "decimal":
        return decimal.Decimal(rng.choice(["1.50", "-0", "NaN", "-Infinity", "1E+5", "3.14159",
                                           str(rand_int()), "0.000001", "sNaN"]))
    if k == "uuid":
        if rng.random() < 0.3:
            return uuid.UUID(int=rng.getrandbits(128), is_safe=rng.choice(list(uuid.SafeUUID)))
        return uuid.UUID(int=rng.getrandbits(rng.choice([8, 64, 128])))
    raise AssertionError(k)


def rand_hashable(depth):
    r = rng.random()
    if depth > 0 and r < 0.1:
        return tuple(rand_hashable(depth - 1) for _ in range(rng.randint(0, 3)))
    if depth > 0 and r < 0.15:
        return frozenset(rand_hashable(depth - 1) for _ in range(rng.randint(0, 3)))
    v = rand_scalar(hashable_only=True)
    if isinstance(v, float) and math.isnan(v):
        return 0.5
    if isinstance(v, decimal.Decimal) and v.is_snan():
        return decimal.Decimal("2.5")
    return v


def rand_value(depth):
    if pool and rng.random() < 0.08:
        return rng.choice(pool)
    if depth <= 0 or rng.random() < 0.45:
        v = rand_scalar()
    else:
        k = rng.choice(["list", "tuple", "dict", "set", "frozenset"])
        n = rng.choice([0, 1, 2, 3, 4, 7])
        if depth == 1 and rng.random() < 0.03:
            n = rng.choice([999, 1000, 1001, 2500])  # around the pickler's batches of 1000
        if k == "list":
            v = [rand_value(depth - 1) for _ in range(n)]
        elif k == "tuple":
            v = tuple(rand_value(depth - 1) for _ in range(n))
        elif k == "dict":
            v = {rand_hashable(2): rand_value(depth - 1) for _ in range(n)}
        elif k == "set":
            v = {rand_hashable(2) for _ in range(n)}
        else:
            v = frozenset(rand_hashable(2) for _ in range(n))
    if not isinstance(v, (int, float, bool)) and v is not None:
        pool.append(v)
        if len(pool) > 50:
            pool.pop(0)
    return v


def has_fold(v):
    if isinstance(v, (datetime.datetime, datetime.time)):
        return v.fold == 1
    if isinstance(v, (list, tuple, set, frozenset)):
        return any(has_fold(x) for x in v)
    if isinstance(v, dict):
        return any(has_fold(k) or has_fold(x) for k, x in v.items())
    return False


def ambiguous_singletons(v):
    """A one-byte bytes and a one-character latin-1 str in one value: at protocol 2 CPython
    writes the bytes through that character's str, which is shared with the user's str only if
    that one was Python's cached object, which a pickle does not say."""
    found = set()

    def walk(x):
        if isinstance(x, (bytes, bytearray)) and len(x) == 1:
            found.add("b")
        elif isinstance(x, str) and len(x) == 1 and ord(x) < 256:
            found.add("s")
        elif isinstance(x, (list, tuple, set, frozenset)):
            for y in x:
                walk(y)
        elif isinstance(x, dict):
            for k, y in x.items():
                walk(k)
                walk(y)

    walk(v)
    return found == {"b", "s"}


def values():
    out = []
    for i in range(count):
        out.append(rand_value(rng.choice([1, 2, 3, 4])))
    # Deep nesting, up to what CPython's pickler can write.
    deep = []
    for _ in range(480):
        deep = [deep]
    out.append(deep)
    deep = {}
    for _ in range(300):
        deep = {"k": (deep,)}
    out.append(deep)
    return out


def main():
    sys.setrecursionlimit(10000)
    vals = values()
    feed = bytearray()
    expected = []
    # Each value is read from protocol 5 (Python cshelve's) and from one of 0 to 4 in turn.
    sources_of = []
    for i, v in enumerate(vals):
        pickles = [pickle.dumps(v, protocol=p) for p in range(6)]
        expected.append(pickles)
        sources = (i % 5, 5)
        sources_of.append(sources)
        for source in sources:
            feed += struct.pack("<I", len(pickles[source])) + pickles[source]
    result = subprocess.run(EXE_WRAPPER + [tool], input=bytes(feed), stdout=subprocess.PIPE, check=True).stdout
    pos = 0
    failures = 0
    checked = 0
    skipped = 0
    for v, pickles, sources in zip(vals, expected, sources_of):
        folded = has_fold(v)
        ambiguous = ambiguous_singletons(v)
        value_checked = set()
        for source in sources:
            status = result[pos:pos + 1]
            (n,) = struct.unpack_from("<I", result, pos + 1)
            payload = result[pos + 5:pos + 5 + n]
            pos += 5 + n
            if status != b"O":
                failures += 1
                if failures <= 10:
                    print(f"FAIL read protocol {source} of {ascii(v)[:200]}: {status} {payload[:300]}")
                continue
            q = 0
            ours = []
            while q < len(payload):
                (m,) = struct.unpack_from("<I", payload, q)
                ours.append(payload[q + 4:q + 4 + m])
                q += 4 + m
            for target, data in zip(range(2, 6), ours):
                checked += 1
                # Protocols 0 to 3 do not carry datetime's fold: what was read from them is
                # compared as a value only.
                reference = pickles[target]
                if (folded and source < 4) or (ambiguous and target == 2):
                    skipped += 1
                elif data != reference:
                    failures += 1
                    if failures <= 10:
                        print(f"FAIL bytes: protocol {source} read, {target} written, value {ascii(v)[:300]}")
                        at = next((i for i in range(11, min(len(data), len(reference)))
                                   if data[i] != reference[i]), min(len(data), len(reference)))
                        print(f"  first difference at {at} of {len(reference)}/{len(data)}")
                        print("  python:", reference[max(0, at - 80):at + 80])
                        print("  ours:  ", data[max(0, at - 80):at + 80])
                        if os.environ.get("PICKLE_DIFF_DUMP"):
                            base = os.path.join(os.environ["PICKLE_DIFF_DUMP"], f"fail{failures}")
                            open(base + ".python", "wb").write(reference)
                            open(base + ".ours", "wb").write(data)
                    continue
                if data == reference and (target in value_checked):
                    continue
                if data == reference:
                    value_checked.add(target)
                back = pickle.loads(data)
                if not same(back, v, fold=target >= 4 and source >= 4):
                    failures += 1
                    if failures <= 10:
                        print(f"FAIL value: {ascii(v)[:300]} came back as {ascii(back)[:300]}")
    assert pos == len(result), "tool output has trailing bytes"
    print(f"{len(vals)} values, {checked - skipped} pickles compared byte for byte ({skipped} as values only:"
          f" fold below protocol 4, one-character singletons at protocol 2), {failures} failures")
    return 1 if failures else 0


sys.exit(main())
