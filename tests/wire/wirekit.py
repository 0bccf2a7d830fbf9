"""Helpers of the wire tests: the driver factory, wire checks and canned S3 replies."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import requests
import responses

from libstore.auth import (
    calculate_signature,
    canonical_request,
    derive_signing_key,
    string_to_sign,
)
from libstore.drivers.s3 import S3StorageDriver
from libstore.http.retry import RetryPolicy
from libstore.transfer.config import TransferConfig

ACCESS_KEY = "AKIDEXAMPLE"
SECRET = "secret"
BASE = "http://s3.test:9000"
S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<akid>[^/]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/s3/"
    r"aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})"
)


def make_driver(**overrides: Any) -> S3StorageDriver:
    """The driver every wire test uses, against ``http://s3.test:9000``."""
    kwargs: dict[str, Any] = {
        "secure": False,
        "host": "s3.test",
        "port": 9000,
        "retry_policy": RetryPolicy(max_attempts=3, backoff_base=0),
        # One part at a time and Content-MD5: the exact request order the strict mocks
        # expect (and no CRC32 metadata copy after multipart uploads). test_wire_transfer.py
        # covers concurrency and CRC32 checksums, test_wire_multipart.py the metadata copy.
        "transfer": TransferConfig(concurrency=1, crc32_metadata=False),
        "checksum": "md5",
    }
    kwargs.update(overrides)
    return S3StorageDriver(ACCESS_KEY, kwargs.pop("secret", SECRET), **kwargs)


def sent(mock: responses.RequestsMock) -> list[tuple[str, str]]:
    """``(method, exact wire URL)`` of every request the driver sent, in order."""
    return [(call.request.method, call.request.url) for call in mock.calls]


def check_signed(
    request: requests.PreparedRequest,
    *,
    secret: str = SECRET,
    region: str = "us-east-1",
) -> str:
    """Recompute the SigV4 signature of a request as it went on the wire; return the creq.

    The canonical request is rebuilt from the wire URL, the wire headers listed in
    ``SignedHeaders`` and the declared payload hash (checked against the body when the
    body is bytes), so the signature matches only if the URL signed is the URL sent.
    """
    match = _AUTHORIZATION.fullmatch(request.headers["Authorization"])
    assert match, request.headers["Authorization"]
    assert match["akid"] == ACCESS_KEY
    assert match["region"] == region
    url = request.url
    assert url is not None
    parts = urlsplit(url)
    wire_headers: list[tuple[str, str]] = []
    for name in match["signed"].split(";"):
        if name == "host":
            wire_headers.append(("host", parts.netloc))
        else:
            value = request.headers[name]
            assert isinstance(value, str)
            wire_headers.append((name, value))
    assert "host" in match["signed"].split(";")
    assert "x-amz-date" in match["signed"].split(";")
    payload_hash = request.headers["X-Amz-Content-SHA256"]
    body = request.body
    if body is None:
        body = b""
    if isinstance(body, bytes):
        assert payload_hash == hashlib.sha256(body).hexdigest()
    creq = canonical_request(
        request.method or "", parts.path, parts.query, wire_headers, payload_hash, s3=True
    )
    # S3 signs the path exactly as sent: no normalisation, no second encoding.
    assert creq.split("\n")[1] == parts.path
    when = datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert when.strftime("%Y%m%d") == match["date"]
    sts = string_to_sign(creq, when, region, "s3")
    key = derive_signing_key(secret, match["date"], region, "s3")
    assert calculate_signature(key, sts) == match["sig"], creq
    return creq


def s3_error(code: str, message: str = "msg", request_id: str = "REQID") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>HOSTID</HostId></Error>"
    ).encode()


def listing_xml(
    keys: Sequence[str],
    *,
    truncated: bool = False,
    next_token: str | None = None,
    sizes: Callable[[int], int] = lambda i: i,
) -> bytes:
    contents = "".join(
        f"<Contents><Key>{escape(key)}</Key><LastModified>2024-05-01T10:00:00.000Z"
        f'</LastModified><ETag>"{hashlib.md5(key.encode()).hexdigest()}"</ETag>'
        f"<Size>{sizes(i)}</Size><StorageClass>STANDARD</StorageClass></Contents>"
        for i, key in enumerate(keys)
    )
    token = (
        f"<NextContinuationToken>{escape(next_token)}</NextContinuationToken>"
        if (next_token)
        else ""
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="{S3_NS}">'
        f"<Name>bkt</Name><KeyCount>{len(keys)}</KeyCount><MaxKeys>1000</MaxKeys>"
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{token}{contents}"
        "</ListBucketResult>"
    ).encode()


class FailingRaw(io.RawIOBase):
    """A reply body that delivers ``data[:fail_after]`` then fails like a reset connection.

    With ``fail_after=None`` it delivers everything. ``read_total`` counts bytes handed out.
    """

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self._data = data
        self._fail_after = len(data) if fail_after is None else fail_after
        self._pos = 0
        self.read_total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self._fail_after:
            if self._fail_after < len(self._data):
                raise ConnectionResetError(104, "Connection reset by peer")
            return 0
        n = min(len(buffer), self._fail_after - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        self.read_total += n
        return n


def body_stream(data: bytes, fail_after: int | None = None) -> tuple[io.BufferedReader, FailingRaw]:
    raw = FailingRaw(data, fail_after)
    return io.BufferedReader(raw, buffer_size=4096), raw
