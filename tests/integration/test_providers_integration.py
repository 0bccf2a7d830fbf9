"""Provider presets against real S3 servers on 127.0.0.1 (SeaweedFS verifies every signature).

* ``Provider.SEAWEEDFS`` runs the whole conformance kit on SeaweedFS with its preset's
  flags (no look-before-create: SeaweedFS answers 409 for an existing bucket);
* a ListObjects-v1 preset runs the whole kit on moto (marker pagination past 1000 keys);
* every bundled preset, pointed at SeaweedFS with ``host=``, does a full round trip with
  its own quirks switched on (R2's equal parts and ``auto`` signing region, Google's
  MD5-only uploads, IBM's location constraint…);
* the per-region AWS aliases and the "existing bucket" flag are checked on moto, which
  behaves like AWS (a region-specific endpoint, 200 for re-creating your own bucket).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterator

import pytest
from servers import S3Endpoint

from libstore import Container, Provider, StorageDriver, get_driver
from libstore.drivers.s3 import S3StorageDriver
from libstore.http.retry import RetryPolicy
from libstore.providers import PRESETS, S3Preset
from libstore.testing import StorageDriverConformance
from libstore.types import ContainerAlreadyExistsError, ObjectDoesNotExistError

pytestmark = pytest.mark.integration

MiB = 1024 * 1024

#: Every provider family (one entry per preset that is not an alias), plus two aliases.
PRESET_NAMES = [
    *sorted(n for n, p in PRESETS.items() if p.alias_of is None),
    Provider.S3_EU_WEST_1,
    Provider.S3_RGW,
]


def connect(
    endpoint: S3Endpoint, provider: str | None = None, **options: object
) -> S3StorageDriver:
    cls = get_driver(provider) if provider else S3StorageDriver
    assert issubclass(cls, S3StorageDriver)
    return cls(
        endpoint.access_key,
        endpoint.secret_key,
        secure=False,
        host="127.0.0.1",
        port=endpoint.port,
        retry_policy=RetryPolicy(max_attempts=3, backoff_base=0.05),
        **options,  # type: ignore[arg-type]
    )


def _empty_and_delete(driver: StorageDriver, container: Container) -> None:
    for obj in list(driver.iterate_container_objects(container)):
        driver.delete_object(obj)
    driver.delete_container(container)


def _seaweedfs_alters(key: str) -> bool:
    segments = key.split("/")
    return (
        key.startswith("/")
        or key.endswith("/")
        or "//" in key
        or "\\" in key
        or any(s in (".", "..") for s in segments)
    )


class TestSeaweedFSPresetConformance(StorageDriverConformance):
    """``get_driver(Provider.SEAWEEDFS)``: the SeaweedFS preset, its flags and all."""

    lists_in_utf8_order = False

    @pytest.fixture
    def driver(self, seaweedfs: S3Endpoint) -> Iterator[StorageDriver]:
        d = connect(seaweedfs, Provider.SEAWEEDFS)
        assert d.preset.existing_bucket == "error"
        yield d
        d.close()

    def key_round_trips(self, key: str) -> bool:
        return not _seaweedfs_alters(key)


class TestListObjectsV1Conformance(StorageDriverConformance):
    """A preset that lists with ListObjects (v1, markers) against moto."""

    @pytest.fixture
    def driver(self, moto_s3: S3Endpoint) -> Iterator[StorageDriver]:
        preset = dataclasses.replace(PRESETS["s3"], name="s3-v1", list_objects_version=1)
        d = connect(moto_s3, preset=preset, region=moto_s3.region)
        yield d
        d.close()


# -- every preset, for real ------------------------------------------------------------------


@pytest.mark.parametrize("provider", PRESET_NAMES)
def test_preset_round_trip_on_seaweedfs(
    seaweedfs: S3Endpoint, bucket_name: str, provider: str
) -> None:
    driver = connect(seaweedfs, provider)
    preset = driver.preset
    assert driver.custom_host and driver.signing_region == (preset.signing_region or driver.region)
    container = driver.create_container(bucket_name)
    try:
        small = driver.upload_object_via_stream(
            iter([b"hello ", b"preset"]),
            container,
            "dir/small.txt",
            extra={"content_type": "text/plain", "meta_data": {"Provider": provider}},
        )
        assert small.size == 12
        # Three parts; for R2 they must all be the same size but the last.
        data = os.urandom(11 * MiB + 3)
        big = driver.upload_object_via_stream(
            (data[i : i + 700_000] for i in range(0, len(data), 700_000)), container, "dir/big.bin"
        )
        assert big.size == len(data)

        assert [o.name for o in driver.list_container_objects(container, prefix="dir/")] == [
            "dir/big.bin",
            "dir/small.txt",
        ]
        fetched = driver.get_object(container.name, "dir/small.txt")
        assert fetched.meta_data == {"provider": provider}
        assert fetched.extra["content_type"] == "text/plain"
        assert b"".join(driver.download_object_as_stream(fetched)) == b"hello preset"
        big_fetched = driver.get_object(container.name, "dir/big.bin")
        whole = b"".join(driver.download_object_as_stream(big_fetched))
        assert hashlib.sha256(whole).digest() == hashlib.sha256(data).digest()
        part = b"".join(driver.download_object_range_as_stream(big, 5 * MiB - 2, 5 * MiB + 2))
        assert part == data[5 * MiB - 2 : 5 * MiB + 2]

        with pytest.raises(ContainerAlreadyExistsError):
            driver.create_container(bucket_name)
        for obj in driver.list_container_objects(container):
            driver.delete_object(obj)
        with pytest.raises(ObjectDoesNotExistError):
            driver.get_object(container.name, "dir/small.txt")
    finally:
        _empty_and_delete(driver, container)


def test_google_preset_sends_no_flexible_checksum(seaweedfs: S3Endpoint, bucket_name: str) -> None:
    driver = connect(seaweedfs, Provider.GOOGLE_STORAGE)
    assert driver.checksum == "md5"
    container = driver.create_container(bucket_name)
    try:
        obj = driver.upload_object_via_stream(iter([b"md5 only"]), container, "k")
        assert "checksum_crc32" not in obj.extra
        assert obj.hash == hashlib.md5(b"md5 only").hexdigest()
    finally:
        _empty_and_delete(driver, container)


# -- AWS behaviour on moto --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "region"),
    [
        (Provider.S3_EU_WEST, "eu-west-1"),
        (Provider.S3_US_WEST_OREGON, "us-west-2"),
        (Provider.S3_AP_SOUTHEAST_2, "ap-southeast-2"),
    ],
)
def test_aws_alias_creates_its_bucket_in_its_region(
    moto_s3: S3Endpoint, bucket_name: str, provider: str, region: str
) -> None:
    driver = connect(moto_s3, provider)
    assert driver.region == region
    container = driver.create_container(bucket_name)
    try:
        assert driver.get_container(bucket_name).extra.get("region") == region
        driver.upload_object_via_stream(iter([b"regional"]), container, "k")
        assert b"".join(driver.get_object(bucket_name, "k").as_stream()) == b"regional"
    finally:
        _empty_and_delete(driver, container)


def test_existing_bucket_flag_on_a_store_that_answers_200(
    moto_s3: S3Endpoint, bucket_name: str
) -> None:
    # moto, like AWS in us-east-1, answers 200 when you re-create your own bucket.
    looks_first = connect(moto_s3, Provider.CEPH)
    trusts_409 = connect(moto_s3, preset=S3Preset(name="x", title="X", existing_bucket="error"))
    container = looks_first.create_container(bucket_name)
    try:
        with pytest.raises(ContainerAlreadyExistsError):
            looks_first.create_container(bucket_name)
        # Without looking first the 200 goes unnoticed: why the flag exists.
        trusts_409.create_container(bucket_name)
    finally:
        _empty_and_delete(looks_first, container)
