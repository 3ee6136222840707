"""HTTP/1.1 plumbing shared by the signature gate (gate.py) and the fault injector (faults.py).

Both are reverse proxies on 127.0.0.1 that must pass requests on byte-for-byte: the request target
is taken from the raw request line (BaseHTTPRequestHandler would fold a leading '//'), header
values keep their raw bytes (latin-1 round-trips every byte), and every upstream request uses a
fresh connection so that a stale keep-alive socket to the upstream can never turn into a spurious
error that the test client would then blame on itself.
"""

import http.client
import http.server
import json
import os
import signal
import socket
import socketserver
import struct
import sys
import tempfile
import threading
import time
import traceback

# Probed by with-server.sh to know a proxy is up. Underscores are invalid in bucket names, so no
# S3 request can ever collide with it; it is neither logged nor subject to faults.
HEALTH_PATH = '/__harness/health'

IO_CHUNK = 1024 * 1024
UPSTREAM_TIMEOUT_SECONDS = 600
CLIENT_IDLE_TIMEOUT_SECONDS = 120
# How long a connection whose request body we refused to read is kept draining, so that the
# error response is not destroyed by a TCP reset before the client has read it.
LINGER_DRAIN_SECONDS = 5

# Headers that describe one hop, not the message. The upstream connection is ours and single-use,
# so its Connection/Keep-Alive say nothing about the client's connection.
HOP_BY_HOP_RESPONSE_HEADERS = {'connection', 'keep-alive', 'proxy-connection'}


class BadRequest(Exception):
    """The request cannot be framed (unusable Content-Length, malformed chunk)."""


def s3_error_xml(code, message, details=None):
    """An S3 error document; `details` adds extra elements, as S3 does for signature errors."""
    from xml.sax.saxutils import escape
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<Error>',
             '<Code>%s</Code>' % escape(code),
             '<Message>%s</Message>' % escape(message)]
    for name, value in (details or {}).items():
        parts.append('<%s>%s</%s>' % (name, escape(str(value)), name))
    request_id = os.urandom(8).hex().upper()
    parts.append('<RequestId>%s</RequestId><HostId>cshelve-test-harness</HostId></Error>' % request_id)
    return ''.join(parts).encode('utf-8'), request_id


class ProxyServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Parallel test clients open many connections at once; the default backlog of 5 would make
    # some of them wait for a SYN retransmit (a full second).
    request_queue_size = 128

    def server_bind(self):
        # HTTPServer.server_bind would resolve our name (getfqdn); loopback needs no lookup.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        kind = sys.exc_info()[0]
        if kind is not None and issubclass(kind, (ConnectionError, TimeoutError, socket.timeout)):
            return  # clients hanging up is ordinary, especially under fault injection
        sys.stderr.write('%s: error while serving %s:\n%s' % (
            os.path.basename(sys.argv[0]), client_address, traceback.format_exc()))


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    timeout = CLIENT_IDLE_TIMEOUT_SECONDS
    upstream_address = None  # (host, port), set by serve()

    # --- request side -------------------------------------------------------------------------

    def parse_request(self):
        self.continue_pending = False
        self.body_consumed = False
        return super().parse_request()

    def handle_expect_100(self):
        # The 100 is sent only once we decide to read the body: a request refused on its headers
        # alone is answered at once, as S3 does, and the client never uploads the body.
        self.continue_pending = True
        return True

    def raw_target(self):
        return self.requestline.split()[1]

    def send_continue_if_pending(self):
        if self.continue_pending:
            self.continue_pending = False
            self.wfile.write(b'HTTP/1.1 100 Continue\r\n\r\n')

    def is_chunked_request(self):
        encodings = ','.join(self.headers.get_all('Transfer-Encoding') or [])
        return bool(encodings.strip())

    def request_content_length(self):
        values = self.headers.get_all('Content-Length') or []
        if not values:
            return 0
        distinct = {value.strip() for value in values}
        if len(distinct) != 1 or not next(iter(distinct)).isdigit():
            raise BadRequest('unusable Content-Length header')
        return int(distinct.pop())

    def iter_request_body(self, length):
        """The Content-Length body, in pieces, sending the 100 Continue first if it is owed."""
        self.send_continue_if_pending()
        remaining = length
        while remaining:
            piece = self.rfile.read(min(IO_CHUNK, remaining))
            if not piece:
                raise ConnectionResetError('client closed the connection in the middle of the body')
            remaining -= len(piece)
            yield piece
        self.body_consumed = True

    def iter_chunked_request_body_raw(self):
        """A chunked body exactly as framed on the wire (size lines, data, trailers)."""
        self.send_continue_if_pending()
        while True:
            size_line = self.rfile.readline(65537)
            if not size_line.endswith(b'\n'):
                raise BadRequest('malformed chunk size line')
            yield size_line
            try:
                size = int(size_line.split(b';', 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest('malformed chunk size line')
            if size == 0:
                while True:
                    trailer = self.rfile.readline(65537)
                    if not trailer:
                        raise ConnectionResetError('client closed the connection in the trailers')
                    yield trailer
                    if trailer in (b'\r\n', b'\n'):
                        self.body_consumed = True
                        return
            remaining = size + 2  # the data and its CRLF
            while remaining:
                piece = self.rfile.read(min(IO_CHUNK, remaining))
                if not piece:
                    raise ConnectionResetError('client closed the connection in a chunk')
                remaining -= len(piece)
                yield piece

    def iter_request_body_as_received(self):
        if self.is_chunked_request():
            return self.iter_chunked_request_body_raw()
        return self.iter_request_body(self.request_content_length())

    # --- upstream -----------------------------------------------------------------------------

    def open_upstream(self, body_pieces):
        """Sends this request (method, raw target, all headers as received) upstream.

        Returns (connection, response); the caller closes the connection.
        """
        host, port = self.upstream_address
        connection = http.client.HTTPConnection(host, port, timeout=UPSTREAM_TIMEOUT_SECONDS)
        try:
            connection.putrequest(self.command, self.raw_target(),
                                  skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            for piece in body_pieces:
                connection.send(piece)
            return connection, connection.getresponse()
        except BaseException:
            connection.close()
            raise

    # --- response side ------------------------------------------------------------------------

    def response_head_bytes(self, response):
        """Status line and headers of an upstream response, ready for the client."""
        lines = ['HTTP/1.1 %d %s' % (response.status, response.reason)]
        for name, value in response.msg.items():
            if name.lower() not in HOP_BY_HOP_RESPONSE_HEADERS:
                lines.append('%s: %s' % (name, value))
        if not response.chunked and response.length is None and self.response_may_have_body(response):
            # Delimited by the upstream closing: only closing can delimit it for our client too.
            self.close_connection = True
        if self.close_connection:
            lines.append('Connection: close')
        return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')

    def response_may_have_body(self, response):
        return not (self.command == 'HEAD' or response.status in (204, 304) or 100 <= response.status < 200)

    def iter_response_body(self, response):
        """The decoded body of an upstream response, in pieces."""
        if not self.response_may_have_body(response):
            return
        while True:
            piece = response.read1(IO_CHUNK) if response.chunked else response.read(IO_CHUNK)
            if not piece:
                return
            yield piece

    def relay_response(self, response):
        self.wfile.write(self.response_head_bytes(response))
        for piece in self.iter_response_body(response):
            if response.chunked:
                self.wfile.write(b'%x\r\n%s\r\n' % (len(piece), piece))
            else:
                self.wfile.write(piece)
        if response.chunked and self.response_may_have_body(response):
            self.wfile.write(b'0\r\n\r\n')

    def send_local_response(self, status, body=b'', headers=()):
        """A response made here, not upstream. Closes the connection if the body went unread."""
        body_left_unread = self.has_unread_body()
        if body_left_unread:
            self.close_connection = True
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(body)))
        if self.close_connection:
            self.send_header('Connection', 'close')
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)
        if body_left_unread:
            self.linger_until_client_closes()

    def send_s3_error(self, status, code, message, details=None):
        body, request_id = s3_error_xml(code, message, details)
        self.send_local_response(status, body, [('Content-Type', 'application/xml'),
                                                ('x-amz-request-id', request_id)])

    def has_unread_body(self):
        if self.body_consumed:
            return False
        if self.is_chunked_request():
            return True
        try:
            return self.request_content_length() != 0
        except BadRequest:
            return True

    def linger_until_client_closes(self):
        """Half-closes, then swallows whatever body the client still sends, until it hangs up.

        Closing with unread bytes in the receive buffer makes the kernel send a reset, which can
        destroy the response in flight; a client that got our answer closes on its own.
        """
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_DRAIN_SECONDS
            while time.monotonic() < deadline:
                self.connection.settimeout(max(0.05, deadline - time.monotonic()))
                if not self.rfile.read1(IO_CHUNK):
                    break
        except OSError:
            pass
        self.close_connection = True

    def reset_connection(self):
        """Drops the connection with a TCP reset (SO_LINGER 0) and no FIN before it."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        # Detaching closes the descriptor now, although rfile/wfile still reference the socket.
        os.close(self.connection.detach())
        self.close_connection = True

    # --- dispatch -----------------------------------------------------------------------------

    def on_request(self):
        raise NotImplementedError

    def log_message(self, format, *args):
        pass  # silent on success; real failures surface through handle_error


for _method in ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'PATCH'):
    setattr(ProxyHandler, 'do_' + _method, lambda self: self.on_request())


class JsonLinesLog:
    """Appends one JSON object per line; whole lines only, even with parallel connections."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.file = open(path, 'a', encoding='utf-8')

    def write(self, record):
        line = json.dumps(record, ensure_ascii=False) + '\n'
        with self.lock:
            self.file.write(line)
            self.file.flush()


