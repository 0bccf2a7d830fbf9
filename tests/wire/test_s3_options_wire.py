"""Object options on the wire: encryption, conditional requests, checksums, requester pays.

Every test checks the exact requests (URL, the option headers, the signature) and
that bad input raises before any request is sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import types
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import responses
from lxml import etree
from wirekit import BASE, check_signed, make_driver, s3_error, sent

from libstore.base import Container, Object
from libstore.drivers import _s3_options
from libstore.drivers.local import LocalStorageDriver
from libstore.drivers.s3 import (
    DSSEKMS,
    MIN_PART_SIZE,
    SSEKMS,
    SSES3,
    NoEncryption,
    S3StorageDriver,
    SSECustomerKey,
)
from libstore.types import (
    InvalidArgumentError,
    MultipartUploadError,
    NotModifiedError,
    NotSupportedError,
    ObjectHashMismatchError,
    PreconditionFailedError,
)

DATA = b"object options on the wire\n" * 40
MD5 = hashlib.md5(DATA).hexdigest()
KEY = bytes(range(32))
KEY_B64 = base64.b64encode(KEY).decode()
KEY_MD5 = base64.b64encode(hashlib.md5(KEY).digest()).decode()
TLS_BASE = "https://s3.test:9000"
SSE_C = {
    "x-amz-server-side-encryption-customer-algorithm": "AES256",
    "x-amz-server-side-encryption-customer-key": KEY_B64,
    "x-amz-server-side-encryption-customer-key-MD5": KEY_MD5,
}
UPLOAD_ID = "UPLOAD-1"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _bucket(driver: S3StorageDriver) -> Container:
    return Container("bkt", {}, driver)


def _put(mock: responses.RequestsMock, url: str, etag: str = MD5, **headers: str) -> None:
    mock.add(responses.PUT, url, headers={"ETag": f'"{etag}"', **headers})


@pytest.fixture
def tls_driver() -> Iterator[S3StorageDriver]:
    """SSE-C keys only go over HTTPS (or to loopback): the wire tests use https://s3.test."""
    d = make_driver(secure=True, payload_signing="always")
    d._http._sleep = lambda _: None
    yield d
    d.close()


# -- server-side encryption -------------------------------------------------------------------


