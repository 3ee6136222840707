#!/usr/bin/env python3
"""Start moto through the shared launcher, with S3's conditional writes made atomic.

    moto-start.py LAUNCHER [moto.server options...]

moto 5.2.1's PutObject checks If-Match and If-None-Match, then stores the object, with nothing
holding other requests off in between; its server answers each request on its own thread. Two
writers conditioned on the same ETag can then both succeed, and one update is lost, which S3
never allows (under load, the concurrency tests once counted 1,599 of 1,600 increments). Here
every request that writes or deletes a key (PutObject, DeleteObject, DeleteObjects, CopyObject
and the completion of a multipart upload) runs under one lock, so that a check and the write it
guards are one step. The request's body has been read before, so the lock covers only moto's
work in memory.
"""
import functools
import runpy
import sys
import threading

from moto.s3.responses import S3Response

_writes = threading.RLock()


def _one_at_a_time(method):
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with _writes:
            return method(self, *args, **kwargs)

    return locked


for _name in ("put_object", "delete_object", "_bucket_response_delete_keys", "copy_object", "_key_response_post"):
    setattr(S3Response, _name, _one_at_a_time(getattr(S3Response, _name)))

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: moto-start.py LAUNCHER [moto.server options...]")
    launcher = sys.argv[1]
    sys.argv = [launcher] + sys.argv[2:]
    runpy.run_path(launcher, run_name="__main__")
