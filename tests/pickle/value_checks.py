"""What the Python-side pickle tests share: equality of Python values as a pickle must keep them,
and where the real Python cshelve and the local S3 server are."""
import datetime
import decimal
import math
import os
import sys
import uuid


def same(a, b, fold=True):
    """Equality by type, NaN equal to NaN, -0.0 distinct from 0.0 (fold: compare datetime's fold,
    which Python writes from protocol 4 on)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y, fold) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(same(x, y, fold) and same(a[x], b[y], fold) for x, y in zip(a, b))
    if isinstance(a, (set, frozenset)):
        # Not a == b: Decimal('NaN') is not equal to itself.
        rest = list(b)
        for x in a:
            match = next((i for i, y in enumerate(rest) if same(x, y, fold)), None)
            if match is None:
                return False
            rest.pop(match)
        return not rest
    if isinstance(a, decimal.Decimal):
        return str(a) == str(b)
    if isinstance(a, (datetime.datetime, datetime.time)):
        return a == b and (a.fold == b.fold or not fold) and a.utcoffset() == b.utcoffset()
    if isinstance(a, uuid.UUID):
        return a == b and a.is_safe == b.is_safe
    return a == b


def reference_runner():
    """The runner of the real Python cshelve (../shared/reference beside the repository, or
    CSHELVE_REFERENCE_DIR) and the local S3 server's endpoint. Exits 77 (skipped) without the
    reference, and fails outside tests/s3/with-server.sh."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    reference = os.environ.get("CSHELVE_REFERENCE_DIR", os.path.join(repo, "..", "shared", "reference"))
    runner = os.path.join(reference, "python-cshelve.sh")
    if not os.path.isfile(runner):
        print(f"skipped: no Python cshelve reference at {reference}")
        sys.exit(77)
    endpoint = os.environ.get("CSHELVE_TEST_S3_ENDPOINT")
    if not endpoint:
        print("needs the local S3 server: run under tests/s3/with-server.sh")
        sys.exit(1)
    return runner, endpoint
