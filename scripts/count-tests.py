"""Sums the test cases of meson test logs and prints "N passed, N failed".

Usage: count-tests.py TESTLOG.json [MORE.json ...] -- the logs of several runs (the normal build,
the sanitizer builds, the fuzz runs) add up into one count. A log that is missing counts as one
failed test: the run that should have written it did not finish.

Each doctest program reports its own count of test cases; a program that reports no count (a
script, a fuzz run, or one that crashed) counts as one test, passed or failed by its exit status.
"""
import json
import re
import sys

DOCTEST = re.compile(r"\[doctest\] test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed")
PLAIN = re.compile(r"^(\d+) passed, (\d+) failed", re.M)


def main(log_paths):
    passed = failed = 0
    for log_path in log_paths:
        try:
            log = open(log_path, encoding="utf-8", errors="replace")
        except OSError as problem:
            print(f"{log_path}: {problem.strerror}", file=sys.stderr)
            failed += 1
            continue
        with log:
            p, f = count(log)
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


def count(log):
    """Passed and failed tests of one log."""
    passed = failed = 0
    for line in log:
        record = json.loads(line)
        if record.get("result") == "SKIP":
            continue  # exit 77: what it needs is absent (e.g. ../shared beside a lone clone)
        output = record.get("stdout", "") or ""
        ok = record.get("result") in ("OK", "EXPECTEDFAIL")
        counts = DOCTEST.findall(output) or PLAIN.findall(output)
        if counts:
            last = counts[-1]
            p, f = int(last[-2]), int(last[-1])
            if not ok and f == 0:
                f = 1  # it counted its cases but still failed (a crash after, a timeout)
            passed += p
            failed += f
        elif ok:
            passed += 1
        else:
            failed += 1
    return passed, failed


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: count-tests.py TESTLOG.json [MORE.json ...]")
    sys.exit(main(sys.argv[1:]))