def test_sse_s3_on_upload(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    _put(mock, f"{BASE}/bkt/k", **{"x-amz-server-side-encryption": "AES256"})
    obj = driver.upload_object_via_stream(
        iter([DATA]), _bucket(driver), "k", {"encryption": SSES3()}
    )
    request = mock.calls[0].request
    assert request.headers["x-amz-server-side-encryption"] == "AES256"
    assert "x-amz-server-side-encryption-aws-kms-key-id" not in request.headers
    check_signed(request)
    assert obj.extra["server_side_encryption"] == "AES256"


def test_sse_string_shorthands(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    for name in ("AES256", "aws:kms", "aws:kms:dsse"):
        _put(mock, f"{BASE}/bkt/k")
        driver.upload_object_via_stream(iter([DATA]), _bucket(driver), "k", {"encryption": name})
    assert [c.request.headers["x-amz-server-side-encryption"] for c in mock.calls] == [
        "AES256",
        "aws:kms",
        "aws:kms:dsse",
    ]


def test_sse_kms_with_key_context_and_bucket_key(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    _put(mock, f"{BASE}/bkt/k")
    encryption = SSEKMS(key_id="alias/backups", context={"team": "db", "app": "x"}, bucket_key=True)
    driver.upload_object_via_stream(iter([DATA]), _bucket(driver), "k", {"encryption": encryption})
    headers = mock.calls[0].request.headers
    assert headers["x-amz-server-side-encryption"] == "aws:kms"
    assert headers["x-amz-server-side-encryption-aws-kms-key-id"] == "alias/backups"
    assert headers["x-amz-server-side-encryption-bucket-key-enabled"] == "true"
    context = json.loads(base64.b64decode(headers["x-amz-server-side-encryption-context"]))
    assert context == {"team": "db", "app": "x"}
    check_signed(mock.calls[0].request)


def test_dsse_kms(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    _put(mock, f"{BASE}/bkt/k")
    driver.upload_object_via_stream(
        iter([DATA]), _bucket(driver), "k", {"encryption": DSSEKMS(key_id="arn:aws:kms:k")}
    )
    headers = mock.calls[0].request.headers
    assert headers["x-amz-server-side-encryption"] == "aws:kms:dsse"
    assert headers["x-amz-server-side-encryption-aws-kms-key-id"] == "arn:aws:kms:k"
    assert "x-amz-server-side-encryption-bucket-key-enabled" not in headers


def test_driver_default_encryption_and_per_call_override(mock: responses.RequestsMock) -> None:
    driver = make_driver(encryption=SSEKMS(key_id="alias/default"))
    for extra in (None, {"encryption": SSES3()}, {"encryption": NoEncryption()}):
        _put(mock, f"{BASE}/bkt/k")
        driver.upload_object_via_stream(iter([DATA]), _bucket(driver), "k", extra)
    first, second, third = (c.request.headers for c in mock.calls)
    assert first["x-amz-server-side-encryption"] == "aws:kms"
    assert first["x-amz-server-side-encryption-aws-kms-key-id"] == "alias/default"
    assert second["x-amz-server-side-encryption"] == "AES256"
    assert "x-amz-server-side-encryption-aws-kms-key-id" not in second
    assert not any(h.lower().startswith("x-amz-server-side") for h in third)


def test_sse_c_on_put_head_get_and_range_get(
    tls_driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    url = f"{TLS_BASE}/bkt/secret.bin"
    _put(mock, url, etag="0" * 32)
    reply = {"ETag": '"random-etag"', "Content-Length": str(len(DATA)), **SSE_C}
    del reply["x-amz-server-side-encryption-customer-key"]
    mock.add(responses.HEAD, url, headers=reply)
    mock.add(responses.GET, url, body=DATA, headers=reply)
    mock.add(
        responses.GET,
        url,
        body=DATA[10:20],
        status=206,
        headers={"Content-Range": f"bytes 10-19/{len(DATA)}", "Content-Length": "10"},
    )

    key = SSECustomerKey(KEY)
    uploaded = tls_driver.upload_object_via_stream(
        iter([DATA]), _bucket(tls_driver), "secret.bin", {"encryption": key}
    )
    assert uploaded.name == "secret.bin"
    obj = tls_driver.get_object("bkt", "secret.bin", encryption=KEY)  # raw bytes work too
    assert b"".join(obj.as_stream()) == DATA
    assert b"".join(obj.range_as_stream(10, 20)) == DATA[10:20]

    assert sent(mock) == [("PUT", url), ("HEAD", url), ("GET", url), ("GET", url)]
    for call in mock.calls:
        for name, value in SSE_C.items():
            assert call.request.headers[name] == value
        check_signed(call.request)
    assert mock.calls[3].request.headers["Range"] == "bytes=10-19"
    # The reply's ETag is not an MD5 under SSE-C: the download was not "verified" against it.
    assert obj.extra["sse_customer_algorithm"] == "AES256"


def test_sse_c_key_of_an_upload_is_remembered_for_its_download(
    tls_driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    url = f"{TLS_BASE}/bkt/k"
    _put(mock, url, etag="1" * 32)
    mock.add(responses.GET, url, body=DATA, headers={"Content-Length": str(len(DATA))})
    obj = tls_driver.upload_object_via_stream(
        iter([DATA]), _bucket(tls_driver), "k", {"encryption": SSECustomerKey(KEY)}
    )
    obj.extra["sse_customer_algorithm"] = "AES256"
    assert b"".join(obj.as_stream()) == DATA
    assert mock.calls[1].request.headers["x-amz-server-side-encryption-customer-key"] == KEY_B64


def test_driver_default_sse_c_key_is_sent_on_reads_and_delete(
    mock: responses.RequestsMock,
) -> None:
    driver = make_driver(secure=True, encryption=SSECustomerKey(KEY))
    url = f"{TLS_BASE}/bkt/k"
    mock.add(responses.HEAD, url, headers={"ETag": '"e"', "Content-Length": "0"})
    mock.add(responses.HEAD, url, headers={"ETag": '"e"', "Content-Length": "0"})
    mock.add(responses.DELETE, url, status=204)
    obj = driver.get_object("bkt", "k")
    driver.delete_object(obj)
    heads = [c.request for c in mock.calls if c.request.method == "HEAD"]
    assert all(r.headers["x-amz-server-side-encryption-customer-key"] == KEY_B64 for r in heads)
    delete = mock.calls[2].request
    assert "x-amz-server-side-encryption-customer-key" not in delete.headers


def test_no_encryption_read_overrides_the_default_sse_c_key(mock: responses.RequestsMock) -> None:
    driver = make_driver(secure=True, encryption=SSECustomerKey(KEY))
    mock.add(responses.HEAD, f"{TLS_BASE}/bkt/k", headers={"ETag": '"e"'})
    driver.get_object("bkt", "k", encryption=NoEncryption())
    assert not any("customer" in h for h in mock.calls[0].request.headers)


def test_sse_c_multipart_sends_the_key_on_every_request(
    tls_driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    url = f"{TLS_BASE}/bkt/big"
    parts = [b"a" * MIN_PART_SIZE, b"tail"]
    mock.add(responses.POST, f"{url}?uploads", body=_initiate())
    mock.add(responses.PUT, f"{url}?partNumber=1&uploadId={UPLOAD_ID}", headers={"ETag": '"p1"'})
    mock.add(responses.PUT, f"{url}?partNumber=2&uploadId={UPLOAD_ID}", headers={"ETag": '"p2"'})
    mock.add(responses.POST, f"{url}?uploadId={UPLOAD_ID}", body=_complete(_mp_etag()))
    tls_driver.upload_object_via_stream(
        iter(parts), _bucket(tls_driver), "big", {"encryption": SSECustomerKey(KEY)}
    )
    assert len(mock.calls) == 4
    for call in mock.calls:  # initiate, both parts, and the completion
        assert call.request.headers["x-amz-server-side-encryption-customer-key-MD5"] == KEY_MD5
        check_signed(call.request)


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_sse_c_key_must_be_32_bytes(size: int) -> None:
    with pytest.raises(InvalidArgumentError, match="32 bytes"):
        SSECustomerKey(b"k" * size)


def test_sse_c_bad_keys_fail_before_any_request(
    tls_driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    with pytest.raises(InvalidArgumentError, match="32 bytes"):
        tls_driver.get_object("bkt", "k", encryption=b"short")
    with pytest.raises(InvalidArgumentError, match="SSE-C"):
        tls_driver.get_object("bkt", "k", encryption=SSEKMS())  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="encryption"):
        tls_driver.upload_object_via_stream(iter([DATA]), _bucket(tls_driver), "k",
                                            {"encryption": "AES128"})  # fmt: skip
    with pytest.raises(InvalidArgumentError):
        make_driver(encryption=b"x" * 32)
    assert not mock.calls


def test_sse_c_key_never_goes_over_plain_http_to_a_remote_host(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    key = SSECustomerKey(KEY)
    with pytest.raises(InvalidArgumentError, match="HTTPS"):
        driver.upload_object_via_stream(iter([DATA]), _bucket(driver), "k", {"encryption": key})
    with pytest.raises(InvalidArgumentError, match="HTTPS"):
        driver.get_object("bkt", "k", encryption=key)
    with pytest.raises(InvalidArgumentError, match="HTTPS"):
        make_driver(encryption=key)
    assert not mock.calls
    # Loopback endpoints (local test servers) may use it over HTTP.
    make_driver(host="127.0.0.1", encryption=key).close()
    make_driver(host="localhost", encryption=key).close()


def test_sse_c_key_repr_hides_the_key() -> None:
    key = SSECustomerKey(KEY)
    assert KEY_B64 not in repr(key) and KEY.hex() not in repr(key)
    assert KEY_MD5 in repr(key)


def test_copy_headers_for_sse_c_sources_and_storage_class() -> None:
    headers = _s3_options.copy_object_headers(
        storage_class="GLACIER_IR",
        encryption=SSES3(),
        source_key=SSECustomerKey(KEY),
        replace_metadata={"Content-Type": "text/plain", "x-amz-meta-a": "1"},
        tags={"a b": "c/d"},
    )
    assert headers == {
        "x-amz-metadata-directive": "REPLACE",
        "Content-Type": "text/plain",
        "x-amz-meta-a": "1",
        "x-amz-storage-class": "GLACIER_IR",
        "x-amz-server-side-encryption": "AES256",
        "x-amz-copy-source-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-copy-source-server-side-encryption-customer-key": KEY_B64,
        "x-amz-copy-source-server-side-encryption-customer-key-MD5": KEY_MD5,
        "x-amz-tagging-directive": "REPLACE",
        "x-amz-tagging": "a%20b=c%2Fd",
    }
    assert _s3_options.copy_object_headers() == {}


# -- conditional writes -------------------------------------------------------------------------


def test_create_only_put(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    url = f"{BASE}/bkt/k"
    _put(mock, url)
    mock.add(responses.PUT, url, status=412, body=s3_error("PreconditionFailed"))
    extra = {"if_none_match": "*"}
    driver.upload_object_via_stream(iter([DATA]), _bucket(driver), "k", extra)
    with pytest.raises(PreconditionFailedError) as info:
        driver.upload_object_via_stream(iter([DATA]), _bucket(driver), "k", extra)
    assert info.value.http_status == 412
    assert not isinstance(info.value, NotModifiedError)
    assert [c.request.headers["If-None-Match"] for c in mock.calls] == ["*", "*"]
    check_signed(mock.calls[0].request)


def test_compare_and_swap_put_quotes_the_etag(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    for _ in range(3):
        _put(mock, f"{BASE}/bkt/k")
    for etag in (MD5, f'"{MD5}"', f'W/"{MD5}"'):
        driver.upload_object_via_stream(iter([DATA]), _bucket(driver), "k", {"if_match": etag})
    assert {c.request.headers["If-Match"] for c in mock.calls} == {f'"{MD5}"'}


def test_conditional_upload_from_a_file(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    mock.add(
        responses.PUT, f"{BASE}/bkt/k", status=409, body=s3_error("ConditionalRequestConflict")
    )
    with pytest.raises(PreconditionFailedError) as info:
        driver.upload_object(path, _bucket(driver), "k", {"if_none_match": "*"})
    assert info.value.code == "ConditionalRequestConflict"


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"if_none_match": "etag"}, "'\\*'"),
        ({"if_match": "*"}, "ETag"),
        ({"if_match": ""}, "if_match"),
        ({"if_match": 'a"b'}, "ETag"),
        ({"if_match": "x", "if_none_match": "*"}, "not both"),
        ({"if_match": 5}, "str"),
    ],
)
def test_bad_write_conditions_fail_before_any_request(
    driver: S3StorageDriver, mock: responses.RequestsMock, extra: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        driver.upload_object_via_stream(iter([DATA]), _bucket(driver), "k", extra)
    assert not mock.calls


def test_conditional_multipart_completion(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    url = f"{BASE}/bkt/big"
    parts = [b"a" * MIN_PART_SIZE, b"tail"]
    mock.add(responses.POST, f"{url}?uploads", body=_initiate())
    mock.add(responses.PUT, f"{url}?partNumber=1&uploadId={UPLOAD_ID}", headers={"ETag": '"p1"'})
    mock.add(responses.PUT, f"{url}?partNumber=2&uploadId={UPLOAD_ID}", headers={"ETag": '"p2"'})
    mock.add(
        responses.POST,
        f"{url}?uploadId={UPLOAD_ID}",
        status=412,
        body=s3_error("PreconditionFailed"),
    )
    mock.add(responses.DELETE, f"{url}?uploadId={UPLOAD_ID}", status=204)

    with pytest.raises(PreconditionFailedError) as info:
        driver.upload_object_via_stream(iter(parts), _bucket(driver), "big", {"if_match": "abc"})
    assert not isinstance(info.value, MultipartUploadError)
    assert isinstance(info.value.__cause__, MultipartUploadError)
    assert "aborted" in str(info.value)
    init, part1, part2, complete, abort = (c.request for c in mock.calls)
    assert complete.headers["If-Match"] == '"abc"'
    for request in (init, part1, part2, abort):  # the condition applies to the completion only
        assert "If-Match" not in request.headers
    assert abort.method == "DELETE"


def test_create_only_multipart_completion_header(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    url = f"{BASE}/bkt/big"
    mock.add(responses.POST, f"{url}?uploads", body=_initiate())
    mock.add(responses.PUT, f"{url}?partNumber=1&uploadId={UPLOAD_ID}", headers={"ETag": '"p1"'})
    mock.add(responses.PUT, f"{url}?partNumber=2&uploadId={UPLOAD_ID}", headers={"ETag": '"p2"'})
    mock.add(responses.POST, f"{url}?uploadId={UPLOAD_ID}", body=_complete(_mp_etag()))
    driver.upload_object_via_stream(
        iter([b"a" * MIN_PART_SIZE, b"tail"]), _bucket(driver), "big", {"if_none_match": "*"}
    )
    assert mock.calls[3].request.headers["If-None-Match"] == "*"
    assert "If-None-Match" not in mock.calls[0].request.headers


# -- conditional reads --------------------------------------------------------------------------


def test_conditional_head_headers(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    mock.add(responses.HEAD, f"{BASE}/bkt/k", headers={"ETag": f'"{MD5}"'})
    since = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    driver.get_object(
        "bkt",
        "k",
        if_match=MD5,
        if_none_match='"other"',
        if_modified_since=since,
        if_unmodified_since=datetime(2031, 1, 1, tzinfo=UTC),
    )
    headers = mock.calls[0].request.headers
    assert headers["If-Match"] == f'"{MD5}"'
    assert headers["If-None-Match"] == '"other"'
    assert headers["If-Modified-Since"] == "Wed, 02 Jan 2030 01:04:05 GMT"
    assert headers["If-Unmodified-Since"] == "Wed, 01 Jan 2031 00:00:00 GMT"
    check_signed(mock.calls[0].request)


def test_not_modified_and_precondition_failed_on_head(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(responses.HEAD, f"{BASE}/bkt/k", status=304)
    mock.add(responses.HEAD, f"{BASE}/bkt/k", status=412)
    with pytest.raises(NotModifiedError) as not_modified:
        driver.get_object("bkt", "k", if_none_match=MD5)
    assert not_modified.value.http_status == 304
    assert isinstance(not_modified.value, PreconditionFailedError)  # the broader family
    with pytest.raises(PreconditionFailedError) as failed:
        driver.get_object("bkt", "k", if_match="other")
    assert not isinstance(failed.value, NotModifiedError)
    assert len(mock.calls) == 2  # neither is retried


def test_conditions_of_a_handle_apply_to_its_download(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    url = f"{BASE}/bkt/k"
    mock.add(responses.HEAD, url, headers={"ETag": f'"{MD5}"', "Content-Length": str(len(DATA))})
    mock.add(responses.GET, url, status=304)
    obj = driver.get_object("bkt", "k", if_none_match="old")
    with pytest.raises(NotModifiedError):
        b"".join(obj.as_stream())
    assert mock.calls[1].request.headers["If-None-Match"] == '"old"'


@pytest.mark.parametrize(
    "kwargs",
    [
        {"if_modified_since": datetime(2030, 1, 1)},  # naive
        {"if_unmodified_since": "yesterday"},
        {"if_match": ""},
        {"if_none_match": 3},
        {"version_id": ""},
    ],
)
def test_bad_read_conditions_fail_before_any_request(
    driver: S3StorageDriver, mock: responses.RequestsMock, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(InvalidArgumentError):
        driver.get_object("bkt", "k", **kwargs)
    assert not mock.calls


# -- checksums ----------------------------------------------------------------------------------


def test_per_call_sha256_replaces_the_default_crc32(mock: responses.RequestsMock) -> None:
    driver = make_driver(checksum="crc32")
    _put(mock, f"{BASE}/bkt/k")
    obj = driver.upload_object_via_stream(
        iter([DATA]), _bucket(driver), "k", {"checksum_algorithm": "sha256"}
    )
    headers = mock.calls[0].request.headers
    assert headers["x-amz-checksum-sha256"] == b64(hashlib.sha256(DATA).digest())
    assert headers["x-amz-sdk-checksum-algorithm"] == "SHA256"
    assert "x-amz-checksum-crc32" not in headers  # one checksum per request
    assert obj.extra["checksum_sha256"] == b64(hashlib.sha256(DATA).digest())
    assert "checksum_crc32" not in obj.extra


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("CRC32", zlib.crc32(DATA).to_bytes(4, "big")),
        ("SHA1", hashlib.sha1(DATA).digest()),
        ("SHA256", hashlib.sha256(DATA).digest()),
    ],
)
def test_driver_level_checksum_on_a_file_upload(
    mock: responses.RequestsMock, tmp_path: Path, algorithm: str, digest: bytes
) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    driver = make_driver(checksum=algorithm.lower())
    _put(mock, f"{BASE}/bkt/k")
    driver.upload_object(path, _bucket(driver), "k")
    headers = mock.calls[0].request.headers
    assert headers[f"x-amz-checksum-{algorithm.lower()}"] == b64(digest)
    assert headers["Content-MD5"] == b64(hashlib.md5(DATA).digest())
    check_signed(mock.calls[0].request)


def test_multipart_sha1_composite_checksums(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    url = f"{BASE}/bkt/big"
    parts = [b"a" * MIN_PART_SIZE, b"tail"]
    mock.add(responses.POST, f"{url}?uploads", body=_initiate())
    mock.add(responses.PUT, f"{url}?partNumber=1&uploadId={UPLOAD_ID}", headers={"ETag": '"p1"'})
    mock.add(responses.PUT, f"{url}?partNumber=2&uploadId={UPLOAD_ID}", headers={"ETag": '"p2"'})
    mock.add(responses.POST, f"{url}?uploadId={UPLOAD_ID}", body=_complete(_mp_etag()))
    driver.upload_object_via_stream(
        iter(parts), _bucket(driver), "big", {"checksum_algorithm": "SHA1"}
    )
    init, part1, part2, complete = (c.request for c in mock.calls)
    assert init.headers["x-amz-checksum-algorithm"] == "SHA1"
    assert init.headers["x-amz-checksum-type"] == "COMPOSITE"
    sums = [b64(hashlib.sha1(p).digest()) for p in parts]
    assert [part1.headers["x-amz-checksum-sha1"], part2.headers["x-amz-checksum-sha1"]] == sums
    root = etree.fromstring(complete.body)
    assert [e.text for e in root.iter("ChecksumSHA1")] == sums
    assert "x-amz-checksum-sha1" not in complete.headers


def test_crc32c_and_crc64nvme_need_an_accelerator(
    driver: S3StorageDriver, mock: responses.RequestsMock, no_accelerators: None
) -> None:
    for algorithm in ("CRC32C", "crc64nvme"):
        with pytest.raises(NotSupportedError, match="accelerator"):
            driver.upload_object_via_stream(
                iter([DATA]), _bucket(driver), "k", {"checksum_algorithm": algorithm}
            )
    with pytest.raises(NotSupportedError):
        make_driver(checksum="crc32c")
    assert not mock.calls


def test_crc32c_with_an_accelerator(
    driver: S3StorageDriver, mock: responses.RequestsMock, fake_accelerators: None
) -> None:
    _put(mock, f"{BASE}/bkt/k", etag=hashlib.md5(b"123456789").hexdigest())
    driver.upload_object_via_stream(
        iter([b"123456789"]), _bucket(driver), "k", {"checksum_algorithm": "CRC32C"}
    )
    assert mock.calls[0].request.headers["x-amz-checksum-crc32c"] == b64(
        (0xE3069283).to_bytes(4, "big")
    )


def test_crc64nvme_multipart_is_full_object(
    driver: S3StorageDriver, mock: responses.RequestsMock, fake_accelerators: None
) -> None:
    url = f"{BASE}/bkt/big"
    mock.add(responses.POST, f"{url}?uploads", body=_initiate())
    mock.add(responses.PUT, f"{url}?partNumber=1&uploadId={UPLOAD_ID}", headers={"ETag": '"p1"'})
    mock.add(responses.PUT, f"{url}?partNumber=2&uploadId={UPLOAD_ID}", headers={"ETag": '"p2"'})
    mock.add(responses.POST, f"{url}?uploadId={UPLOAD_ID}", body=_complete(_mp_etag()))
    driver.upload_object_via_stream(
        iter([b"a" * MIN_PART_SIZE, b"tail"]), _bucket(driver), "big",
        {"checksum_algorithm": "CRC64NVME"},
    )  # fmt: skip
    assert mock.calls[0].request.headers["x-amz-checksum-type"] == "FULL_OBJECT"
    assert "x-amz-checksum-crc64nvme" in mock.calls[2].request.headers


def _get_with(mock: responses.RequestsMock, headers: dict[str, str], body: bytes = DATA) -> None:
    mock.add(
        responses.GET,
        f"{BASE}/bkt/k",
        body=body,
        headers={"Content-Length": str(len(body)), **headers},
    )


def _handle(driver: S3StorageDriver, etag: str = "opaque", size: int = len(DATA)) -> Object:
    return Object("k", size, etag, {}, {}, _bucket(driver), driver)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-amz-checksum-crc32", b64(zlib.crc32(DATA).to_bytes(4, "big"))),
        ("x-amz-checksum-sha1", b64(hashlib.sha1(DATA).digest())),
        ("x-amz-checksum-sha256", b64(hashlib.sha256(DATA).digest())),
    ],
)
def test_download_is_checked_against_the_stores_checksum(
    driver: S3StorageDriver, mock: responses.RequestsMock, header: str, value: str
) -> None:
    _get_with(mock, {header: value})
    _get_with(mock, {header: b64(b"\x00" * len(base64.b64decode(value)))})
    assert b"".join(driver.download_object_as_stream(_handle(driver))) == DATA
    assert mock.calls[0].request.headers["x-amz-checksum-mode"] == "ENABLED"
    with pytest.raises(ObjectHashMismatchError, match="does not match"):
        b"".join(driver.download_object_as_stream(_handle(driver)))


def test_download_to_a_file_checks_the_checksum(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path
) -> None:
    _get_with(mock, {"x-amz-checksum-sha256": b64(b"\x01" * 32)})
    with pytest.raises(ObjectHashMismatchError):
        driver.download_object(_handle(driver), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-checksum-sha256": b64(b"\x01" * 32) + "-3", "x-amz-checksum-type": "COMPOSITE"},
        {"x-amz-checksum-sha1": b64(b"\x01" * 20), "x-amz-checksum-type": "COMPOSITE"},
        {"x-amz-checksum-crc32c": b64(b"\x01" * 4)},  # no accelerator: not checked
    ],
)
def test_checksums_that_cannot_be_checked_are_skipped(
    driver: S3StorageDriver,
    mock: responses.RequestsMock,
    headers: dict[str, str],
    no_accelerators: None,
) -> None:
    _get_with(mock, headers)
    assert b"".join(driver.download_object_as_stream(_handle(driver))) == DATA


def test_multipart_object_with_unknown_checksum_type_is_not_checked(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    # moto reports a COMPOSITE checksum without "-N" nor a type: do not mistake it.
    _get_with(mock, {"ETag": '"abc-2"', "x-amz-checksum-sha256": b64(b"\x01" * 32)})
    assert b"".join(driver.download_object_as_stream(_handle(driver, "abc-2"))) == DATA


def test_ranges_are_not_checked_against_whole_object_checksums(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(
        responses.GET,
        f"{BASE}/bkt/k",
        body=DATA[:5],
        status=206,
        headers={"Content-Range": f"bytes 0-4/{len(DATA)}", "x-amz-checksum-sha256": "bad"},
    )
    assert b"".join(driver.download_object_range_as_stream(_handle(driver), 0, 5)) == DATA[:5]


def test_empty_object_checksum(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    _get_with(mock, {"x-amz-checksum-sha256": b64(hashlib.sha256(b"").digest())}, body=b"")
    _get_with(mock, {"x-amz-checksum-sha256": b64(b"\x02" * 32)}, body=b"")
    assert b"".join(driver.download_object_as_stream(_handle(driver, size=0))) == b""
    with pytest.raises(ObjectHashMismatchError):
        b"".join(driver.download_object_as_stream(_handle(driver, size=0)))


def test_bad_checksum_algorithms(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    for bad in ("MD5", "crc16", 32, ""):
        with pytest.raises(InvalidArgumentError, match="checksum"):
            driver.upload_object_via_stream(
                iter([DATA]), _bucket(driver), "k", {"checksum_algorithm": bad}
            )
    for bad in ("crc16", 32, "", None):
        with pytest.raises(InvalidArgumentError, match="checksum"):
            make_driver(checksum=bad)
    assert not mock.calls


# -- requester pays -----------------------------------------------------------------------------


def test_requester_pays_header_on_every_request(mock: responses.RequestsMock) -> None:
    driver = make_driver(request_payer=True)
    url = f"{BASE}/bkt/k"
    _put(mock, url)
    mock.add(responses.HEAD, url, headers={"ETag": f'"{MD5}"', "Content-Length": str(len(DATA))})
    mock.add(responses.GET, url, body=DATA, headers={"Content-Length": str(len(DATA))})
    mock.add(responses.GET, f"{BASE}/bkt?list-type=2", body=_empty_listing())
    driver.upload_object_via_stream(iter([DATA]), _bucket(driver), "k")
    obj = driver.get_object("bkt", "k")
    assert b"".join(obj.as_stream()) == DATA
    assert list(driver.iterate_container_objects(_bucket(driver))) == []
    for call in mock.calls:
        assert call.request.headers["x-amz-request-payer"] == "requester"
        check_signed(call.request)
    with pytest.raises(InvalidArgumentError):
        make_driver(request_payer="yes")


# -- other drivers --------------------------------------------------------------------------------


def test_local_driver_refuses_s3_only_options(tmp_path: Path) -> None:
    local = LocalStorageDriver(str(tmp_path))
    container = local.create_container("c")
    for extra in (
        {"encryption": SSES3()},
        {"tags": {"a": "b"}},
        {"checksum_algorithm": "SHA256"},
        {"if_none_match": "*"},
    ):
        with pytest.raises(InvalidArgumentError, match="S3 drivers only"):
            local.upload_object_via_stream(iter([b"x"]), container, "k", extra)
    # None means "not set": accepted everywhere.
    local.upload_object_via_stream(iter([b"x"]), container, "k", {"tags": None})
    assert local.get_object("c", "k").size == 1


# -- helpers --------------------------------------------------------------------------------------


def _mp_etag(parts: list[bytes] | None = None) -> str:
    """S3's multipart ETag of ``parts`` (by default ``a`` * 5 MiB then ``tail``)."""
    parts = parts or [b"a" * MIN_PART_SIZE, b"tail"]
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    return f"{hashlib.md5(joined).hexdigest()}-{len(parts)}"


def _initiate() -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult '
        'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>bkt</Bucket><Key>k</Key>'
        f"<UploadId>{UPLOAD_ID}</UploadId></InitiateMultipartUploadResult>"
    ).encode()


def _complete(etag: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult '
        'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>bkt</Bucket><Key>k</Key>'
        f"<ETag>&quot;{etag}&quot;</ETag></CompleteMultipartUploadResult>"
    ).encode()


def _empty_listing() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult '
        b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bkt</Name>'
        b"<IsTruncated>false</IsTruncated></ListBucketResult>"
    )


def _fake_crc(poly: int, width: int) -> Any:
    """A slow reflected CRC with a continuation value, standing in for an accelerator."""

    def crc(data: bytes, previous: int = 0) -> int:
        if len(data) > 4096:  # multipart plumbing tests: any fast stand-in value will do
            return zlib.crc32(data, previous & 0xFFFFFFFF)
        mask = (1 << width) - 1
        state = previous ^ mask
        for byte in data:
            state ^= byte
            for _ in range(8):
                state = (state >> 1) ^ poly if state & 1 else state >> 1
        return state ^ mask

    return crc


@pytest.fixture
def no_accelerators(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("crc32c", "awscrt", "awscrt.checksums", "google_crc32c"):
        monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
    _s3_options._ACCELERATORS.clear()
    yield
    _s3_options._ACCELERATORS.clear()


@pytest.fixture
def fake_accelerators(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An ``awscrt.checksums`` stand-in backed by a slow reference CRC (small data only)."""
    checksums = types.ModuleType("awscrt.checksums")
    checksums.crc32c = _fake_crc(0x82F63B78, 32)  # type: ignore[attr-defined]
    checksums.crc64nvme = _fake_crc(0x9A6C9329AC4BC9B5, 64)  # type: ignore[attr-defined]
    package = types.ModuleType("awscrt")
    package.checksums = checksums  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "crc32c", None)  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "awscrt", package)
    monkeypatch.setitem(sys.modules, "awscrt.checksums", checksums)
    _s3_options._ACCELERATORS.clear()
    assert checksums.crc32c(b"123456789") == 0xE3069283  # type: ignore[attr-defined]
    assert checksums.crc64nvme(b"123456789") == 0xAE8B14860A799888  # type: ignore[attr-defined]
    yield
    _s3_options._ACCELERATORS.clear()


# -- copies ---------------------------------------------------------------------------------------


def test_copy_of_a_pinned_sse_c_version_with_new_tags(
    tls_driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    source = f"{TLS_BASE}/bkt/src?versionId=v%2B1"
    mock.add(responses.HEAD, source, headers={"ETag": '"srcetag"', "Content-Length": "5"})
    copy_reply = b'<CopyObjectResult><ETag>"dst"</ETag></CopyObjectResult>'
    mock.add(responses.PUT, f"{TLS_BASE}/bkt/dst", body=copy_reply)
    mock.add(responses.HEAD, f"{TLS_BASE}/bkt/dst", headers={"ETag": '"dst"'})
    obj = tls_driver.get_object("bkt", "src", version_id="v+1", encryption=KEY)
    other = SSECustomerKey(bytes(32))
    tls_driver.copy_object(
        obj,
        _bucket(tls_driver),
        "dst",
        {"tags": {"a": "b"}, "encryption": other, "storage_class": "STANDARD_IA"},
    )
    copy = mock.calls[1].request.headers
    assert copy["x-amz-copy-source"] == "/bkt/src?versionId=v%2B1"
    assert copy["x-amz-copy-source-server-side-encryption-customer-key"] == KEY_B64
    assert copy["x-amz-server-side-encryption-customer-key"] == b64(bytes(32))
    assert copy["x-amz-tagging"] == "a=b"
    assert copy["x-amz-tagging-directive"] == "REPLACE"
    assert copy["x-amz-metadata-directive"] == "REPLACE"
    assert copy["x-amz-storage-class"] == "STANDARD_IA"
    check_signed(mock.calls[1].request)
    head = mock.calls[2].request.headers  # the copy is read back with its own key
    assert head["x-amz-server-side-encryption-customer-key"] == b64(bytes(32))


def test_copy_keeps_the_driver_default_encryption(mock: responses.RequestsMock) -> None:
    driver = make_driver(encryption=SSEKMS(key_id="alias/k"))
    copy_reply = b'<CopyObjectResult><ETag>"dst"</ETag></CopyObjectResult>'
    mock.add(responses.PUT, f"{BASE}/bkt/dst", body=copy_reply)
    mock.add(responses.HEAD, f"{BASE}/bkt/dst", headers={"ETag": '"dst"'})
    source = Object("src", 5, "srcetag", {}, {}, _bucket(driver), driver)
    driver.copy_object(source, _bucket(driver), "dst")
    copy = mock.calls[0].request.headers
    assert copy["x-amz-server-side-encryption-aws-kms-key-id"] == "alias/k"
    assert "x-amz-metadata-directive" not in copy and "x-amz-tagging-directive" not in copy
