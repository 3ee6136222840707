#!/usr/bin/python3
"""Signature-verifying gate in front of s3rver (which accepts any V4 signature).

Every request must carry a header-based AWS Signature V4 that is right for the bytes received:
the signature is recomputed with botocore's S3SigV4Auth from the path and query exactly as they
arrived, the x-amz-date and the headers named in SignedHeaders; the body must hash to
x-amz-content-sha256 (unless UNSIGNED-PAYLOAD); and path and query must already be in S3's
canonical encoding, because S3 signs them as sent and a client that signs one spelling while a
server normalises to another fails only against real S3. Refused requests get an S3 error XML
and never reach s3rver; good ones are forwarded unchanged and the answer relayed back.

Each request becomes one JSON line in the request log:
  {"method", "path", "query", "status", "forwarded", "error"}   (error: S3 code when refused)

Run with Debian's /usr/bin/python3, which has python3-botocore.
"""

import argparse
import hashlib
import hmac
import re
import sys
import tempfile
import urllib.parse

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

import proxycore

ACCESS_KEY_ID = 'S3RVER'
SECRET_ACCESS_KEY = 'S3RVER'

UNRESERVED_BYTES = frozenset(b'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~')
AMZ_DATE_PATTERN = re.compile(r'^\d{8}T\d{6}Z$')
SHA256_HEX_PATTERN = re.compile(r'^[0-9a-f]{64}$')
UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD'
# Bodies beyond this go to a temporary file while they are hashed, before being forwarded.
SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024


class Refusal(Exception):
    def __init__(self, status, code, message, details=None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def signature_mismatch(message, details=None):
    return Refusal(403, 'SignatureDoesNotMatch', message, details)


def s3_canonical_encoding(raw, keep_slash):
    """S3's URI encoding: bytes outside A-Za-z0-9-_.~ as upper-case %XX, '/' kept in paths."""
    out = []
    for byte in raw:
        if byte in UNRESERVED_BYTES or (keep_slash and byte == 0x2F):
            out.append(chr(byte))
        else:
            out.append('%%%02X' % byte)
    return ''.join(out)


def canonical_form_of(received, keep_slash):
    """How `received` would look if it had been encoded the S3 way, exactly once."""
    decoded = urllib.parse.unquote_to_bytes(received.encode('latin-1'))
    return s3_canonical_encoding(decoded, keep_slash)


def check_path_encoding(path):
    expected = canonical_form_of(path, keep_slash=True)
    if expected != path:
        raise signature_mismatch(
            'The request path is not in the canonical S3 encoding that is signed (every byte '
            'outside A-Za-z0-9-_.~ as upper-case %%XX, "/" unencoded, encoded once): received '
            '%r, canonical %r.' % (path, expected))


def check_query_encoding(query):
    if not query:
        return
    for parameter in query.split('&'):
        if not parameter:
            raise signature_mismatch('The query string %r has an empty parameter.' % query)
        name, _, value = parameter.partition('=')
        for part in (name, value):
            expected = canonical_form_of(part, keep_slash=False)
            if expected != part:
                raise signature_mismatch(
                    'The query parameter %r is not in the canonical S3 encoding that is signed '
                    '(every byte outside A-Za-z0-9-_.~, "/" included, as upper-case %%XX): '
                    'received %r, canonical %r.' % (parameter, part, expected))


def header_text_for_signing(raw_value):
    """Header values arrive as latin-1 text of the raw bytes; S3 signs the bytes (UTF-8)."""
    raw = raw_value.encode('latin-1')
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        return raw_value


class ReceivedRequestSigner(S3SigV4Auth):
    """S3SigV4Auth over exactly the headers the client says it signed.

    botocore's own selection drops some names (expect, user-agent) and adds host if missing;
    S3 takes the client's SignedHeaders list as it is.
    """

    def __init__(self, region, signed_header_names):
        super().__init__(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), 's3', region)
        self.signed_header_names = signed_header_names

    def headers_to_sign(self, request):
        selected = HTTPHeaders()
        for name, value in request.headers.items():
            if name.lower() in self.signed_header_names:
                selected[name.lower()] = value
        return selected


