"""Multipart uploads on the wire: the exact request sequence, and abort on every failure."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import responses
from lxml import etree
from wirekit import BASE, check_signed, s3_error, sent

from libstore.base import Container
from libstore.drivers.s3 import MIN_PART_SIZE, S3StorageDriver
from libstore.types import (
    AccessDeniedError,
    MultipartUploadError,
    ObjectHashMismatchError,
    ServerError,
)

PART = MIN_PART_SIZE
UPLOAD_ID = "VXBsb2FkIElE/+=x"
UPLOAD_Q = "uploadId=VXBsb2FkIElE%2F%2B%3Dx"
KEY_URL = f"{BASE}/bkt/big%20file.bin"
INIT_URL = f"{KEY_URL}?uploads"
DONE_URL = f"{KEY_URL}?{UPLOAD_Q}"


def part_url(number: int) -> str:
    return f"{KEY_URL}?partNumber={number}&{UPLOAD_Q}"


def initiate_reply() -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult '
        'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>bkt</Bucket>'
        f"<Key>big file.bin</Key><UploadId>{UPLOAD_ID}</UploadId></InitiateMultipartUploadResult>"
    ).encode()


def complete_reply(etag: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n\n<CompleteMultipartUploadResult '
        'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>bkt</Bucket>'
        f"<Key>big file.bin</Key><ETag>&quot;{etag}&quot;</ETag></CompleteMultipartUploadResult>"
    ).encode()


def s3_multipart_etag(parts: list[bytes]) -> str:
    """S3's documented formula, computed independently of libstore."""
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    return f"{hashlib.md5(joined).hexdigest()}-{len(parts)}"


def part_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


@pytest.fixture(scope="module")
def parts() -> list[bytes]:
    return [bytes([65 + i]) * PART for i in range(2)] + [b"tail" * 25]


def chunked(parts: list[bytes], size: int = 1024 * 1024) -> Iterator[bytes]:
    data = b"".join(parts)
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _container(driver: S3StorageDriver) -> Container:
    return Container("bkt", {}, driver)


def test_stream_multipart_exact_sequence(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    etag = s3_multipart_etag(parts)
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    for number, data in enumerate(parts, 1):
        mock.add(responses.PUT, part_url(number), headers={"ETag": part_etag(data)})
    mock.add(responses.POST, DONE_URL, body=complete_reply(etag))

    obj = driver.upload_object_via_stream(
        chunked(parts), _container(driver), "big file.bin", {"meta_data": {"a": "1"}}
    )

    assert sent(mock) == [
        ("POST", INIT_URL),
        ("PUT", part_url(1)),
        ("PUT", part_url(2)),
        ("PUT", part_url(3)),
        ("POST", DONE_URL),
    ]
    for call in mock.calls:
        check_signed(call.request)
    init = mock.calls[0].request
    assert init.headers["x-amz-meta-a"] == "1"
    assert init.headers["Content-Type"] == "application/octet-stream"
    for number, data in enumerate(parts, 1):
        request = mock.calls[number].request
        assert request.body == data
        assert request.headers["Content-Length"] == str(len(data))
        assert (
            request.headers["Content-MD5"] == base64.b64encode(hashlib.md5(data).digest()).decode()
        )
    complete = etree.fromstring(mock.calls[4].request.body)
    assert complete.tag == "CompleteMultipartUpload"
    assert [(p.findtext("PartNumber"), p.findtext("ETag")) for p in complete.findall("Part")] == [
        (str(n), part_etag(d)) for n, d in enumerate(parts, 1)
    ]
    assert mock.calls[4].request.headers["Content-Type"] == "application/xml"
    assert obj.hash == etag
    assert obj.size == sum(len(p) for p in parts)
    assert obj.meta_data == {"a": "1"}


def test_file_multipart_uses_same_sequence(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes], tmp_path: Path
) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"".join(parts))
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    for number, data in enumerate(parts, 1):
        mock.add(responses.PUT, part_url(number), headers={"ETag": part_etag(data)})
    mock.add(responses.POST, DONE_URL, body=complete_reply(s3_multipart_etag(parts)))
    obj = driver.upload_object(path, _container(driver), "big file.bin")
    assert [call.request.body for call in mock.calls[1:4]] == parts
    assert obj.size == path.stat().st_size


