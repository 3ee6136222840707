"""Sums the test cases of a meson test log and prints "N passed, N failed".

Each doctest program reports its own count of test cases; a program that reports no count (a
script, or one that crashed) counts as one test, passed or failed by its exit status.
"""
import json
import re
import sys

DOCTEST = re.compile(r"\[doctest\] test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed")
PLAIN = re.compile(r"^(\d+) passed, (\d+) failed", re.M)


def main(log_path):
    passed = failed = 0
    with open(log_path, encoding="utf-8", errors="replace") as log:
        for line in log:
            record = json.loads(line)
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
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
