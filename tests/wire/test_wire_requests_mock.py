"""The same wire behaviour under requests-mock, whose replies are real urllib3 responses."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator

import pytest
import requests
import requests_mock
import urllib3
from wirekit import BASE, FailingRaw, check_signed

import libstore.drivers.s3 as s3_module
from libstore.base import Container, Object
from libstore.drivers.s3 import S3StorageDriver
from libstore.types import LibstoreError, TransportError

URL = f"{BASE}/bkt/r%C3%A9sum%C3%A9%20v2.bin"
DATA = bytes(range(256)) * 8
MD5 = hashlib.md5(DATA).hexdigest()


@pytest.fixture
def rmock() -> Iterator[requests_mock.Mocker]:
    with requests_mock.Mocker(real_http=False) as m:
        yield m


def _raw(
    data: bytes, fail_after: int | None, status: int, headers: dict[str, str]
) -> urllib3.HTTPResponse:
    return urllib3.HTTPResponse(
        body=io.BufferedReader(FailingRaw(data, fail_after), buffer_size=4096),
        headers=headers,
        status=status,
        preload_content=False,
        decode_content=False,
    )


def _obj(driver: S3StorageDriver) -> Object:
    return Object(
        "r\u00e9sum\u00e9 v2.bin", len(DATA), MD5, {}, {}, Container("bkt", {}, driver), driver
    )


def test_reset_mid_body_is_resumed(
    driver: S3StorageDriver, rmock: requests_mock.Mocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_module, "READ_CHUNK_SIZE", 64)
    cut = 640
    rmock.get(
        URL,
        [
            {"raw": _raw(DATA, cut, 200, {"ETag": f'"{MD5}"', "Content-Length": str(len(DATA))})},
            {"raw": _raw(DATA[cut:], None, 206, {"Content-Length": str(len(DATA) - cut)})},
        ],
    )
    assert b"".join(driver.download_object_as_stream(_obj(driver), chunk_size=100)) == DATA
    history = rmock.request_history
    assert [r.url for r in history] == [URL, URL]
    assert "Range" not in history[0].headers
    assert history[1].headers["Range"] == f"bytes={cut}-"
    assert history[1].headers["If-Match"] == f'"{MD5}"'
    for request in history:
        check_signed(request._request)  # the PreparedRequest as sent


def test_connection_errors_surface_as_transport_error(
    driver: S3StorageDriver, rmock: requests_mock.Mocker, sleeps: list[float]
) -> None:
    rmock.head(URL, exc=requests.exceptions.ConnectionError("connection reset"))
    with pytest.raises(TransportError) as info:
        driver.get_object("bkt", "r\u00e9sum\u00e9 v2.bin")
    assert isinstance(info.value, LibstoreError)
    assert not isinstance(info.value, requests.RequestException)
    assert rmock.call_count == 3
    assert len(sleeps) == 2
