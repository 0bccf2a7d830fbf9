"""Fixtures of the wire tests: an S3 driver pointed at a mocked endpoint.

Every test registers one response per request it expects, in order
(``responses``' ``OrderedRegistry``): a request the test did not plan for, or a
request in the wrong order, finds no registration and fails the test; a planned
request that never happens fails it too (``assert_all_requests_are_fired``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses
from responses.registries import OrderedRegistry
from wirekit import make_driver

from libstore.drivers.s3 import S3StorageDriver


@pytest.fixture
def sleeps() -> list[float]:
    """The delays the driver asked to sleep for, in order (nothing really sleeps)."""
    return []


@pytest.fixture
def driver(sleeps: list[float]) -> Iterator[S3StorageDriver]:
    d = make_driver()
    d._http._sleep = sleeps.append
    yield d
    d.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_CALL_PASSED] = report.passed and not hasattr(report, "wasxfail")
    return report


_CALL_PASSED = pytest.StashKey[bool]()


@pytest.fixture
def mock(request: pytest.FixtureRequest) -> Iterator[responses.RequestsMock]:
    """The mocked endpoint; after a passing test, every registered reply must have been used."""
    with responses.RequestsMock(
        assert_all_requests_are_fired=False, registry=OrderedRegistry
    ) as rsps:
        yield rsps
        if request.node.stash.get(_CALL_PASSED, False):
            unused = [(r.method, r.url) for r in rsps.registered()]
            assert not unused, f"registered replies never requested: {unused}"
