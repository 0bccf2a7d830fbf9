"""Hooks and logs against SeaweedFS: retries injected by a fault proxy, no secret in any record."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faultproxy import FaultProxy, reset_before_response, slowdown, status
from netkit import MiB, make_driver
from servers import S3Endpoint

from libstore.http.events import Event, EventHooks, last_transfer_stats
from libstore.types import LibstoreError

pytestmark = pytest.mark.integration


@pytest.fixture
def fault_proxy(seaweedfs: S3Endpoint) -> Iterator[FaultProxy]:
    with FaultProxy(seaweedfs.host, seaweedfs.port) as proxy:
        yield proxy


@pytest.fixture
def recorded() -> tuple[EventHooks, list[Event]]:
    hooks = EventHooks(raise_errors=True)
    events: list[Event] = []
    hooks.register("*", events.append)
    return hooks, events


def test_hooks_see_the_retries_a_fault_proxy_injects(
    seaweedfs: S3Endpoint,
    fault_proxy: FaultProxy,
    recorded: tuple[EventHooks, list[Event]],
    bucket_name: str,
) -> None:
    hooks, events = recorded
    driver = make_driver(seaweedfs, port=fault_proxy.port, hooks=hooks)
    container = driver.create_container(bucket_name)
    try:
        fault_proxy.add(slowdown(method="PUT", path="/obj", count=1))
        fault_proxy.add(reset_before_response(method="GET", path="/obj", count=1))
        fault_proxy.add(status(500, method="HEAD", path="/obj", count=1))
        data = os.urandom(100_000)
        events.clear()
        driver.upload_object_via_stream(iter([data]), container, "obj")
        upload_events = list(events)
        upload_stats = last_transfer_stats()
        obj = driver.get_object(bucket_name, "obj")
        assert b"".join(driver.download_object_as_stream(obj)) == data
        download_stats = last_transfer_stats()
    finally:
        for item in list(driver.iterate_container_objects(container)):
            driver.delete_object(item)
        driver.delete_container(container)

    def kinds(selected: list[Event], method: str) -> list[tuple[str, int, int | None]]:
        return [
            (e.kind, e.attempt, e.status)
            for e in selected
            if e.method == method and e.url.endswith("/obj")
        ]

    assert kinds(upload_events, "PUT") == [
        ("request_sent", 1, None),
        ("response_received", 1, 503),
        ("retry_scheduled", 1, 503),
        ("request_sent", 2, None),
        ("response_received", 2, 200),
    ]
    assert kinds(events, "HEAD")[:3] == [
        ("request_sent", 1, None),
        ("response_received", 1, 500),
        ("retry_scheduled", 1, 500),
    ]
    get = kinds(events, "GET")
    assert get[:3] == [
        ("request_sent", 1, None),
        ("request_failed", 1, None),
        ("retry_scheduled", 1, None),
    ]
    assert get[-1] == ("response_received", 2, 200)
    failed = next(e for e in events if e.kind == "request_failed")
    assert failed.error is not None and "TransportError" in failed.error
    # What the proxy saw matches what the hooks saw, attempt for attempt.
    seen = [
        (m, t.split("?")[0]) for m, t, _, _ in fault_proxy.log if t.split("?")[0].endswith("/obj")
    ]
    sent = [(e.method, e.url.split("//", 1)[1].split("/", 1)[1]) for e in events
            if e.kind == "request_sent" and e.url.endswith("/obj")]  # fmt: skip
    assert [(m, "/" + p) for m, p in sent] == seen
    assert upload_stats is not None and upload_stats.operation == "upload"
    assert (upload_stats.requests, upload_stats.retries) == (2, 1)
    assert upload_stats.bytes_transferred == len(data)
    assert download_stats is not None and download_stats.operation == "download"
    assert download_stats.retries == 1 and download_stats.bytes_transferred == len(data)
    finished = [e for e in events if e.kind == "transfer_finished"]
    assert [e.operation for e in finished] == ["upload", "download", "delete"]


def test_full_run_at_debug_never_logs_a_secret(
    seaweedfs: S3Endpoint,
    fault_proxy: FaultProxy,
    recorded: tuple[EventHooks, list[Event]],
    bucket_name: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, events = recorded
    hooks = EventHooks()  # logs (at WARNING) instead of raising when a callback fails
    hooks.register("*", events.append)

    def broken_exporter(event: Event) -> None:
        raise RuntimeError(f"exporter down while handling {event.url}")

    hooks.register("retry_scheduled", broken_exporter)
    caplog.set_level(logging.DEBUG)  # every logger, libstore's and the libraries'
    driver = make_driver(seaweedfs, port=fault_proxy.port, hooks=hooks)
    authorizations: list[str] = []
    real_sign = driver._signer.sign

    def spy(*args: Any, **kwargs: Any) -> dict[str, str]:
        headers = real_sign(*args, **kwargs)
        authorizations.append(headers["Authorization"])
        return headers

    driver._signer.sign = spy  # type: ignore[method-assign]
    fault_proxy.add(slowdown(method="PUT", count=1))
    fault_proxy.add(reset_before_response(method="GET", count=1))
    fault_proxy.add(status(503, method="POST", count=1))

    container = driver.create_container(bucket_name)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * MiB))
    small = os.urandom(10_000)
    driver.upload_object(big, container, "dir/big.bin")
    driver.upload_object_via_stream(iter([small]), container, "dir/small.bin")
    listed = sorted(o.name for o in driver.iterate_container_objects(container))
    assert listed == ["dir/big.bin", "dir/small.bin"]
    obj = driver.get_object(bucket_name, "dir/big.bin")
    out = tmp_path / "out.bin"
    driver.download_object(obj, out)
    assert hashlib.md5(out.read_bytes()).digest() == hashlib.md5(big.read_bytes()).digest()
    presigned = driver.get_object_cdn_url(driver.get_object(bucket_name, "dir/small.bin"))
    reply = driver._http.request(
        "GET", presigned, sign=lambda m, u, h: h, on_error=lambda e: LibstoreError(str(e.status))
    )
    assert reply.body == small
    with pytest.raises(LibstoreError):
        driver.get_object(bucket_name, "missing")
    for item in list(driver.iterate_container_objects(container)):
        driver.delete_object(item)
    driver.delete_container(container)

    signatures = {auth.rsplit("Signature=", 1)[1] for auth in authorizations}
    signatures.add(re.search(r"X-Amz-Signature=([0-9a-f]{64})", presigned).group(1))  # type: ignore[union-attr]
    assert len(signatures) > 10
    secrets = {seaweedfs.secret_key, *signatures}
    records = caplog.records
    ours = [r for r in records if r.name.startswith("libstore")]
    assert {logging.DEBUG, logging.INFO, logging.WARNING} <= {r.levelno for r in ours}
    assert {"libstore.http", "libstore.http.headers", "libstore.drivers.s3"} <= {
        r.name for r in ours
    }
    assert any(r.getMessage().startswith("retrying PUT") for r in ours)
    assert any("X-Amz-Signature=<redacted>" in r.getMessage() for r in ours)
    assert any("Signature=<redacted>" in r.getMessage() for r in ours if "headers" in r.name)
    infos = [r.getMessage() for r in ours if r.levelno == logging.INFO]
    assert any(m.startswith(f"upload {bucket_name}/dir/big.bin: 9.0 MiB in ") for m in infos)
    assert any(m.startswith(f"download {bucket_name}/dir/big.bin: 9.0 MiB") for m in infos)
    assert any(m.startswith(f"delete {bucket_name}/dir/small.bin") for m in infos)
    texts = [caplog.text]
    for record in records:
        texts += [record.getMessage(), repr(record.args), repr(record.__dict__)]
    texts += [repr(e) for e in events]
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert events and all("Signature=" not in e.url or "<redacted>" in e.url for e in events)
