#!/usr/bin/env python3
"""Start moto through the shared launcher, with S3's conditional writes made atomic.

    moto-start.py LAUNCHER [moto.server options...]

moto 5.2.1's PutObject checks If-Match and If-None-Match, then stores the object, with nothing
holding other requests off in between; its server answers each request on its own thread. Two
writers conditioned on the same ETag can then both succeed, and one update is lost, which S3
never allows (the concurrency tests caught 1599 of 1600 updates under load). Here every PutObject
and DeleteObject runs under one lock, so that a check and the write it guards are one step.
"""
import functools
import runpy
import sys
import threading

from moto.s3.responses import S3Response

_writes = threading.Lock()


def _one_at_a_time(method):
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with _writes:
            return method(self, *args, **kwargs)

    return locked


S3Response.put_object = _one_at_a_time(S3Response.put_object)
S3Response.delete_object = _one_at_a_time(S3Response.delete_object)

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: moto-start.py LAUNCHER [moto.server options...]")
    launcher = sys.argv[1]
    sys.argv = [launcher] + sys.argv[2:]
    runpy.run_path(launcher, run_name="__main__")
