"""Test helpers for driver authors; needs ``pytest`` and is never imported by ``libstore``.

:class:`StorageDriverConformance` is the driver conformance kit: subclass it in a
test module, provide a ``driver`` fixture, and every bundled scenario runs against
your driver. See :mod:`libstore.testing.conformance` for an example.
"""

import pytest

# Rewrite the kit's plain ``assert`` statements so failures show the compared values.
pytest.register_assert_rewrite("libstore.testing.conformance")

from libstore.testing.conformance import (  # noqa: E402 - after the rewrite hook
    INVALID_CONTAINER_NAMES as INVALID_CONTAINER_NAMES,
)
from libstore.testing.conformance import TRICKY_KEYS as TRICKY_KEYS  # noqa: E402
from libstore.testing.conformance import (  # noqa: E402
    StorageDriverConformance as StorageDriverConformance,
)

__all__ = ["INVALID_CONTAINER_NAMES", "TRICKY_KEYS", "StorageDriverConformance"]
