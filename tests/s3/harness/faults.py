#!/usr/bin/python3
"""Fault injector: a proxy in front of the gate that makes some requests fail, reproducibly.

For each request (in arrival order) two numbers are drawn from random.Random(seed): the first
decides whether the request is faulted (probability --rate), the second which fault it gets,
each kind equally likely. The n-th request thus always gets the same fate for a given seed;
with parallel connections, which request is n-th depends on their timing.

  slowdown  503 with an S3 SlowDown error body; the request never reaches the gate.
  reset     TCP reset instead of an answer; the request never reaches the gate.
  truncate  the request is served, but the answer stops halfway through its body (headers keep
            the full Content-Length) and the connection closes; a response without a body is
            cut halfway through its header block instead.
  stall     the request is served, but nothing is answered for --stall seconds (longer than a
            client's read timeout), then the connection closes.

Besides, and without a draw, a GET whose path holds FLIP_MARKER gets one bit of its 2xx body
flipped (the middle byte's lowest), headers unchanged: a body damaged on the way, every time, for
the tests of the client's integrity checks.

Otherwise the request and the answer are relayed unchanged. Counts are kept per kind and written
as JSON to --stats after every request and at exit.
"""

import argparse
import json
import random
import sys
import threading
import time

import proxycore

FAULT_KINDS = ('slowdown', 'reset', 'truncate', 'stall')
FLIP_MARKER = 'flip-a-byte'


class FaultPlan:
    def __init__(self, rate, seed, stall_seconds, stats_path):
        self.rate, self.seed, self.stall_seconds = rate, seed, stall_seconds
        self.random = random.Random(seed)
        self.stats_path = stats_path
        self.lock = threading.Lock()
        self.requests = 0
        self.counts = {kind: 0 for kind in FAULT_KINDS}
        self.write_stats()

    def next_fault(self):
        """The fault for the next request, or None. Both draws happen every time, so the n-th
        request's fate does not depend on what the earlier ones got."""
        with self.lock:
            faulted = self.random.random() < self.rate
            kind = FAULT_KINDS[int(self.random.random() * len(FAULT_KINDS))]
            self.requests += 1
            if faulted:
                self.counts[kind] += 1
            self.write_stats_locked()
            return kind if faulted else None

    def write_stats(self):
        with self.lock:
            self.write_stats_locked()

    def write_stats_locked(self):
        stats = {'seed': self.seed, 'rate': self.rate, 'stall_seconds': self.stall_seconds,
                 'requests': self.requests, 'faults': dict(self.counts),
                 'total_faults': sum(self.counts.values())}
        proxycore.write_atomically(self.stats_path, json.dumps(stats, indent=1) + '\n')


class FaultHandler(proxycore.ProxyHandler):
    plan = None

    def on_request(self):
        if self.raw_target().partition('?')[0] == proxycore.HEALTH_PATH:
            self.send_local_response(200, b'ok\n', [('Content-Type', 'text/plain')])
            return
        if self.command == 'GET' and FLIP_MARKER in self.raw_target():
            fault = 'flip'
        else:
            fault = self.plan.next_fault()
        try:
            if fault == 'slowdown':
                self.discard_body_unless_client_waits()
                self.send_s3_error(503, 'SlowDown', 'Please reduce your request rate.')
            elif fault == 'reset':
                self.discard_body_unless_client_waits()
                self.reset_connection()
            else:
                self.serve_through_gate(fault)
        except proxycore.BadRequest as problem:
            self.send_s3_error(400, 'BadRequest', str(problem))

    def discard_body_unless_client_waits(self):
        # A client waiting for 100 Continue has not sent its body and will not: answer now.
        if not self.continue_pending:
            for _ in self.iter_request_body_as_received():
                pass

    def serve_through_gate(self, fault):
        try:
            connection, response = self.open_upstream(self.iter_request_body_as_received())
        except (OSError, proxycore.http.client.HTTPException) as problem:
            if self.has_unread_body():
                self.close_connection = True
                return
            self.send_s3_error(502, 'InternalError', 'The fault injector could not reach the gate: %s.'
                               % type(problem).__name__)
            return
        try:
            if fault is None:
                self.relay_response(response)
            elif fault == 'truncate':
                self.relay_truncated(response)
            elif fault == 'flip':
                self.relay_flipped(response)
            else:
                for _ in self.iter_response_body(response):
                    pass
                time.sleep(self.plan.stall_seconds)
                self.close_connection = True
        finally:
            connection.close()

    def relay_flipped(self, response):
        body = b''.join(self.iter_response_body(response))
        if 200 <= response.status < 300 and body:
            middle = len(body) // 2
            body = body[:middle] + bytes([body[middle] ^ 1]) + body[middle + 1:]
        head = self.response_head_bytes(response)
        if response.chunked and self.response_may_have_body(response):
            body = (b'%x\r\n%s\r\n' % (len(body), body) if body else b'') + b'0\r\n\r\n'
        self.wfile.write(head + body)

    def relay_truncated(self, response):
        head = self.response_head_bytes(response)
        self.close_connection = True
        if response.chunked or response.length is None:
            body = b''.join(self.iter_response_body(response))
            half = body[:len(body) // 2]
            if half and response.chunked:
                half = b'%x\r\n%s\r\n' % (len(half), half)
            if half:
                self.wfile.write(head + half)
            else:
                self.wfile.write(head[:len(head) // 2])
            return
        total = response.length if self.response_may_have_body(response) else 0
        if total < 2:
            self.wfile.write(head[:len(head) // 2])
            return
        self.wfile.write(head)
        remaining = total // 2
        while remaining:
            piece = response.read(min(proxycore.IO_CHUNK, remaining))
            if not piece:
                break
            self.wfile.write(piece)
            remaining -= len(piece)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    proxycore.add_common_arguments(parser)
    parser.add_argument('--rate', type=float, default=0.1, help='probability of a fault per request')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--stall', type=float, default=5.0, help='seconds a stalled answer is held')
    parser.add_argument('--stats', required=True, help='JSON file with the fault counts')
    args = parser.parse_args()
    if not 0.0 <= args.rate <= 1.0:
        parser.error('--rate must be between 0 and 1')
    FaultHandler.plan = FaultPlan(args.rate, args.seed, args.stall, args.stats)
    proxycore.serve(FaultHandler, args, on_exit=FaultHandler.plan.write_stats)


if __name__ == '__main__':
    sys.exit(main())
