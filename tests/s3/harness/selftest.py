#!/usr/bin/python3
"""Self-test of the local S3 stack; run it inside tests/s3/with-server.sh.

Through the gate, with botocore-signed requests: bucket and object round trips with awkward
keys, paginated listings, multi-object delete, keep-alive, Expect: 100-continue, a large body,
parallel connections, overlapping writes of one key, and the refusals (bad signature, bad body
hash, non-canonical encodings) together with their request-log lines. Through the fault
injector: faults at about the configured rate, each one seen by the client as the kind the
injector counted; and, with two private injector instances, the same seed giving the same faults.
"""

import base64
import collections
import hashlib
import http.client
import json
import math
import os
import posixpath
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import xml.etree.ElementTree as ElementTree

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

HARNESS_DIR = os.path.dirname(os.path.abspath(__file__))
REQUIRED_VARIABLES = ('CSHELVE_TEST_S3_ENDPOINT', 'CSHELVE_TEST_S3_DIRECT_ENDPOINT',
                      'CSHELVE_TEST_S3_FAULTY_ENDPOINT', 'CSHELVE_TEST_S3_KEY_ID',
                      'CSHELVE_TEST_S3_KEY_SECRET', 'CSHELVE_TEST_S3_REGION',
                      'CSHELVE_TEST_S3_REQUEST_LOG', 'CSHELVE_TEST_S3_FAULT_STATS')

AWKWARD_KEYS = [
    'plain',
    'with space',
    'ünïcødé/ключ/鍵 ✓',
    "punctuation + = & % ~ ! ' \" * ( )",
    'nested/dir/leaf.txt',
    'a/./b',
    'a/../b',
    'percent%20stays%2Fliteral',
    '-_.~unreserved',
]


def s3_encode(text, keep_slash):
    return urllib.parse.quote(text.encode('utf-8'), safe='/-_.~' if keep_slash else '-_.~')


def key_path(bucket, key):
    return '/%s/%s' % (bucket, s3_encode(key, keep_slash=True))


def query_string(pairs):
    return '&'.join('%s=%s' % (s3_encode(name, False), s3_encode(value, False))
                    for name, value in pairs)


def name_s3rver_stores(key):
    """s3rver resolves '.' and '..' segments itself (S3 would not); listings show the result."""
    return posixpath.normpath(key)


def local_name(element):
    return element.tag.rpartition('}')[2]


def children(element, name):
    return [child for child in element if local_name(child) == name]


def child_text(element, name):
    found = children(element, name)
    return found[0].text if found else None


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def error_code(self):
        try:
            return child_text(ElementTree.fromstring(self.body), 'Code')
        except ElementTree.ParseError:
            return None

    def __repr__(self):
        return 'Response(%d, %r)' % (self.status, self.body[:300])


class RawTargetConnection(http.client.HTTPConnection):
    """Sends request targets as given, raw non-ASCII bytes included, to test their refusal."""

    def _encode_request(self, request):
        return request.encode('latin-1')


class SigningClient:
    """Sends exactly the bytes botocore signed (or deliberately not)."""

    def __init__(self, endpoint, key_id, secret, region, timeout=30):
        parts = urllib.parse.urlsplit(endpoint)
        self.netloc, self.host, self.port = parts.netloc, parts.hostname, parts.port
        self.credentials = Credentials(key_id, secret)
        self.region = region
        self.timeout = timeout

    def signed_headers(self, method, target, body, extra_headers=()):
        request = AWSRequest(method=method, url='http://%s%s' % (self.netloc, target), data=body)
        for name, value in extra_headers:
            request.headers[name] = value
        S3SigV4Auth(self.credentials, 's3', self.region).add_auth(request)
        return [('Host', self.netloc)] + list(request.headers.items())

    def connect(self):
        return RawTargetConnection(self.host, self.port, timeout=self.timeout)

    def send(self, method, target, body=b'', extra_headers=(), connection=None,
             signed_body=None, tamper_headers=None):
        headers = self.signed_headers(method, target, body if signed_body is None else signed_body,
                                      extra_headers)
        if tamper_headers:
            headers = tamper_headers(headers)
        if body or method in ('PUT', 'POST'):
            headers.append(('Content-Length', str(len(body))))
        own_connection = connection is None
        connection = connection or self.connect()
        try:
            connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)
            connection.endheaders(body if body else None)
            response = connection.getresponse()
            return Response(response.status, response.msg, response.read())
        finally:
            if own_connection:
                connection.close()


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, condition, detail=''):
        if condition:
            self.passed += 1
            print('ok - %s' % name)
        else:
            self.failed += 1
            print('FAIL - %s%s' % (name, ': %s' % detail if detail else ''))
        sys.stdout.flush()
        return condition


