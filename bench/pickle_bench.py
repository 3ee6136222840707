#!/usr/bin/env python3
"""The pickle codec against CPython's C pickle, in one run (docs/performance.md).

    pickle_bench.py PICKLE_BENCH [REPEAT]

Two workloads, pickled by CPython at protocol 5: one 1 MiB record (a dict of lists of floats and
strings) and 10,000 small dicts (each its own pickle, as a shelf stores them). Each side reads all
of them and writes them again; the best of REPEAT rounds (default 5), in CPU time of the process,
so that another program's turn on a shared machine does not count. Ratios above 1 mean the C++
codec is faster.
"""
import json
import os
import pickle
import random
import struct
import subprocess
import sys
import tempfile
import time

tool = sys.argv[1]
repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 5
rng = random.Random(1)


def record():
    out = {}
    size = 0
    i = 0
    while size < 1 << 20:
        floats = [rng.uniform(-1e6, 1e6) for _ in range(100)]
        names = [f"item-{i}-{j}-" + "x" * rng.randint(0, 20) for j in range(20)]
        out[f"series-{i}"] = [floats, names]
        size = len(pickle.dumps(out, protocol=5)) if i % 20 == 0 else size
        i += 1
    return out


def small(i):
    return {"id": i, "name": f"user{i}", "email": f"user{i}@example.com", "active": i % 2 == 0,
            "score": i * 0.5, "tags": ["a", "b"]}


def python_side(values):
    pickles = [pickle.dumps(v, protocol=5) for v in values]
    best_loads = best_dumps = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        read = [pickle.loads(p) for p in pickles]
        best_loads = min(best_loads, time.process_time() - start)
        start = time.process_time()
        for v in read:
            pickle.dumps(v, protocol=5)
        best_dumps = min(best_dumps, time.process_time() - start)
    return pickles, best_loads, best_dumps


def main():
    rows = []
    for name, values in (("1 MiB record", [record()]), ("10,000 small dicts", [small(i) for i in range(10000)])):
        pickles, py_loads, py_dumps = python_side(values)
        with tempfile.NamedTemporaryFile(delete=False) as f:
            for p in pickles:
                f.write(struct.pack("<I", len(p)) + p)
            path = f.name
        try:
            out = json.loads(subprocess.run([tool, path, str(repeat)], check=True, stdout=subprocess.PIPE).stdout)
        finally:
            os.unlink(path)
        total = sum(len(p) for p in pickles)
        assert out["bytes"] == total, "the C++ codec wrote other bytes than CPython"
        rows.append((name, total, py_loads, out["loads"], py_dumps, out["dumps"]))
    print("| workload | bytes | CPython loads | cshelve loads | ratio | CPython dumps | cshelve dumps | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, total, pl, cl, pd, cd in rows:
        print(f"| {name} | {total:,} | {pl * 1e3:.2f} ms | {cl * 1e3:.2f} ms | {pl / cl:.2f} |"
              f" {pd * 1e3:.2f} ms | {cd * 1e3:.2f} ms | {pd / cd:.2f} |")


main()
