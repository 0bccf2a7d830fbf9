"""The local driver takes the same ClientOptions and reports its operations through them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from libstore.drivers.local import LocalStorageDriver
from libstore.http.events import Event, EventHooks, last_transfer_stats
from libstore.http.options import ClientOptions
from libstore.types import InvalidArgumentError, ObjectDoesNotExistError


def test_local_driver_reports_operations(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    hooks = EventHooks(raise_errors=True)
    finished: list[Event] = []
    hooks.register("transfer_finished", finished.append)
    # Network options are accepted and ignored: there is no network here.
    options = ClientOptions(hooks=hooks, proxies={"https": "http://p:1"}, read_timeout=1)
    driver = LocalStorageDriver(tmp_path, options=options)
    assert driver.options is options and driver.hooks is hooks
    container = driver.create_container("c")
    source = tmp_path / "in.bin"
    source.write_bytes(b"a" * 3000)
    with caplog.at_level(logging.INFO, logger="libstore.drivers.local"):
        obj = driver.upload_object(source, container, "k/in.bin")
        driver.upload_object_via_stream(iter([b"b" * 10]), container, "k/stream.bin")
        assert driver.download_object(obj, tmp_path / "out.bin")
        assert b"".join(driver.download_object_as_stream(obj)) == b"a" * 3000
        driver.delete_object(obj)
        with pytest.raises(ObjectDoesNotExistError):
            driver.delete_object(obj)
    assert [(e.operation, e.bytes, e.error is None) for e in finished] == [
        ("upload", 3000, True),
        ("upload", 10, True),
        ("download", 3000, True),
        ("download", 3000, True),
        ("delete", 0, True),
        ("delete", 0, False),
    ]
    stats = last_transfer_stats()
    assert stats is not None and stats.error is not None
    assert stats.error.startswith("ObjectDoesNotExistError")
    lines = [r.getMessage() for r in caplog.records if r.name == "libstore.drivers.local"]
    assert len(lines) == 6
    assert lines[0].startswith("upload c/k/in.bin: 2.9 KiB in ")
    assert lines[-1].startswith("delete c/k/in.bin failed after ")


def test_local_driver_default_hooks_and_bad_options(tmp_path: Path) -> None:
    driver = LocalStorageDriver(tmp_path)
    assert isinstance(driver.hooks, EventHooks)
    assert LocalStorageDriver(tmp_path).hooks is not driver.hooks
    with pytest.raises(InvalidArgumentError, match="must be a ClientOptions"):
        LocalStorageDriver(tmp_path, options={"hooks": None})  # type: ignore[arg-type]
