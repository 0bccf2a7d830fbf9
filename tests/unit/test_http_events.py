"""EventHooks, TransferStats, the transfer context and the @observed decorator."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from libstore.http.events import (
    EVENT_KINDS,
    Event,
    EventHooks,
    TransferStats,
    bind_context,
    current_transfer,
    format_size,
    last_transfer_stats,
    part_completed,
    track_transfer,
)
from libstore.http.observe import observed
from libstore.types import InvalidArgumentError

# -- EventHooks ------------------------------------------------------------------------------


def test_register_emit_unregister() -> None:
    hooks = EventHooks()
    seen: list[str] = []
    unregister = hooks.register("request_sent", lambda e: seen.append(e.kind))
    hooks.register(["retry_scheduled", "request_sent"], lambda e: seen.append("second"))
    assert hooks.wants("request_sent") and not hooks.wants("part_completed")
    hooks.emit(Event("request_sent"))
    hooks.emit(Event("part_completed"))
    assert seen == ["request_sent", "second"]
    unregister()
    hooks.emit(Event("request_sent"))
    assert seen == ["request_sent", "second", "second"]
    hooks.clear()
    assert not hooks.wants("request_sent")


def test_wildcard_and_decorator() -> None:
    hooks = EventHooks()
    seen: list[str] = []

    @hooks.on("*")
    def everything(event: Event) -> None:
        seen.append(event.kind)

    for kind in sorted(EVENT_KINDS):
        hooks.emit(Event(kind))
    assert seen == sorted(EVENT_KINDS)
    assert hooks.unregister("*", everything)
    assert not hooks.unregister("*", everything)
    assert repr(hooks) == "EventHooks()"


def test_unknown_kind_and_bad_callback_are_rejected() -> None:
    hooks = EventHooks()
    with pytest.raises(InvalidArgumentError, match="unknown event kind 'request_send'"):
        hooks.register("request_send", print)
    with pytest.raises(InvalidArgumentError, match="callable"):
        hooks.register("request_sent", "print")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        hooks.register([], print)


def test_failing_callback_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    hooks = EventHooks()
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("exporter down")

    hooks.register("request_sent", broken)
    hooks.register("request_sent", seen.append)
    with caplog.at_level(logging.WARNING, logger="libstore.hooks"):
        hooks.emit(Event("request_sent"))
    assert len(seen) == 1
    assert any("broken" in r.getMessage() for r in caplog.records)
    strict = EventHooks(raise_errors=True)
    strict.register("request_sent", broken)
    with pytest.raises(RuntimeError):
        strict.emit(Event("request_sent"))


def test_registration_is_thread_safe() -> None:
    hooks = EventHooks()
    count = 0
    lock = threading.Lock()

    def bump(event: Event) -> None:
        nonlocal count
        with lock:
            count += 1

    callbacks = [lambda e, b=bump: b(e) for _ in range(200)]
    with cf.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda cb: hooks.register("request_sent", cb), callbacks))
    hooks.emit(Event("request_sent"))
    assert count == 200


def test_event_is_immutable() -> None:
    event = Event("request_sent", method="GET", url="http://h/", bytes=3)
    with pytest.raises(AttributeError):
        event.status = 200  # type: ignore[misc]
    assert event.timestamp > 0


# -- TransferStats and the transfer context ----------------------------------------------------


def test_stats_arithmetic() -> None:
    stats = TransferStats("upload", "b", "k", bytes_total=10, started=100.0)
    stats.add_bytes(4)
    stats.add_part(6)
    stats.add_request()
    stats.add_retry()
    assert (stats.bytes_transferred, stats.parts, stats.requests, stats.retries) == (10, 1, 1, 1)
    assert not stats.succeeded
    stats.finished = 102.0
    assert stats.elapsed == 2.0 and stats.rate == 5.0 and stats.succeeded
    stats.finish(RuntimeError("late"))  # already finished: nothing changes
    assert stats.error is None and stats.finished == 102.0


def test_stats_are_thread_safe() -> None:
    stats = TransferStats("download")
    with cf.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: [stats.add_bytes(1) for _ in range(1000)], range(8)))
    assert stats.bytes_transferred == 8000


def test_track_transfer_logs_emits_and_remembers(caplog: pytest.LogCaptureFixture) -> None:
    hooks = EventHooks()
    finished: list[Event] = []
    parts: list[Event] = []
    hooks.register("transfer_finished", finished.append)
    hooks.register("part_completed", parts.append)
    logger = logging.getLogger("libstore.test.ops")
    with (
        caplog.at_level(logging.INFO, logger="libstore.test.ops"),
        track_transfer(
            "upload", container="bkt", object_name="a/b.bin", hooks=hooks, driver="X", logger=logger
        ) as stats,
    ):
        assert current_transfer() is stats
        part_completed(1, 5 * 1024 * 1024, 0.5, method="PUT", url="http://h/b?X-Amz-Signature=ab")
        part_completed(2, 1024, 0.1)
        with track_transfer("download") as inner:  # nested: joins the outer transfer
            assert inner is stats
    assert current_transfer() is None
    assert last_transfer_stats() is stats
    assert stats.parts == 2 and stats.bytes_transferred == 5 * 1024 * 1024 + 1024
    assert [e.part_number for e in parts] == [1, 2]
    assert parts[0].url == "http://h/b?X-Amz-Signature=<redacted>"
    assert parts[0].operation == "upload" and parts[0].object_name == "a/b.bin"
    (event,) = finished
    assert event.stats is stats and event.error is None and event.bytes == stats.bytes_transferred
    (record,) = [r for r in caplog.records if r.name == "libstore.test.ops"]
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert message.startswith("upload bkt/a/b.bin: 5.0 MiB in ")
    assert "2 parts" in message and "0 retries" in message
    assert record.libstore_bytes == stats.bytes_transferred  # type: ignore[attr-defined]


def test_track_transfer_records_failures(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("libstore.test.ops")
    with (
        caplog.at_level(logging.INFO, logger="libstore.test.ops"),
        pytest.raises(KeyError),
        track_transfer("delete", container="b", object_name="k", logger=logger),
    ):
        raise KeyError("gone")
    stats = last_transfer_stats()
    assert stats is not None and stats.error == "KeyError: 'gone'" and not stats.succeeded
    assert "delete b/k failed after" in caplog.records[-1].getMessage()


def test_part_completed_outside_a_transfer_is_a_no_op() -> None:
    part_completed(1, 10)
    assert current_transfer() is None


def test_bind_context_carries_the_transfer_to_worker_threads() -> None:
    with track_transfer("upload") as stats:

        def work(n: int) -> TransferStats | None:
            part_completed(n, 10)
            return current_transfer()

        with cf.ThreadPoolExecutor(4) as pool:
            bare = list(pool.map(lambda n: current_transfer(), range(4)))
            bound = list(pool.map(bind_context(work), range(1, 9)))
    assert bare == [None] * 4
    assert bound == [stats] * 8
    assert stats.parts == 8 and stats.bytes_transferred == 80


def test_format_size() -> None:
    assert format_size(0) == "0 B"
    assert format_size(1536) == "1.5 KiB"
    assert format_size(5 * 1024**3) == "5.0 GiB"


# -- @observed ------------------------------------------------------------------------------


class _Obj:
    def __init__(self, name: str, size: int) -> None:
        self.name, self.size = name, size
        self.container = type("C", (), {"name": "bkt"})()


class FakeDriver:
    name = "Fake"

    def __init__(self) -> None:
        self.hooks = EventHooks()
        self.finished: list[Event] = []
        self.hooks.register("transfer_finished", self.finished.append)

    @observed("upload")
    def upload_object(self, file_path: str, container: Any, object_name: str) -> _Obj:
        return _Obj(object_name, 42)

    @observed("delete")
    def delete_object(self, obj: _Obj) -> bool:
        self.upload_object("x", obj.container, "nested")  # joins this operation
        return True

    @observed("download")
    def _read_object(self, obj: _Obj, start_bytes: int, end_bytes: int | None) -> Iterator[bytes]:
        assert current_transfer() is not None
        yield b"x" * 10
        assert current_transfer() is not None
        yield b"y" * 5

    @observed("download", stream=True)
    def _read_stream(self, obj: _Obj, start_bytes: int, end_bytes: int | None) -> Iterator[bytes]:
        return self._inner()

    def _inner(self) -> Iterator[bytes]:
        yield b"z" * 7


def test_observed_method_counts_result_size(caplog: pytest.LogCaptureFixture) -> None:
    driver = FakeDriver()
    with caplog.at_level(logging.INFO):
        obj = driver.upload_object("/tmp/f", type("C", (), {"name": "bkt"})(), "key")
    assert obj.size == 42
    (event,) = driver.finished
    assert (event.operation, event.container, event.object_name, event.bytes) == (
        "upload", "bkt", "key", 42,
    )  # fmt: skip
    assert event.driver == "Fake"
    assert any(r.name == f"libstore.drivers.{__name__}" for r in caplog.records)


def test_observed_nested_calls_join() -> None:
    driver = FakeDriver()
    assert driver.delete_object(_Obj("k", 3))
    (event,) = driver.finished
    assert event.operation == "delete" and event.bytes == 0


def test_observed_generator_tracks_only_while_running() -> None:
    driver = FakeDriver()
    stream = driver._read_object(_Obj("k", 15), 0, None)
    assert next(stream) == b"x" * 10
    assert current_transfer() is None  # suspended: nothing leaks into the caller
    assert list(stream) == [b"y" * 5]
    (event,) = driver.finished
    assert event.bytes == 15 and event.error is None
    assert last_transfer_stats() is event.stats


def test_observed_stream_abandoned_early_is_reported() -> None:
    driver = FakeDriver()
    stream = driver._read_object(_Obj("k", 15), 0, None)
    next(stream)
    stream.close()  # type: ignore[attr-defined]
    (event,) = driver.finished
    assert event.error is not None and "closed after 10 of 15 bytes" in event.error


def test_observed_stream_returning_an_iterator() -> None:
    driver = FakeDriver()
    assert list(driver._read_stream(_Obj("k", 7), 0, None)) == [b"z" * 7]
    (event,) = driver.finished
    assert event.bytes == 7 and event.operation == "download"


def test_observed_rejects_unknown_operations() -> None:
    with pytest.raises(ValueError, match="unknown operation"):
        observed("list")
