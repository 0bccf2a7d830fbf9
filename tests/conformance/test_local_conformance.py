"""The conformance kit against the local driver, plus the local driver's own name rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from libstore import Container, InvalidObjectNameError, Provider, StorageDriver, get_driver
from libstore.testing import TRICKY_KEYS, StorageDriverConformance


def _local_refuses(key: str) -> bool:
    """Whether the local driver refuses ``key``: empty, ``.`` or ``..`` path segments.

    That covers a leading or trailing ``/`` and ``//`` runs, which make empty segments.
    """
    return any(segment in ("", ".", "..") for segment in key.split("/"))


_REFUSED = [(key_id, key) for key_id, key in TRICKY_KEYS if _local_refuses(key)]


class TestLocalConformance(StorageDriverConformance):
    """Every conformance scenario against ``LocalStorageDriver`` in a temporary directory."""

    # Objects are files: "x" cannot be a file and the directory holding "x/y" at once.
    allows_object_and_prefix_with_same_name = False

    @pytest.fixture
    def driver(self, tmp_path: Path) -> StorageDriver:
        return get_driver(Provider.LOCAL)(str(tmp_path))

    def key_round_trips(self, key: str) -> bool:
        return not _local_refuses(key)

    def test_refused_keys_are_the_expected_ones(self) -> None:
        # Guards the knob: only path-unsafe keys are excused from the round trip.
        assert [key_id for key_id, _ in _REFUSED] == [
            "leading-slash",
            "trailing-slash",
            "double-slash",
            "dot-segment",
            "dotdot-segment",
            "dotdot-leading",
            "dot-only",
            "dotdot-only",
        ]

    @pytest.mark.parametrize("key", [k for _, k in _REFUSED], ids=[i for i, _ in _REFUSED])
    def test_unsafe_keys_rejected(
        self, driver: StorageDriver, container: Container, work_dir: Path, key: str
    ) -> None:
        source = work_dir / "source.bin"
        source.write_bytes(b"data")
        with pytest.raises(InvalidObjectNameError) as info:
            driver.upload_object_via_stream(iter([b"data"]), container, key)
        assert info.value.object_name == key
        with pytest.raises(InvalidObjectNameError):
            driver.upload_object(source, container, key)
        assert driver.list_container_objects(container) == []
        assert source.read_bytes() == b"data"

    def test_object_and_prefix_with_same_name_refused(
        self, driver: StorageDriver, container: Container
    ) -> None:
        driver.upload_object_via_stream(iter([b"file x"]), container, "x")
        driver.upload_object_via_stream(iter([b"file p/q"]), container, "p/q")

        with pytest.raises(InvalidObjectNameError) as info:
            driver.upload_object_via_stream(iter([b"nested"]), container, "x/y")
        assert info.value.object_name == "x/y"
        with pytest.raises(InvalidObjectNameError):
            driver.upload_object_via_stream(iter([b"file p"]), container, "p")

        assert [o.name for o in driver.list_container_objects(container)] == ["p/q", "x"]
        assert b"".join(driver.get_object(container.name, "x").as_stream()) == b"file x"
        assert b"".join(driver.get_object(container.name, "p/q").as_stream()) == b"file p/q"
