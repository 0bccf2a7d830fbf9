"""Error mapping, retries, transport failures, bounded error bodies and secret hygiene."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests
import responses
from wirekit import BASE, body_stream, check_signed, listing_xml, make_driver, s3_error, sent

import libstore.http.session as session_module
from libstore.base import Container, Object
from libstore.drivers.s3 import S3StorageDriver
from libstore.types import (
    AccessDeniedError,
    ContainerDoesNotExistError,
    ContainerIsNotEmptyError,
    InvalidCredsError,
    LibstoreError,
    ObjectDoesNotExistError,
    PreconditionFailedError,
    RateLimitReachedError,
    RequestTimeoutError,
    ResponseError,
    ServerError,
    TransportError,
)

OBJ_URL = f"{BASE}/bkt/key"
LIST_URL = f"{BASE}/bkt?list-type=2"


def _obj(driver: S3StorageDriver, size: int = 3) -> Object:
    return Object("key", size, None, {}, {}, Container("bkt", {}, driver), driver)


def _list(driver: S3StorageDriver) -> list[str]:
    return [o.name for o in driver.list_container_objects(Container("bkt", {}, driver))]


# -- error mapping -------------------------------------------------------------------------


def test_get_object_403_is_access_denied_not_missing(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(
        responses.HEAD,
        OBJ_URL,
        status=403,
        headers={"x-amz-request-id": "REQ403", "x-amz-id-2": "HOST403"},
    )
    with pytest.raises(AccessDeniedError) as info:
        driver.get_object("bkt", "key")
    exc = info.value
    assert not isinstance(exc, ObjectDoesNotExistError)
    assert type(exc) is AccessDeniedError
    assert (exc.http_status, exc.request_id, exc.host_id) == (403, "REQ403", "HOST403")
    assert (exc.container_name, exc.object_name) == ("bkt", "key")
    assert sent(mock) == [("HEAD", OBJ_URL)]  # no bucket probe after a 403


def test_download_403_access_denied_document(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(
        responses.GET,
        OBJ_URL,
        status=403,
        body=s3_error("AccessDenied", "Access Denied", request_id="RID-XML"),
        headers={"x-amz-request-id": "RID-HDR"},
    )
    with pytest.raises(AccessDeniedError) as info:
        list(driver.download_object_as_stream(_obj(driver)))
    exc = info.value
    assert type(exc) is AccessDeniedError
    assert (exc.code, exc.http_status, exc.request_id) == ("AccessDenied", 403, "RID-XML")
    assert exc.host_id == "HOSTID"
    assert "AccessDenied: Access Denied" in str(exc)
    assert "request_id=RID-XML" in str(exc)
    assert len(mock.calls) == 1


def test_missing_object_in_existing_bucket(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(responses.HEAD, OBJ_URL, status=404)
    mock.add(responses.HEAD, f"{BASE}/bkt", status=200)
    with pytest.raises(ObjectDoesNotExistError) as info:
        driver.get_object("bkt", "key")
    assert (info.value.object_name, info.value.container_name) == ("key", "bkt")
    assert info.value.http_status == 404
    assert sent(mock) == [("HEAD", OBJ_URL), ("HEAD", f"{BASE}/bkt")]


def test_missing_object_in_missing_bucket(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(responses.HEAD, OBJ_URL, status=404)
    mock.add(responses.HEAD, f"{BASE}/bkt", status=404)
    with pytest.raises(ContainerDoesNotExistError) as info:
        driver.get_object("bkt", "key")
    assert info.value.container_name == "bkt"
    assert sent(mock) == [("HEAD", OBJ_URL), ("HEAD", f"{BASE}/bkt")]


def test_download_no_such_key(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    mock.add(responses.GET, OBJ_URL, status=404, body=s3_error("NoSuchKey"))
    with pytest.raises(ObjectDoesNotExistError) as info:
        list(driver.download_object_as_stream(_obj(driver)))
    assert info.value.code == "NoSuchKey"


def test_download_no_such_bucket(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    mock.add(responses.GET, OBJ_URL, status=404, body=s3_error("NoSuchBucket"))
    with pytest.raises(ContainerDoesNotExistError) as info:
        list(driver.download_object_as_stream(_obj(driver)))
    assert (info.value.code, info.value.container_name) == ("NoSuchBucket", "bkt")


@pytest.mark.parametrize(
    "code",
    [
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "AuthorizationHeaderMalformed",
    ],
)
def test_credential_errors(
    driver: S3StorageDriver, mock: responses.RequestsMock, code: str
) -> None:
    mock.add(responses.GET, LIST_URL, status=403, body=s3_error(code))
    with pytest.raises(InvalidCredsError) as info:
        _list(driver)
    assert isinstance(info.value, AccessDeniedError)
    assert (info.value.code, info.value.http_status) == (code, 403)
    assert len(mock.calls) == 1  # never retried


def test_bucket_not_empty(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    mock.add(responses.DELETE, f"{BASE}/bkt", status=409, body=s3_error("BucketNotEmpty"))
    with pytest.raises(ContainerIsNotEmptyError) as info:
        driver.delete_container(Container("bkt", {}, driver))
    assert (info.value.code, info.value.http_status, info.value.container_name) == (
        "BucketNotEmpty",
        409,
        "bkt",
    )


def test_delete_missing_bucket(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    mock.add(responses.DELETE, f"{BASE}/bkt", status=404, body=s3_error("NoSuchBucket"))
    with pytest.raises(ContainerDoesNotExistError):
        driver.delete_container(Container("bkt", {}, driver))


def test_precondition_failed(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    mock.add(responses.GET, OBJ_URL, status=412, body=s3_error("PreconditionFailed"))
    with pytest.raises(PreconditionFailedError):
        list(driver.download_object_as_stream(_obj(driver)))


def test_wrong_region_redirect_names_the_region(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    for _ in range(2):  # the request is replayed once, signed for the bucket's region
        mock.add(
            responses.GET,
            LIST_URL,
            status=301,
            body=s3_error("PermanentRedirect"),
            headers={"x-amz-bucket-region": "eu-west-1", "Location": "http://elsewhere.test/"},
        )
    with pytest.raises(LibstoreError) as info:
        _list(driver)
    assert "'eu-west-1'" in str(info.value)
    assert (info.value.http_status, info.value.code) == (301, "PermanentRedirect")
    assert len(mock.calls) == 2  # Location is never followed; one replay, then the error
    assert "/eu-west-1/s3/" in mock.calls[1].request.headers["Authorization"]


# -- retries -------------------------------------------------------------------------------


def test_500_past_max_attempts_is_server_error(
    driver: S3StorageDriver, mock: responses.RequestsMock, sleeps: list[float]
) -> None:
    for _ in range(3):
        mock.add(
            responses.GET, LIST_URL, status=500, body=s3_error("InternalError", request_id="R5")
        )
    with pytest.raises(ServerError) as info:
        _list(driver)
    assert (info.value.http_status, info.value.code, info.value.request_id) == (
        500,
        "InternalError",
        "R5",
    )
    assert len(mock.calls) == 3
    assert sleeps == [0.0, 0.0]
    for call in mock.calls:
        check_signed(call.request)  # every attempt re-signed


def test_slowdown_then_success(
    driver: S3StorageDriver, mock: responses.RequestsMock, sleeps: list[float]
) -> None:
    mock.add(responses.GET, LIST_URL, status=503, body=s3_error("SlowDown"))
    mock.add(responses.GET, LIST_URL, body=listing_xml(["a"]))
    assert _list(driver) == ["a"]
    assert len(mock.calls) == 2
    assert len(sleeps) == 1


def test_slowdown_past_max_attempts_is_rate_limit(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    for _ in range(3):
        mock.add(responses.GET, LIST_URL, status=503, body=s3_error("SlowDown"))
    with pytest.raises(RateLimitReachedError):
        _list(driver)
    assert len(mock.calls) == 3


def test_429_past_max_attempts_is_rate_limit(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    for _ in range(3):
        mock.add(responses.GET, LIST_URL, status=429)
    with pytest.raises(RateLimitReachedError) as info:
        _list(driver)
    assert info.value.http_status == 429
    assert len(mock.calls) == 3


def test_429_retry_after_seconds_is_honoured(
    driver: S3StorageDriver, mock: responses.RequestsMock, sleeps: list[float]
) -> None:
    mock.add(responses.GET, LIST_URL, status=429, headers={"Retry-After": "2"})
    mock.add(responses.GET, LIST_URL, body=listing_xml(["a"]))
    assert _list(driver) == ["a"]
    assert len(sleeps) == 1
    assert sleeps[0] >= 2


def test_retry_after_http_date_is_honoured(
    driver: S3StorageDriver, mock: responses.RequestsMock, sleeps: list[float]
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    mock.add(responses.GET, LIST_URL, status=503, headers={"Retry-After": when})
    mock.add(responses.GET, LIST_URL, body=listing_xml([]))
    _list(driver)
    assert len(sleeps) == 1
    assert 15 <= sleeps[0] <= 20


def test_retry_after_is_capped(
    driver: S3StorageDriver, mock: responses.RequestsMock, sleeps: list[float]
) -> None:
    mock.add(responses.GET, LIST_URL, status=503, headers={"Retry-After": "86400"})
    mock.add(responses.GET, LIST_URL, body=listing_xml([]))
    _list(driver)
    assert sleeps == [30.0]


def test_garbage_retry_after_does_not_break_the_retry_loop(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(responses.GET, LIST_URL, status=503, headers={"Retry-After": "\u00b2"})
    mock.add(responses.GET, LIST_URL, body=listing_xml(["a"]))
    assert _list(driver) == ["a"]


def test_request_timeout_400_is_retried(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(responses.GET, LIST_URL, status=400, body=s3_error("RequestTimeout"))
    mock.add(responses.GET, LIST_URL, body=listing_xml(["a"]))
    assert _list(driver) == ["a"]
    assert len(mock.calls) == 2


def test_plain_400_is_not_retried(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    mock.add(responses.GET, LIST_URL, status=400, body=s3_error("InvalidArgument"))
    with pytest.raises(LibstoreError) as info:
        _list(driver)
    assert (info.value.code, info.value.http_status) == ("InvalidArgument", 400)
    assert len(mock.calls) == 1


def test_backoff_delays_are_requested_between_attempts(mock: responses.RequestsMock) -> None:
    from libstore.http.retry import RetryPolicy

    driver = make_driver(retry_policy=RetryPolicy(max_attempts=4, backoff_base=1, backoff_max=3))
    delays: list[float] = []
    driver._http._sleep = delays.append
    for _ in range(4):
        mock.add(responses.GET, LIST_URL, status=502)
    with pytest.raises(ServerError):
        _list(driver)
    assert len(delays) == 3
    assert 0 <= delays[0] <= 1
    assert 0 <= delays[1] <= 2
    assert 0 <= delays[2] <= 3


# -- transport failures --------------------------------------------------------------------


def test_connection_errors_are_retried_then_transport_error(
    driver: S3StorageDriver, mock: responses.RequestsMock, sleeps: list[float]
) -> None:
    for _ in range(3):
        mock.add(responses.GET, LIST_URL, body=requests.exceptions.ConnectionError("reset by peer"))
    with pytest.raises(TransportError) as info:
        _list(driver)
    assert not isinstance(info.value, requests.RequestException)
    assert isinstance(info.value.__cause__, requests.exceptions.ConnectionError)
    assert "ConnectionError" in str(info.value)
    assert len(mock.calls) == 3
    assert len(sleeps) == 2


def test_connection_error_then_success(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(responses.GET, LIST_URL, body=requests.exceptions.ConnectionError("reset"))
    mock.add(responses.GET, LIST_URL, body=listing_xml(["a"]))
    assert _list(driver) == ["a"]


@pytest.mark.parametrize(
    "error", [requests.exceptions.ReadTimeout("slow"), requests.exceptions.ConnectTimeout("slow")]
)
def test_timeouts_become_request_timeout_error(
    driver: S3StorageDriver, mock: responses.RequestsMock, error: Exception
) -> None:
    for _ in range(3):
        mock.add(responses.GET, LIST_URL, body=error)
    with pytest.raises(RequestTimeoutError) as info:
        _list(driver)
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, TransportError)
    assert len(mock.calls) == 3


def test_ssl_error_is_not_retried(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    mock.add(responses.GET, LIST_URL, body=requests.exceptions.SSLError("bad cert"))
    with pytest.raises(TransportError):
        _list(driver)
    assert len(mock.calls) == 1


def test_non_idempotent_request_is_not_replayed_after_maybe_sent_failure(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    # CreateMultipartUpload (POST ?uploads) may have reached the server: no replay.
    mock.add(
        responses.POST,
        f"{BASE}/bkt/key?uploads",
        body=requests.exceptions.ConnectionError("reset"),
    )
    chunks = [b"x" * (5 * 1024 * 1024), b"y"]
    with pytest.raises(TransportError):
        driver.upload_object_via_stream(iter(chunks), Container("bkt", {}, driver), "key")
    assert len(mock.calls) == 1


def test_mid_body_reset_of_a_listing_is_retried(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    body = listing_xml([f"k{i}" for i in range(200)])
    stream, _ = body_stream(body, fail_after=len(body) // 2)
    mock.add(responses.GET, LIST_URL, body=stream)  # type: ignore[arg-type]
    mock.add(responses.GET, LIST_URL, body=body)
    assert _list(driver) == [f"k{i}" for i in range(200)]
    assert len(mock.calls) == 2


# -- bounded bodies ------------------------------------------------------------------------


def test_huge_error_body_is_read_only_up_to_a_bound(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    huge = b"<Error><Code>AccessDenied</Code><Message>" + b"A" * (10 * 1024 * 1024)
    stream, raw = body_stream(huge)
    mock.add(responses.GET, OBJ_URL, status=403, body=stream)  # type: ignore[arg-type]
    with pytest.raises(AccessDeniedError) as info:
        list(driver.download_object_as_stream(_obj(driver)))
    assert raw.read_total <= 1024 * 1024
    assert len(str(info.value)) < 300
    assert len(repr(info.value)) < 300


def test_huge_xml_error_message_is_not_copied_into_the_exception(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    body = s3_error("AccessDenied", "B" * (10 * 1024 * 1024))
    mock.add(responses.GET, OBJ_URL, status=403, body=body)
    with pytest.raises(AccessDeniedError) as info:
        list(driver.download_object_as_stream(_obj(driver)))
    assert len(str(info.value)) < 300


def test_oversized_success_body_is_refused(
    driver: S3StorageDriver, mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_module, "MAX_REPLY_BODY", 64 * 1024)
    body = listing_xml([f"key-{i:06d}" for i in range(2000)])
    assert len(body) > 2 * 64 * 1024
    stream, raw = body_stream(body)
    mock.add(responses.GET, LIST_URL, body=stream)  # type: ignore[arg-type]
    with pytest.raises(ResponseError):
        _list(driver)
    assert raw.read_total < len(body)
    assert len(mock.calls) == 1


# -- secrets -------------------------------------------------------------------------------

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzzSECRET"


def test_no_secret_in_logs_or_errors(
    mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    driver = make_driver(secret=SECRET_KEY, token="SESSIONTOKENSECRET")
    driver._http._sleep = lambda _s: None
    container = Container("bkt", {}, driver)
    data = b"payload" * 1000
    md5 = hashlib.md5(data).hexdigest()
    errors: list[BaseException] = []

    mock.add(responses.PUT, OBJ_URL, status=503, body=s3_error("SlowDown"))
    mock.add(responses.PUT, OBJ_URL, headers={"ETag": f'"{md5}"'})
    obj = driver.upload_object_via_stream([data], container, "key")
    mock.add(
        responses.HEAD, OBJ_URL, headers={"ETag": f'"{md5}"', "Content-Length": str(len(data))}
    )
    obj = driver.get_object("bkt", "key")
    mock.add(responses.GET, OBJ_URL, body=requests.exceptions.ConnectionError("reset"))
    mock.add(responses.GET, OBJ_URL, body=data, headers={"ETag": f'"{md5}"'})
    assert driver.download_object(obj, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data

    for status, code in ((403, "SignatureDoesNotMatch"), (403, "AccessDenied"), (404, "NoSuchKey")):
        mock.add(responses.GET, OBJ_URL, status=status, body=s3_error(code))
        with pytest.raises(LibstoreError) as info:
            list(driver.download_object_as_stream(obj))
        errors.append(info.value)
    for _ in range(3):
        mock.add(responses.GET, OBJ_URL, body=requests.exceptions.ConnectionError("boom"))
    with pytest.raises(TransportError) as transport:
        list(driver.download_object_as_stream(obj))
    errors.append(transport.value)

    for request in (call.request for call in mock.calls):
        check_signed(request, secret=SECRET_KEY)
        assert request.headers["X-Amz-Security-Token"] == "SESSIONTOKENSECRET"
    assert any(r.name == "libstore.http" for r in caplog.records)  # something was logged
    for record in caplog.records:
        text = record.getMessage()
        assert SECRET_KEY not in text
        assert "SESSIONTOKENSECRET" not in text
    for exc in errors:
        seen: BaseException | None = exc
        while seen is not None:
            for text in (str(seen), repr(seen), repr(vars(seen))):
                assert SECRET_KEY not in text
                assert "SESSIONTOKENSECRET" not in text
            seen = seen.__cause__
    for text in (repr(driver), repr(driver._signer), repr(driver._credentials)):
        assert SECRET_KEY not in text
        assert "SESSIONTOKENSECRET" not in text
