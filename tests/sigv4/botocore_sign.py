#!/usr/bin/python3
"""Signs requests with botocore's S3SigV4Auth, as the reference for the SigV4 cross-check test.

Run by tests/sigv4/test_botocore_crosscheck.cpp with Debian's python3 (package python3-botocore):

    /usr/bin/python3 -I botocore_sign.py REQUESTS_FILE

Input: one request per line, space-separated tokens, text fields hex-encoded ('-' for empty):
    id unix_time access_key secret token region service method raw_path payload
    query_count (key value)*query_count header_count (name value)*header_count
where payload is 'U' for UNSIGNED-PAYLOAD, otherwise the hex of the body bytes.

Output: one line per request, the same way:
    id encoded_path canonical_request authorization header_count (name value)*header_count
with the headers botocore would send.

The path is percent-encoded here the way botocore's S3 serializer encodes object keys
(urllib.parse.quote with '/' and '~' kept), independently of the signer under test, and
S3SigV4Auth signs that path as it is: it does not normalize S3 paths.
"""
import datetime
import sys
import types
from urllib.parse import quote, urlsplit


def unhex(token):
    return b'' if token == '-' else bytes.fromhex(token)


def hexed(data):
    if isinstance(data, str):
        data = data.encode('utf-8')
    return data.hex() if data else '-'


class FrozenClock(datetime.datetime):
    """datetime.datetime whose utcnow() is the request's own time (add_auth reads the clock)."""

    instant = None

    @classmethod
    def utcnow(cls):
        return cls.instant


def main(argv):
    if len(argv) != 2:
        print('usage: botocore_sign.py REQUESTS_FILE', file=sys.stderr)
        return 2
    try:
        import botocore
        import botocore.auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
    except ImportError as error:
        print(f'botocore is not available: {error}', file=sys.stderr)
        return 3

    class RecordingS3SigV4Auth(botocore.auth.S3SigV4Auth):
        canonical = None

        def canonical_request(self, request):
            self.canonical = super().canonical_request(request)
            return self.canonical

    botocore.auth.datetime = types.SimpleNamespace(datetime=FrozenClock)

    with open(argv[1], encoding='ascii') as requests:
        for line in requests:
            tokens = line.split()
            if not tokens:
                continue
            position = 0

            def take():
                nonlocal position
                position += 1
                return tokens[position - 1]

            request_id = take()
            when = int(take())
            access_key = unhex(take()).decode('utf-8')
            secret = unhex(take()).decode('utf-8')
            token = unhex(take()).decode('utf-8') or None
            region = unhex(take()).decode('utf-8')
            service = unhex(take()).decode('utf-8')
            method = unhex(take()).decode('utf-8')
            raw_path = unhex(take())
            payload = take()
            query = [(unhex(take()).decode('utf-8'), unhex(take()).decode('utf-8'))
                     for _ in range(int(take()))]
            headers = [(unhex(take()).decode('utf-8'), unhex(take()).decode('utf-8'))
                       for _ in range(int(take()))]
            if position != len(tokens):
                raise ValueError(f'request {request_id}: {len(tokens) - position} tokens left over')

            encoded_path = quote(raw_path, safe='/~')
            request = AWSRequest(method=method, url='https://cross-check.invalid' + encoded_path,
                                 data=b'' if payload == 'U' else unhex(payload), params=query)
            for name, value in headers:
                request.headers[name] = value  # adds: repeated names stay repeated, in order
            request.context['client_config'] = types.SimpleNamespace(
                s3={'payload_signing_enabled': payload != 'U'})

            FrozenClock.instant = datetime.datetime.fromtimestamp(when, datetime.timezone.utc).replace(tzinfo=None)
            auth = RecordingS3SigV4Auth(Credentials(access_key, secret, token), service, region)
            auth.add_auth(request)

            sent = list(request.headers.items())
            fields = [request_id, hexed(urlsplit(request.url).path), hexed(auth.canonical),
                      hexed(request.headers['Authorization']), str(len(sent))]
            for name, value in sent:
                fields += [hexed(name), hexed(value)]
            print(' '.join(fields))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
