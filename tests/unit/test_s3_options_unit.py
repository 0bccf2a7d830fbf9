"""Unit tests of the pure S3 option builders and sub-resource parsers (no requests)."""

from __future__ import annotations

import base64
import functools
import gc
import hashlib
import importlib.util
import sys
import types
import zlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from libstore._extra import S3_EXTRA_KEYS, UPLOAD_EXTRA_KEYS, UploadOptions, parse_upload_extra
from libstore.base import Container, Object
from libstore.drivers import _s3_features as features
from libstore.drivers import _s3_options as options
from libstore.drivers._s3_options import (
    DSSEKMS,
    SSEKMS,
    SSES3,
    NoEncryption,
    ObjectDefaults,
    ReadConditions,
    ReadOptions,
    S3WriteOptions,
    SSECustomerKey,
)
from libstore.types import (
    InvalidArgumentError,
    MultipartUploadError,
    NotModifiedError,
    NotSupportedError,
    PreconditionFailedError,
    ResponseError,
)

VECTOR = b"123456789"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
def no_accelerators(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("crc32c", "awscrt", "awscrt.checksums", "google_crc32c"):
        monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
    options._ACCELERATORS.clear()
    yield
    options._ACCELERATORS.clear()


# -- checksums --------------------------------------------------------------------------------


def test_stdlib_checksums_match_s3s_encoding() -> None:
    assert options.checksum_b64("CRC32", b"abc") == "NSRBwg=="  # what S3 answers for "abc"
    assert options.checksum_b64("CRC32", VECTOR) == b64((0xCBF43926).to_bytes(4, "big"))
    assert options.checksum_b64("SHA1", VECTOR) == b64(hashlib.sha1(VECTOR).digest())
    assert options.checksum_b64("SHA256", b"") == b64(hashlib.sha256(b"").digest())


def test_checksum_of_a_reopened_file_body(tmp_path: Any) -> None:
    path = tmp_path / "f"
    path.write_bytes(VECTOR * 300_000)
    value = options.checksum_of_body("CRC32", functools.partial(path.open, "rb"))
    assert value == b64(zlib.crc32(VECTOR * 300_000).to_bytes(4, "big"))
    assert options.checksum_of_body("SHA256", None) == b64(hashlib.sha256(b"").digest())


def test_composite_checksum_is_the_checksum_of_part_checksums() -> None:
    parts = [b"a" * 10, b"b" * 3]
    sums = [options.checksum_b64("SHA256", p) for p in parts]
    raw = b"".join(hashlib.sha256(p).digest() for p in parts)
    assert options.composite_checksum("SHA256", sums) == f"{b64(hashlib.sha256(raw).digest())}-2"


def test_no_accelerator_means_not_supported(no_accelerators: None) -> None:
    for algorithm in ("CRC32C", "CRC64NVME"):
        assert not options.checksum_available(algorithm)
        with pytest.raises(NotSupportedError, match="pure-Python") as info:
            options.new_hasher(algorithm)
        assert isinstance(info.value, NotImplementedError)
        with pytest.raises(NotSupportedError):
            options.parse_checksum_algorithm(algorithm.lower(), "x")
    assert options.checksum_available("CRC32") and not options.checksum_available("MD5")


def test_google_crc32c_pure_python_fallback_is_refused(
    monkeypatch: pytest.MonkeyPatch, no_accelerators: None
) -> None:
    google = types.ModuleType("google_crc32c")
    google.implementation = "python"  # type: ignore[attr-defined]
    google.extend = lambda crc, data: 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google_crc32c", google)
    options._ACCELERATORS.clear()
    assert not options.checksum_available("CRC32C")
    google.implementation = "c"  # type: ignore[attr-defined]
    google.extend = lambda crc, data: 0xE3069283  # type: ignore[attr-defined]
    options._ACCELERATORS.clear()
    assert options.checksum_b64("CRC32C", VECTOR) == b64((0xE3069283).to_bytes(4, "big"))


def test_crc32c_package_is_used_when_present(
    monkeypatch: pytest.MonkeyPatch, no_accelerators: None
) -> None:
    calls: list[tuple[bytes, int]] = []
    fake = types.ModuleType("crc32c")

    def crc32c(data: bytes, value: int = 0) -> int:
        calls.append((data, value))
        return value + len(data)

    fake.crc32c = crc32c  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "crc32c", fake)
    options._ACCELERATORS.clear()
    hasher = options.new_hasher("CRC32C")
    hasher.update(b"ab")
    hasher.update(b"cde")
    assert calls == [(b"ab", 0), (b"cde", 2)]  # incremental: the running value is passed on
    assert hasher.digest() == (5).to_bytes(4, "big")


