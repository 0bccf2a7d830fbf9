"""Session fixtures for the integration tests: real S3 servers on 127.0.0.1.

``seaweedfs`` and ``moto_s3`` start their server once per session (on first use) and
stop it at the end of the session. A server that does not start fails the test that
asked for it; it is never skipped.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_TESTS_DIR = str(Path(__file__).resolve().parents[1])
if _TESTS_DIR not in sys.path:  # make tests/servers.py and tests/faultproxy.py importable
    sys.path.insert(0, _TESTS_DIR)

from servers import (  # noqa: E402
    PROXY_ENV_VARS,
    MotoServer,
    S3Endpoint,
    SeaweedFSServer,
    ServerStartError,
    unique_bucket_name,
)


def _start(server: SeaweedFSServer | MotoServer) -> S3Endpoint:
    failure: str | None = None
    try:
        endpoint = server.start()
    except ServerStartError as exc:
        failure = f"{server.name} failed to start:\n{exc}"
    if failure is not None:  # outside the except block: no chained traceback noise
        pytest.fail(failure, pytrace=False)
    sys.stderr.write(
        f"\n[libstore tests] {server.name} ready at {endpoint.url} "
        f"in {server.startup_seconds:.2f}s (log: {server.process and server.process.log_path})\n"
    )
    return endpoint


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """A SeaweedFS ``weed server -s3`` that verifies SigV4 (wrong secrets get 403)."""
    server = SeaweedFSServer(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield _start(server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """A ``python -m moto.server``; it accepts any credentials (no signature checks)."""
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    try:
        yield _start(server)
    finally:
        server.stop()


_S3_SERVER_FIXTURES = {"seaweedfs": "seaweedfs", "moto": "moto_s3"}


@pytest.fixture(scope="session", params=["seaweedfs", "moto"])
def s3_server(request: pytest.FixtureRequest) -> S3Endpoint:
    """Each of the real servers in turn: ``s3_server[seaweedfs]`` and ``s3_server[moto]``."""
    endpoint: S3Endpoint = request.getfixturevalue(_S3_SERVER_FIXTURES[request.param])
    return endpoint


@pytest.fixture
def bucket_name() -> str:
    """A unique, valid bucket name: ``libstore-test-<16 hex>``."""
    return unique_bucket_name()


@pytest.fixture(autouse=True)
def _loopback_only_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy settings and no AWS credentials/config from the environment."""
    for name in PROXY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.upper().startswith("AWS_"):
            monkeypatch.delenv(name, raising=False)
