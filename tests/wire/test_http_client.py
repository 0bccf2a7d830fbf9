"""The HTTP layer on the wire: options applied, events and logs per attempt, no secrets anywhere."""

from __future__ import annotations

import hashlib
import logging
import re
import ssl
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from wirekit import BASE, check_signed, make_driver, s3_error

import libstore
from libstore.base import Container, Object
from libstore.drivers.s3 import S3StorageDriver
from libstore.http.events import Event, EventHooks, last_transfer_stats
from libstore.http.options import ClientOptions, call_options
from libstore.http.retry import RetryPolicy
from libstore.http.session import ErrorReply, HttpClient
from libstore.types import (
    InvalidArgumentError,
    LibstoreError,
    RequestTimeoutError,
    ServerError,
    TransportError,
)

OBJ_URL = f"{BASE}/bkt/key"
FAST = RetryPolicy(max_attempts=3, backoff_base=0)


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def hooked(events: list[Event]) -> Iterator[S3StorageDriver]:
    hooks = EventHooks(raise_errors=True)
    hooks.register("*", events.append)
    driver = make_driver(retry_policy=None, options=ClientOptions(retry=FAST, hooks=hooks))
    driver._http._sleep = lambda _s: None
    yield driver
    driver.close()


def _obj(driver: S3StorageDriver, size: int = 3) -> Object:
    return Object("key", size, None, {}, {}, Container("bkt", {}, driver), driver)


def _kinds(events: list[Event]) -> list[tuple[str, int, int | None]]:
    return [(e.kind, e.attempt, e.status) for e in events if e.kind != "transfer_finished"]


# -- options on the wire ------------------------------------------------------------------------


def test_user_agent_suffix_and_keep_alive_off(mock: responses.RequestsMock) -> None:
    driver = make_driver(
        retry_policy=None,
        options=ClientOptions(user_agent_suffix="backup-tool/2.1", keep_alive=False),
    )
    mock.add(responses.HEAD, OBJ_URL, headers={"Content-Length": "3"})
    driver.get_object("bkt", "key")
    request = mock.calls[0].request
    assert re.fullmatch(
        rf"libstore/{re.escape(libstore.__version__)} python/3\.\d+ backup-tool/2\.1",
        request.headers["User-Agent"],
    )
    assert request.headers["Connection"] == "close"
    check_signed(request)


def test_keep_alive_is_the_default(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    mock.add(responses.HEAD, OBJ_URL, headers={"Content-Length": "3"})
    driver.get_object("bkt", "key")
    assert "Connection" not in mock.calls[0].request.headers


def test_environment_is_never_read_per_request(
    mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "s3.test")
    driver = make_driver()

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("environment looked up on the request path")

    monkeypatch.setattr(requests.Session, "merge_environment_settings", forbidden)
    monkeypatch.setattr(requests.utils, "get_environ_proxies", forbidden)
    monkeypatch.setattr(requests.utils, "should_bypass_proxies", forbidden)
    monkeypatch.setattr(requests.Session, "__init__", forbidden)  # no session per request
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "__init__", forbidden)
    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", forbidden)  # CAs loaded once
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # too late: resolved at construction
    monkeypatch.delenv("NO_PROXY")
    for _ in range(3):
        mock.add(responses.HEAD, OBJ_URL, headers={"Content-Length": "3"})
        driver.get_object("bkt", "key")
    assert len(mock.calls) == 3


def test_conflicting_constructor_arguments_fail_early() -> None:
    with pytest.raises(InvalidArgumentError, match="cannot be combined with read_timeout"):
        make_driver(retry_policy=None, options=ClientOptions(), read_timeout=5)
    with pytest.raises(InvalidArgumentError, match="cannot be combined with retry_policy"):
        make_driver(options=ClientOptions())
    with pytest.raises(InvalidArgumentError, match="max_attempts cannot be combined"):
        make_driver(max_attempts=2)
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        make_driver(retry_policy=None, options=ClientOptions(ca_bundle="/nonexistent/ca.pem"))


def test_pool_smaller_than_the_transfer_concurrency_is_an_error() -> None:
    from libstore.transfer.config import TransferConfig

    with pytest.raises(InvalidArgumentError, match="below the transfer concurrency"):
        make_driver(
            retry_policy=None,
            options=ClientOptions(pool_maxsize=2),
            transfer=TransferConfig(concurrency=8),
        )
    make_driver(retry_policy=None, options=ClientOptions(pool_maxsize=8),
                transfer=TransferConfig(concurrency=8))  # fmt: skip