@pytest.mark.skipif(importlib.util.find_spec("awscrt") is None, reason="awscrt not installed")
def test_real_awscrt_vectors() -> None:  # pragma: no cover - only with the accelerator
    options._ACCELERATORS.clear()
    assert options.checksum_b64("CRC32C", VECTOR) == b64((0xE3069283).to_bytes(4, "big"))
    assert options.checksum_b64("CRC64NVME", VECTOR) == b64((0xAE8B14860A799888).to_bytes(8, "big"))


@pytest.mark.skipif(importlib.util.find_spec("crc32c") is None, reason="crc32c not installed")
def test_real_crc32c_vector() -> None:  # pragma: no cover - only with the accelerator
    options._ACCELERATORS.clear()
    assert options.checksum_b64("CRC32C", VECTOR) == b64((0xE3069283).to_bytes(4, "big"))


def _obj(extra: dict[str, Any], etag: str = "e") -> Object:
    driver: Any = None
    return Object("k", 1, etag, extra, {}, Container("b", {}, driver), driver)


def test_which_checksum_a_download_is_checked_against(no_accelerators: None) -> None:
    sha = b64(b"\x01" * 32)
    assert options.whole_object_checksum(_obj({"checksum_sha256": sha})) == ("SHA256", sha)
    assert options.whole_object_checksum(_obj({"checksum_crc32": "AAAAAA=="}), ("CRC32",)) is None
    assert options.whole_object_checksum(_obj({"checksum_sha256": sha + "-2"})) is None
    composite = {"checksum_sha256": sha, "checksum_type": "COMPOSITE"}
    assert options.whole_object_checksum(_obj(composite)) is None
    assert options.whole_object_checksum(_obj({"checksum_sha256": sha}, "x-3")) is None
    full = {"checksum_sha256": sha, "checksum_type": "FULL_OBJECT"}
    assert options.whole_object_checksum(_obj(full, "x-3")) == ("SHA256", sha)
    assert options.whole_object_checksum(_obj({"checksum_crc32c": "AAAAAA=="})) is None


def test_record_checksums_replaces_stale_ones() -> None:
    extra: dict[str, Any] = {"checksum_crc32": "old", "checksum_type": "COMPOSITE", "etag": "e"}
    options.record_checksums(
        extra, {"x-amz-checksum-sha1": " abc= ", "x-amz-checksum-type": "FULL_OBJECT"}
    )
    assert extra == {"etag": "e", "checksum_sha1": "abc=", "checksum_type": "FULL_OBJECT"}


# -- encryption ---------------------------------------------------------------------------------


def test_encryption_headers() -> None:
    assert SSES3().headers() == {"x-amz-server-side-encryption": "AES256"}
    assert SSEKMS().headers() == {"x-amz-server-side-encryption": "aws:kms"}
    assert (
        SSEKMS(bucket_key=False).headers()["x-amz-server-side-encryption-bucket-key-enabled"]
        == "false"
    )
    assert DSSEKMS(context={"b": "2", "a": "1"}).headers() == {
        "x-amz-server-side-encryption": "aws:kms:dsse",
        "x-amz-server-side-encryption-context": b64(b'{"a":"1","b":"2"}'),
    }
    assert NoEncryption().headers() == {}


