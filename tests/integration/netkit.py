"""Helpers of the network integration tests: drivers with options, and one full round trip."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from servers import S3Endpoint

from libstore.base import Container
from libstore.drivers.s3 import S3StorageDriver
from libstore.http.options import ClientOptions
from libstore.http.retry import RetryPolicy

MiB = 1024 * 1024
QUICK = RetryPolicy(max_attempts=3, backoff_base=0.01, retry_after_max=1.0)


def make_driver(
    endpoint: S3Endpoint,
    *,
    port: int | None = None,
    secure: bool = False,
    **options: Any,
) -> S3StorageDriver:
    """An S3 driver for ``endpoint`` (or ``port`` on 127.0.0.1) with these ClientOptions."""
    options.setdefault("retry", QUICK)
    options.setdefault("read_timeout", 20)
    return S3StorageDriver(
        endpoint.access_key,
        endpoint.secret_key,
        secure=secure,
        host="127.0.0.1",
        port=port or endpoint.port,
        region=endpoint.region,
        options=ClientOptions(**options),
    )


def round_trip(
    driver: S3StorageDriver, bucket: str, tmp_path: Path, *, large: bool = False
) -> None:
    """Create a bucket, upload (single and, with ``large``, multipart), list, download, delete."""
    container = driver.create_container(bucket)
    try:
        small = os.urandom(64 * 1024)
        driver.upload_object_via_stream(iter([small]), container, "dir/small.bin")
        names = {"dir/small.bin"}
        if large:
            big_path = tmp_path / "big.bin"
            big_path.write_bytes(os.urandom(17 * MiB + 123))  # multipart up, ranged down
            driver.upload_object(big_path, container, "dir/big.bin")
            names.add("dir/big.bin")
        listed = {o.name for o in driver.iterate_container_objects(container, prefix="dir/")}
        assert listed == names
        obj = driver.get_object(bucket, "dir/small.bin")
        assert b"".join(driver.download_object_as_stream(obj)) == small
        if large:
            big = driver.get_object(bucket, "dir/big.bin")
            target = tmp_path / "big.out"
            assert driver.download_object(big, target, overwrite_existing=True)
            assert _sha(target) == _sha(tmp_path / "big.bin")
    finally:
        empty_and_delete(driver, container)


def empty_and_delete(driver: S3StorageDriver, container: Container) -> None:
    for obj in list(driver.iterate_container_objects(container)):
        driver.delete_object(obj)
    driver.delete_container(container)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