def read_request_log(path):
    with open(path, encoding='utf-8') as log:
        return [json.loads(line) for line in log if line.strip()]


def read_fault_stats(path):
    with open(path, encoding='utf-8') as stats:
        return json.load(stats)


def list_all_keys(client, bucket, page_size, prefix=None):
    """ListObjectsV2 with continuation tokens; returns (keys, pages)."""
    keys, pages, token = [], 0, None
    while True:
        pairs = [('list-type', '2'), ('max-keys', str(page_size))]
        if prefix is not None:
            pairs.append(('prefix', prefix))
        if token:
            pairs.append(('continuation-token', token))
        response = client.send('GET', '/%s?%s' % (bucket, query_string(pairs)))
        if response.status != 200:
            raise AssertionError('listing failed: %r' % response)
        root = ElementTree.fromstring(response.body)
        keys += [child_text(item, 'Key') for item in children(root, 'Contents')]
        pages += 1
        token = child_text(root, 'NextContinuationToken')
        if child_text(root, 'IsTruncated') != 'true':
            return keys, pages
        if pages > 100:
            raise AssertionError('listing does not end')


def body_for(key):
    return ('content of %s\n' % key).encode('utf-8') * 3


# --- the checks ---------------------------------------------------------------------------------

def check_round_trips(results, client, bucket):
    response = client.send('PUT', '/' + bucket)
    results.check('create bucket through the gate', response.status == 200, repr(response))

    for key in AWKWARD_KEYS:
        path = key_path(bucket, key)
        put = client.send('PUT', path, body_for(key), [('Content-Type', 'application/octet-stream')])
        got = client.send('GET', path)
        head = client.send('HEAD', path)
        results.check('put/get/head key %r' % key,
                      put.status == 200 and got.status == 200 and got.body == body_for(key)
                      and head.status == 200
                      and head.headers.get('Content-Length') == str(len(body_for(key))),
                      'put %r get %r head %r' % (put, got, head))

    expected = sorted({name_s3rver_stores(key) for key in AWKWARD_KEYS})
    try:
        # Two keys per page: continuation tokens carry '+', '/' and '=' that must be encoded.
        keys, pages = list_all_keys(client, bucket, page_size=2)
        results.check('paginated listing finds every key (in s3rver walk order)',
                      sorted(keys) == expected and pages >= len(expected) // 2,
                      'listed %r in %d pages, expected %r' % (keys, pages, expected))
        unicode_prefix = 'ünïcødé/'
        keys, _ = list_all_keys(client, bucket, page_size=1000, prefix=unicode_prefix)
        results.check('listing with a unicode prefix',
                      keys == [key for key in expected if key.startswith(unicode_prefix)], repr(keys))
    except (AssertionError, ElementTree.ParseError) as problem:
        results.check('paginated listing', False, str(problem))

    missing = client.send('GET', key_path(bucket, 'no such key'))
    results.check('missing key gives 404 NoSuchKey',
                  missing.status == 404 and missing.error_code() == 'NoSuchKey', repr(missing))