def test_sse_c_headers_and_copy_source_headers() -> None:
    key = SSECustomerKey(bytearray(range(32)))
    assert isinstance(key.key, bytes)
    md5 = b64(hashlib.md5(bytes(range(32))).digest())
    assert key.headers() == {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": b64(bytes(range(32))),
        "x-amz-server-side-encryption-customer-key-MD5": md5,
    }
    assert set(key.copy_source_headers()) == {
        "x-amz-copy-source-server-side-encryption-customer-algorithm",
        "x-amz-copy-source-server-side-encryption-customer-key",
        "x-amz-copy-source-server-side-encryption-customer-key-MD5",
    }
    assert key == SSECustomerKey(bytes(range(32)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: SSECustomerKey("k" * 32),  # type: ignore[arg-type]
        lambda: SSEKMS(key_id=""),
        lambda: SSEKMS(key_id="bad\nid"),
        lambda: SSEKMS(context={}),
        lambda: SSEKMS(context={"a": 1}),  # type: ignore[dict-item]
        lambda: SSEKMS(bucket_key="yes"),  # type: ignore[arg-type]
        lambda: DSSEKMS(context=["a"]),  # type: ignore[arg-type]
    ],
)
def test_bad_encryption_settings(make: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        make()


def test_parse_encryption_and_read_keys() -> None:
    assert options.parse_encryption("aws:kms", "x") == SSEKMS()
    assert options.parse_encryption(SSES3(), "x") == SSES3()
    with pytest.raises(InvalidArgumentError, match="x must be"):
        options.parse_encryption("aes256", "x")
    assert options.parse_read_key(bytes(32), "x") == SSECustomerKey(bytes(32))
    assert options.parse_read_key(NoEncryption(), "x") == NoEncryption()
    with pytest.raises(InvalidArgumentError, match="only SSE-C"):
        options.parse_read_key(SSES3(), "x")


@pytest.mark.parametrize(
    ("secure", "host", "ok"),
    [
        (True, "s3.amazonaws.com", True),
        (False, "127.0.0.1", True),
        (False, "127.8.9.10", True),
        (False, "[::1]", True),
        (False, "localhost", True),
        (False, "minio.internal", False),
        (False, "10.0.0.1", False),
    ],
)
def test_sse_c_transport_rule(secure: bool, host: str, ok: bool) -> None:
    key = SSECustomerKey(bytes(32))
    options.check_sse_c_transport(None, False, "example.com")
    if ok:
        options.check_sse_c_transport(key, secure, host)
    else:
        with pytest.raises(InvalidArgumentError, match="HTTPS"):
            options.check_sse_c_transport(key, secure, host)


# -- conditions, tags, lock ---------------------------------------------------------------------


def test_etags_and_read_conditions() -> None:
    assert options.format_etag('W/"abc"', "x") == '"abc"'
    assert options.format_etag("*", "x") == "*"
    with pytest.raises(InvalidArgumentError):
        options.format_etag('""', "x")
    cond = ReadConditions.parse(
        if_modified_since=datetime(2030, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    )
    assert cond.headers == {"If-Modified-Since": "Tue, 01 Jan 2030 00:00:00 GMT"}
    assert ReadConditions.parse().headers == {}


def test_tagging_header_round_trips_through_a_query_parser() -> None:
    from urllib.parse import parse_qsl

    tags = {"a b": "c+d", "é": "=/:@"}
    assert dict(parse_qsl(options.tagging_header(tags))) == tags


def test_lock_dates_are_utc_milliseconds() -> None:
    when = datetime(2030, 1, 1, 2, 3, 4, 567890, tzinfo=timezone(timedelta(hours=2)))
    assert options.format_lock_date(when, "x") == "2030-01-01T00:03:04.567Z"
    assert options.parse_lock_mode("compliance", "x") == "COMPLIANCE"


# -- resolved options ---------------------------------------------------------------------------


def test_driver_defaults() -> None:
    defaults = ObjectDefaults.parse(encryption=None, checksum="crc32", request_payer=False)
    assert defaults.engine_checksum == "crc32"
    sha = ObjectDefaults.parse(encryption="AES256", checksum="SHA256", request_payer=True)
    assert (sha.engine_checksum, sha.checksum, sha.encryption) == ("md5", "sha256", SSES3())
    assert sha.read_key() is None
    key = SSECustomerKey(bytes(32))
    assert ObjectDefaults(encryption=key).read_key() == key


def test_write_options_resolution() -> None:
    crc_default = ObjectDefaults()
    extra = parse_upload_extra(
        {"checksum_algorithm": "crc32", "encryption": NoEncryption()}, s3=True
    )
    write = S3WriteOptions.resolve(extra, ObjectDefaults(encryption=SSES3()))
    assert write.encryption is None  # NoEncryption cancels the driver's default
    assert write.checksum_algorithm is None  # the engine's own CRC32 does it
    write = S3WriteOptions.resolve(extra, ObjectDefaults(checksum="md5"))
    assert write.checksum_algorithm == "CRC32"
    write = S3WriteOptions.resolve(UploadOptions(), ObjectDefaults(checksum="sha1"))
    assert write.checksum_algorithm == "SHA1" and not write.engine_crc32(crc_default)
    assert write.initiate_headers() == {
        "x-amz-checksum-algorithm": "SHA1",
        "x-amz-checksum-type": "COMPOSITE",
    }
    headers, value = write.part_headers(b"abc")
    assert value == b64(hashlib.sha1(b"abc").digest())
    assert headers == {"x-amz-checksum-sha1": value, "x-amz-sdk-checksum-algorithm": "SHA1"}
    assert write.part_checksum_element() == "ChecksumSHA1"
    assert write.expected_composite([value]) == options.composite_checksum("SHA1", [value])
    assert S3WriteOptions().initiate_headers() == {}
    assert S3WriteOptions().part_headers(b"x") == ({}, None)


def test_write_option_headers_by_operation() -> None:
    key = SSECustomerKey(bytes(32))
    extra = parse_upload_extra(
        {
            "encryption": key,
            "tags": {"a": "b"},
            "if_none_match": "*",
            "object_lock_mode": "governance",
            "object_lock_retain_until": datetime(2030, 1, 1, tzinfo=UTC),
            "object_lock_legal_hold": True,
        },
        s3=True,
    )
    write = S3WriteOptions.resolve(extra, ObjectDefaults())
    described = write.object_headers()
    assert described["x-amz-tagging"] == "a=b"
    assert described["x-amz-object-lock-mode"] == "GOVERNANCE"
    assert described["x-amz-object-lock-legal-hold"] == "ON"
    assert "If-None-Match" not in described  # not on CreateMultipartUpload
    assert write.put_headers(b"x") == {"If-None-Match": "*"}
    complete = write.complete_headers()
    assert complete["If-None-Match"] == "*"
    assert complete["x-amz-server-side-encryption-customer-key"] == b64(bytes(32))
    assert "x-amz-server-side-encryption-customer-key" in write.part_headers(b"x")[0]


def test_precondition_error_unwraps_multipart_failures() -> None:
    cause = PreconditionFailedError("completing failed", code="PreconditionFailed", http_status=412)
    wrapped = MultipartUploadError("completing the upload failed", upload_id="u")
    wrapped.__cause__ = cause
    error = options.precondition_error(wrapped)
    assert type(error) is PreconditionFailedError
    assert error is not None and error.http_status == 412 and "aborted" in str(error)
    other = MultipartUploadError("x")
    other.__cause__ = ValueError()
    assert options.precondition_error(other) is None
    not_modified = MultipartUploadError("x")
    not_modified.__cause__ = NotModifiedError("n")
    assert isinstance(options.precondition_error(not_modified), NotModifiedError)


def test_read_options_follow_the_handle_and_die_with_it() -> None:
    obj = _obj({})
    assert options.read_options_of(obj) == ReadOptions()
    pinned = ReadOptions(version_id="v1")
    assert options.remember_read_options(obj, pinned) is obj
    assert options.read_options_of(obj) == pinned
    assert pinned.query() == [("versionId", "v1")]
    before = len(options._READ_OPTIONS)
    del obj
    gc.collect()
    assert len(options._READ_OPTIONS) == before - 1
    assert "key=" in repr(ReadOptions(key=SSECustomerKey(bytes(32))))
    assert b64(bytes(32)) not in repr(ReadOptions(key=SSECustomerKey(bytes(32))))


def test_read_headers() -> None:
    key = SSECustomerKey(bytes(32))
    read = ReadOptions(conditions=ReadConditions.parse(if_match="e"))
    defaults = ObjectDefaults(encryption=key, request_payer=True)
    headers = read.headers(defaults)
    assert headers["If-Match"] == '"e"'
    assert headers["x-amz-request-payer"] == "requester"
    assert "x-amz-server-side-encryption-customer-key" in headers
    assert "If-Match" not in read.headers(defaults, conditions=False)
    assert ReadOptions(key=NoEncryption()).headers(defaults) == {"x-amz-request-payer": "requester"}


# -- extra ----------------------------------------------------------------------------------------


def test_s3_extra_keys_are_separate_from_the_common_ones() -> None:
    assert not S3_EXTRA_KEYS & UPLOAD_EXTRA_KEYS
    assert parse_upload_extra(dict.fromkeys(S3_EXTRA_KEYS)) == UploadOptions()
    with pytest.raises(InvalidArgumentError, match="S3 drivers only"):
        parse_upload_extra({"tags": {"a": "b"}})
    with pytest.raises(InvalidArgumentError, match="unknown extra"):
        parse_upload_extra({"sse": "AES256"}, s3=True)


# -- sub-resource XML -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parser", "body"),
    [
        (
            features.parse_tagging,
            b"<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>",
        ),
        (
            features.parse_versioning,
            b"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>",
        ),
        (
            features.parse_versions,
            b"<ListVersionsResult><Version><Key>k</Key></Version></ListVersionsResult>",
        ),
        (
            features.parse_versions,
            b"<ListVersionsResult><Version><Key>k</Key><VersionId>v</VersionId><Size>x</Size></Version></ListVersionsResult>",
        ),
        (
            features.parse_retention,
            b"<Retention><Mode>FOREVER</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>",
        ),
        (features.parse_retention, b"<Retention><Mode>GOVERNANCE</Mode></Retention>"),
        (features.parse_legal_hold, b"<LegalHold><Status>MAYBE</Status></LegalHold>"),
        (
            features.parse_object_lock,
            b"<ObjectLockConfiguration><Rule><DefaultRetention><Mode>X</Mode></DefaultRetention></Rule></ObjectLockConfiguration>",
        ),
        (
            features.parse_lifecycle,
            b"<LifecycleConfiguration><Rule><Expiration><Days>soon</Days></Expiration></Rule></LifecycleConfiguration>",
        ),
        (features.parse_tagging, b"<!DOCTYPE x [<!ENTITY a 'b'>]><Tagging/>"),
        (features.parse_tagging, b"not xml"),
    ],
)
def test_malformed_replies_raise_response_error(parser: Any, body: bytes) -> None:
    with pytest.raises(ResponseError):
        parser(body)


def test_delete_result_errors_need_a_key() -> None:
    result = features.DeleteObjectsResult()
    with pytest.raises(ResponseError):
        features.parse_delete_result(
            b"<DeleteResult><Error><Code>X</Code></Error></DeleteResult>", result
        )
    with pytest.raises(ResponseError):
        features.parse_delete_result(b"<DeleteResult><Deleted/></DeleteResult>", result)


def test_lifecycle_rules_round_trip_through_their_xml() -> None:
    rules = [
        features.LifecycleRule(id="a", prefix="p/", expiration_days=3),
        features.LifecycleRule(tags={"x": "1", "y": "2"}, expiration_date=date(2031, 2, 3)),
        features.LifecycleRule(
            id="c",
            expiration_date=datetime(2031, 2, 3, 1, tzinfo=timezone(timedelta(hours=1))),
            noncurrent_expiration_days=1,
            noncurrent_newer_versions=4,
            abort_incomplete_multipart_days=2,
            enabled=False,
        ),
        features.LifecycleRule(expired_object_delete_marker=True),
    ]
    parsed = features.parse_lifecycle(features.lifecycle_body(rules))
    assert parsed[0] == rules[0] and parsed[1] == rules[1] and parsed[3] == rules[3]
    assert parsed[2].expiration_date == date(2031, 2, 3)
    assert parsed[2].noncurrent_newer_versions == 4 and parsed[2].enabled is False


def test_delete_batches() -> None:
    targets = [(f"k{i}", None) for i in range(2001)]
    assert [len(b) for b in features.delete_batches(targets)] == [1000, 1000, 1]
    assert list(features.delete_batches([])) == []
    body = features.delete_body([("a&b", "v<1>")], quiet=False)
    assert b"<Key>a&amp;b</Key><VersionId>v&lt;1&gt;</VersionId>" in body
    assert features.content_md5(b"") == "1B2M2Y8AsgTpgAmY7PhCfg=="
