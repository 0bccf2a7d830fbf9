"""Objects above S3's 5 GiB single-request limit, for real (opt-in: they take minutes).

Run with ``LIBSTORE_LARGE_TESTS=1`` (needs about 6 GiB free for SeaweedFS's volumes;
the source file is sparse). CI does not run them: the part-size arithmetic behind
them is covered by the unit tests of ``PartSizer`` on every run.
"""

from __future__ import annotations

import os
import time
import zlib
from pathlib import Path

import pytest
from servers import S3Endpoint
from test_s3_driver import empty_and_delete, list_uploads, make_driver

from libstore.transfer.checksums import crc32_b64
from libstore.transfer.config import TransferConfig

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.environ.get("LIBSTORE_LARGE_TESTS") != "1",
        reason="opt-in: LIBSTORE_LARGE_TESTS=1 uploads and reads back a 5.2 GiB object",
    ),
]

GiB = 1024**3
MiB = 1024**2


def _sparse_file(path: Path, size: int) -> int:
    """A sparse file of ``size`` bytes with random 1 MiB islands every 256 MiB; its CRC32."""
    with open(path, "wb") as handle:
        handle.truncate(size)
        for offset in range(0, size - MiB, 256 * MiB):
            handle.seek(offset)
            handle.write(os.urandom(MiB))
    crc = 0
    with open(path, "rb") as handle:
        while block := handle.read(16 * MiB):
            crc = zlib.crc32(block, crc)
    return crc


def test_a_file_over_5_gib_uploads_in_parts_and_reads_back(
    seaweedfs: S3Endpoint, bucket_name: str, tmp_path: Path
) -> None:
    size = 5 * GiB + 200 * MiB + 12345
    source = tmp_path / "large.bin"
    crc = _sparse_file(source, size)
    driver = make_driver(seaweedfs)
    container = driver.create_container(bucket_name)
    try:
        started = time.monotonic()
        obj = driver.upload_object(
            str(source), container, "large.bin", transfer=TransferConfig(concurrency=4)
        )
        upload_seconds = time.monotonic() - started
        assert obj.size == size
        assert obj.extra["checksum_crc32"] == crc32_b64(crc)
        assert list_uploads(driver, container) == []
        head = driver.get_object(container.name, "large.bin")
        assert head.size == size
        assert head.extra.get("checksum_crc32") == crc32_b64(crc)  # FULL_OBJECT, stored
        started = time.monotonic()
        read_crc = 0
        received = 0
        for chunk in driver.download_object_as_stream(head, chunk_size=8 * MiB):
            read_crc = zlib.crc32(chunk, read_crc)
            received += len(chunk)
        download_seconds = time.monotonic() - started
        assert (received, read_crc) == (size, crc)
        print(  # shown with -s: the figures quoted in notes come from here
            f"\n5.2 GiB: upload {size / MiB / upload_seconds:.0f} MiB/s, "
            f"streamed read-back {size / MiB / download_seconds:.0f} MiB/s"
        )
    finally:
        empty_and_delete(driver, container)
        driver.close()
