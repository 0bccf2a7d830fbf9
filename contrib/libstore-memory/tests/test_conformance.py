"""libstore's conformance kit against the in-memory driver, as a driver author runs it."""

from __future__ import annotations

import pytest
from libstore_memory import MemoryStorageDriver

from libstore import StorageDriver
from libstore.testing import StorageDriverConformance


class TestMemoryConformance(StorageDriverConformance):
    """Every scenario of the kit; the memory store keeps any key exactly, in UTF-8 order."""

    @pytest.fixture
    def driver(self) -> StorageDriver:
        return MemoryStorageDriver()