def test_shortcuts_still_work() -> None:
    driver = make_driver(retry_policy=None, connect_timeout=2, read_timeout=3, max_attempts=4)
    assert (driver.options.connect_timeout, driver.options.read_timeout) == (2.0, 3.0)
    assert driver.options.retry.max_attempts == 4
    assert driver._http.retry.max_attempts == 4
    assert isinstance(driver.hooks, EventHooks)


# -- events -------------------------------------------------------------------------------------


def test_events_of_a_retried_request(
    hooked: S3StorageDriver, mock: responses.RequestsMock, events: list[Event]
) -> None:
    mock.add(responses.HEAD, OBJ_URL, status=503, headers={"x-amz-request-id": "R1"})
    mock.add(responses.HEAD, OBJ_URL, headers={"Content-Length": "3", "x-amz-request-id": "R2"})
    hooked.get_object("bkt", "key")
    assert _kinds(events) == [
        ("request_sent", 1, None),
        ("response_received", 1, 503),
        ("retry_scheduled", 1, 503),
        ("request_sent", 2, None),
        ("response_received", 2, 200),
    ]
    sent, first, retry, _, second = events
    assert sent.method == "HEAD" and sent.url == OBJ_URL and sent.driver == hooked.name
    assert first.request_id == "R1" and second.request_id == "R2"
    assert first.duration is not None and first.duration >= 0
    assert retry.delay == 0 and retry.error is not None and "503" in retry.error


def test_transport_failures_are_request_failed_events(
    hooked: S3StorageDriver, mock: responses.RequestsMock, events: list[Event]
) -> None:
    for _ in range(3):
        mock.add(responses.HEAD, OBJ_URL, body=requests.exceptions.ConnectionError("reset"))
    with pytest.raises(TransportError):
        hooked.get_object("bkt", "key")
    assert _kinds(events) == [
        ("request_sent", 1, None),
        ("request_failed", 1, None),
        ("retry_scheduled", 1, None),
        ("request_sent", 2, None),
        ("request_failed", 2, None),
        ("retry_scheduled", 2, None),
        ("request_sent", 3, None),
        ("request_failed", 3, None),
    ]
    failed = events[1]
    assert failed.error is not None and failed.error.startswith("TransportError: HEAD")


def test_operation_events_carry_stats(
    hooked: S3StorageDriver, mock: responses.RequestsMock, events: list[Event]
) -> None:
    data = b"hello world"
    md5 = hashlib.md5(data).hexdigest()
    mock.add(responses.PUT, OBJ_URL, status=500, body=s3_error("InternalError"))
    mock.add(responses.PUT, OBJ_URL, headers={"ETag": f'"{md5}"'})
    obj = hooked.upload_object_via_stream(iter([data]), Container("bkt", {}, hooked), "key")
    finished = [e for e in events if e.kind == "transfer_finished"]
    assert len(finished) == 1
    stats = finished[0].stats
    assert stats is not None and stats is last_transfer_stats()
    assert (stats.operation, stats.container, stats.object_name) == ("upload", "bkt", "key")
    assert (stats.bytes_transferred, stats.requests, stats.retries) == (len(data), 2, 1)
    assert stats.succeeded and obj.size == len(data)
    request_events = [e for e in events if e.kind != "transfer_finished"]
    assert all(e.operation == "upload" and e.object_name == "key" for e in request_events)
    sent = [e for e in events if e.kind == "request_sent"]
    assert [e.bytes for e in sent] == [len(data), len(data)]