def test_stream_of_exactly_one_part_is_a_single_put(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    data = b"z" * PART
    mock.add(responses.PUT, KEY_URL, headers={"ETag": part_etag(data)})
    obj = driver.upload_object_via_stream(chunked([data]), _container(driver), "big file.bin")
    assert sent(mock) == [("PUT", KEY_URL)]
    assert obj.size == PART


def test_complete_error_document_in_200_is_retried(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes], sleeps: list[float]
) -> None:
    etag = s3_multipart_etag(parts)
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    for number, data in enumerate(parts, 1):
        mock.add(responses.PUT, part_url(number), headers={"ETag": part_etag(data)})
    mock.add(responses.POST, DONE_URL, body=s3_error("InternalError"))
    mock.add(responses.POST, DONE_URL, body=complete_reply(etag))

    obj = driver.upload_object_via_stream(chunked(parts), _container(driver), "big file.bin")

    assert obj.hash == etag
    assert [m for m, _ in sent(mock)].count("POST") == 3
    assert sent(mock)[-2:] == [("POST", DONE_URL), ("POST", DONE_URL)]
    assert len(sleeps) == 1


def test_complete_access_denied_document_aborts(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    for number, data in enumerate(parts, 1):
        mock.add(responses.PUT, part_url(number), headers={"ETag": part_etag(data)})
    mock.add(responses.POST, DONE_URL, body=s3_error("AccessDenied", request_id="RIDC"))
    mock.add(responses.DELETE, DONE_URL, status=204)

    with pytest.raises(MultipartUploadError) as info:
        driver.upload_object_via_stream(chunked(parts), _container(driver), "big file.bin")

    exc = info.value
    assert exc.code == "AccessDenied"
    assert exc.request_id == "RIDC"
    assert exc.upload_id == UPLOAD_ID
    assert exc.part_number is None
    assert exc.object_name == "big file.bin"
    assert isinstance(exc.__cause__, AccessDeniedError)
    assert sent(mock)[-2:] == [("POST", DONE_URL), ("DELETE", DONE_URL)]
    check_signed(mock.calls[-1].request)


def test_complete_internal_error_past_retries_aborts(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    for number, data in enumerate(parts, 1):
        mock.add(responses.PUT, part_url(number), headers={"ETag": part_etag(data)})
    for _ in range(3):
        mock.add(responses.POST, DONE_URL, body=s3_error("InternalError"))
    mock.add(responses.DELETE, DONE_URL, status=204)
    with pytest.raises(MultipartUploadError) as info:
        driver.upload_object_via_stream(chunked(parts), _container(driver), "big file.bin")
    assert isinstance(info.value.__cause__, ServerError)
    assert info.value.code == "InternalError"
    assert sent(mock)[-1] == ("DELETE", DONE_URL)


def test_part_failing_past_retries_aborts_without_completing(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    mock.add(responses.PUT, part_url(1), headers={"ETag": part_etag(parts[0])})
    for _ in range(3):
        mock.add(
            responses.PUT, part_url(2), status=500, body=s3_error("InternalError", request_id="P2")
        )
    mock.add(responses.DELETE, DONE_URL, status=204)

    with pytest.raises(MultipartUploadError) as info:
        driver.upload_object_via_stream(chunked(parts), _container(driver), "big file.bin")

    exc = info.value
    assert exc.part_number == 2
    assert (exc.http_status, exc.code, exc.request_id) == (500, "InternalError", "P2")
    assert exc.upload_id == UPLOAD_ID
    assert "part=2" in str(exc)
    assert isinstance(exc.__cause__, ServerError)
    assert sent(mock) == [
        ("POST", INIT_URL),
        ("PUT", part_url(1)),
        ("PUT", part_url(2)),
        ("PUT", part_url(2)),
        ("PUT", part_url(2)),
        ("DELETE", DONE_URL),
    ]
    assert [call.request.body for call in mock.calls[2:5]] == [parts[1]] * 3


def test_part_transport_failure_aborts(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    for _ in range(3):
        mock.add(responses.PUT, part_url(1), body=requests.exceptions.ConnectionError("reset"))
    mock.add(responses.DELETE, DONE_URL, status=204)
    with pytest.raises(MultipartUploadError) as info:
        driver.upload_object_via_stream(chunked(parts), _container(driver), "big file.bin")
    assert info.value.part_number == 1
    assert sent(mock)[-1] == ("DELETE", DONE_URL)


def test_source_raising_midway_aborts_and_propagates(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    class SourceBroke(Exception):
        pass

    def source() -> Iterator[bytes]:
        yield from chunked(parts[:2])
        raise SourceBroke("disk went away")

    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    mock.add(responses.PUT, part_url(1), headers={"ETag": part_etag(parts[0])})
    mock.add(responses.PUT, part_url(2), headers={"ETag": part_etag(parts[1])})
    mock.add(responses.DELETE, DONE_URL, status=204)

    with pytest.raises(SourceBroke, match="disk went away"):
        driver.upload_object_via_stream(source(), _container(driver), "big file.bin")

    assert sent(mock) == [
        ("POST", INIT_URL),
        ("PUT", part_url(1)),
        ("PUT", part_url(2)),
        ("DELETE", DONE_URL),
    ]


def test_keyboard_interrupt_from_source_aborts(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    def source() -> Iterator[bytes]:
        yield from chunked(parts[:2])
        raise KeyboardInterrupt

    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    mock.add(responses.PUT, part_url(1), headers={"ETag": part_etag(parts[0])})
    mock.add(responses.PUT, part_url(2), headers={"ETag": part_etag(parts[1])})
    mock.add(responses.DELETE, DONE_URL, status=204)
    with pytest.raises(KeyboardInterrupt):
        driver.upload_object_via_stream(source(), _container(driver), "big file.bin")
    assert sent(mock)[-1] == ("DELETE", DONE_URL)


def test_source_failing_before_second_part_sends_nothing(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    def source() -> Iterator[bytes]:
        yield b"a" * 1024
        raise OSError("read error")

    with pytest.raises(OSError, match="read error"):
        driver.upload_object_via_stream(source(), _container(driver), "big file.bin")
    assert len(mock.calls) == 0


def test_abort_failure_keeps_the_original_error_and_notes_it(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    mock.add(responses.PUT, part_url(1), status=403, body=s3_error("AccessDenied"))
    mock.add(responses.DELETE, DONE_URL, status=403, body=s3_error("AccessDenied"))
    with pytest.raises(MultipartUploadError) as info:
        driver.upload_object_via_stream(chunked(parts), _container(driver), "big file.bin")
    assert info.value.part_number == 1
    notes = getattr(info.value, "__notes__", [])
    assert len(notes) == 1
    assert UPLOAD_ID in notes[0]
    assert "aborting multipart upload" in notes[0]


def test_abort_of_vanished_upload_is_quiet(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    mock.add(responses.PUT, part_url(1), status=403, body=s3_error("AccessDenied"))
    mock.add(responses.DELETE, DONE_URL, status=404, body=s3_error("NoSuchUpload"))
    with pytest.raises(MultipartUploadError) as info:
        driver.upload_object_via_stream(chunked(parts), _container(driver), "big file.bin")
    assert getattr(info.value, "__notes__", []) == []


def test_part_reply_without_etag_aborts(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    mock.add(responses.PUT, part_url(1))
    mock.add(responses.DELETE, DONE_URL, status=204)
    with pytest.raises(MultipartUploadError) as info:
        driver.upload_object_via_stream(chunked(parts), _container(driver), "big file.bin")
    assert info.value.part_number == 1
    assert sent(mock)[-1] == ("DELETE", DONE_URL)


def test_initiate_reply_without_upload_id(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    mock.add(responses.POST, INIT_URL, body=b"<InitiateMultipartUploadResult/>")
    from libstore.types import ResponseError

    with pytest.raises(ResponseError):
        driver.upload_object_via_stream(chunked(parts), _container(driver), "big file.bin")
    assert len(mock.calls) == 1


def test_completed_etag_mismatch_deletes_object(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    for number, data in enumerate(parts, 1):
        mock.add(responses.PUT, part_url(number), headers={"ETag": part_etag(data)})
    mock.add(responses.POST, DONE_URL, body=complete_reply("0" * 32 + "-3"))
    mock.add(responses.DELETE, KEY_URL, status=204)
    with pytest.raises(ObjectHashMismatchError):
        driver.upload_object_via_stream(chunked(parts), _container(driver), "big file.bin")
    assert sent(mock)[-1] == ("DELETE", KEY_URL)


def test_retried_complete_finding_no_upload_checks_the_object(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    # The first completion succeeded but its reply was lost; the retry finds no upload.
    etag = s3_multipart_etag(parts)
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    for number, data in enumerate(parts, 1):
        mock.add(responses.PUT, part_url(number), headers={"ETag": part_etag(data)})
    mock.add(responses.POST, DONE_URL, body=s3_error("InternalError"))
    mock.add(responses.POST, DONE_URL, status=404, body=s3_error("NoSuchUpload"))
    mock.add(
        responses.HEAD,
        KEY_URL,
        headers={"ETag": f'"{etag}"', "Content-Length": str(sum(map(len, parts)))},
    )
    obj = driver.upload_object_via_stream(chunked(parts), _container(driver), "big file.bin")
    assert obj.hash == etag
    assert sent(mock)[-1] == ("HEAD", KEY_URL)


def test_multipart_error_keeps_driver_and_container(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    mock.add(responses.PUT, part_url(1), status=403, body=s3_error("AccessDenied"))
    mock.add(responses.DELETE, DONE_URL, status=204)
    with pytest.raises(MultipartUploadError) as info:
        driver.upload_object_via_stream(chunked(parts), _container(driver), "big file.bin")
    assert info.value.container_name == "bkt"
    assert info.value.driver is driver


# S3 (and MinIO) send keep-alive whitespace after the 200 status while completing; it can
# come before the XML declaration, which lxml refuses ("XML declaration allowed only at
# the start of the document").
KEEPALIVE = b"\n\r\n\r   \n"


def test_complete_reply_after_keepalive_whitespace_succeeds(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    etag = s3_multipart_etag(parts)
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    for number, data in enumerate(parts, 1):
        mock.add(responses.PUT, part_url(number), headers={"ETag": part_etag(data)})
    mock.add(responses.POST, DONE_URL, body=KEEPALIVE + complete_reply(etag))
    obj = driver.upload_object_via_stream(chunked(parts), _container(driver), "big file.bin")
    assert obj.hash == etag
    assert len(mock.calls) == 5


def test_complete_error_after_keepalive_whitespace_is_retried(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    etag = s3_multipart_etag(parts)
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    for number, data in enumerate(parts, 1):
        mock.add(responses.PUT, part_url(number), headers={"ETag": part_etag(data)})
    mock.add(responses.POST, DONE_URL, body=KEEPALIVE + s3_error("InternalError"))
    mock.add(responses.POST, DONE_URL, body=complete_reply(etag))
    obj = driver.upload_object_via_stream(chunked(parts), _container(driver), "big file.bin")
    assert obj.hash == etag
    assert len(mock.calls) == 6


def test_complete_error_after_keepalive_whitespace_still_fails_safely(
    driver: S3StorageDriver, mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    # Whatever the parsing, an error document must never be taken for success.
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    for number, data in enumerate(parts, 1):
        mock.add(responses.PUT, part_url(number), headers={"ETag": part_etag(data)})
    mock.add(responses.POST, DONE_URL, body=KEEPALIVE + s3_error("AccessDenied"))
    mock.add(responses.DELETE, DONE_URL, status=204)
    with pytest.raises(MultipartUploadError):
        driver.upload_object_via_stream(chunked(parts), _container(driver), "big file.bin")
    assert sent(mock)[-1] == ("DELETE", DONE_URL)


def _crc32_metadata_driver(**overrides: object) -> S3StorageDriver:
    from wirekit import make_driver

    from libstore.transfer.config import TransferConfig

    driver = make_driver(transfer=TransferConfig(concurrency=1), **overrides)
    driver._http._sleep = lambda _s: None
    return driver


def test_md5_mode_records_the_crc32_with_a_pinned_self_copy(
    mock: responses.RequestsMock, parts: list[bytes]
) -> None:
    import zlib

    driver = _crc32_metadata_driver()
    etag = s3_multipart_etag(parts)
    crc = base64.b64encode(zlib.crc32(b"".join(parts)).to_bytes(4, "big")).decode()
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    for number, data in enumerate(parts, 1):
        mock.add(responses.PUT, part_url(number), headers={"ETag": part_etag(data)})
    mock.add(responses.POST, DONE_URL, body=complete_reply(etag))
    copy_reply = b"<CopyObjectResult><ETag>&quot;copied&quot;</ETag></CopyObjectResult>"
    mock.add(responses.PUT, KEY_URL, body=copy_reply)
    head = {
        "ETag": '"copied"', "Content-Length": str(sum(map(len, parts))),
        "x-amz-meta-a": "1", "x-amz-meta-libstore-crc32": crc,
    }  # fmt: skip
    mock.add(responses.HEAD, KEY_URL, headers=head)
    extra = {"meta_data": {"a": "1"}, "content_type": "text/x-log", "acl": "public-read"}
    obj = driver.upload_object_via_stream(chunked(parts), _container(driver), "big file.bin", extra)
    assert [m for m, _ in sent(mock)] == ["POST", "PUT", "PUT", "PUT", "POST", "PUT", "HEAD"]
    copy = mock.calls[5].request
    check_signed(copy)
    assert copy.headers["x-amz-copy-source"] == "/bkt/big%20file.bin"
    assert copy.headers["x-amz-copy-source-if-match"] == f'"{etag}"'  # only the upload just made
    assert copy.headers["x-amz-metadata-directive"] == "REPLACE"
    # The upload's own headers again, plus the CRC32: nothing else of the object changes.
    assert copy.headers["x-amz-meta-a"] == "1"
    assert copy.headers["x-amz-meta-libstore-crc32"] == crc
    assert copy.headers["Content-Type"] == "text/x-log"
    assert copy.headers["x-amz-acl"] == "public-read"
    assert not any(name.lower().startswith("x-amz-checksum-") for name in copy.headers)
    assert obj.hash == "copied"
    assert obj.meta_data == {"a": "1", "libstore-crc32": crc}
    assert obj.extra["checksum_crc32"] == crc


def test_a_failed_crc32_copy_keeps_the_upload(
    mock: responses.RequestsMock, parts: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    driver = _crc32_metadata_driver()
    etag = s3_multipart_etag(parts)
    mock.add(responses.POST, INIT_URL, body=initiate_reply())
    for number, data in enumerate(parts, 1):
        mock.add(responses.PUT, part_url(number), headers={"ETag": part_etag(data)})
    mock.add(responses.POST, DONE_URL, body=complete_reply(etag))
    mock.add(responses.PUT, KEY_URL, status=403, body=s3_error("AccessDenied"))
    obj = driver.upload_object_via_stream(chunked(parts), _container(driver), "big file.bin")
    assert obj.hash == etag  # the object as uploaded; no abort, no delete
    assert [m for m, _ in sent(mock)] == ["POST", "PUT", "PUT", "PUT", "POST", "PUT"]
    assert "could not record the CRC32" in caplog.text
    from wirekit import SECRET

    assert SECRET not in caplog.text
