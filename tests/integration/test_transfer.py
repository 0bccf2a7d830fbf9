"""The transfer engine on real servers: concurrency, memory bound, checksums, copies, progress."""

from __future__ import annotations

import hashlib
import os
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultproxy import FaultProxy, status
from servers import S3Endpoint
from test_s3_driver import empty_and_delete, list_uploads, make_driver

from libstore import Container, ObjectHashMismatchError, PreconditionFailedError
from libstore.drivers.s3 import S3StorageDriver
from libstore.transfer.config import MemoryBudget, TransferConfig

pytestmark = pytest.mark.integration

MiB = 1024 * 1024

SMALL_PARTS = TransferConfig(
    concurrency=4,
    download_threshold=4 * MiB,
    download_part_size=5 * MiB,
    copy_threshold=6 * MiB,
    copy_part_size=5 * MiB,
)


@pytest.fixture
def driver(s3_server: S3Endpoint) -> Iterator[S3StorageDriver]:
    d = make_driver(s3_server)
    d.transfer = SMALL_PARTS
    yield d
    d.close()


@pytest.fixture
def container(driver: S3StorageDriver, bucket_name: str) -> Iterator[Container]:
    c = driver.create_container(bucket_name)
    yield c
    empty_and_delete(driver, c)


def test_concurrent_upload_uses_parallel_parts_and_crc32(
    driver: S3StorageDriver, container: Container
) -> None:
    data = os.urandom(21 * MiB + 11)
    in_flight = 0
    peak = 0
    lock = threading.Lock()
    original = driver._call

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal in_flight, peak
        is_part = "partNumber=" in str(args[1])
        if is_part:
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
        try:
            return original(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            if is_part:
                with lock:
                    in_flight -= 1

    driver._call = counting  # type: ignore[method-assign]
    obj = driver.upload_object_via_stream(
        (data[i : i + 100_000] for i in range(0, len(data), 100_000)), container, "par.bin"
    )
    assert peak > 1, "parts were not uploaded concurrently"
    assert peak <= SMALL_PARTS.concurrency
    fetched = driver.get_object(container.name, "par.bin")
    assert fetched.extra.get("checksum_crc32") == obj.extra["checksum_crc32"]
    assert fetched.extra.get("checksum_type") == "FULL_OBJECT"
    assert b"".join(driver.download_object_as_stream(fetched, MiB)) == data


def test_stream_upload_memory_stays_bounded(driver: S3StorageDriver, container: Container) -> None:
    total = 60 * MiB
    chunk = os.urandom(64 * 1024)

    def stream() -> Iterator[bytes]:
        for _ in range(total // len(chunk)):
            yield chunk

    tracemalloc.start()
    try:
        driver.upload_object_via_stream(stream(), container, "bounded.bin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    bound = SMALL_PARTS.part_size * (SMALL_PARTS.concurrency + 1)
    # part buffers plus what requests/urllib3 hold per connection: well under 2x the bound
    assert peak < bound * 2, f"peak {peak / MiB:.1f} MiB for a {bound / MiB:.0f} MiB bound"
    assert peak < total / 2
    assert driver.get_object(container.name, "bounded.bin").size == total


def test_shared_memory_budget_serialises_transfers(
    s3_server: S3Endpoint, container: Container
) -> None:
    limited = make_driver(s3_server)
    limited.transfer = TransferConfig(concurrency=4, memory_limit=10 * MiB)
    limited._budget = MemoryBudget(10 * MiB)
    seen: list[int] = []
    original_acquire = limited._budget.acquire

    def watch(count: int, timeout: float | None = None) -> bool:
        granted = original_acquire(count, timeout)
        seen.append(limited._budget.in_use)  # type: ignore[union-attr]
        return granted

    limited._budget.acquire = watch  # type: ignore[method-assign]
    data = os.urandom(26 * MiB)
    threads = [
        threading.Thread(
            target=limited.upload_object_via_stream,
            args=(iter([data]), container, f"budget-{n}"),
        )
        for n in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert seen and max(seen) <= 10 * MiB
    for n in range(2):
        assert limited.get_object(container.name, f"budget-{n}").size == len(data)
    limited.close()


def test_size_hint_keeps_one_part_size(driver: S3StorageDriver, container: Container) -> None:
    data = os.urandom(12 * MiB)
    obj = driver.upload_object_via_stream(
        iter([data]), container, "hinted.bin", size_hint=len(data)
    )
    assert obj.hash is not None and obj.hash.endswith("-3")


def test_parallel_download_verifies_and_reports_progress(
    driver: S3StorageDriver, container: Container, tmp_path: Path
) -> None:
    data = os.urandom(17 * MiB + 5)
    driver.upload_object_via_stream(iter([data]), container, "dl.bin")
    obj = driver.get_object(container.name, "dl.bin")
    seen: list[tuple[int, int | None]] = []
    dest = tmp_path / "dl.bin"
    driver.download_object(obj, str(dest), progress=lambda done, total: seen.append((done, total)))
    assert hashlib.sha256(dest.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert seen[-1] == (len(data), len(data))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_parallel_download_of_single_part_object_without_crc32(
    driver: S3StorageDriver, container: Container, tmp_path: Path
) -> None:
    # What most tools write: a plain PUT whose ETag is the MD5, no stored CRC32.
    data = os.urandom(21 * MiB)
    driver.checksum = "md5"
    driver.transfer = SMALL_PARTS.new(part_size=25 * MiB, multipart_threshold=25 * MiB)
    driver.upload_object_via_stream(iter([data]), container, "plain.bin")
    driver.transfer = SMALL_PARTS
    obj = driver.get_object(container.name, "plain.bin")
    assert obj.hash == hashlib.md5(data).hexdigest()
    assert "checksum_crc32" not in obj.extra
    dest = tmp_path / "plain.bin"
    driver.download_object(obj, str(dest))  # parallel ranges, then the MD5 read back
    assert dest.read_bytes() == data


def test_parallel_download_of_single_part_object_checks_md5(
    driver: S3StorageDriver, container: Container, tmp_path: Path
) -> None:
    data = os.urandom(9 * MiB)
    driver.checksum = "md5"  # no CRC32 on the object: the MD5 ETag is all there is
    driver.transfer = SMALL_PARTS.new(part_size=10 * MiB, multipart_threshold=10 * MiB)
    driver.upload_object_via_stream(iter([data]), container, "single.bin")
    obj = driver.get_object(container.name, "single.bin")
    assert obj.hash == hashlib.md5(data).hexdigest()
    obj.hash = "0" * 32  # what a corrupted transfer would look like to the check
    obj.extra.pop("checksum_crc32", None)
    with pytest.raises((ObjectHashMismatchError, PreconditionFailedError)):
        driver.download_object(obj, str(tmp_path / "single.bin"))
    assert list(tmp_path.iterdir()) == []


def test_download_of_object_changed_since_listing_is_refused(
    driver: S3StorageDriver, container: Container, tmp_path: Path
) -> None:
    driver.upload_object_via_stream(iter([os.urandom(12 * MiB)]), container, "moving.bin")
    listed = next(iter(driver.iterate_container_objects(container)))
    driver.upload_object_via_stream(iter([os.urandom(12 * MiB)]), container, "moving.bin")
    with pytest.raises(PreconditionFailedError):
        driver.download_object(listed, str(tmp_path / "moving.bin"))
    assert list(tmp_path.iterdir()) == []


def test_copy_object_small_and_in_parts(driver: S3StorageDriver, container: Container) -> None:
    data = os.urandom(13 * MiB + 1)
    driver.upload_object_via_stream(
        iter([data]), container, "src", extra={"meta_data": {"k": "v"}, "content_type": "a/b"}
    )
    src = driver.get_object(container.name, "src")
    big = driver.copy_object(src, container, "copy-parts")  # above copy_threshold
    assert big.size == len(data)
    assert big.meta_data == {"k": "v"}
    assert big.extra["content_type"] == "a/b"
    replaced = driver.copy_object(src, container, "copy-replaced", extra={"meta_data": {"n": "1"}})
    assert replaced.meta_data == {"n": "1"}
    small = driver.upload_object_via_stream(iter([b"tiny"]), container, "tiny")
    tiny_copy = driver.copy_object(small, container, "tiny-copy")
    assert b"".join(driver.download_object_as_stream(tiny_copy)) == b"tiny"
    assert b"".join(driver.download_object_as_stream(big, 4 * MiB)) == data
    assert list_uploads(driver, container) == []


def test_failed_part_copy_is_aborted(
    s3_server: S3Endpoint, driver: S3StorageDriver, container: Container
) -> None:
    driver.upload_object_via_stream(iter([os.urandom(13 * MiB)]), container, "src")
    src = driver.get_object(container.name, "src")
    with FaultProxy("127.0.0.1", s3_server.port) as proxy:
        proxied = make_driver(s3_server, port=proxy.port, attempts=2)
        proxied.transfer = SMALL_PARTS
        src.driver = proxied
        proxy.add(status(500, method="PUT", query="partNumber=2", count=10))
        with pytest.raises(Exception) as info:
            proxied.copy_object(src, container, "never")
        assert getattr(info.value, "http_status", None) == 500
    assert [k for k, _ in list_uploads(driver, container)] == []
    assert [o.name for o in driver.iterate_container_objects(container)] == ["src"]


# -- resumable uploads ---------------------------------------------------------------------


def _count_part_puts(driver: S3StorageDriver) -> list[str]:
    sent: list[str] = []
    original = driver._call

    def counting(*args: object, **kwargs: object) -> object:
        if args[0] == "PUT" and "partNumber=" in str(args[1]):
            sent.append(str(args[1]).split("partNumber=")[1].split("&")[0])
        return original(*args, **kwargs)  # type: ignore[arg-type]

    driver._call = counting  # type: ignore[method-assign]
    return sent


def test_interrupted_stream_upload_resumes_from_its_journal(
    driver: S3StorageDriver, container: Container, tmp_path: Path
) -> None:
    driver.transfer = SMALL_PARTS.new(concurrency=1)
    data = os.urandom(5 * 5 * MiB + 123)  # five full parts and a tail
    journal = tmp_path / "upload.journal"

    def crashing() -> Iterator[bytes]:
        yield data[: 3 * 5 * MiB + 10]
        raise KeyboardInterrupt  # the process is being killed

    with pytest.raises(KeyboardInterrupt):
        driver.upload_object_via_stream(crashing(), container, "resumed.bin", journal=journal)
    assert journal.exists()
    uploads = list(driver.iterate_multipart_uploads(container))
    assert [u.object_name for u in uploads] == ["resumed.bin"]  # kept for resumption

    sent = _count_part_puts(driver)
    obj = driver.upload_object_via_stream(
        (data[i : i + MiB] for i in range(0, len(data), MiB)),
        container,
        "resumed.bin",
        journal=journal,
    )
    assert sent == ["4", "5", "6"]  # parts 1-3 were skipped: their checksums matched
    assert obj.size == len(data)
    assert not journal.exists()
    assert list(driver.iterate_multipart_uploads(container)) == []
    assert b"".join(driver.download_object_as_stream(obj, 4 * MiB)) == data


def test_resume_reuploads_parts_whose_data_changed(
    driver: S3StorageDriver, container: Container, tmp_path: Path
) -> None:
    driver.transfer = SMALL_PARTS.new(concurrency=1)
    original = os.urandom(3 * 5 * MiB)
    src = tmp_path / "file.bin"
    src.write_bytes(original)
    journal = tmp_path / "file.journal"

    def crashing() -> Iterator[bytes]:
        yield original[: 2 * 5 * MiB + 1]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        driver.upload_object_via_stream(
            crashing(), container, "f.bin", journal=journal, size_hint=len(original)
        )
    changed = bytearray(original)
    changed[10] ^= 0xFF  # part 1 differs now; part 2 is the same
    src.write_bytes(bytes(changed))
    sent = _count_part_puts(driver)
    obj = driver.upload_object(str(src), container, "f.bin", journal=journal)
    assert sent == ["1", "3"]
    assert b"".join(driver.download_object_as_stream(obj, 4 * MiB)) == bytes(changed)


def test_journal_of_another_upload_is_refused(
    driver: S3StorageDriver, container: Container, tmp_path: Path
) -> None:
    driver.transfer = SMALL_PARTS.new(concurrency=1)
    journal = tmp_path / "j"

    def crashing() -> Iterator[bytes]:
        yield os.urandom(11 * MiB)  # two parts started before the crash
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        driver.upload_object_via_stream(crashing(), container, "one", journal=journal)
    with pytest.raises(ValueError, match="journal records an upload of"):
        driver.upload_object_via_stream(iter([b"x"]), container, "two", journal=journal)
    assert driver.abort_multipart_uploads(container) == 1
    assert list(driver.iterate_multipart_uploads(container)) == []


def test_abort_stale_uploads_by_prefix_and_age(
    driver: S3StorageDriver, container: Container, s3_server: S3Endpoint
) -> None:
    from datetime import timedelta

    for key in ("tmp/a", "tmp/b", "keep/c"):
        driver._call(
            "POST", driver._url(container.name, key, [("uploads", None)]), "init", idempotent=False
        )
    assert sorted(u.object_name for u in driver.iterate_multipart_uploads(container)) == [
        "keep/c",
        "tmp/a",
        "tmp/b",
    ]
    if s3_server.name == "seaweedfs":  # moto reports every upload as started in 2010
        assert driver.abort_multipart_uploads(container, "tmp/", older_than=timedelta(days=1)) == 0
    assert driver.abort_multipart_uploads(container, "tmp/") == 2
    assert [u.object_name for u in driver.iterate_multipart_uploads(container)] == ["keep/c"]


def test_read_ahead_stream_yields_in_order(driver: S3StorageDriver, container: Container) -> None:
    data = os.urandom(23 * MiB + 9)
    driver.upload_object_via_stream(iter([data]), container, "ahead.bin")
    obj = next(iter(driver.iterate_container_objects(container)))  # from a listing: no CRC
    chunks = list(driver.download_object_as_stream(obj, 3 * MiB))
    assert max(map(len, chunks)) <= 3 * MiB
    assert b"".join(chunks) == data


def test_cross_provider_copy_carries_bytes_and_metadata(
    driver: S3StorageDriver, container: Container, tmp_path: Path
) -> None:
    from libstore import Provider, get_driver
    from libstore.transfer.copy import copy

    local = get_driver(Provider.LOCAL)(str(tmp_path))
    box = local.create_container("box")
    data = os.urandom(12 * MiB + 1)
    src = local.upload_object_via_stream(
        iter([data]), box, "in.bin", extra={"meta_data": {"origin": "disk"}}
    )
    copied = copy(src, container, "from-local.bin")
    fetched = driver.get_object(container.name, "from-local.bin")
    assert fetched.meta_data == {"origin": "disk"}
    assert copied.size == len(data)
    back = copy(fetched, box, "round-trip.bin")
    assert b"".join(local.download_object_as_stream(back)) == data


def test_parallel_parts_report_events_and_stats(
    driver: S3StorageDriver, container: Container, tmp_path: Path
) -> None:
    from libstore import last_transfer_stats

    events: list[tuple[str, int | None, int | None]] = []
    lock = threading.Lock()

    def record(event: object) -> None:
        with lock:
            events.append(
                (event.kind, getattr(event, "part_number", None), getattr(event, "bytes", None))  # type: ignore[attr-defined]
            )

    driver.hooks.register(["part_completed", "transfer_finished"], record)
    data = os.urandom(16 * MiB + 3)
    driver.upload_object_via_stream(iter([data]), container, "ev.bin")
    stats = last_transfer_stats()
    assert stats is not None
    assert stats.parts == 4
    assert stats.bytes_transferred == len(data)
    assert stats.requests >= 6  # initiate, four parts, complete
    parts = sorted(n for kind, n, _ in events if kind == "part_completed")
    assert parts == [1, 2, 3, 4]
    assert [kind for kind, _, _ in events].count("transfer_finished") == 1

    events.clear()
    obj = driver.get_object(container.name, "ev.bin")
    driver.download_object(obj, str(tmp_path / "ev.bin"))
    stats = last_transfer_stats()
    assert stats is not None and stats.operation == "download"
    assert stats.parts == 4  # 5 MiB ranges of a 16 MiB object, in parallel
    assert stats.bytes_transferred == len(data)


# -- stores without checksum headers (checksum="md5") ------------------------------------------


def _md5_mode_driver(endpoint: S3Endpoint) -> S3StorageDriver:
    # Parallel ranges from 4 MiB; the default copy threshold (5 GiB) for the metadata copy.
    transfer = TransferConfig(concurrency=4, download_threshold=4 * MiB, download_part_size=5 * MiB)
    return make_driver(endpoint, checksum="md5", transfer=transfer)


def test_md5_mode_multipart_keeps_its_crc32_in_metadata(
    s3_server: S3Endpoint, bucket_name: str, tmp_path: Path
) -> None:
    import zlib

    from libstore.transfer.checksums import crc32_b64

    driver = _md5_mode_driver(s3_server)
    container = driver.create_container(bucket_name)
    try:
        data = os.urandom(12 * MiB + 123)
        sent: list[dict[str, str]] = []
        original = driver._call

        def spy(method: str, url: str, action: str, **kwargs: object) -> object:
            sent.append(dict(kwargs.get("headers") or {}))  # type: ignore[call-overload]
            return original(method, url, action, **kwargs)  # type: ignore[arg-type]

        driver._call = spy  # type: ignore[method-assign]
        obj = driver.upload_object_via_stream(
            iter([data]), container, "big", {"meta_data": {"owner": "me"}, "content_type": "x/y"}
        )
        driver._call = original  # type: ignore[method-assign]
        # The store was sent no checksums: Content-MD5 per part only.
        sent_names = {k.lower() for h in sent for k in h}
        assert not {n for n in sent_names if n.startswith("x-amz-checksum-")} - {
            "x-amz-checksum-mode"  # HEAD/GET asking for checksums, as always
        }
        assert "content-md5" in sent_names
        expected = crc32_b64(zlib.crc32(data))
        assert obj.extra["checksum_crc32"] == expected
        head = driver.get_object(container.name, "big")
        assert head.meta_data == {"owner": "me", "libstore-crc32": expected}
        assert head.extra["content_type"] == "x/y"
        assert head.size == len(data)
        assert driver._content_crc32(head) == zlib.crc32(data)
        target = tmp_path / "out"
        assert driver.download_object(head, str(target))  # parallel ranges, CRC verified
        assert target.read_bytes() == data
        assert b"".join(driver.download_object_as_stream(head)) == data
        assert list_uploads(driver, container) == []
    finally:
        empty_and_delete(driver, container)
        driver.close()