def test_download_resumptions_are_retry_events(
    hooked: S3StorageDriver,
    mock: responses.RequestsMock,
    events: list[Event],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import libstore.drivers.s3 as s3_module

    monkeypatch.setattr(s3_module, "READ_CHUNK_SIZE", 64)
    data = bytes(range(256)) * 64
    md5 = hashlib.md5(data).hexdigest()
    cut = 4096
    mock.add(
        responses.GET,
        OBJ_URL,
        body=data[:cut],  # the connection closes cleanly before Content-Length bytes
        headers={"ETag": f'"{md5}"', "Content-Length": str(len(data))},
    )
    mock.add(
        responses.GET,
        OBJ_URL,
        status=206,
        body=data[cut:],
        headers={
            "Content-Range": f"bytes {cut}-{len(data) - 1}/{len(data)}",
            "Content-Length": str(len(data) - cut),
        },
    )
    obj = Object("key", len(data), md5, {}, {}, Container("bkt", {}, hooked), hooked)
    assert b"".join(hooked.download_object_as_stream(obj)) == data
    retries = [e for e in events if e.kind == "retry_scheduled"]
    assert len(retries) == 1 and retries[0].error is not None
    assert "interrupted" in retries[0].error and retries[0].method == "GET"
    (finished,) = [e for e in events if e.kind == "transfer_finished"]
    assert finished.operation == "download" and finished.bytes == len(data)
    assert finished.stats is not None and finished.stats.retries == 1


def test_a_failing_hook_never_breaks_a_request(
    mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    hooks = EventHooks()

    def explode(event: Event) -> None:
        raise RuntimeError("metrics backend down")

    hooks.register("*", explode)
    driver = make_driver(retry_policy=None, options=ClientOptions(hooks=hooks))
    mock.add(responses.HEAD, OBJ_URL, headers={"Content-Length": "3"})
    with caplog.at_level(logging.WARNING, logger="libstore.hooks"):
        assert driver.get_object("bkt", "key").size == 3
    assert any("explode" in r.getMessage() for r in caplog.records)


def test_shared_hooks_see_every_driver(mock: responses.RequestsMock) -> None:
    hooks = EventHooks()
    seen: list[str] = []
    hooks.register("response_received", lambda e: seen.append(e.url))
    options = ClientOptions(hooks=hooks)
    one = make_driver(retry_policy=None, options=options)
    two = make_driver(retry_policy=None, options=options, host="s3.other", port=9000)
    mock.add(responses.HEAD, OBJ_URL, headers={"Content-Length": "3"})
    mock.add(responses.HEAD, "http://s3.other:9000/bkt/key", headers={"Content-Length": "3"})
    one.get_object("bkt", "key")
    two.get_object("bkt", "key")
    assert seen == [OBJ_URL, "http://s3.other:9000/bkt/key"]


# -- per-call options and deadlines ---------------------------------------------------------


def test_per_call_retry_policy(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    mock.add(responses.HEAD, OBJ_URL, status=503)
    with call_options(retry=RetryPolicy(max_attempts=1)), pytest.raises(ServerError):
        driver.get_object("bkt", "key")
    assert len(mock.calls) == 1
    mock.add(responses.HEAD, OBJ_URL, status=503)
    mock.add(responses.HEAD, OBJ_URL, headers={"Content-Length": "3"})
    driver.get_object("bkt", "key")  # the driver's policy again: retried
    assert len(mock.calls) == 3


def test_per_call_timeouts_reach_the_adapter(
    driver: S3StorageDriver, mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    original = requests.Session.send

    def spy(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["timeout"])
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", spy)
    mock.add(responses.HEAD, OBJ_URL, headers={"Content-Length": "3"})
    mock.add(responses.HEAD, OBJ_URL, headers={"Content-Length": "3"})
    driver.get_object("bkt", "key")
    with call_options(connect_timeout=1.5, read_timeout=2.5):
        driver.get_object("bkt", "key")
    assert seen == [(10.0, 60.0), (1.5, 2.5)]


def test_deadline_caps_timeouts_and_stops_retrying(mock: responses.RequestsMock) -> None:
    driver = make_driver(retry_policy=None, options=ClientOptions(retry=FAST, deadline=0.3))

    def slow_503(request: Any) -> tuple[int, dict[str, str], bytes]:
        time.sleep(0.35)
        return 503, {}, s3_error("InternalError")

    mock.add_callback(responses.GET, OBJ_URL, callback=slow_503)
    with pytest.raises(ServerError) as info:
        driver._call("GET", OBJ_URL, "reading")
    assert len(mock.calls) == 1
    assert any("deadline" in note for note in getattr(info.value, "__notes__", []))


def test_call_deadline_already_passed(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    with call_options(deadline=0.01):
        time.sleep(0.02)
        with pytest.raises(RequestTimeoutError, match="passed its deadline after 0 attempts"):
            driver.get_object("bkt", "key")
    assert len(mock.calls) == 0


def test_deadline_stops_a_slow_upload_body(mock: responses.RequestsMock, tmp_path: Any) -> None:
    driver = make_driver(retry_policy=None, options=ClientOptions(retry=FAST))
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 100)
    client = driver._http

    def opener() -> Any:
        time.sleep(0.05)
        return open(path, "rb")

    with call_options(deadline=0.02), pytest.raises(RequestTimeoutError, match="deadline"):
        client.request(
            "PUT",
            OBJ_URL,
            headers={"Content-Length": "100"},
            body=opener,
            sign=lambda m, u, h: h,
            on_error=lambda e: LibstoreError(str(e.status)),
        )


# -- redaction ----------------------------------------------------------------------------------

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzzWIRESECRET"
TOKEN = "FwoGZXIvYXdzEBYaDEXAMPLESESSIONTOKENVALUE"
SSEC_KEY = "c2VjcmV0LWN1c3RvbWVyLWtleS0zMi1ieXRlcy1sb25nIQ=="


def _assert_clean(texts: list[str], signatures: set[str]) -> None:
    for text in texts:
        assert SECRET_KEY not in text
        assert TOKEN not in text
        assert SSEC_KEY not in text
        for signature in signatures:
            assert signature not in text, text


def test_no_secret_in_any_log_record_or_event(
    mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    hooks = EventHooks(raise_errors=True)
    events: list[Event] = []
    hooks.register("*", events.append)
    driver = make_driver(
        secret=SECRET_KEY,
        token=TOKEN,
        retry_policy=None,
        options=ClientOptions(retry=FAST, hooks=hooks),
    )
    driver._http._sleep = lambda _s: None
    caplog.set_level(logging.DEBUG, logger="libstore")
    data = b"secret payload" * 100
    md5 = hashlib.md5(data).hexdigest()
    ssec = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": SSEC_KEY,
        "x-amz-server-side-encryption-customer-key-MD5": "bWQ1LW9mLXRoZS1rZXk=",
    }
    container = Container("bkt", {}, driver)
    mock.add(responses.PUT, OBJ_URL, status=503, body=s3_error("SlowDown"))
    mock.add(responses.PUT, OBJ_URL, headers={"ETag": '"opaque-sse-c-etag"'})
    driver.upload_object_via_stream(iter([data]), container, "key", headers=ssec)
    mock.add(
        responses.HEAD, OBJ_URL, headers={"ETag": f'"{md5}"', "Content-Length": str(len(data))}
    )
    obj = driver.get_object("bkt", "key")
    mock.add(responses.GET, OBJ_URL, body=requests.exceptions.ConnectionError("reset"))
    mock.add(responses.GET, OBJ_URL, body=data, headers={"ETag": f'"{md5}"'})
    assert driver.download_object(obj, tmp_path / "out.bin")
    mock.add(responses.DELETE, OBJ_URL, status=403, body=s3_error("SignatureDoesNotMatch"))
    with pytest.raises(LibstoreError):
        driver._call("DELETE", OBJ_URL, "deleting")
    # A presigned URL sent through the client (as a caller of HttpClient could).
    presigned = driver._signer.presign("GET", OBJ_URL, expires=60)
    mock.add(responses.GET, presigned, status=500, body=s3_error("InternalError"))
    mock.add(responses.GET, presigned, body=b"ok")
    driver._http.request(
        "GET", presigned, sign=lambda m, u, h: h, on_error=lambda e: LibstoreError(str(e.status))
    )

    signatures: set[str] = set()
    for call in mock.calls:
        auth = call.request.headers.get("Authorization")
        if auth:
            signatures.add(auth.rsplit("Signature=", 1)[1])
        url = call.request.url or ""
        if "X-Amz-Signature=" in url:
            signatures.add(url.split("X-Amz-Signature=", 1)[1].split("&", 1)[0])
    assert len(signatures) >= 5
    records = [r for r in caplog.records if r.name.startswith("libstore")]
    levels = {r.levelno for r in records}
    assert {logging.DEBUG, logging.INFO} <= levels
    names = {r.name for r in records}
    assert {"libstore.http", "libstore.http.headers", "libstore.drivers.s3"} <= names
    texts = [caplog.text]
    for record in records:
        texts += [record.getMessage(), repr(record.args), repr(vars(record))]
    _assert_clean(texts, signatures)
    assert any("<redacted>" in r.getMessage() for r in records if r.name.endswith("headers"))
    assert any("X-Amz-Signature=<redacted>" in r.getMessage() for r in records)
    assert events and {e.kind for e in events} >= {
        "request_sent", "response_received", "request_failed", "retry_scheduled",
        "transfer_finished",
    }  # fmt: skip
    _assert_clean([repr(e) for e in events] + [repr(e.stats) for e in events], signatures)


def test_error_reply_mapping_is_unchanged_by_options() -> None:
    client = HttpClient(
        ClientOptions(retry=RetryPolicy(max_attempts=1)),
        lambda status, headers, body: ErrorReply(status, headers, body),
    )
    assert client.retry.max_attempts == 1
    assert client.user_agent.startswith("libstore/")
    client.close()