def parse_authorization(value):
    algorithm, _, rest = value.strip().partition(' ')
    if algorithm != 'AWS4-HMAC-SHA256':
        raise Refusal(400, 'InvalidArgument',
                      'Only header-based AWS4-HMAC-SHA256 signatures are accepted, not %r.' % algorithm)
    components = {}
    for component in rest.split(','):
        name, sep, component_value = component.strip().partition('=')
        if not sep or name in components:
            raise Refusal(400, 'AuthorizationHeaderMalformed',
                          'The authorization header is malformed near %r.' % component.strip())
        components[name] = component_value
    if set(components) != {'Credential', 'SignedHeaders', 'Signature'}:
        raise Refusal(400, 'AuthorizationHeaderMalformed',
                      'The authorization header needs exactly Credential, SignedHeaders and '
                      'Signature; it has %s.' % ', '.join(sorted(components)))
    return components


class GateHandler(proxycore.ProxyHandler):
    request_log = None
    spool_directory = None

    def on_request(self):
        target = self.raw_target()
        path, _, query = target.partition('?')
        if path == proxycore.HEALTH_PATH:
            self.send_local_response(200, b'ok\n', [('Content-Type', 'text/plain')])
            return
        # Logged before the answer goes out, so a client that got its answer finds the line.
        record = {'method': self.command, 'path': path, 'query': query,
                  'status': None, 'forwarded': False, 'error': None}
        try:
            self.verify_and_forward(target, path, query, record)
        except Refusal as refusal:
            record['status'], record['error'] = refusal.status, refusal.code
            self.log_once(record)
            self.send_s3_error(refusal.status, refusal.code, refusal.message, refusal.details)
        except proxycore.BadRequest as problem:
            record['status'], record['error'] = 400, 'BadRequest'
            self.log_once(record)
            self.send_s3_error(400, 'BadRequest', str(problem))
        except (ConnectionError, TimeoutError) as problem:
            if not record['forwarded']:
                record['error'] = 'ConnectionLost: %s' % type(problem).__name__
            self.close_connection = True
        finally:
            self.log_once(record)

    def log_once(self, record):
        if not record.get('logged'):
            record['logged'] = True
            self.request_log.write({name: value for name, value in record.items() if name != 'logged'})

    def verify_and_forward(self, target, path, query, record):
        if not target.startswith('/'):
            raise Refusal(400, 'InvalidURI', 'The request target must be an absolute path.')
        declared_hash = self.verify_signature(path, query)
        if self.is_chunked_request():
            raise Refusal(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.')
        content_length = self.request_content_length()

        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES,
                                           dir=self.spool_directory) as spool:
            body_hash = hashlib.sha256()
            for piece in self.iter_request_body(content_length):
                body_hash.update(piece)
                spool.write(piece)
            if declared_hash != UNSIGNED_PAYLOAD and declared_hash != body_hash.hexdigest():
                raise signature_mismatch(
                    'The x-amz-content-sha256 header does not match the SHA-256 of the %d body '
                    'bytes received.' % content_length,
                    {'ClientComputedContentSHA256': declared_hash,
                     'S3ComputedContentSHA256': body_hash.hexdigest()})
            spool.seek(0)
            self.forward(iter(lambda: spool.read(proxycore.IO_CHUNK), b''), record)

    def forward(self, body_pieces, record):
        try:
            connection, response = self.open_upstream(body_pieces)
        except (OSError, proxycore.http.client.HTTPException) as problem:
            raise Refusal(502, 'InternalError', 'The gate could not reach s3rver: %s.'
                          % type(problem).__name__)
        record['forwarded'] = True
        record['status'] = response.status
        self.log_once(record)
        try:
            self.relay_response(response)
        except proxycore.http.client.HTTPException:
            # s3rver broke off its answer after the head was relayed: only closing tells the client.
            self.close_connection = True
        finally:
            connection.close()

    def verify_signature(self, path, query):
        """Checks everything a V4 header signature covers; returns x-amz-content-sha256."""
        if 'X-Amz-Algorithm=' in query or 'X-Amz-Signature=' in query:
            raise Refusal(403, 'AccessDenied',
                          'Presigned (query-string) requests are not accepted by this gate.')
        authorizations = self.headers.get_all('Authorization') or []
        if len(authorizations) != 1:
            raise Refusal(403, 'AccessDenied',
                          'Access Denied: the request needs exactly one Authorization header.')
        components = parse_authorization(authorizations[0])

        scope = components['Credential'].split('/')
        if len(scope) != 5:
            raise Refusal(400, 'AuthorizationHeaderMalformed',
                          'The credential must be KEY/DATE/REGION/SERVICE/aws4_request.')
        key_id, scope_date, region, service, terminator = scope
        if key_id != ACCESS_KEY_ID:
            raise Refusal(403, 'InvalidAccessKeyId',
                          'The AWS Access Key Id you provided does not exist in our records.',
                          {'AWSAccessKeyId': key_id})
        if service != 's3' or terminator != 'aws4_request':
            raise Refusal(400, 'AuthorizationHeaderMalformed',
                          'The credential scope must end in s3/aws4_request, not %s/%s.'
                          % (service, terminator))

        amz_dates = self.headers.get_all('x-amz-date') or []
        if len(amz_dates) != 1 or not AMZ_DATE_PATTERN.match(amz_dates[0]):
            raise Refusal(403, 'AccessDenied',
                          'The request needs one x-amz-date header in the form YYYYMMDDTHHMMSSZ.')
        amz_date = amz_dates[0]
        if scope_date != amz_date[:8]:
            raise signature_mismatch('The credential scope date %s is not the date of x-amz-date %s.'
                                     % (scope_date, amz_date))

        signed_list = components['SignedHeaders']
        signed_names = signed_list.split(';')
        if signed_names != sorted(set(signed_names)) or signed_list != signed_list.lower():
            raise signature_mismatch('SignedHeaders must be lower-case, sorted and without '
                                     'repeats; received %r.' % signed_list)
        present_names = {name.lower() for name in self.headers.keys()}
        if 'x-amz-content-sha256' not in present_names:
            raise Refusal(400, 'InvalidRequest',
                          'Missing required header for this request: x-amz-content-sha256.')
        for required in ('host', 'x-amz-content-sha256', 'x-amz-date'):
            if required not in signed_names:
                raise signature_mismatch('The %s header must be signed; SignedHeaders is %r.'
                                         % (required, signed_list))
        absent = [name for name in signed_names if name not in present_names]
        if absent:
            raise signature_mismatch('Signed headers are missing from the request: %s.'
                                     % ', '.join(absent))
        unsigned_amz = sorted(name for name in present_names
                              if name.startswith('x-amz-') and name not in signed_names)
        if unsigned_amz:
            raise Refusal(403, 'AccessDenied',
                          'There were headers present in the request which were not signed.',
                          {'HeadersNotSigned': ', '.join(unsigned_amz)})

        content_hashes = self.headers.get_all('x-amz-content-sha256')
        declared_hash = content_hashes[0].strip() if len(content_hashes) == 1 else ''
        if declared_hash.startswith('STREAMING-'):
            raise Refusal(501, 'NotImplemented',
                          'Streaming (aws-chunked) payloads are not supported by the test server.')
        if declared_hash != UNSIGNED_PAYLOAD and not SHA256_HEX_PATTERN.match(declared_hash):
            raise signature_mismatch('x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a lower-case '
                                     'hex SHA-256, not %r.' % declared_hash)

        check_path_encoding(path)
        check_query_encoding(query)

        request = AWSRequest(method=self.command,
                             url='http://%s%s' % (self.headers.get('host', 'unknown'),
                                                  path + ('?' + query if query else '')))
        request.headers = HTTPHeaders()
        for name, value in self.headers.items():
            if name.lower() in signed_names:
                request.headers[name] = header_text_for_signing(value)
        request.context['timestamp'] = amz_date
        signer = ReceivedRequestSigner(region, set(signed_names))
        canonical_request = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical_request)
        expected_signature = signer.signature(string_to_sign, request)
        provided_signature = components['Signature']
        if not hmac.compare_digest(expected_signature.encode(), provided_signature.encode('latin-1')):
            raise signature_mismatch(
                'The request signature we calculated does not match the signature you provided. '
                'Compare your canonical request with the one below.',
                {'AWSAccessKeyId': key_id, 'SignatureProvided': provided_signature,
                 'StringToSign': string_to_sign, 'CanonicalRequest': canonical_request})
        return declared_hash


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    proxycore.add_common_arguments(parser)
    parser.add_argument('--request-log', required=True, help='JSON-lines file, appended to')
    parser.add_argument('--spool-dir', help='where large request bodies wait while hashed')
    args = parser.parse_args()
    GateHandler.request_log = proxycore.JsonLinesLog(args.request_log)
    GateHandler.spool_directory = args.spool_dir
    proxycore.serve(GateHandler, args)


if __name__ == '__main__':
    sys.exit(main())