def write_atomically(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    fd, partial = tempfile.mkstemp(dir=directory, prefix='.partial-')
    with os.fdopen(fd, 'w', encoding='utf-8') as out:
        out.write(text)
    os.replace(partial, path)


def wait_for_port_file(path, timeout_seconds=60):
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            with open(path, encoding='utf-8') as f:
                text = f.read().strip()
            if text:
                return int(text)
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    raise SystemExit('%s: no port appeared in %s' % (os.path.basename(sys.argv[0]), path))


def exit_when_parent_dies(parent_pid):
    """A launcher killed outright (SIGKILL) runs no cleanup; do not outlive it."""
    def watch():
        while True:
            time.sleep(1)
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            except PermissionError:
                pass
    threading.Thread(target=watch, daemon=True, name='parent-watch').start()


def add_common_arguments(parser):
    parser.add_argument('--upstream-port-file', required=True,
                        help='file in which the upstream (on 127.0.0.1) publishes its port')
    parser.add_argument('--port-file', required=True,
                        help='file to publish the port this proxy listens on')
    parser.add_argument('--port', type=int, default=0, help='port to listen on (0: any free one)')
    parser.add_argument('--parent-pid', type=int, help='exit when this process is gone')


def serve(handler_class, args, on_exit=None):
    """Listens on 127.0.0.1, publishes the port, serves until SIGTERM/SIGINT."""
    def stop(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.parent_pid:
        exit_when_parent_dies(args.parent_pid)

    handler_class.upstream_address = ('127.0.0.1', wait_for_port_file(args.upstream_port_file))
    server = ProxyServer(('127.0.0.1', args.port), handler_class)
    write_atomically(args.port_file, '%d\n' % server.server_address[1])
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        if on_exit:
            on_exit()
        server.server_close()
