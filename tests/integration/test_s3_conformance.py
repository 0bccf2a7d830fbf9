"""The conformance kit against the S3 driver on both real servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servers import S3Endpoint

from libstore import StorageDriver
from libstore.drivers.s3 import S3StorageDriver
from libstore.http.retry import RetryPolicy
from libstore.testing import StorageDriverConformance

pytestmark = pytest.mark.integration


def _driver(endpoint: S3Endpoint) -> Iterator[StorageDriver]:
    driver = S3StorageDriver(
        endpoint.access_key,
        endpoint.secret_key,
        secure=False,
        host="127.0.0.1",
        port=endpoint.port,
        region=endpoint.region,
        retry_policy=RetryPolicy(max_attempts=3, backoff_base=0.05),
    )
    yield driver
    driver.close()


class TestMotoConformance(StorageDriverConformance):
    """moto stores every key exactly: the reference for key round trips."""

    @pytest.fixture
    def driver(self, moto_s3: S3Endpoint) -> Iterator[StorageDriver]:
        yield from _driver(moto_s3)


def _seaweedfs_alters(key: str) -> bool:
    """SeaweedFS maps keys onto a file tree: it strips a leading '/', collapses '//',
    refuses '.'/'..' segments, treats a trailing '/' as a directory and turns '\\' into '/'."""
    segments = key.split("/")
    return (
        key.startswith("/")
        or key.endswith("/")
        or "//" in key
        or "\\" in key
        or any(s in (".", "..") for s in segments)
    )


class TestSeaweedFSConformance(StorageDriverConformance):
    """SeaweedFS verifies every signature; it alters some path-like keys itself."""

    #: SeaweedFS lists directory by directory ('a/b' before 'a-b'), not in UTF-8 order.
    lists_in_utf8_order = False

    @pytest.fixture
    def driver(self, seaweedfs: S3Endpoint) -> Iterator[StorageDriver]:
        yield from _driver(seaweedfs)

    def key_round_trips(self, key: str) -> bool:
        return not _seaweedfs_alters(key)
