"""Uploads and bucket creation on the wire: headers from ``extra``, Content-MD5, validation."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from lxml import etree
from wirekit import BASE, S3_NS, check_signed, make_driver, s3_error, sent

from libstore.base import Container
from libstore.drivers.s3 import S3StorageDriver
from libstore.types import (
    AccessDeniedError,
    ContainerAlreadyExistsError,
    InvalidArgumentError,
    InvalidContainerNameError,
    InvalidObjectNameError,
    LibstoreError,
    ObjectHashMismatchError,
)

DATA = b"hello, wire world\n" * 100
MD5_HEX = hashlib.md5(DATA).hexdigest()
MD5_B64 = base64.b64encode(hashlib.md5(DATA).digest()).decode()
ACLS = [
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
]


def _container(driver: S3StorageDriver) -> Container:
    return Container("bkt", {}, driver)


def _put_ok(mock: responses.RequestsMock, url: str, etag: str = MD5_HEX) -> None:
    mock.add(responses.PUT, url, headers={"ETag": f'"{etag}"'})


def test_upload_via_stream_sends_all_extra_headers(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    url = f"{BASE}/bkt/dir/report%201.pdf"
    _put_ok(mock, url)
    extra = {
        "content_type": "application/x-custom; charset=utf-8",
        "acl": "public-read",
        "meta_data": {"Owner": "alice", "build-id": "42"},
        "storage_class": "standard_ia",
        "cache_control": "max-age=3600, public",
        "content_disposition": 'attachment; filename="r.pdf"',
        "content_encoding": "identity",
        "content_language": "en-GB",
        "expires": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
    }

    obj = driver.upload_object_via_stream(
        iter([DATA]), _container(driver), "dir/report 1.pdf", extra
    )

    assert sent(mock) == [("PUT", url)]
    request = mock.calls[0].request
    headers = request.headers
    assert headers["Content-Type"] == "application/x-custom; charset=utf-8"
    assert headers["x-amz-acl"] == "public-read"
    assert headers["x-amz-meta-owner"] == "alice"
    assert headers["x-amz-meta-build-id"] == "42"
    assert headers["x-amz-storage-class"] == "STANDARD_IA"
    assert headers["Cache-Control"] == "max-age=3600, public"
    assert headers["Content-Disposition"] == 'attachment; filename="r.pdf"'
    assert headers["Content-Encoding"] == "identity"
    assert headers["Content-Language"] == "en-GB"
    assert headers["Expires"] == "Wed, 02 Jan 2030 03:04:05 GMT"
    assert headers["Content-MD5"] == MD5_B64
    assert headers["Content-Length"] == str(len(DATA))
    assert request.body == DATA
    signed = check_signed(request)
    for name in ("content-md5", "content-type", "x-amz-acl", "x-amz-meta-owner", "expires"):
        assert f"\n{name}:" in signed
    assert obj.name == "dir/report 1.pdf"
    assert obj.size == len(DATA)
    assert obj.hash == MD5_HEX
    assert obj.meta_data == {"owner": "alice", "build-id": "42"}
    assert obj.extra["content_type"] == "application/x-custom; charset=utf-8"


@pytest.mark.parametrize("acl", ACLS)
def test_canned_acl_header(driver: S3StorageDriver, mock: responses.RequestsMock, acl: str) -> None:
    _put_ok(mock, f"{BASE}/bkt/k")
    driver.upload_object_via_stream([DATA], _container(driver), "k", {"acl": acl})
    assert mock.calls[0].request.headers["x-amz-acl"] == acl
    check_signed(mock.calls[0].request)


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("photo.jpg", "image/jpeg"),
        ("notes.txt", "text/plain"),
        ("blob", "application/octet-stream"),
    ],
)
def test_content_type_is_guessed_without_extra(
    driver: S3StorageDriver, mock: responses.RequestsMock, name: str, content_type: str
) -> None:
    _put_ok(mock, f"{BASE}/bkt/{name}")
    driver.upload_object_via_stream([DATA], _container(driver), name)
    headers = mock.calls[0].request.headers
    assert headers["Content-Type"] == content_type
    for absent in ("x-amz-acl", "x-amz-storage-class", "Cache-Control", "Expires"):
        assert absent not in headers


def test_upload_object_from_file(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path
) -> None:
    path = tmp_path / "src.bin"
    path.write_bytes(DATA)
    url = f"{BASE}/bkt/a%2Bb%20c"
    _put_ok(mock, url)
    obj = driver.upload_object(path, _container(driver), "a+b c", {"meta_data": {"k": "v"}})
    assert sent(mock) == [("PUT", url)]
    request = mock.calls[0].request
    assert request.headers["Content-MD5"] == MD5_B64
    assert request.headers["Content-Length"] == str(len(DATA))
    assert request.headers["X-Amz-Content-SHA256"] == hashlib.sha256(DATA).hexdigest()
    assert request.headers["x-amz-meta-k"] == "v"
    check_signed(request)
    assert (obj.size, obj.hash) == (len(DATA), MD5_HEX)


def test_file_upload_is_replayed_whole_on_retry(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path
) -> None:
    path = tmp_path / "src.bin"
    path.write_bytes(DATA)
    received: list[bytes] = []

    def reply(status: int) -> Any:
        def callback(request: Any) -> tuple[int, dict[str, str], bytes]:
            body = request.body
            received.append(body if isinstance(body, bytes) else body.read())
            if status == 200:
                return 200, {"ETag": f'"{MD5_HEX}"'}, b""
            return status, {}, s3_error("SlowDown")

        return callback

    mock.add_callback(responses.PUT, f"{BASE}/bkt/k", callback=reply(503))
    mock.add_callback(responses.PUT, f"{BASE}/bkt/k", callback=reply(200))
    obj = driver.upload_object(path, _container(driver), "k")
    # Each attempt got a fresh file object positioned at 0, signed with the same hash.
    assert received == [DATA, DATA]
    for call in mock.calls:
        check_signed(call.request)
    assert obj.hash == MD5_HEX


def test_empty_stream_uploads_an_empty_object(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    empty_md5 = hashlib.md5(b"").hexdigest()
    _put_ok(mock, f"{BASE}/bkt/empty", etag=empty_md5)
    obj = driver.upload_object_via_stream(iter([]), _container(driver), "empty")
    request = mock.calls[0].request
    assert request.headers["Content-Length"] == "0"
    assert request.headers["Content-MD5"] == base64.b64encode(hashlib.md5(b"").digest()).decode()
    assert request.body in (b"", None)
    assert (obj.size, obj.hash) == (0, empty_md5)


def test_stream_from_a_reused_bytearray(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    def producer() -> Any:
        buffer = bytearray()
        for i in range(0, len(DATA), 100):
            buffer += DATA[i : i + 100]
            yield buffer
            buffer.clear()

    _put_ok(mock, f"{BASE}/bkt/k")
    obj = driver.upload_object_via_stream(producer(), _container(driver), "k")
    assert mock.calls[0].request.body == DATA
    assert obj.hash == MD5_HEX


INVALID_EXTRAS: list[Any] = [
    {"acl": "public"},
    {"acl": "PRIVATE"},
    {"storage_class": "COLD"},
    {"content_type": "nonsense"},
    {"content_type": "text/plain\r\nX-Injected: 1"},
    {"cache_control": ""},
    {"cache_control": " max-age=1"},
    {"content_language": "fran\u00e7ais"},
    {"expires": "tomorrow"},
    {"expires": datetime(2030, 1, 1)},
    {"meta_data": {"bad name": "v"}},
    {"meta_data": {"k": "line\nbreak"}},
    {"meta_data": {"k": "x" * 2048}},
    {"meta_data": ["k", "v"]},
    {"unknown_option": 1},
    ["acl", "private"],
]


@pytest.mark.parametrize("extra", INVALID_EXTRAS, ids=[repr(e)[:40] for e in INVALID_EXTRAS])
def test_invalid_extra_sends_nothing(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path, extra: Any
) -> None:
    path = tmp_path / "src.bin"
    path.write_bytes(DATA)
    with pytest.raises(InvalidArgumentError):
        driver.upload_object(path, _container(driver), "k", extra)
    with pytest.raises(InvalidArgumentError):
        driver.upload_object_via_stream(iter([DATA]), _container(driver), "k", extra)
    assert len(mock.calls) == 0


@pytest.mark.parametrize("header", ["Authorization", "host", "Content-Length", "content-md5"])
def test_driver_owned_headers_are_refused(
    driver: S3StorageDriver, mock: responses.RequestsMock, header: str
) -> None:
    with pytest.raises(InvalidArgumentError):
        driver.upload_object_via_stream([DATA], _container(driver), "k", headers={header: "x"})
    assert len(mock.calls) == 0


def test_extra_headers_are_passed_and_signed(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    _put_ok(mock, f"{BASE}/bkt/k")
    driver.upload_object_via_stream(
        [DATA], _container(driver), "k", headers={"x-amz-tagging": "a=b"}
    )
    request = mock.calls[0].request
    assert request.headers["x-amz-tagging"] == "a=b"
    assert "\nx-amz-tagging:a=b\n" in check_signed(request)


@pytest.mark.parametrize(
    ("extra", "headers", "wire_name", "wire_value"),
    [
        (None, {"content-type": "application/json"}, "Content-Type", "application/json"),
        ({"acl": "private"}, {"X-Amz-Acl": "public-read"}, "x-amz-acl", "public-read"),
        (
            {"cache_control": "no-cache"},
            {"cache-control": "max-age=1"},
            "Cache-Control",
            "max-age=1",
        ),
    ],
)
def test_user_header_differing_in_case_replaces_the_drivers(
    driver: S3StorageDriver,
    mock: responses.RequestsMock,
    extra: dict[str, str] | None,
    headers: dict[str, str],
    wire_name: str,
    wire_value: str,
) -> None:
    _put_ok(mock, f"{BASE}/bkt/k.txt")
    driver.upload_object_via_stream([DATA], _container(driver), "k.txt", extra, headers=headers)
    request = mock.calls[0].request
    assert request.headers[wire_name] == wire_value
    check_signed(request)


@pytest.mark.parametrize("name", ["", "k" * 1025, "\ud800lone"])
def test_invalid_object_names_send_nothing(
    driver: S3StorageDriver, mock: responses.RequestsMock, name: str
) -> None:
    with pytest.raises(InvalidObjectNameError):
        driver.upload_object_via_stream([DATA], _container(driver), name)
    assert len(mock.calls) == 0


def test_upload_of_a_missing_file_sends_nothing(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path
) -> None:
    with pytest.raises(LibstoreError) as info:
        driver.upload_object(tmp_path / "missing.bin", _container(driver), "k")
    assert "missing.bin" in str(info.value)
    assert len(mock.calls) == 0


def test_upload_of_a_directory_is_a_libstore_error(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path
) -> None:
    with pytest.raises(LibstoreError):
        driver.upload_object(tmp_path, _container(driver), "k")
    assert len(mock.calls) == 0


def test_upload_with_wrong_etag_is_deleted_and_raises(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path
) -> None:
    path = tmp_path / "src.bin"
    path.write_bytes(DATA)
    url = f"{BASE}/bkt/k"
    _put_ok(mock, url, etag="f" * 32)
    mock.add(responses.DELETE, url, status=204)
    with pytest.raises(ObjectHashMismatchError) as info:
        driver.upload_object(path, _container(driver), "k", verify_hash=True)
    assert sent(mock) == [("PUT", url), ("DELETE", url)]
    assert info.value.object_name == "k"
    assert info.value.container_name == "bkt"


def test_upload_with_wrong_etag_and_no_verification_is_kept(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path
) -> None:
    path = tmp_path / "src.bin"
    path.write_bytes(DATA)
    _put_ok(mock, f"{BASE}/bkt/k", etag="f" * 32)
    obj = driver.upload_object(path, _container(driver), "k", verify_hash=False)
    assert obj.hash == "f" * 32
    assert len(mock.calls) == 1


def test_sse_kms_etag_is_not_verified(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(
        responses.PUT,
        f"{BASE}/bkt/k",
        headers={"ETag": '"' + "e" * 32 + '"', "x-amz-server-side-encryption": "aws:kms"},
    )
    obj = driver.upload_object_via_stream([DATA], _container(driver), "k")
    assert obj.extra["server_side_encryption"] == "aws:kms"
    assert len(mock.calls) == 1


def test_upper_case_etag_of_correct_data_is_accepted(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    _put_ok(mock, f"{BASE}/bkt/k", etag=MD5_HEX.upper())
    obj = driver.upload_object_via_stream([DATA], _container(driver), "k")
    assert obj.hash is not None and obj.hash.lower() == MD5_HEX
    assert [c.request.method for c in mock.calls] == ["PUT"]


# -- buckets -------------------------------------------------------------------------------


def test_create_container_us_east_1_sends_empty_body(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(responses.HEAD, f"{BASE}/new-bucket", status=404)
    mock.add(responses.PUT, f"{BASE}/new-bucket")
    container = driver.create_container("new-bucket")
    assert container.name == "new-bucket"
    assert sent(mock) == [("HEAD", f"{BASE}/new-bucket"), ("PUT", f"{BASE}/new-bucket")]
    put = mock.calls[1].request
    assert put.body in (b"", None)
    check_signed(put)


def test_create_container_elsewhere_sends_location_constraint(mock: responses.RequestsMock) -> None:
    driver = make_driver(region="eu-west-1")
    mock.add(responses.HEAD, f"{BASE}/new-bucket", status=404)
    mock.add(responses.PUT, f"{BASE}/new-bucket")
    container = driver.create_container("new-bucket")
    assert container.extra == {"region": "eu-west-1"}
    put = mock.calls[1].request
    assert isinstance(put.body, bytes)
    root = etree.fromstring(put.body)
    assert root.tag == f"{{{S3_NS}}}CreateBucketConfiguration"
    assert [(c.tag, c.text) for c in root] == [(f"{{{S3_NS}}}LocationConstraint", "eu-west-1")]
    check_signed(put, region="eu-west-1")


def test_create_existing_container_sends_no_put(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(responses.HEAD, f"{BASE}/taken", status=200)
    with pytest.raises(ContainerAlreadyExistsError) as info:
        driver.create_container("taken")
    assert info.value.container_name == "taken"
    assert sent(mock) == [("HEAD", f"{BASE}/taken")]


def test_create_container_owned_by_someone_else(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(responses.HEAD, f"{BASE}/theirs", status=403, headers={"x-amz-request-id": "R1"})
    with pytest.raises(ContainerAlreadyExistsError) as info:
        driver.create_container("theirs")
    assert isinstance(info.value.__cause__, AccessDeniedError)
    assert (info.value.http_status, info.value.request_id) == (403, "R1")
    assert len(mock.calls) == 1


@pytest.mark.parametrize("code", ["BucketAlreadyOwnedByYou", "BucketAlreadyExists"])
def test_create_container_conflict_codes(
    driver: S3StorageDriver, mock: responses.RequestsMock, code: str
) -> None:
    mock.add(responses.HEAD, f"{BASE}/race", status=404)
    mock.add(responses.PUT, f"{BASE}/race", status=409, body=s3_error(code, request_id="RID9"))
    with pytest.raises(ContainerAlreadyExistsError) as info:
        driver.create_container("race")
    assert (info.value.code, info.value.http_status, info.value.request_id) == (code, 409, "RID9")
    assert info.value.container_name == "race"


@pytest.mark.parametrize(
    "name",
    [
        "UpperCase",
        "a",
        "ab",
        "a" * 64,
        "a..b",
        "a.-b",
        "a-.b",
        "-abc",
        "abc-",
        "192.168.1.1",
        "xn--abc",
        "sthree-abc",
        "bad-s3alias",
        "abc--ol-s3",
        "under_score",
        "sp ace",
        "",
    ],
)
def test_invalid_bucket_names_send_nothing(
    driver: S3StorageDriver, mock: responses.RequestsMock, name: str
) -> None:
    with pytest.raises(InvalidContainerNameError) as info:
        driver.create_container(name)
    assert isinstance(info.value, ValueError)
    assert info.value.container_name == name
    assert len(mock.calls) == 0


@pytest.mark.parametrize("name", ["abc", "a" * 63, "my.bucket-1", "1.2.3"])
def test_valid_bucket_names_are_created(
    driver: S3StorageDriver, mock: responses.RequestsMock, name: str
) -> None:
    mock.add(responses.HEAD, f"{BASE}/{name}", status=404)
    mock.add(responses.PUT, f"{BASE}/{name}")
    assert driver.create_container(name).name == name
    assert len(mock.calls) == 2


@pytest.mark.parametrize("name", ["a/b", "a?b", "a#b", "a%b", "a b", "", "x" * 256])
def test_unusable_bucket_references_send_nothing(
    driver: S3StorageDriver, mock: responses.RequestsMock, name: str
) -> None:
    with pytest.raises(InvalidContainerNameError):
        driver.get_container(name)
    with pytest.raises(InvalidContainerNameError):
        driver.get_object(name, "k")
    assert len(mock.calls) == 0


def test_a_small_stream_is_one_put_object_with_put_object_headers_only(
    mock: responses.RequestsMock,
) -> None:
    import zlib

    driver = make_driver(checksum="crc32")  # the default mode, with its multipart headers
    data = b"small" * 100
    mock.add(
        responses.PUT, f"{BASE}/bkt/small", headers={"ETag": f'"{hashlib.md5(data).hexdigest()}"'}
    )
    driver.upload_object_via_stream(iter([data]), Container("bkt", {}, driver), "small")
    (call,) = mock.calls
    check_signed(call.request)
    names = {name.lower() for name in call.request.headers}
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert call.request.headers["x-amz-checksum-crc32"] == crc
    assert call.request.headers["x-amz-sdk-checksum-algorithm"] == "CRC32"
    # CreateMultipartUpload's headers have no place on a PutObject.
    assert not names & {"x-amz-checksum-algorithm", "x-amz-checksum-type"}
