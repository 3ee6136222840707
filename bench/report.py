#!/usr/bin/python3
"""Turns the JSON lines of bench/run.sh (cshelve-bench, boto3_bench.py, callgrind counts) into a
Markdown table: for each figure the median over the runs, the spread (lowest to highest), and the
ratio of the medians, oriented so that above 1 means cshelve does better (boto3's time, CPU or
memory over cshelve's; cshelve's rate over boto3's).

    report.py bench-raw.jsonl
"""

import json
import statistics
import sys
from collections import defaultdict

MIB = 1 << 20

# (workload, measure, how to compute it from one line, better when higher, title[, boto3's
# workload to compare with, when it is not the same])
FIGURES = [
    ("seq_set", "ops/s", lambda r: r["ops"] / r["seconds"], True, "sequential set, 1 KiB"),
    ("seq_set", "CPU µs/op", lambda r: r["cpu_seconds"] / r["ops"] * 1e6, False, "sequential set, 1 KiB"),
    ("seq_get", "ops/s", lambda r: r["ops"] / r["seconds"], True, "sequential get, 1 KiB"),
    ("seq_get", "CPU µs/op", lambda r: r["cpu_seconds"] / r["ops"] * 1e6, False, "sequential get, 1 KiB"),
    ("contains", "ops/s", lambda r: r["ops"] / r["seconds"], True, "contains"),
    ("contains", "CPU µs/op", lambda r: r["cpu_seconds"] / r["ops"] * 1e6, False, "contains"),
    ("size", "s", lambda r: r["seconds"], False, "size"),
    ("iterate", "s", lambda r: r["seconds"], False, "iteration"),
    ("bulk_set", "s", lambda r: r["seconds"], False, "bulk set, 1 KiB"),
    ("bulk_set", "CPU µs/op", lambda r: r["cpu_seconds"] / r["ops"] * 1e6, False, "bulk set, 1 KiB"),
    ("bulk_get", "s", lambda r: r["seconds"], False, "bulk get, 1 KiB"),
    ("bulk_get", "CPU µs/op", lambda r: r["cpu_seconds"] / r["ops"] * 1e6, False, "bulk get, 1 KiB"),
    ("erase_many", "s", lambda r: r["seconds"], False, "erasing known keys"),
    ("empty_flag_n", "s", lambda r: r["seconds"], False, "emptying with flag n (listing included)"),
    ("large_put", "MiB/s", lambda r: r["bytes"] / MIB / r["seconds"], True, "large value put"),
    ("large_put", "peak RSS MiB", lambda r: r["peak_rss_kib"] / 1024, False, "large value put"),
    ("large_put", "peak RSS / value", lambda r: r["peak_rss_kib"] * 1024 / r["bytes"], False, "large value put"),
    ("large_get", "MiB/s", lambda r: r["bytes"] / MIB / r["seconds"], True, "large value get"),
    ("large_get", "peak RSS MiB", lambda r: r["peak_rss_kib"] / 1024, False, "large value get"),
    ("large_get", "peak RSS / value", lambda r: r["peak_rss_kib"] * 1024 / r["bytes"], False, "large value get"),
]
# cshelve's set_file and get_file against what boto3 does for Python cshelve (the value in memory).
for measure, compute, higher_better in [(f[1], f[2], f[3]) for f in FIGURES if f[0] == "large_put"]:
    FIGURES.append(("large_put_file", measure, compute, higher_better, "large value put from a file (set_file)", "large_put"))
for measure, compute, higher_better in [(f[1], f[2], f[3]) for f in FIGURES if f[0] == "large_get"]:
    FIGURES.append(("large_get_file", measure, compute, higher_better, "large value get into a file (get_file)", "large_get"))


def fmt(value):
    if value >= 100:
        return "%.0f" % value
    if value >= 10:
        return "%.1f" % value
    return "%.2f" % value


def cell(values):
    if not values:
        return "—"
    median = statistics.median(values)
    if len(values) == 1:
        return fmt(median)
    return "%s (%s–%s)" % (fmt(median), fmt(min(values)), fmt(max(values)))


def main(path):
    lines = defaultdict(list)
    machine = {}
    with open(path, encoding="utf-8") as raw:
        for text in raw:
            text = text.strip()
            if not text:
                continue
            record = json.loads(text)
            if record["impl"] == "machine":
                machine.update(record)
                continue
            lines[(record["impl"], record["workload"])].append(record)

    def sizes(workload):
        for impl in ("cshelve", "boto3"):
            if lines[(impl, workload)]:
                first = lines[(impl, workload)][0]
                return first.get("ops"), first.get("bytes")
        return None, None

    figures = list(FIGURES)
    # Bulk set with other connection counts (bench/run.sh's tuned run), against boto3's one by one.
    tuned = sorted({w for (impl, w) in lines if w.startswith("bulk_set_connections_")})
    at = next(i for i, f in enumerate(figures) if f[0] == "bulk_get")
    for workload in reversed(tuned):
        figures.insert(at, (workload, "s", lambda r: r["seconds"], False,
                            "bulk set, 1 KiB, max_pool_connections = " + workload.rsplit("_", 1)[1], "bulk_set"))

    out = []
    out.append("| workload | measure | cshelve: median (min–max) | boto3: median (min–max) | ratio (> 1: cshelve better) |")
    out.append("| --- | --- | --- | --- | --- |")
    for workload, measure, compute, higher_better, title, *against in figures:
        ours = [compute(r) for r in lines[("cshelve", workload)]]
        theirs = [compute(r) for r in lines[("boto3", against[0] if against else workload)]]
        if not ours and not theirs:
            continue
        ops, size = sizes(workload)
        label = title
        if size:
            label += " (%d MiB)" % (size // MIB)
        elif ops and workload in ("seq_set", "seq_get", "contains"):
            label += " (×%s)" % format(ops, ",")
        elif ops:
            label += " (%s keys)" % format(ops, ",")
        ratio = "—"
        if ours and theirs:
            a, b = statistics.median(ours), statistics.median(theirs)
            if a > 0 and b > 0:
                ratio = fmt(a / b if higher_better else b / a)
        out.append("| %s | %s | %s | %s | %s |" % (label, measure, cell(ours), cell(theirs), ratio))

    runs = {impl: len(lines[(impl, "seq_set")]) for impl in ("cshelve", "boto3")}
    large_runs = {impl: len(lines[(impl, "large_put")]) for impl in ("cshelve", "boto3")}
    out.append("")
    out.append("Runs: %d of the small workloads, %d of the large value, per side." % (runs["cshelve"], large_runs["cshelve"]))
    for workload, title in (("sign", "SigV4 signature (signing key cached)"),
                            ("sign_with_payload_hash", "SigV4 signature and SHA-256 of a 1 KiB body")):
        for record in lines[("cshelve", workload)]:
            out.append("Instructions per %s, callgrind: %s." % (title, format(round(record["instructions"] / record["ops"]), ",")))
    if machine:
        out.append("Machine: %s, %s cores; load average %s before, %s after; libcurl %s, boto3 %s, Node %s; %s." % (
            machine.get("cpu", "?"), machine.get("cores", "?"), machine.get("load_before", "?"),
            machine.get("load_after", "?"), machine.get("libcurl", "?"), machine.get("boto3", "?"),
            machine.get("node", "?"), machine.get("date", "?")))
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: report.py bench-raw.jsonl")
    main(sys.argv[1])