def check_multi_delete_and_cleanup(results, client, bucket):
    stored = sorted({name_s3rver_stores(key) for key in AWKWARD_KEYS})
    first_half, second_half = stored[:len(stored) // 2], stored[len(stored) // 2:]
    from xml.sax.saxutils import escape
    document = ('<?xml version="1.0" encoding="UTF-8"?><Delete>%s</Delete>' % ''.join(
        '<Object><Key>%s</Key></Object>' % escape(key) for key in first_half)).encode('utf-8')
    content_md5 = base64.b64encode(hashlib.md5(document).digest()).decode()
    # "delete" has no value: a parameter without '=' that S3 signs as "delete=".
    response = client.send('POST', '/%s?delete' % bucket, document,
                           [('Content-MD5', content_md5), ('Content-Type', 'application/xml')])
    deleted = []
    if response.status == 200:
        deleted = [child_text(item, 'Key')
                   for item in children(ElementTree.fromstring(response.body), 'Deleted')]
    results.check('multi-object delete (?delete)',
                  response.status == 200 and sorted(deleted) == first_half, repr(response))

    statuses = [client.send('DELETE', key_path(bucket, key)).status for key in second_half]
    results.check('delete objects one by one', all(status == 204 for status in statuses), statuses)
    keys, _ = list_all_keys(client, bucket, page_size=1000)
    results.check('bucket is empty after deletes', keys == [], repr(keys))
    response = client.send('DELETE', '/' + bucket)
    results.check('delete bucket', response.status == 204, repr(response))


def check_refusals(results, client, bucket, log_path):
    path = key_path(bucket, 'refusal target')

    def last_log_line():
        # Other tests may use the stack meanwhile (meson runs them side by side): the last line
        # about this key, not the last line of the log.
        return [entry for entry in read_request_log(log_path) if entry.get('path') == path][-1]

    def wrong_signature(headers):
        out = []
        for name, value in headers:
            if name == 'Authorization':
                last = value[-1]
                value = value[:-1] + ('0' if last != '0' else '1')
            out.append((name, value))
        return out

    response = client.send('PUT', path, b'payload', tamper_headers=wrong_signature)
    logged = last_log_line()
    results.check('wrong signature refused with 403 SignatureDoesNotMatch',
                  response.status == 403 and response.error_code() == 'SignatureDoesNotMatch'
                  and b'<CanonicalRequest>' in response.body, repr(response))
    results.check('refusal logged as not forwarded',
                  logged == {'method': 'PUT', 'path': path, 'query': '', 'status': 403,
                             'forwarded': False, 'error': 'SignatureDoesNotMatch'}, repr(logged))

    wrong_secret = SigningClient('http://' + client.netloc, client.credentials.access_key,
                                 'not-the-secret', client.region)
    response = wrong_secret.send('GET', path)
    results.check('wrong secret refused with 403', response.status == 403, repr(response))

    response = client.send('PUT', path, b'payload B', signed_body=b'payload A')
    results.check('wrong body hash refused with 403',
                  response.status == 403 and response.error_code() == 'SignatureDoesNotMatch'
                  and b'S3ComputedContentSHA256' in response.body, repr(response))
    response = client.send('GET', path)
    results.check('refused PUT did not reach s3rver', response.status == 404, repr(response))

    response = client.send('PUT', path, b'unsigned', tamper_headers=lambda headers: [
        (name, 'UNSIGNED-PAYLOAD' if name == 'X-Amz-Content-SHA256' else value)
        for name, value in headers])
    results.check('UNSIGNED-PAYLOAD must still be signed as such (403 when it was not)',
                  response.status == 403, repr(response))

    # Each of these is validly signed by botocore exactly as sent, yet not how S3 encodes it.
    non_canonical = [
        ('plus for a space in the path', '/%s/with+plus' % bucket),
        ('lower-case escape in the path', '/%s/ke%%c3%%bc' % bucket),
        ('escaped slash in the path', '/%s/a%%2Fb' % bucket),
        ('escaped unreserved byte in the path', '/%s/%%41bc' % bucket),
        ('raw slash in a query value', '/%s?list-type=2&prefix=a/b' % bucket),
        ('raw UTF-8 in a query value', '/%s?list-type=2&prefix=\u00fc' % bucket),
    ]
    for label, target in non_canonical:
        encoded_target = target.encode('utf-8').decode('latin-1')
        try:
            response = client.send('GET', encoded_target)
            refused = response.status == 403 and b'canonical' in response.body
        except (ValueError, http.client.HTTPException) as problem:
            response, refused = problem, False
        results.check('non-canonical encoding refused: %s' % label, refused, repr(response))

    def drop_authorization(headers):
        return [(name, value) for name, value in headers if name != 'Authorization']
    response = client.send('GET', '/' + bucket, tamper_headers=drop_authorization)
    results.check('unsigned request refused with 403 AccessDenied',
                  response.status == 403 and response.error_code() == 'AccessDenied', repr(response))

    response = client.send('GET', path, extra_headers=[('x-amz-meta-late', 'x')],
                           tamper_headers=lambda headers: headers + [('x-amz-meta-extra', 'y')])
    results.check('unsigned x-amz-* header refused with 403', response.status == 403, repr(response))


def check_connection_behaviour(results, client, bucket):
    connection = client.connect()
    try:
        statuses, sockets = [], set()
        for index in range(5):
            path = key_path(bucket, 'keepalive/%d' % index)
            statuses.append(client.send('PUT', path, b'x' * index, connection=connection).status)
            sockets.add(id(connection.sock))
            statuses.append(client.send('GET', path, connection=connection).status)
            sockets.add(id(connection.sock))
        refused = client.send('GET', key_path(bucket, 'keepalive/0'), connection=connection,
                              tamper_headers=lambda headers: [(n, v + 'x' if n == 'Authorization' else v)
                                                              for n, v in headers])
        after = client.send('GET', key_path(bucket, 'keepalive/1'), connection=connection)
        sockets.add(id(connection.sock))
        results.check('keep-alive: many requests on one connection, also past a refusal',
                      statuses == [200] * 10 and refused.status == 403 and after.status == 200
                      and len(sockets) == 1, '%r %r %r %d sockets' % (statuses, refused, after, len(sockets)))
    finally:
        connection.close()

    results.check('Expect: 100-continue, good request', expect_continue(client, bucket, True))
    results.check('Expect: 100-continue, refused before the body is sent',
                  expect_continue(client, bucket, False))

    size = 24 * 1024 * 1024 + 7
    big = (b'0123456789abcdef' * (size // 16 + 1))[:size]
    path = key_path(bucket, 'large object')
    started = time.monotonic()
    put = client.send('PUT', path, big)
    got = client.send('GET', path)
    elapsed = time.monotonic() - started
    results.check('24 MiB body round trip (%.1f s)' % elapsed,
                  put.status == 200 and got.status == 200 and got.body == big,
                  'put %d get %d, %d bytes' % (put.status, got.status, len(got.body)))
    client.send('DELETE', path)

    failures = []

    def worker(worker_index):
        try:
            connection = client.connect()
            for index in range(8):
                path = key_path(bucket, 'parallel/%d/%d' % (worker_index, index))
                body = os.urandom(1000 + index)
                put = client.send('PUT', path, body, connection=connection)
                got = client.send('GET', path, connection=connection)
                if put.status != 200 or got.body != body:
                    failures.append((path, put, got))
                client.send('DELETE', path, connection=connection)
            connection.close()
        except Exception as problem:  # reported below, with the others
            failures.append(repr(problem))
    threads = [threading.Thread(target=worker, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.check('8 parallel connections', not failures, repr(failures[:3]))

    check_overlapping_writes(results, client, bucket)

    for index in range(5):
        client.send('DELETE', key_path(bucket, 'keepalive/%d' % index))
    client.send('DELETE', key_path(bucket, 'expect-continue'))


def check_overlapping_writes(results, client, bucket):
    """Writes of one key from several connections at once leave one whole body under its own MD5."""
    path = key_path(bucket, 'overlapping writes')
    failures = []

    def writer(round_index, writer_index, bodies):
        try:
            connection = client.connect()
            for put_index in range(8):
                # Lengths differ, so that a body written over a longer one would leave its tail.
                stamp = b'%d.%d.%d:' % (round_index, writer_index, put_index)
                body = stamp * (300 + 997 * writer_index + put_index)
                bodies.add(body)
                put = client.send('PUT', path, body, connection=connection)
                if put.status != 200:
                    failures.append('PUT %d' % put.status)
            connection.close()
        except Exception as problem:  # reported below, with the others
            failures.append(repr(problem))
    for round_index in range(12):
        bodies = set()
        threads = [threading.Thread(target=writer, args=(round_index, index, bodies)) for index in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        got = client.send('GET', path)
        etag = (got.headers.get('ETag') or '').strip('"')
        md5 = hashlib.md5(got.body).hexdigest()
        if got.status != 200 or got.body not in bodies or md5 != etag:
            failures.append('round %d: GET %d, %d bytes, ETag %s, MD5 %s'
                            % (round_index, got.status, len(got.body), etag, md5))
    results.check('overlapping writes of one key leave one whole body under its MD5', not failures,
                  repr(failures[:3]))
    client.send('DELETE', path)


def expect_continue(client, bucket, good):
    """Raw socket: headers first, body only after the 100."""
    body = b'sent after 100 Continue'
    target = key_path(bucket, 'expect-continue')
    headers = client.signed_headers('PUT', target, body)
    if not good:
        headers = [(n, v.replace('Signature=', 'Signature=0') if n == 'Authorization' else v)
                   for n, v in headers]
    head = 'PUT %s HTTP/1.1\r\n' % target + ''.join('%s: %s\r\n' % header for header in headers)
    head += 'Content-Length: %d\r\nExpect: 100-continue\r\n\r\n' % len(body)
    with socket.create_connection((client.host, client.port), timeout=10) as sock:
        sock.sendall(head.encode('latin-1'))
        reader = sock.makefile('rb')
        first = reader.readline()
        if good:
            if not first.startswith(b'HTTP/1.1 100'):
                return False
            reader.readline()
            sock.sendall(body)
            return reader.readline().startswith(b'HTTP/1.1 200')
        return first.startswith(b'HTTP/1.1 403')


def check_request_log(results, log_path, bucket):
    entries = [entry for entry in read_request_log(log_path)
               if entry['path'] == '/' + bucket or entry['path'].startswith('/%s/' % bucket)]
    methods = {entry['method'] for entry in entries if entry['forwarded']}
    results.check('request log records the methods sent',
                  {'PUT', 'GET', 'HEAD', 'DELETE', 'POST'} <= methods, repr(sorted(methods)))
    results.check('request log: refusals are never forwarded',
                  all(not entry['forwarded'] for entry in entries if entry['error']), '')
    results.check('request log: entries have the documented fields',
                  all(set(entry) == {'method', 'path', 'query', 'status', 'forwarded', 'error'}
                      for entry in entries), repr(entries[:1]))


def classify_outcome(client, target, expected_body, stall_seconds):
    """What a client sees of one GET: 'ok' or the fault kind it looks like."""
    started = time.monotonic()
    connection = client.connect()
    try:
        connection.request('GET', target, headers=dict(client.signed_headers('GET', target, b'')))
        response = connection.getresponse()
        body = response.read()
        if response.status == 503 and b'<Code>SlowDown</Code>' in body:
            return 'slowdown'
        return 'ok' if response.status == 200 and body == expected_body else 'wrong:%d' % response.status
    except ConnectionResetError:
        return 'reset'
    except http.client.IncompleteRead:
        return 'truncate'
    except (TimeoutError, socket.timeout):
        return 'stall'
    except (http.client.RemoteDisconnected, http.client.BadStatusLine, http.client.LineTooLong):
        # Closed without (a whole) answer: a cut header block, or a stall shorter than our timeout.
        return 'stall' if time.monotonic() - started >= 0.8 * stall_seconds else 'truncate'
    finally:
        connection.close()


def check_faults(results, client, faulty_client, bucket, stats_path):
    target = key_path(bucket, 'fault target')
    body = os.urandom(4096)
    client.send('PUT', '/' + bucket)
    client.send('PUT', target, body)
    before = read_fault_stats(stats_path)
    rate, stall_seconds = before['rate'], before['stall_seconds']
    faulty_client.timeout = min(3.0, max(0.5, 0.6 * stall_seconds))

    requests = 200
    started = time.monotonic()
    seen = collections.Counter(classify_outcome(faulty_client, target, body, stall_seconds)
                               for _ in range(requests))
    elapsed = time.monotonic() - started
    after = read_fault_stats(stats_path)
    counted = {kind: after['faults'][kind] - before['faults'][kind] for kind in after['faults']}

    faults_seen = requests - seen['ok']
    # Four standard deviations of a binomial count: a seeded run is far inside this.
    spread = 4 * math.sqrt(requests * rate * (1 - rate)) + 1
    results.check('faults at about rate %.2f (%d of %d, %.1f s)' % (rate, faults_seen, requests, elapsed),
                  abs(faults_seen - requests * rate) <= spread, repr(dict(seen)))
    unexplained = [kind for kind in seen if kind != 'ok' and seen[kind] > counted.get(kind, 0)]
    results.check('every fault seen was counted by the injector, as its kind',
                  not unexplained, 'seen %r counted %r' % (dict(seen), counted))
    results.check('fault stats count the requests',
                  after['requests'] - before['requests'] >= requests
                  and after['total_faults'] == sum(after['faults'].values()), repr(after))
    if rate > 0:
        if requests * rate / len(after['faults']) >= 5:
            results.check('each fault kind happens',
                          all(count > 0 for count in after['faults'].values()), repr(after['faults']))
    client.send('DELETE', target)


def run_private_injector(gate_endpoint, seed, work_dir, name):
    gate_port_file = os.path.join(work_dir, 'gate.port')
    with open(gate_port_file, 'w') as out:
        out.write('%d\n' % urllib.parse.urlsplit(gate_endpoint).port)
    port_file = os.path.join(work_dir, name + '.port')
    process = subprocess.Popen(
        [sys.executable, os.path.join(HARNESS_DIR, 'faults.py'),
         '--upstream-port-file', gate_port_file, '--port-file', port_file,
         '--rate', '0.5', '--seed', str(seed), '--stall', '0.3',
         '--stats', os.path.join(work_dir, name + '.json'), '--parent-pid', str(os.getpid())])
    deadline = time.monotonic() + 30
    while not os.path.exists(port_file):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            process.wait()
            raise RuntimeError('private fault injector did not start')
        time.sleep(0.02)
    with open(port_file) as f:
        return process, 'http://127.0.0.1:%d' % int(f.read())


def check_reproducible_faults(results, client, bucket, gate_endpoint):
    target = key_path(bucket, 'reproducible')
    body = os.urandom(2048)
    client.send('PUT', target, body)
    sequences = []
    with tempfile.TemporaryDirectory(prefix='cshelve-faults-') as work_dir:
        for run, seed in enumerate((1234, 1234, 99)):
            process, endpoint = run_private_injector(gate_endpoint, seed, work_dir, 'run%d' % run)
            try:
                faulty = SigningClient(endpoint, client.credentials.access_key,
                                       client.credentials.secret_key, client.region, timeout=5)
                sequences.append([classify_outcome(faulty, target, body, 0.3) for _ in range(30)])
                with open(os.path.join(work_dir, 'run%d.json' % run)) as f:
                    stats = json.load(f)
                if stats['total_faults'] != sum(1 for outcome in sequences[-1] if outcome != 'ok'):
                    sequences[-1].append('stats disagree: %r' % stats)
            finally:
                process.terminate()
                process.wait(timeout=10)
    results.check('same seed, same faults', sequences[0] == sequences[1],
                  '%r\n%r' % (sequences[0], sequences[1]))
    results.check('another seed, other faults', sequences[0] != sequences[2], repr(sequences[2]))
    client.send('DELETE', target)


def main():
    results = Results()
    missing = [name for name in REQUIRED_VARIABLES if not os.environ.get(name)]
    if missing:
        results.check('environment from tests/s3/with-server.sh', False,
                      'unset: %s' % ', '.join(missing))
        print('%d passed, %d failed' % (results.passed, results.failed))
        return 1
    env = os.environ
    client = SigningClient(env['CSHELVE_TEST_S3_ENDPOINT'], env['CSHELVE_TEST_S3_KEY_ID'],
                           env['CSHELVE_TEST_S3_KEY_SECRET'], env['CSHELVE_TEST_S3_REGION'])
    faulty_client = SigningClient(env['CSHELVE_TEST_S3_FAULTY_ENDPOINT'], env['CSHELVE_TEST_S3_KEY_ID'],
                                  env['CSHELVE_TEST_S3_KEY_SECRET'], env['CSHELVE_TEST_S3_REGION'])
    bucket = 'cshelve-selftest-' + os.urandom(4).hex()
    fault_bucket = bucket + '-faults'

    steps = [
        lambda: check_round_trips(results, client, bucket),
        lambda: check_refusals(results, client, bucket, env['CSHELVE_TEST_S3_REQUEST_LOG']),
        lambda: check_connection_behaviour(results, client, bucket),
        lambda: check_multi_delete_and_cleanup(results, client, bucket),
        lambda: check_request_log(results, env['CSHELVE_TEST_S3_REQUEST_LOG'], bucket),
        lambda: check_faults(results, client, faulty_client, fault_bucket, env['CSHELVE_TEST_S3_FAULT_STATS']),
        lambda: check_reproducible_faults(results, client, fault_bucket, env['CSHELVE_TEST_S3_ENDPOINT']),
        lambda: results.check('delete the fault bucket', client.send('DELETE', '/' + fault_bucket).status == 204),
    ]
    for step in steps:
        try:
            step()
        except Exception:
            results.check('no unexpected exception', False, traceback.format_exc())
    print('%d passed, %d failed' % (results.passed, results.failed))
    return 1 if results.failed else 0


if __name__ == '__main__':
    sys.exit(main())
