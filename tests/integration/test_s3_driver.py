"""S3 driver behaviour on real servers: signatures, multipart, aborts and injected faults.

Each test runs against SeaweedFS (which verifies SigV4) and moto's server. The
fault tests put :class:`faultproxy.FaultProxy` between the driver and the server.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faultproxy import (
    FaultProxy,
    reset_before_response,
    reset_mid_body,
    slowdown,
    status,
    truncate_body,
)
from servers import S3Endpoint

from libstore import (
    AccessDeniedError,
    Container,
    InvalidCredsError,
    MultipartUploadError,
    ObjectDoesNotExistError,
    TransportError,
)
from libstore._xml import child_text, children, parse_xml
from libstore.drivers.s3 import S3StorageDriver
from libstore.http.retry import RetryPolicy

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def make_driver(endpoint: S3Endpoint, port: int | None = None, secret: str | None = None,
                attempts: int = 4, **options: Any) -> S3StorageDriver:  # fmt: skip
    return S3StorageDriver(
        endpoint.access_key,
        secret or endpoint.secret_key,
        secure=False,
        host="127.0.0.1",
        port=port or endpoint.port,
        region=endpoint.region,
        retry_policy=RetryPolicy(max_attempts=attempts, backoff_base=0.01, retry_after_max=1.0),
        read_timeout=20,
        **options,
    )


def empty_and_delete(driver: S3StorageDriver, container: Container) -> None:
    for upload_key, upload_id in list_uploads(driver, container):
        driver._call(
            "DELETE",
            driver._url(container.name, upload_key, [("uploadId", upload_id)]),
            "cleanup",
        )
    for obj in list(driver.iterate_container_objects(container)):
        driver.delete_object(obj)
    driver.delete_container(container)


def list_uploads(driver: S3StorageDriver, container: Container) -> list[tuple[str, str]]:
    """Multipart uploads in progress in ``container`` (ListMultipartUploads)."""
    reply = driver._call(
        "GET", driver._url(container.name, query=[("uploads", None)]), "listing uploads"
    )
    root = parse_xml(reply.body)
    return [
        (child_text(u, "Key") or "", child_text(u, "UploadId") or "")
        for u in children(root, "Upload")
    ]


@pytest.fixture
def driver(s3_server: S3Endpoint) -> Iterator[S3StorageDriver]:
    d = make_driver(s3_server)
    yield d
    d.close()


@pytest.fixture
def container(driver: S3StorageDriver, bucket_name: str) -> Iterator[Container]:
    c = driver.create_container(bucket_name)
    yield c
    empty_and_delete(driver, c)


@pytest.fixture
def proxy(s3_server: S3Endpoint) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", s3_server.port) as p:
        yield p


@pytest.fixture
def proxied(s3_server: S3Endpoint, proxy: FaultProxy) -> Iterator[S3StorageDriver]:
    d = make_driver(s3_server, port=proxy.port)
    yield d
    d.close()


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


# -- signatures ----------------------------------------------------------------------------


def test_wrong_secret_is_refused_without_leaking_it(seaweedfs: S3Endpoint) -> None:
    wrong = "WRONG-secret-value-1234567890"
    driver = make_driver(seaweedfs, secret=wrong)
    with pytest.raises(AccessDeniedError) as info:
        driver.list_containers()
    assert isinstance(info.value, InvalidCredsError) or info.value.http_status == 403
    assert info.value.http_status == 403
    for text in (str(info.value), repr(info.value), repr(driver)):
        assert wrong not in text


def test_signed_requests_with_awkward_keys_are_accepted(
    driver: S3StorageDriver, container: Container
) -> None:
    # SeaweedFS verifies every signature: these keys exercise the canonical URI.
    for key in ["sp ace", "plus+sign", "pct%25", "tilde~", "eq=amp&", "\u00e9t\u00e9/\u65e5"]:
        obj = driver.upload_object_via_stream(iter([key.encode()]), container, key)
        assert obj.name == key
        fetched = driver.get_object(container.name, key)
        assert fetched.name == key
        assert b"".join(driver.download_object_as_stream(fetched)) == key.encode()


# -- multipart -----------------------------------------------------------------------------


def test_stream_multipart_etag_and_bytes(driver: S3StorageDriver, container: Container) -> None:
    data = os.urandom(11 * MiB + 7)
    obj = driver.upload_object_via_stream(chunks(data, 777_777), container, "mp.bin")
    assert obj.size == len(data)
    assert obj.hash is not None and obj.hash.endswith("-3")
    fetched = driver.get_object(container.name, "mp.bin")
    assert fetched.size == len(data)
    assert b"".join(driver.download_object_as_stream(fetched, 1 * MiB)) == data
    assert list_uploads(driver, container) == []


def test_file_upload_multipart_and_download(
    driver: S3StorageDriver, container: Container, tmp_path: Path
) -> None:
    data = os.urandom(10 * MiB + 1)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    obj = driver.upload_object(str(src), container, "dir/file.bin", verify_hash=True)
    assert obj.size == len(data)
    dest = tmp_path / "out"
    dest.mkdir()
    assert driver.download_object(driver.get_object(container.name, "dir/file.bin"), f"{dest}/")
    assert (dest / "dir" / "file.bin").read_bytes() == data


def test_failing_stream_aborts_and_leaves_nothing(
    driver: S3StorageDriver, container: Container
) -> None:
    driver.upload_object_via_stream(iter([b"old"]), container, "victim")

    def broken() -> Iterator[bytes]:
        yield os.urandom(6 * MiB)
        yield os.urandom(5 * MiB)
        raise RuntimeError("source died")

    with pytest.raises(RuntimeError, match="source died"):
        driver.upload_object_via_stream(broken(), container, "victim")
    assert b"".join(driver.get_object(container.name, "victim").as_stream()) == b"old"
    with pytest.raises(RuntimeError):
        driver.upload_object_via_stream(broken(), container, "never")
    with pytest.raises(ObjectDoesNotExistError):
        driver.get_object(container.name, "never")
    assert list_uploads(driver, container) == []


# -- injected faults -----------------------------------------------------------------------


def test_part_errors_are_retried(
    proxied: S3StorageDriver, proxy: FaultProxy, container: Container
) -> None:
    proxy.add(
        status(500, method="PUT", query="partNumber=2"),
        slowdown(method="PUT", query="partNumber=3"),
        status(429, method="PUT", query="partNumber=1", headers={"Retry-After": "1"}),
        status(503, method="POST", query="uploadId="),
    )
    data = os.urandom(12 * MiB)
    obj = proxied.upload_object_via_stream(chunks(data, MiB), container, "retried.bin")
    assert obj.size == len(data)
    faults = [entry for entry in proxy.log if entry[2] is not None]
    assert len(faults) == 4
    assert proxy.pending == []
    assert b"".join(proxied.get_object(container.name, "retried.bin").as_stream()) == data


def test_error_document_in_200_completion_is_retried(
    proxied: S3StorageDriver, proxy: FaultProxy, container: Container
) -> None:
    error = b"<?xml version='1.0'?><Error><Code>InternalError</Code><Message>x</Message></Error>"
    proxy.add(status(200, method="POST", query="uploadId=", body=error))
    data = os.urandom(11 * MiB)
    obj = proxied.upload_object_via_stream(chunks(data, 3 * MiB), container, "complete.bin")
    assert obj.size == len(data)
    assert proxy.pending == []
    assert b"".join(proxied.get_object(container.name, "complete.bin").as_stream()) == data


def test_persistent_part_failure_aborts_cleanly(
    proxied: S3StorageDriver, proxy: FaultProxy, driver: S3StorageDriver, container: Container
) -> None:
    proxy.add(status(500, method="PUT", query="partNumber=2", count=50))
    with pytest.raises(MultipartUploadError) as info:
        proxied.upload_object_via_stream(chunks(os.urandom(11 * MiB), MiB), container, "doomed")
    assert info.value.part_number == 2
    assert info.value.http_status == 500
    with pytest.raises(ObjectDoesNotExistError):
        driver.get_object(container.name, "doomed")
    assert list_uploads(driver, container) == []


def test_connection_reset_before_response_is_retried(
    proxied: S3StorageDriver, proxy: FaultProxy, container: Container
) -> None:
    proxied.upload_object_via_stream(iter([b"payload"]), container, "k")
    proxy.add(reset_before_response(method="HEAD"))
    assert proxied.get_object(container.name, "k").size == 7
    assert [e for e in proxy.log if e[2] == "reset_before_response"]


@pytest.mark.parametrize("fault", ["reset_mid_body", "truncate_body"])
def test_interrupted_download_resumes_with_identical_bytes(
    proxied: S3StorageDriver, proxy: FaultProxy, container: Container, fault: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    data = os.urandom(3 * MiB + 5)
    proxied.upload_object_via_stream(iter([data]), container, "dl.bin")
    obj = proxied.get_object(container.name, "dl.bin")
    make = reset_mid_body if fault == "reset_mid_body" else truncate_body
    proxy.add(make(method="GET", count=2))
    dest = tmp_path / "dl.bin"
    proxied.download_object(obj, str(dest))
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    gets = [e for e in proxy.log if e[0] == "GET"]
    assert len(gets) == 3  # two interrupted replies, then the rest of the object


def test_download_that_keeps_failing_leaves_no_file(
    proxied: S3StorageDriver, proxy: FaultProxy, container: Container, tmp_path: Path
) -> None:
    data = os.urandom(2 * MiB)
    proxied.upload_object_via_stream(iter([data]), container, "flaky.bin")
    obj = proxied.get_object(container.name, "flaky.bin")
    proxy.add(truncate_body(method="GET", after_bytes=1000, count=100))
    with pytest.raises(TransportError):
        proxied.download_object(obj, str(tmp_path / "flaky.bin"))
    assert list(tmp_path.iterdir()) == []


def test_content_encoding_is_not_undone(driver: S3StorageDriver, container: Container) -> None:
    import gzip

    raw = gzip.compress(b"compressed payload " * 1000)
    driver.upload_object_via_stream(
        iter([raw]), container, "page.html.gz",
        extra={"content_encoding": "gzip", "content_type": "text/html"},
    )  # fmt: skip
    obj = driver.get_object(container.name, "page.html.gz")
    assert obj.extra["content_encoding"] == "gzip"
    assert obj.size == len(raw)
    assert b"".join(driver.download_object_as_stream(obj)) == raw
