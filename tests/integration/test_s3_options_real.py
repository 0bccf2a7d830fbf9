"""Object options against real servers, each feature on a server that implements it.

What each server does (checked by these tests):

* SeaweedFS (verifies SigV4): SSE-C (wrong key refused), conditional writes on PUT and
  on multipart completion, conditional reads (304/412), tagging, versioning, bulk
  delete, lifecycle rules, object lock (retention, legal hold, default retention,
  governance bypass), flexible checksums (verified: a wrong one is refused). It
  answers GetBucketRequestPayment (always BucketOwner) but refuses to set it, and
  fails SSE-S3/SSE-KMS without a KMS configured.
* moto: SSE-S3, SSE-KMS and DSSE-KMS (echoed back), checksums (stored, not verified),
  create-only multipart completion, tagging, versioning, bulk delete, lifecycle, legal
  hold. It ignores SSE-C keys and If-Match on multipart completion, does not implement
  GetObjectRetention nor GetBucketRequestPayment.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from servers import S3Endpoint

from libstore import (
    AccessDeniedError,
    Container,
    LibstoreError,
    NotModifiedError,
    ObjectDoesNotExistError,
    ObjectHashMismatchError,
    PreconditionFailedError,
)
from libstore.drivers.s3 import (
    DSSEKMS,
    MIN_PART_SIZE,
    SSEKMS,
    SSES3,
    LifecycleRule,
    ObjectLockConfiguration,
    S3StorageDriver,
    SSECustomerKey,
)
from libstore.http.retry import RetryPolicy

pytestmark = pytest.mark.integration

DATA = os.urandom(3000)
BIG = [os.urandom(MIN_PART_SIZE), os.urandom(1000)]


def make_driver(endpoint: S3Endpoint, **options: object) -> S3StorageDriver:
    return S3StorageDriver(
        endpoint.access_key,
        endpoint.secret_key,
        secure=False,
        host="127.0.0.1",
        port=endpoint.port,
        region=endpoint.region,
        retry_policy=RetryPolicy(max_attempts=3, backoff_base=0.01),
        read_timeout=20,
        **options,  # type: ignore[arg-type]
    )


def _cleanup(driver: S3StorageDriver, container: Container) -> None:
    for version in list(driver.iterate_object_versions(container)):
        # A COMPLIANCE-locked version would stay, and so would its bucket.
        with contextlib.suppress(LibstoreError):
            driver.delete_object(version, bypass_governance_retention=True)
    for obj in list(driver.iterate_container_objects(container)):
        driver.delete_object(obj)
    with contextlib.suppress(LibstoreError):
        driver.delete_container(container)


@pytest.fixture
def weed(seaweedfs: S3Endpoint) -> Iterator[S3StorageDriver]:
    driver = make_driver(seaweedfs)
    yield driver
    driver.close()


@pytest.fixture
def weed_bucket(weed: S3StorageDriver, bucket_name: str) -> Iterator[Container]:
    container = weed.create_container(bucket_name)
    yield container
    _cleanup(weed, container)


@pytest.fixture
def moto(moto_s3: S3Endpoint) -> Iterator[S3StorageDriver]:
    driver = make_driver(moto_s3)
    yield driver
    driver.close()


@pytest.fixture
def moto_bucket(moto: S3StorageDriver, bucket_name: str) -> Iterator[Container]:
    container = moto.create_container(bucket_name)
    yield container
    _cleanup(moto, container)


@pytest.fixture
def any_driver(s3_server: S3Endpoint) -> Iterator[S3StorageDriver]:
    driver = make_driver(s3_server)
    yield driver
    driver.close()


@pytest.fixture
def any_bucket(any_driver: S3StorageDriver, bucket_name: str) -> Iterator[Container]:
    container = any_driver.create_container(bucket_name)
    yield container
    _cleanup(any_driver, container)


# -- SSE-C (SeaweedFS enforces it) --------------------------------------------------------------


def test_sse_c_round_trip_on_seaweedfs(weed: S3StorageDriver, weed_bucket: Container) -> None:
    key = SSECustomerKey(os.urandom(32))
    obj = weed.upload_object_via_stream(iter([DATA]), weed_bucket, "s.bin", {"encryption": key})
    assert b"".join(obj.as_stream()) == DATA  # the upload's handle remembers the key

    with pytest.raises(LibstoreError):  # no key: refused
        weed.get_object(weed_bucket.name, "s.bin")
    with pytest.raises(AccessDeniedError):  # wrong key: refused
        weed.get_object(weed_bucket.name, "s.bin", encryption=os.urandom(32))
    head = weed.get_object(weed_bucket.name, "s.bin", encryption=key)
    assert head.size == len(DATA)
    assert head.extra["sse_customer_algorithm"] == "AES256"
    assert b"".join(head.range_as_stream(100, 200)) == DATA[100:200]
    weed.delete_object(head)  # its HEAD first needs the key too


def test_sse_c_multipart_and_driver_default_on_seaweedfs(
    seaweedfs: S3Endpoint, bucket_name: str, tmp_path: object
) -> None:
    key = SSECustomerKey(os.urandom(32))
    driver = make_driver(seaweedfs, encryption=key)
    container = driver.create_container(bucket_name)
    try:
        obj = driver.upload_object_via_stream(iter(BIG), container, "big.bin")
        assert obj.hash and obj.hash.endswith("-2")
        again = driver.get_object(container.name, "big.bin")  # the driver's key
        assert (
            hashlib.sha256(b"".join(again.as_stream())).digest()
            == hashlib.sha256(b"".join(BIG)).digest()
        )
    finally:
        _cleanup(driver, container)
        driver.close()


# -- conditional writes and reads -----------------------------------------------------------


def test_create_only_and_compare_and_swap_puts(
    any_driver: S3StorageDriver, any_bucket: Container
) -> None:
    first = any_driver.upload_object_via_stream(
        iter([b"one"]), any_bucket, "c", {"if_none_match": "*"}
    )
    with pytest.raises(PreconditionFailedError):
        any_driver.upload_object_via_stream(iter([b"two"]), any_bucket, "c", {"if_none_match": "*"})
    with pytest.raises(PreconditionFailedError):
        any_driver.upload_object_via_stream(
            iter([b"two"]), any_bucket, "c", {"if_match": hashlib.md5(b"nope").hexdigest()}
        )
    assert first.hash
    any_driver.upload_object_via_stream(iter([b"two"]), any_bucket, "c", {"if_match": first.hash})
    assert b"".join(any_driver.get_object(any_bucket.name, "c").as_stream()) == b"two"


def test_create_only_multipart_completion(
    any_driver: S3StorageDriver, any_bucket: Container
) -> None:
    any_driver.upload_object_via_stream(iter(BIG), any_bucket, "m", {"if_none_match": "*"})
    with pytest.raises(PreconditionFailedError):
        any_driver.upload_object_via_stream(iter(BIG), any_bucket, "m", {"if_none_match": "*"})
    uploads = any_driver._call(
        "GET", any_driver._url(any_bucket.name, query=[("uploads", None)]), "listing uploads"
    )
    assert b"<UploadId>" not in uploads.body  # the losing upload was aborted


def test_compare_and_swap_multipart_completion_on_seaweedfs(
    weed: S3StorageDriver, weed_bucket: Container
) -> None:
    current = weed.upload_object_via_stream(iter([b"v1"]), weed_bucket, "m")
    with pytest.raises(PreconditionFailedError):
        weed.upload_object_via_stream(iter(BIG), weed_bucket, "m", {"if_match": "0" * 32})
    assert current.hash
    weed.upload_object_via_stream(iter(BIG), weed_bucket, "m", {"if_match": current.hash})
    assert weed.get_object(weed_bucket.name, "m").size == sum(map(len, BIG))


def test_conditional_reads(any_driver: S3StorageDriver, any_bucket: Container) -> None:
    obj = any_driver.upload_object_via_stream(iter([DATA]), any_bucket, "r")
    assert obj.hash
    with pytest.raises(NotModifiedError):
        any_driver.get_object(any_bucket.name, "r", if_none_match=obj.hash)
    with pytest.raises(PreconditionFailedError) as failed:
        any_driver.get_object(any_bucket.name, "r", if_match="0" * 32)
    assert not isinstance(failed.value, NotModifiedError)
    future = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(NotModifiedError):
        any_driver.get_object(any_bucket.name, "r", if_modified_since=future)
    with pytest.raises(PreconditionFailedError):
        any_driver.get_object(
            any_bucket.name, "r", if_unmodified_since=datetime(2000, 1, 1, tzinfo=UTC)
        )
    fresh = any_driver.get_object(any_bucket.name, "r", if_match=obj.hash, if_none_match="other")
    assert b"".join(fresh.as_stream()) == DATA  # the GET carries the same conditions


# -- tagging --------------------------------------------------------------------------------


def test_tags_on_upload_and_afterwards(any_driver: S3StorageDriver, any_bucket: Container) -> None:
    tags = {"team": "data eng", "path": "a/b+c=d@e:f"}
    obj = any_driver.upload_object_via_stream(iter([DATA]), any_bucket, "t", {"tags": tags})
    assert any_driver.get_object_tags(obj) == tags
    any_driver.set_object_tags(obj, {"k": "v", "x.y_z": "-1"})
    assert any_driver.get_object_tags(obj) == {"k": "v", "x.y_z": "-1"}
    any_driver.delete_object_tags(obj)
    assert any_driver.get_object_tags(obj) == {}


# -- versioning and bulk delete ---------------------------------------------------------------


def test_versions_get_download_delete(any_driver: S3StorageDriver, any_bucket: Container) -> None:
    assert any_driver.get_versioning(any_bucket) is None
    any_driver.enable_versioning(any_bucket)
    assert any_driver.get_versioning(any_bucket) == "Enabled"
    for text in (b"v1", b"v2", b"v3"):
        any_driver.upload_object_via_stream(iter([text]), any_bucket, "doc")
    current = any_driver.get_object(any_bucket.name, "doc")
    any_driver.delete_object(current)  # a delete marker on top
    with pytest.raises(ObjectDoesNotExistError):
        any_driver.get_object(any_bucket.name, "doc")

    versions = any_driver.list_object_versions(any_bucket, prefix="doc")
    markers = [v for v in versions if v.extra["delete_marker"]]
    data = [v for v in versions if not v.extra["delete_marker"]]
    assert len(markers) == 1 and len(data) == 3
    assert sorted(b"".join(v.as_stream()) for v in data) == [b"v1", b"v2", b"v3"]

    oldest = min(data, key=lambda v: b"".join(v.as_stream()))
    again = any_driver.get_object(any_bucket.name, "doc", version_id=oldest.extra["version_id"])
    assert b"".join(again.as_stream()) == b"v1"
    assert any_driver.get_object_tags(again) == {}

    any_driver.delete_object(markers[0])  # removing the marker restores the latest version
    assert b"".join(any_driver.get_object(any_bucket.name, "doc").as_stream()) == b"v3"
    any_driver.delete_object(oldest)
    remaining = {v.extra["version_id"] for v in any_driver.iterate_object_versions(any_bucket)}
    assert oldest.extra["version_id"] not in remaining and len(remaining) == 2

    any_driver.suspend_versioning(any_bucket)
    assert any_driver.get_versioning(any_bucket) == "Suspended"


def test_bulk_delete(any_driver: S3StorageDriver, any_bucket: Container) -> None:
    names = [f"bulk/{i:04d} & <odd>" for i in range(1203)]
    for name in names[:5]:
        any_driver.upload_object_via_stream(iter([b"x"]), any_bucket, name)
    result = any_driver.delete_objects(any_bucket, [*names, "never-existed"])
    result.raise_for_errors()
    assert {d.name for d in result.deleted} == {*names, "never-existed"}
    assert list(any_driver.iterate_container_objects(any_bucket, prefix="bulk/")) == []
    quiet = any_driver.delete_objects(any_bucket, names[:3], quiet=True)
    assert quiet.errors == []  # SeaweedFS then reports nothing else; moto ignores Quiet


def test_bulk_delete_of_versions(any_driver: S3StorageDriver, any_bucket: Container) -> None:
    any_driver.enable_versioning(any_bucket)
    for text in (b"1", b"2"):
        any_driver.upload_object_via_stream(iter([text]), any_bucket, "v")
    versions = any_driver.list_object_versions(any_bucket)
    result = any_driver.delete_objects(any_bucket, versions)
    assert sorted(d.version_id or "" for d in result.deleted) == sorted(
        v.extra["version_id"] for v in versions
    )
    assert any_driver.list_object_versions(any_bucket) == []


# -- lifecycle ------------------------------------------------------------------------------


def test_lifecycle_rules(any_driver: S3StorageDriver, any_bucket: Container) -> None:
    assert any_driver.get_lifecycle_rules(any_bucket) == []
    rules = [
        LifecycleRule(id="tmp", prefix="tmp/", expiration_days=7),
        LifecycleRule(
            id="old",
            prefix="logs/",
            tags={"kind": "debug"},
            expiration_date=date(2030, 1, 1),
        ),
        LifecycleRule(
            id="noncurrent",
            noncurrent_expiration_days=30,
            abort_incomplete_multipart_days=2,
            enabled=False,
        ),
    ]
    any_driver.set_lifecycle_rules(any_bucket, rules)
    assert any_driver.get_lifecycle_rules(any_bucket) == rules
    any_driver.delete_lifecycle_rules(any_bucket)
    assert any_driver.get_lifecycle_rules(any_bucket) == []


# -- object lock (SeaweedFS implements retention; moto only legal holds) ----------------------


def test_object_lock_on_seaweedfs(weed: S3StorageDriver, bucket_name: str) -> None:
    container = weed.create_container(bucket_name, object_lock=True)
    try:
        assert weed.get_object_lock_configuration(container).enabled
        until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
        obj = weed.upload_object_via_stream(
            iter([DATA]),
            container,
            "locked",
            {"object_lock_mode": "GOVERNANCE", "object_lock_retain_until": until},
        )
        version = weed.get_object(container.name, "locked").extra["version_id"]
        retention = weed.get_object_retention(obj, version_id=version)
        assert retention is not None and retention.mode == "GOVERNANCE"
        assert retention.retain_until == until
        later = until + timedelta(days=1)
        weed.set_object_retention(obj, "GOVERNANCE", later, version_id=version)
        retention = weed.get_object_retention(obj, version_id=version)
        assert retention is not None and retention.retain_until == later

        assert weed.get_object_legal_hold(obj, version_id=version) is False
        weed.set_object_legal_hold(obj, True, version_id=version)
        assert weed.get_object_legal_hold(obj, version_id=version) is True
        weed.set_object_legal_hold(obj, False, version_id=version)

        with pytest.raises(AccessDeniedError):
            weed.delete_object(obj, version_id=version)
        weed.delete_object(obj, version_id=version, bypass_governance_retention=True)

        weed.set_object_lock_configuration(container, mode="GOVERNANCE", days=1)
        assert weed.get_object_lock_configuration(container) == ObjectLockConfiguration(
            True, "GOVERNANCE", 1, None
        )
        defaulted = weed.upload_object_via_stream(iter([b"d"]), container, "defaulted")
        time.sleep(0.05)
        assert weed.get_object_retention(defaulted) is not None
    finally:
        _cleanup(weed, container)


def test_legal_hold_and_lock_configuration_on_moto(moto: S3StorageDriver, bucket_name: str) -> None:
    container = moto.create_container(bucket_name, object_lock=True)
    try:
        moto.set_object_lock_configuration(container, mode="COMPLIANCE", years=1)
        config = moto.get_object_lock_configuration(container)
        assert config == ObjectLockConfiguration(True, "COMPLIANCE", None, 1)
        moto.set_object_lock_configuration(container)  # moto: only while the bucket is empty
        obj = moto.upload_object_via_stream(
            iter([DATA]), container, "held", {"object_lock_legal_hold": True}
        )
        version = moto.get_object(container.name, "held").extra["version_id"]
        assert moto.get_object_legal_hold(obj, version_id=version) is True
        moto.set_object_legal_hold(obj, False, version_id=version)
        assert moto.get_object_legal_hold(obj, version_id=version) is False
    finally:
        _cleanup(moto, container)


def test_object_lock_is_off_on_a_plain_bucket(
    any_driver: S3StorageDriver, any_bucket: Container
) -> None:
    assert any_driver.get_object_lock_configuration(any_bucket).enabled is False


# -- SSE-S3 / SSE-KMS / DSSE-KMS (moto) -----------------------------------------------------


@pytest.mark.parametrize(
    ("encryption", "expected"),
    [
        (SSES3(), "AES256"),
        (SSEKMS(key_id="alias/libstore", context={"a": "b"}, bucket_key=True), "aws:kms"),
        (DSSEKMS(), "aws:kms:dsse"),
    ],
)
def test_server_side_encryption_on_moto(
    moto: S3StorageDriver, moto_bucket: Container, encryption: object, expected: str
) -> None:
    obj = moto.upload_object_via_stream(iter([DATA]), moto_bucket, "e", {"encryption": encryption})
    assert obj.extra["server_side_encryption"] == expected
    head = moto.get_object(moto_bucket.name, "e")
    assert head.extra["server_side_encryption"] == expected
    assert b"".join(head.as_stream()) == DATA
    big = moto.upload_object_via_stream(iter(BIG), moto_bucket, "big", {"encryption": encryption})
    assert moto.get_object(moto_bucket.name, "big").extra["server_side_encryption"] == expected
    assert big.size == sum(map(len, BIG))


def test_driver_default_encryption_on_moto(moto_s3: S3Endpoint, bucket_name: str) -> None:
    driver = make_driver(moto_s3, encryption="aws:kms")
    container = driver.create_container(bucket_name)
    try:
        driver.upload_object_via_stream(iter([DATA]), container, "d")
        assert driver.get_object(container.name, "d").extra["server_side_encryption"] == "aws:kms"
    finally:
        _cleanup(driver, container)
        driver.close()


# -- checksums ------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["SHA256", "SHA1", "CRC32"])
def test_checksums_round_trip(s3_server: S3Endpoint, bucket_name: str, algorithm: str) -> None:
    # checksum="md5": CRC32 too goes through the per-upload path (the default CRC32
    # path of the transfer engine is tested with the transfer engine).
    any_driver = make_driver(s3_server, checksum="md5")
    any_bucket = any_driver.create_container(bucket_name)
    try:
        _checksums_round_trip(any_driver, any_bucket, algorithm)
    finally:
        _cleanup(any_driver, any_bucket)
        any_driver.close()


def _checksums_round_trip(
    any_driver: S3StorageDriver, any_bucket: Container, algorithm: str
) -> None:
    extra = {"checksum_algorithm": algorithm}
    any_driver.upload_object_via_stream(iter([DATA]), any_bucket, "one", extra)
    head = any_driver.get_object(any_bucket.name, "one")
    assert head.extra[f"checksum_{algorithm.lower()}"]
    assert b"".join(head.as_stream()) == DATA  # verified against the stored checksum
    any_driver.upload_object_via_stream(iter(BIG), any_bucket, "parts", extra)
    parts = any_driver.get_object(any_bucket.name, "parts")
    assert b"".join(parts.as_stream()) == b"".join(BIG)


def test_seaweedfs_verifies_the_checksum_sent(
    weed: S3StorageDriver, weed_bucket: Container
) -> None:
    weed.upload_object_via_stream(iter([DATA]), weed_bucket, "ok", {"checksum_algorithm": "SHA256"})
    with pytest.raises(ObjectHashMismatchError):
        weed._call(
            "PUT",
            weed._url(weed_bucket.name, "bad"),
            "bad checksum",
            headers={"x-amz-checksum-sha256": "A" * 43 + "="},
            body=DATA,
            payload_hash=hashlib.sha256(DATA).hexdigest(),
        )


def test_download_notices_a_wrong_stored_checksum(
    moto: S3StorageDriver, moto_bucket: Container
) -> None:
    # moto stores the checksum it is given without checking it: a corrupt-at-rest stand-in.
    moto._call(
        "PUT",
        moto._url(moto_bucket.name, "bad"),
        "planting a wrong checksum",
        headers={"x-amz-checksum-sha256": "A" * 43 + "=", "x-amz-sdk-checksum-algorithm": "SHA256"},
        body=DATA,
        payload_hash=hashlib.sha256(DATA).hexdigest(),
    )
    obj = moto.get_object(moto_bucket.name, "bad")
    with pytest.raises(ObjectHashMismatchError, match="SHA256"):
        b"".join(obj.as_stream())


# -- requester pays -------------------------------------------------------------------------


def test_requester_pays_on_seaweedfs(seaweedfs: S3Endpoint, bucket_name: str) -> None:
    driver = make_driver(seaweedfs, request_payer=True)
    container = driver.create_container(bucket_name)
    try:
        assert driver.get_requester_pays(container) is False
        driver.upload_object_via_stream(iter([DATA]), container, "p")
        assert b"".join(driver.get_object(container.name, "p").as_stream()) == DATA
    finally:
        _cleanup(driver, container)
        driver.close()
