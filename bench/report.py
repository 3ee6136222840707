#!/usr/bin/python3
"""Turns the JSON lines of bench/run.sh (cshelve-bench, boto3_bench.py, callgrind counts) into a
Markdown table: for each figure the median over the runs and the spread (lowest to highest) of
cshelve and of each peer (each boto3 version that ran, and "cshelve baseline", another build of
cshelve-bench, when there is one), and for each peer the ratio of the medians against cshelve,
oriented so that above 1 means cshelve does better (the peer's time, CPU or memory over
cshelve's; cshelve's rate over the peer's).

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
    ("large_put", "CPU s", lambda r: r["cpu_seconds"], False, "large value put"),
    ("large_put", "peak RSS MiB", lambda r: r["peak_rss_kib"] / 1024, False, "large value put"),
    ("large_put", "peak RSS / value", lambda r: r["peak_rss_kib"] * 1024 / r["bytes"], False, "large value put"),
    ("large_get", "MiB/s", lambda r: r["bytes"] / MIB / r["seconds"], True, "large value get"),
    ("large_get", "CPU s", lambda r: r["cpu_seconds"], False, "large value get"),
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

    # The peers in the order they first appear: "cshelve baseline", then the boto3 versions.
    peers = []
    for impl, _ in lines:
        if impl != "cshelve" and impl not in peers:
            peers.append(impl)
    peers.sort(key=lambda impl: (not impl.startswith("cshelve"), impl))

    def sizes(workload):
        for impl in ["cshelve"] + peers:
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

    def peer_workload(impl, workload, against):
        # A baseline build runs cshelve's own workloads; boto3 is compared with what it has.
        return workload if impl.startswith("cshelve") or not against else against[0]

    out = []
    out.append("| workload | measure | cshelve: median (min–max) | "
               + " | ".join("%s: median (min–max)" % impl for impl in peers) + " | "
               + " | ".join("ratio to %s (> 1: cshelve better)" % impl for impl in peers) + " |")
    out.append("| --- " * (3 + 2 * len(peers)) + "|")
    for workload, measure, compute, higher_better, title, *against in figures:
        ours = [compute(r) for r in lines[("cshelve", workload)]]
        theirs = [[compute(r) for r in lines[(impl, peer_workload(impl, workload, against))]] for impl in peers]
        if not ours and not any(theirs):
            continue
        ops, size = sizes(workload)
        label = title
        if size:
            label += " (%d MiB)" % (size // MIB)
        elif ops and workload in ("seq_set", "seq_get", "contains"):
            label += " (×%s)" % format(ops, ",")
        elif ops:
            label += " (%s keys)" % format(ops, ",")
        ratios = []
        for values in theirs:
            ratio = "—"
            if ours and values:
                a, b = statistics.median(ours), statistics.median(values)
                if a > 0 and b > 0:
                    ratio = fmt(a / b if higher_better else b / a)
            ratios.append(ratio)
        out.append("| %s | %s | %s | %s | %s |" % (label, measure, cell(ours), " | ".join(cell(v) for v in theirs),
                                                 " | ".join(ratios)))

    out.append("")
    out.append("Runs: %d of the small workloads, %d of the large value (against %s), per side." % (
        len(lines[("cshelve", "seq_set")]), len(lines[("cshelve", "large_put")]), machine.get("large_server", "s3rver")))
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
