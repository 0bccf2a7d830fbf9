"""Downloads on the wire: resume after truncation, chunking, MD5 checks, ranges."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
import responses
from wirekit import BASE, body_stream, check_signed, sent

import libstore.drivers.s3 as s3_module
from libstore.base import Container, Object
from libstore.drivers.s3 import S3StorageDriver
from libstore.types import (
    InvalidRangeError,
    LibstoreError,
    ObjectHashMismatchError,
    ResponseError,
    TransportError,
)

URL = f"{BASE}/bkt/dir/obj%20name.bin"
DATA = bytes(range(256)) * 4 + b"tail-bytes"  # 1034 bytes
MD5 = hashlib.md5(DATA).hexdigest()


def _obj(driver: S3StorageDriver, data: bytes = DATA, etag: str | None = MD5) -> Object:
    return Object("dir/obj name.bin", len(data), etag, {}, {}, Container("bkt", {}, driver), driver)


@pytest.fixture
def small_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read reply bodies 10 bytes at a time, so a body cut midway has delivered some chunks."""
    monkeypatch.setattr(s3_module, "READ_CHUNK_SIZE", 10)


def test_whole_download_to_stream(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    mock.add(responses.GET, URL, body=DATA, headers={"ETag": f'"{MD5}"'})
    assert b"".join(driver.download_object_as_stream(_obj(driver))) == DATA
    request = mock.calls[0].request
    assert "Range" not in request.headers
    assert "If-Match" not in request.headers
    check_signed(request)


def test_download_to_file(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path
) -> None:
    mock.add(responses.GET, URL, body=DATA, headers={"ETag": f'"{MD5}"'})
    dest = tmp_path / "out.bin"
    assert driver.download_object(_obj(driver), dest) is True
    assert dest.read_bytes() == DATA
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


@pytest.mark.usefixtures("small_reads")
@pytest.mark.parametrize("how", ["reset", "short-body"])
def test_truncated_body_is_resumed_with_range_and_if_match(
    driver: S3StorageDriver, mock: responses.RequestsMock, sleeps: list[float], how: str
) -> None:
    cut = 400
    if how == "reset":
        first: Any = body_stream(DATA, fail_after=cut)[0]
    else:
        first = DATA[:cut]  # the connection closes cleanly before Content-Length bytes
    mock.add(
        responses.GET,
        URL,
        body=first,
        headers={"ETag": f'"{MD5}"', "Content-Length": str(len(DATA))},
    )
    mock.add(
        responses.GET,
        URL,
        status=206,
        body=DATA[cut:],
        headers={
            "Content-Range": f"bytes {cut}-{len(DATA) - 1}/{len(DATA)}",
            "Content-Length": str(len(DATA) - cut),
        },
    )

    chunks = list(driver.download_object_as_stream(_obj(driver), chunk_size=64))

    assert b"".join(chunks) == DATA
    assert sent(mock) == [("GET", URL), ("GET", URL)]
    resume = mock.calls[1].request
    assert resume.headers["Range"] == f"bytes={cut}-"
    assert resume.headers["If-Match"] == f'"{MD5}"'
    check_signed(resume)
    assert len(sleeps) == 1


@pytest.mark.usefixtures("small_reads")
def test_truncated_range_is_resumed_within_the_range(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(
        responses.GET,
        URL,
        status=206,
        body=body_stream(DATA[100:600], fail_after=200)[0],  # type: ignore[arg-type]
        headers={"ETag": '"abc-2"', "Content-Length": "500"},
    )
    mock.add(responses.GET, URL, status=206, body=DATA[300:600], headers={"Content-Length": "300"})
    got = b"".join(driver.download_object_range_as_stream(_obj(driver), 100, 600))
    assert got == DATA[100:600]
    assert mock.calls[0].request.headers["Range"] == "bytes=100-599"
    assert mock.calls[1].request.headers["Range"] == "bytes=300-599"
    assert mock.calls[1].request.headers["If-Match"] == '"abc-2"'


@pytest.mark.usefixtures("small_reads")
def test_resume_is_conditional_even_without_etag_in_first_reply(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    etag = "9" * 32 + "-2"  # a multipart object: no MD5 check would catch a splice
    mock.add(
        responses.GET,
        URL,
        body=body_stream(DATA, fail_after=100)[0],  # type: ignore[arg-type]
        headers={"Content-Length": str(len(DATA))},
    )
    mock.add(
        responses.GET,
        URL,
        status=206,
        body=DATA[100:],
        headers={"Content-Length": str(len(DATA) - 100)},
    )
    assert b"".join(driver.download_object_as_stream(_obj(driver, etag=etag))) == DATA
    assert mock.calls[1].request.headers.get("If-Match") == f'"{etag}"'


@pytest.mark.usefixtures("small_reads")
def test_resume_gives_up_after_max_attempts(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(
        responses.GET,
        URL,
        body=body_stream(DATA, fail_after=100)[0],  # type: ignore[arg-type]
        headers={"ETag": f'"{MD5}"', "Content-Length": str(len(DATA))},
    )
    for start in (100, 200):
        mock.add(
            responses.GET,
            URL,
            status=206,
            body=body_stream(DATA[start:], fail_after=100)[0],  # type: ignore[arg-type]
            headers={"Content-Length": str(len(DATA) - start)},
        )
    with pytest.raises(TransportError) as info:
        b"".join(driver.download_object_as_stream(_obj(driver)))
    assert info.value.object_name == "dir/obj name.bin"
    assert [c.request.headers.get("Range") for c in mock.calls] == [
        None,
        "bytes=100-",
        "bytes=200-",
    ]


@pytest.mark.usefixtures("small_reads")
def test_resume_refuses_a_reply_that_ignores_range(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(
        responses.GET,
        URL,
        body=body_stream(DATA, fail_after=100)[0],  # type: ignore[arg-type]
        headers={"ETag": f'"{MD5}"', "Content-Length": str(len(DATA))},
    )
    mock.add(responses.GET, URL, status=200, body=DATA)
    with pytest.raises(ResponseError):
        b"".join(driver.download_object_as_stream(_obj(driver)))


@pytest.mark.usefixtures("small_reads")
def test_resume_after_the_object_changed_is_precondition_failed(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    from libstore.types import PreconditionFailedError

    mock.add(
        responses.GET,
        URL,
        body=body_stream(DATA, fail_after=100)[0],  # type: ignore[arg-type]
        headers={"ETag": f'"{MD5}"', "Content-Length": str(len(DATA))},
    )
    mock.add(responses.GET, URL, status=412, body=b"<Error><Code>PreconditionFailed</Code></Error>")
    with pytest.raises(PreconditionFailedError):
        b"".join(driver.download_object_as_stream(_obj(driver)))


@pytest.mark.parametrize("server_chunk", [1, 7, 64, 4096])
@pytest.mark.parametrize("chunk_size", [1, 5, 7, 64, 1000, 5000])
def test_stream_chunks_are_bounded_and_never_empty(
    driver: S3StorageDriver,
    mock: responses.RequestsMock,
    monkeypatch: pytest.MonkeyPatch,
    server_chunk: int,
    chunk_size: int,
) -> None:
    monkeypatch.setattr(s3_module, "READ_CHUNK_SIZE", server_chunk)
    mock.add(responses.GET, URL, body=DATA, headers={"ETag": f'"{MD5}"'})
    chunks = list(driver.download_object_as_stream(_obj(driver), chunk_size=chunk_size))
    assert b"".join(chunks) == DATA
    assert all(0 < len(c) <= chunk_size for c in chunks)
    assert all(len(c) == chunk_size for c in chunks[:-1])


@pytest.mark.parametrize("chunk_size", [0, -1, 1.5, True, "10"])
def test_invalid_chunk_size_is_refused_before_any_request(
    driver: S3StorageDriver, mock: responses.RequestsMock, chunk_size: Any
) -> None:
    with pytest.raises(ValueError):
        driver.download_object_as_stream(_obj(driver), chunk_size=chunk_size)
    assert len(mock.calls) == 0


def test_content_encoded_object_is_returned_as_stored(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path
) -> None:
    stored = gzip.compress(b"hello world " * 500)
    md5 = hashlib.md5(stored).hexdigest()
    headers = {"ETag": f'"{md5}"', "Content-Encoding": "gzip", "Content-Length": str(len(stored))}
    mock.add(responses.GET, URL, body=stored, headers=headers)
    mock.add(responses.GET, URL, body=stored, headers=headers)
    obj = _obj(driver, stored, md5)
    assert b"".join(driver.download_object_as_stream(obj)) == stored
    driver.download_object(obj, tmp_path / "x.gz")
    assert (tmp_path / "x.gz").read_bytes() == stored


def test_md5_mismatch_on_stream(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    corrupt = DATA[:-1] + b"X"
    mock.add(responses.GET, URL, body=corrupt, headers={"ETag": f'"{MD5}"'})
    with pytest.raises(ObjectHashMismatchError) as info:
        b"".join(driver.download_object_as_stream(_obj(driver)))
    assert (info.value.object_name, info.value.container_name) == ("dir/obj name.bin", "bkt")


@pytest.mark.parametrize("dest_name", ["out.bin", None])
def test_md5_mismatch_leaves_no_file(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path, dest_name: str | None
) -> None:
    mock.add(responses.GET, URL, body=DATA[:-1] + b"X", headers={"ETag": f'"{MD5}"'})
    target = tmp_path / dest_name if dest_name else Path(str(tmp_path) + os.sep)
    with pytest.raises(ObjectHashMismatchError):
        driver.download_object(_obj(driver), target)
    leftovers = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == []


def test_md5_mismatch_keeps_only_a_partial_file_when_asked(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path
) -> None:
    mock.add(responses.GET, URL, body=DATA[:-1] + b"X", headers={"ETag": f'"{MD5}"'})
    with pytest.raises(ObjectHashMismatchError):
        driver.download_object(_obj(driver), tmp_path / "out.bin", delete_on_failure=False)
    names = [p.name for p in tmp_path.iterdir()]
    assert "out.bin" not in names
    assert len(names) == 1
    assert names[0].endswith(".libstore-partial")
    assert (tmp_path / names[0]).read_bytes() == DATA[:-1] + b"X"


def test_md5_mismatch_does_not_touch_existing_destination(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path
) -> None:
    dest = tmp_path / "out.bin"
    dest.write_bytes(b"previous content")
    mock.add(responses.GET, URL, body=DATA[:-1] + b"X", headers={"ETag": f'"{MD5}"'})
    with pytest.raises(ObjectHashMismatchError):
        driver.download_object(_obj(driver), dest, overwrite_existing=True)
    assert dest.read_bytes() == b"previous content"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_short_body_without_content_length_is_an_error_and_leaves_no_file(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path
) -> None:
    mock.add(responses.GET, URL, body=DATA[:500])
    with pytest.raises((ResponseError, ObjectHashMismatchError)):
        driver.download_object(_obj(driver, etag="abc-2"), tmp_path / "out.bin")
    assert list(tmp_path.iterdir()) == []


def _multipart_obj(driver: S3StorageDriver, crc: str) -> Object:
    """A multipart object (ETag not an MD5) whose CRC32 only its metadata holds."""
    meta = {"libstore-crc32": crc}
    return Object("dir/obj name.bin", len(DATA), "0" * 32 + "-2", {}, meta,
                  Container("bkt", {}, driver), driver)  # fmt: skip


def test_crc32_in_metadata_verifies_a_multipart_download(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path
) -> None:
    import zlib

    from libstore.transfer.checksums import crc32_b64

    good = crc32_b64(zlib.crc32(DATA))
    headers = {"ETag": '"' + "0" * 32 + '-2"'}
    mock.add(responses.GET, URL, body=DATA, headers=headers)
    assert b"".join(driver.download_object_as_stream(_multipart_obj(driver, good))) == DATA
    bad = crc32_b64(zlib.crc32(DATA) ^ 1)
    mock.add(responses.GET, URL, body=DATA, headers=headers)
    with pytest.raises(ObjectHashMismatchError, match="CRC32"):
        driver.download_object(_multipart_obj(driver, bad), tmp_path / "out.bin")
    assert list(tmp_path.iterdir()) == []  # nothing left where the download was asked for
    mock.add(responses.GET, URL, body=DATA, headers=headers)  # junk in the entry: size only
    assert b"".join(driver.download_object_as_stream(_multipart_obj(driver, "junk"))) == DATA


def test_multipart_etag_is_not_used_as_md5(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    etag = "0" * 32 + "-3"
    mock.add(responses.GET, URL, body=DATA, headers={"ETag": f'"{etag}"'})
    assert b"".join(driver.download_object_as_stream(_obj(driver, etag=etag))) == DATA


def test_kms_etag_is_not_used_as_md5(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    mock.add(
        responses.GET,
        URL,
        body=DATA,
        headers={"ETag": '"' + "0" * 32 + '"', "x-amz-server-side-encryption": "aws:kms"},
    )
    got = b"".join(driver.download_object_as_stream(_obj(driver, etag="0" * 32)))
    assert got == DATA


def test_existing_destination_is_refused_before_any_request(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path
) -> None:
    dest = tmp_path / "out.bin"
    dest.write_bytes(b"keep")
    with pytest.raises(LibstoreError):
        driver.download_object(_obj(driver), dest)
    assert dest.read_bytes() == b"keep"
    assert len(mock.calls) == 0


# -- ranges --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "header", "expected"),
    [
        (10, 20, "bytes=10-19", DATA[10:20]),
        (0, 20, "bytes=0-19", DATA[:20]),
        (10, None, "bytes=10-", DATA[10:]),
        (10, len(DATA), "bytes=10-", DATA[10:]),
        (10, len(DATA) + 50, "bytes=10-", DATA[10:]),
        (len(DATA) - 1, None, f"bytes={len(DATA) - 1}-", DATA[-1:]),
        (5, 6, "bytes=5-5", DATA[5:6]),
    ],
)
def test_range_header_end_is_exclusive(
    driver: S3StorageDriver,
    mock: responses.RequestsMock,
    start: int,
    end: int | None,
    header: str,
    expected: bytes,
) -> None:
    mock.add(responses.GET, URL, status=206, body=expected)
    got = b"".join(driver.download_object_range_as_stream(_obj(driver), start, end))
    assert got == expected
    assert mock.calls[0].request.headers["Range"] == header
    check_signed(mock.calls[0].request)


def test_range_download_to_file(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path
) -> None:
    mock.add(responses.GET, URL, status=206, body=DATA[10:20])
    dest = tmp_path / "part.bin"
    assert driver.download_object_range(_obj(driver), dest, 10, 20)
    assert dest.read_bytes() == DATA[10:20]
    assert mock.calls[0].request.headers["Range"] == "bytes=10-19"


def test_range_reply_with_too_many_bytes_is_refused(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path
) -> None:
    mock.add(responses.GET, URL, status=206, body=DATA[10:30])
    with pytest.raises(ObjectHashMismatchError):
        driver.download_object_range(_obj(driver), tmp_path / "p.bin", 10, 20)
    assert list(tmp_path.iterdir()) == []


def test_range_ignored_by_server_is_refused(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(responses.GET, URL, status=200, body=DATA)
    with pytest.raises(ResponseError):
        b"".join(driver.download_object_range_as_stream(_obj(driver), 10, 20))


INVALID_RANGES: list[tuple[Any, Any]] = [
    (-1, None),
    (-5, 10),
    (10, 10),
    (20, 10),
    (0, 0),
    (len(DATA), None),
    (len(DATA) + 1, None),
    ("0", None),
    (1.5, None),
    (True, None),
    (0, "10"),
    (0, 2.5),
    (None, 10),
    (None, None),
]


@pytest.mark.parametrize(("start", "end"), INVALID_RANGES)
def test_invalid_ranges_fail_before_any_request(
    driver: S3StorageDriver, mock: responses.RequestsMock, tmp_path: Path, start: Any, end: Any
) -> None:
    with pytest.raises(ValueError) as info:
        driver.download_object_range_as_stream(_obj(driver), start, end)
    assert isinstance(info.value, InvalidRangeError)
    with pytest.raises(InvalidRangeError):
        driver.download_object_range(_obj(driver), tmp_path / "r.bin", start, end)
    assert len(mock.calls) == 0
    assert list(tmp_path.iterdir()) == []
