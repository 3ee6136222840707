#!/usr/bin/python3
"""The boto3 side of the benchmark: the workloads of cshelve-bench, done the way Python cshelve's
aws-s3 provider does them with boto3 (one request per key; contains is HeadObject; size and
iteration page through ListObjectsV2; erasing sends one DeleteObject per key, and emptying with
flag n lists, then does the same). The bucket is created up front, so no HeadBucket is timed.

Values are stored in cshelve's record format (a 10-byte header, then the bytes), as the C++
library stores them, so both sides move the same bytes. Python cshelve's own layers (pickling,
its data-processing step) are not run: these figures are a floor for Python cshelve.

    boto3_bench.py small [--ops N] [--keys N] [--value-size BYTES]
    boto3_bench.py large-put BUCKET [--size BYTES]
    boto3_bench.py large-get BUCKET [--size BYTES]
    boto3_bench.py large-delete BUCKET        (not timed: removes the value and the bucket)

Runs under any python3 with boto3: bench/run.sh runs it with Debian's (python3-boto3) and, when
there is one, with the newer boto3 of the pyenv interpreter, whose defaults differ (it sends a
CRC32 of each PutObject body and asks GetObject for the object's checksum). Each figure is named
after the boto3 that made it ("boto3 1.26.27"). Needs the variables of tests/s3/with-server.sh;
prints one JSON line per figure, like cshelve-bench.
"""

import argparse
import concurrent.futures
import json
import os
import random
import resource
import struct
import sys
import time

import boto3
from botocore.config import Config


def endpoint():
    for name in ("CSHELVE_BENCH_ENDPOINT", "CSHELVE_TEST_S3_DIRECT_ENDPOINT"):
        if os.environ.get(name):
            return os.environ[name]
    sys.exit("boto3_bench.py: CSHELVE_TEST_S3_DIRECT_ENDPOINT is not set: run through bench/run.sh")


def client():
    return boto3.client(
        "s3",
        endpoint_url=endpoint(),
        region_name=os.environ.get("CSHELVE_TEST_S3_REGION", "us-east-1"),
        aws_access_key_id=os.environ["CSHELVE_TEST_S3_KEY_ID"],
        aws_secret_access_key=os.environ["CSHELVE_TEST_S3_KEY_SECRET"],
        config=Config(s3={"addressing_style": "path"}),
    )


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Measure:
    def __init__(self, workload, ops):
        self.workload = workload
        self.ops = ops
        self.cpu = cpu_seconds()
        self.start = time.monotonic()

    def done(self, **extra):
        line = {
            "impl": "boto3 " + boto3.__version__,
            "workload": self.workload,
            "ops": self.ops,
            "seconds": time.monotonic() - self.start,
            "cpu_seconds": cpu_seconds() - self.cpu,
        }
        line.update(extra)
        print(json.dumps(line), flush=True)


def record(payload):
    """cshelve's record: version 0, no processing step, the length, then the payload."""
    return struct.pack("<BBQ", 0, 0, len(payload)) + payload


def payload_of(record_bytes):
    return record_bytes[10:]


def key_for(i):
    return "k%07d" % i  # flat keys, as cshelve-bench's


def unique_bucket(purpose):
    return "bench-py-%s-%d-%d" % (purpose, os.getpid(), random.randrange(1000000))


def value_of(size, seed):
    return random.Random(seed).randbytes(size)


def keys_of(s3, bucket):
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            yield entry["Key"]


def run_small(args):
    s3 = client()

    bucket = unique_bucket("seq")
    s3.create_bucket(Bucket=bucket)
    values = [value_of(args.value_size, i) for i in range(args.ops)]

    m = Measure("seq_set", args.ops)
    for i in range(args.ops):
        s3.put_object(Bucket=bucket, Key=key_for(i), Body=record(values[i]))
    m.done()

    m = Measure("seq_get", args.ops)
    read = 0
    for i in range(args.ops):
        read += len(payload_of(s3.get_object(Bucket=bucket, Key=key_for(i))["Body"].read()))
    m.done()
    assert read == args.ops * args.value_size

    m = Measure("contains", args.ops)
    found = 0
    for i in range(args.ops):
        try:
            s3.head_object(Bucket=bucket, Key=key_for(i))
            found += 1
        except s3.exceptions.ClientError:
            pass
    m.done()
    assert found == args.ops

    bucket = unique_bucket("bulk")
    s3.create_bucket(Bucket=bucket)
    values = [value_of(args.value_size, i) for i in range(args.keys)]

    m = Measure("bulk_set", args.keys)
    for i in range(args.keys):
        s3.put_object(Bucket=bucket, Key=key_for(i), Body=record(values[i]))
    m.done()

    m = Measure("size", args.keys)
    counted = sum(1 for _ in keys_of(s3, bucket))
    m.done()
    assert counted == args.keys, counted

    m = Measure("iterate", args.keys)
    listed = 0
    for key in keys_of(s3, bucket):
        listed += 1 if key else 0
    m.done()
    assert listed == args.keys

    m = Measure("bulk_get", args.keys)
    got = [payload_of(s3.get_object(Bucket=bucket, Key=key_for(i))["Body"].read()) for i in range(args.keys)]
    m.done()
    assert got == values

    m = Measure("erase_many", args.keys)
    for i in range(args.keys):
        s3.delete_object(Bucket=bucket, Key=key_for(i))
    m.done()
    assert next(keys_of(s3, bucket), None) is None

    # Put back (untimed, ten threads) for emptying with flag n.
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=key_for(i), Body=record(values[i])),
                      range(args.keys)))

    m = Measure("empty_flag_n", args.keys)
    for key in list(keys_of(s3, bucket)):
        s3.delete_object(Bucket=bucket, Key=key)
    m.done()
    assert next(keys_of(s3, bucket), None) is None


def large_value(size):
    # Incompressible, like the C++ side's; made before the clock starts, in one allocation so that
    # making it does not raise the peak resident set above the value itself.
    return os.urandom(size)


def run_large_put(args):
    s3 = client()
    s3.create_bucket(Bucket=args.bucket)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    value = large_value(args.size)
    m = Measure("large_put", 1)
    s3.put_object(Bucket=args.bucket, Key="large", Body=record(value))
    m.done(bytes=args.size, peak_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
           rss_before_value_kib=rss_before)


def run_large_get(args):
    s3 = client()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    m = Measure("large_get", 1)
    value = payload_of(s3.get_object(Bucket=args.bucket, Key="large")["Body"].read())
    m.done(bytes=len(value), peak_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
           rss_before_value_kib=rss_before)
    assert len(value) == args.size


def run_large_delete(args):
    """Not timed: frees the server's disk between runs."""
    s3 = client()
    s3.delete_object(Bucket=args.bucket, Key="large")
    s3.delete_bucket(Bucket=args.bucket)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["small", "large-put", "large-get", "large-delete"])
    parser.add_argument("bucket", nargs="?")
    parser.add_argument("--ops", type=int, default=1000)
    parser.add_argument("--keys", type=int, default=10000)
    parser.add_argument("--value-size", type=int, default=1024)
    parser.add_argument("--size", type=int, default=256 << 20)
    args = parser.parse_args()
    if args.command == "small":
        run_small(args)
    elif args.bucket is None:
        parser.error(args.command + " needs a BUCKET")
    elif args.command == "large-put":
        run_large_put(args)
    elif args.command == "large-get":
        run_large_get(args)
    else:
        run_large_delete(args)


if __name__ == "__main__":
    main()
