"""The example third-party driver (contrib/libstore-memory): the kit, and entry-point discovery.

``tox -e tests`` (and so CI) installs ``contrib/libstore-memory`` into its environment and
sets ``LIBSTORE_REQUIRE_CONTRIB=1``: the driver must then be found through the
``libstore.drivers`` entry point, exactly as a user's ``pip install`` would make it. In a
development environment without the package installed, the conformance kit still runs
against the driver's source tree and only the discovery tests are skipped.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

import libstore.registry as registry_module
from libstore import StorageDriver, get_driver, registered_drivers
from libstore.testing import StorageDriverConformance

_SOURCE = Path(__file__).resolve().parents[2] / "contrib" / "libstore-memory" / "src"
_REQUIRED = os.environ.get("LIBSTORE_REQUIRE_CONTRIB") == "1"


def _installed() -> bool:
    try:
        importlib.metadata.distribution("libstore-memory")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _driver_class() -> type[StorageDriver]:
    if not _installed():
        if _REQUIRED:
            pytest.fail("libstore-memory is not installed (tox installs contrib/libstore-memory)")
        if str(_SOURCE) not in sys.path:
            sys.path.insert(0, str(_SOURCE))
    module = importlib.import_module("libstore_memory")
    cls = module.MemoryStorageDriver
    assert isinstance(cls, type) and issubclass(cls, StorageDriver)
    return cls


needs_install = pytest.mark.skipif(
    not _installed() and not _REQUIRED,
    reason="libstore-memory is not installed here (pip install ./contrib/libstore-memory)",
)


@needs_install
def test_the_entry_point_is_declared() -> None:
    points = importlib.metadata.entry_points(group="libstore.drivers")
    memory = [ep for ep in points if ep.name == "memory"]
    assert [ep.value for ep in memory] == ["libstore_memory:MemoryStorageDriver"]
    assert memory[0].dist is not None and memory[0].dist.name == "libstore-memory"


@needs_install
def test_get_driver_finds_it_through_the_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    # Forget any earlier lookup so this one goes through discovery again.
    saved = dict(registry_module._registry)
    monkeypatch.setattr(registry_module, "_entry_points_loaded", False)
    registry_module._registry.pop("memory", None)
    try:
        assert registered_drivers()["memory"] == "libstore_memory:MemoryStorageDriver"
        cls = get_driver("memory")
        assert cls.__module__ == "libstore_memory.driver"
        assert cls.__name__ == "MemoryStorageDriver"
    finally:
        registry_module._registry.clear()
        registry_module._registry.update(saved)


@needs_install
def test_discovery_in_a_fresh_interpreter() -> None:
    # No test fixture involved: a plain program, as a user would write it.
    code = (
        "from libstore import get_driver\n"
        "d = get_driver('memory')('shared')\n"
        "c = d.create_container('box')\n"
        "c.upload_object_via_stream(iter([b'hello']), 'greeting')\n"
        "obj = get_driver('memory')('shared').get_object('box', 'greeting')\n"
        "print(b''.join(obj.as_stream()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "b'hello'"


def test_shared_and_private_namespaces() -> None:
    cls = _driver_class()
    first, second, private = cls("ns-test"), cls("ns-test"), cls()  # type: ignore[call-arg]
    first.create_container("shared-box")
    assert [c.name for c in second.list_containers()] == ["shared-box"]
    assert private.list_containers() == []
    first.delete_container(first.get_container("shared-box"))


class TestMemoryConformance(StorageDriverConformance):
    """Every conformance scenario against the in-memory example driver."""

    @pytest.fixture
    def driver(self) -> StorageDriver:
        return _driver_class()()
