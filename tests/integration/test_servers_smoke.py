"""Smoke tests of the integration-test infrastructure itself.

They prove that the real servers run, that SeaweedFS really verifies SigV4, and that
the fault proxy injects what it is told to. They use raw ``requests``/``http.client``
and the SDK-independent signer in ``tests/servers.py``, not libstore.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import os
import re
import socket
import time
import urllib.parse
from collections.abc import Iterator

import faultproxy
import pytest
import requests
from faultproxy import FaultProxy, LogEntry, Match
from servers import S3Endpoint, sigv4_headers

pytestmark = pytest.mark.integration

KEY = "dir/hello world+ü.txt"
KEY_PATH = urllib.parse.quote(KEY, safe="/~")  # dir/hello%20world%2B%C3%BC.txt


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never pick up proxies or .netrc
    return session


def signed(
    session: requests.Session,
    endpoint: S3Endpoint,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    secret_key: str | None = None,
    access_key: str | None = None,
    stream: bool = False,
    timeout: float = 30.0,
) -> requests.Response:
    url = endpoint.url + path
    headers = sigv4_headers(
        method,
        url,
        access_key=endpoint.access_key if access_key is None else access_key,
        secret_key=endpoint.secret_key if secret_key is None else secret_key,
        region=endpoint.region,
        body=body,
    )
    return session.request(
        method, url, data=body or None, headers=headers, stream=stream, timeout=timeout
    )


def error_code(resp: requests.Response) -> str | None:
    found = re.search(rb"<Code>([^<]+)</Code>", resp.content)
    return found.group(1).decode() if found else None


def roundtrip(endpoint: S3Endpoint, bucket: str, body: bytes) -> None:
    """Create a bucket, put/get/list/delete one object, delete the bucket."""
    s = _session()
    r = signed(s, endpoint, "PUT", f"/{bucket}")
    assert r.status_code == 200, r.text
    obj = f"/{bucket}/{KEY_PATH}"
    r = signed(s, endpoint, "PUT", obj, body)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'

    r = signed(s, endpoint, "GET", obj)
    assert r.status_code == 200, r.text
    assert r.content == body
    assert r.headers["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert int(r.headers["Content-Length"]) == len(body)

    r = signed(s, endpoint, "GET", f"/{bucket}?list-type=2&prefix=dir%2F")
    assert r.status_code == 200, r.text
    assert f"<Key>{KEY}</Key>".encode() in r.content

    r = signed(s, endpoint, "DELETE", obj)
    assert r.status_code == 204, r.text
    r = signed(s, endpoint, "GET", obj)
    assert r.status_code == 404
    assert error_code(r) == "NoSuchKey"
    r = signed(s, endpoint, "DELETE", f"/{bucket}")
    assert r.status_code == 204, r.text


# --------------------------------------------------------------------------- servers


def test_seaweedfs_signed_roundtrip(seaweedfs: S3Endpoint, bucket_name: str) -> None:
    roundtrip(seaweedfs, bucket_name, b"hello from libstore\n" * 1000)


def test_seaweedfs_verifies_signatures(seaweedfs: S3Endpoint, bucket_name: str) -> None:
    s = _session()
    r = signed(s, seaweedfs, "PUT", f"/{bucket_name}", secret_key="wrong-secret")
    assert r.status_code == 403
    assert error_code(r) == "SignatureDoesNotMatch"

    r = signed(s, seaweedfs, "GET", "/", access_key="NOSUCHACCESSKEY")
    assert r.status_code == 403
    assert error_code(r) == "InvalidAccessKeyId"

    r = s.get(seaweedfs.url + "/", timeout=10)  # anonymous
    assert r.status_code == 403
    assert error_code(r) == "AccessDenied"

    # Nothing was created by the rejected request.
    r = signed(s, seaweedfs, "GET", "/")
    assert r.status_code == 200
    assert bucket_name.encode() not in r.content


def test_seaweedfs_refuses_to_delete_non_empty_bucket(
    seaweedfs: S3Endpoint, bucket_name: str
) -> None:
    s = _session()
    assert signed(s, seaweedfs, "PUT", f"/{bucket_name}").status_code == 200
    assert signed(s, seaweedfs, "PUT", f"/{bucket_name}/k", b"x").status_code == 200
    r = signed(s, seaweedfs, "DELETE", f"/{bucket_name}")
    assert r.status_code == 409
    assert error_code(r) == "BucketNotEmpty"
    assert signed(s, seaweedfs, "DELETE", f"/{bucket_name}/k").status_code == 204
    assert signed(s, seaweedfs, "DELETE", f"/{bucket_name}").status_code == 204


def test_roundtrip_on_each_server(s3_server: S3Endpoint, bucket_name: str) -> None:
    roundtrip(s3_server, bucket_name, os.urandom(300_000))


def test_missing_bucket_is_no_such_bucket(s3_server: S3Endpoint, bucket_name: str) -> None:
    r = signed(_session(), s3_server, "PUT", f"/{bucket_name}/k", b"data")
    assert r.status_code == 404
    assert error_code(r) == "NoSuchBucket"


def test_moto_does_not_verify_signatures(moto_s3: S3Endpoint, bucket_name: str) -> None:
    # Documented quirk: moto accepts any credentials, so signature tests need SeaweedFS.
    r = signed(_session(), moto_s3, "PUT", f"/{bucket_name}", secret_key="wrong-secret")
    assert r.status_code == 200
    assert signed(_session(), moto_s3, "DELETE", f"/{bucket_name}").status_code == 204


def test_bucket_name_fixture(bucket_name: str) -> None:
    assert re.fullmatch(r"libstore-test-[0-9a-f]{16}", bucket_name)
    assert not any(k.upper().startswith("AWS_") for k in os.environ)
    assert "HTTP_PROXY" not in os.environ and "https_proxy" not in os.environ


# --------------------------------------------------------------------------- fault proxy


@pytest.fixture
def moto_proxy(moto_s3: S3Endpoint) -> Iterator[tuple[FaultProxy, S3Endpoint]]:
    with FaultProxy(moto_s3.host, moto_s3.port) as proxy:
        yield proxy, dataclasses.replace(moto_s3, name="moto-via-proxy", port=proxy.port)


@pytest.fixture
def moto_bucket(moto_s3: S3Endpoint, bucket_name: str) -> Iterator[str]:
    s = _session()
    assert signed(s, moto_s3, "PUT", f"/{bucket_name}").status_code == 200
    yield bucket_name
    listing = signed(s, moto_s3, "GET", f"/{bucket_name}?list-type=2").content
    for key in re.findall(rb"<Key>([^<]+)</Key>", listing):
        path = urllib.parse.quote(key.decode(), safe="/~")
        signed(s, moto_s3, "DELETE", f"/{bucket_name}/{path}")
    signed(s, moto_s3, "DELETE", f"/{bucket_name}")


def test_proxy_injects_503_once_then_passes_retry(
    moto_proxy: tuple[FaultProxy, S3Endpoint], moto_bucket: str
) -> None:
    proxy, via = moto_proxy
    obj = f"/{moto_bucket}/{KEY_PATH}"
    proxy.add(faultproxy.status(503, method="PUT", path=KEY_PATH, headers={"Retry-After": "1"}))
    s = _session()

    r = signed(s, via, "PUT", obj, b"payload")
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "1"
    assert error_code(r) == "ServiceUnavailable"
    assert proxy.pending == []  # count=1: used up

    r = signed(s, via, "PUT", obj, b"payload")  # the retry goes through (same signature scheme)
    assert r.status_code == 200
    r = signed(s, via, "GET", obj)
    assert r.status_code == 200 and r.content == b"payload"

    assert proxy.log == [
        ("PUT", obj, "status", 503),
        ("PUT", obj, None, 200),
        ("GET", obj, None, 200),
    ]
    assert isinstance(proxy.log[0], LogEntry) and proxy.log[0].fault == "status"


def test_proxy_slowdown_request_timeout_and_counts(
    moto_proxy: tuple[FaultProxy, S3Endpoint], moto_bucket: str
) -> None:
    proxy, via = moto_proxy
    obj = f"/{moto_bucket}/k"
    proxy.add(
        faultproxy.slowdown(method="PUT", count=2),
        faultproxy.request_timeout(method="PUT"),
        faultproxy.status(500, method="GET", error_code="InternalError"),
    )
    s = _session()
    codes = [error_code(signed(s, via, "PUT", obj, b"x")) for _ in range(3)]
    assert codes == ["SlowDown", "SlowDown", "RequestTimeout"]
    assert signed(s, via, "PUT", obj, b"x").status_code == 200
    r = signed(s, via, "GET", obj)
    assert (r.status_code, error_code(r)) == (500, "InternalError")
    assert signed(s, via, "GET", obj).content == b"x"
    assert [(e.fault, e.status) for e in proxy.log] == [
        ("slowdown", 503),
        ("slowdown", 503),
        ("request_timeout", 400),
        (None, 200),
        ("status", 500),
        (None, 200),
    ]


def test_proxy_matches_by_query_and_regex(
    moto_proxy: tuple[FaultProxy, S3Endpoint], moto_bucket: str
) -> None:
    proxy, via = moto_proxy
    proxy.add(
        faultproxy.status(502, match=Match(method="GET", query="prefix=b")),
        faultproxy.status(504, match=Match(regex=r"max-keys=7\b")),
    )
    s = _session()
    base = f"/{moto_bucket}?list-type=2"
    assert signed(s, via, "GET", base + "&prefix=a").status_code == 200
    assert signed(s, via, "GET", base + "&prefix=b").status_code == 502
    assert signed(s, via, "GET", base + "&prefix=b").status_code == 200  # used up
    assert signed(s, via, "GET", base + "&max-keys=70").status_code == 200
    assert signed(s, via, "GET", base + "&max-keys=7").status_code == 504
    assert [e.status for e in proxy.log] == [200, 502, 200, 200, 504]
    assert proxy.log[1].target == base + "&prefix=b"


def test_proxy_reset_before_response_never_reaches_upstream(
    moto_proxy: tuple[FaultProxy, S3Endpoint], moto_s3: S3Endpoint, moto_bucket: str
) -> None:
    proxy, via = moto_proxy
    obj = f"/{moto_bucket}/never"
    proxy.add(faultproxy.reset_before_response(method="PUT"))
    with pytest.raises(requests.ConnectionError):
        signed(_session(), via, "PUT", obj, b"lost")
    assert proxy.log == [("PUT", obj, "reset_before_response", None)]
    assert signed(_session(), moto_s3, "GET", obj).status_code == 404


def test_proxy_reset_mid_body(
    moto_proxy: tuple[FaultProxy, S3Endpoint], moto_s3: S3Endpoint, moto_bucket: str
) -> None:
    proxy, via = moto_proxy
    body = os.urandom(1 << 20)
    obj = f"/{moto_bucket}/big"
    assert signed(_session(), moto_s3, "PUT", obj, body).status_code == 200
    proxy.add(faultproxy.reset_mid_body(method="GET", after_bytes=100_000))

    received = bytearray()
    r = signed(_session(), via, "GET", obj, stream=True)
    assert r.status_code == 200
    assert int(r.headers["Content-Length"]) == len(body)
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as info:
        for chunk in r.iter_content(16384):
            received += chunk
    assert "reset" in repr(info.value).lower()
    assert len(received) <= 100_000
    assert bytes(received) == body[: len(received)]

    r = signed(_session(), via, "GET", obj)  # the retry passes
    assert r.content == body
    assert proxy.log == [("GET", obj, "reset_mid_body", 200), ("GET", obj, None, 200)]


def test_proxy_truncate_body_closes_cleanly(
    moto_proxy: tuple[FaultProxy, S3Endpoint], moto_s3: S3Endpoint, moto_bucket: str
) -> None:
    proxy, via = moto_proxy
    body = os.urandom(200_000)
    obj = f"/{moto_bucket}/trunc"
    assert signed(_session(), moto_s3, "PUT", obj, body).status_code == 200
    proxy.add(faultproxy.truncate_body(method="GET"))  # default: half the body

    # http.client tells a clean early EOF (IncompleteRead) from a reset.
    headers = sigv4_headers(
        "GET",
        via.url + obj,
        access_key=via.access_key,
        secret_key=via.secret_key,
        region=via.region,
    )
    conn = http.client.HTTPConnection(via.host, via.port, timeout=10)
    try:
        conn.putrequest("GET", obj, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        assert resp.status == 200
        assert int(resp.headers["Content-Length"]) == len(body)
        with pytest.raises(http.client.IncompleteRead) as info:
            resp.read()
        assert info.value.partial == body[:100_000]
    finally:
        conn.close()

    # requests reports it as a broken body too.
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        proxy.add(faultproxy.truncate_body(method="GET", after_bytes=10))
        signed(_session(), via, "GET", obj)
    assert signed(_session(), via, "GET", obj).content == body
    assert [e.fault for e in proxy.log] == ["truncate_body", "truncate_body", None]


def test_proxy_streams_signed_upload_to_seaweedfs_with_keepalive(
    seaweedfs: S3Endpoint, bucket_name: str
) -> None:
    body = os.urandom(8 << 20)
    with FaultProxy(seaweedfs.host, seaweedfs.port) as proxy:
        via = dataclasses.replace(seaweedfs, port=proxy.port)
        s = _session()
        # Signed for the proxy's Host: SeaweedFS accepts it because the proxy keeps the
        # request line and headers byte for byte.
        assert signed(s, via, "PUT", f"/{bucket_name}").status_code == 200
        assert signed(s, via, "PUT", f"/{bucket_name}/{KEY_PATH}", body).status_code == 200
        r = signed(s, via, "GET", f"/{bucket_name}/{KEY_PATH}")
        assert r.status_code == 200 and r.content == body
        r = signed(s, via, "GET", "/", secret_key="wrong")
        assert r.status_code == 403
        assert signed(s, via, "DELETE", f"/{bucket_name}/{KEY_PATH}").status_code == 204
        assert signed(s, via, "DELETE", f"/{bucket_name}").status_code == 204
        assert proxy.connections_accepted == 1  # keep-alive through the proxy
        assert [e.status for e in proxy.log] == [200, 200, 200, 403, 204, 204]


def test_proxy_stops_promptly_with_open_connections(moto_s3: S3Endpoint) -> None:
    proxy = FaultProxy(moto_s3.host, moto_s3.port).start()
    proxy.add(faultproxy.delay(60, method="GET"))
    idle = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    busy = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    try:
        busy.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert proxy.wait_for_log(0) == []
        time.sleep(0.2)  # let the proxy pick up the delayed request
        began = time.monotonic()
        proxy.stop(timeout=5)
        assert time.monotonic() - began < 3
        assert busy.recv(1024) == b""  # closed without an answer
    finally:
        idle.close()
        busy.close()


def test_fault_validation() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        faultproxy.Fault("explode")
    with pytest.raises(ValueError, match="count"):
        faultproxy.slowdown(count=0)
    with pytest.raises(ValueError, match="either match"):
        faultproxy.slowdown(match=Match(method="GET"), method="PUT")
    m = Match(method="put", path="/b/k", query="partNumber=2")
    assert m.matches("PUT", "/b/k?partNumber=2&uploadId=abc")
    assert not m.matches("PUT", "/b/k?partNumber=1&uploadId=abc")
    assert not m.matches("GET", "/b/k?partNumber=2")
    assert Match().matches("DELETE", "/anything")
