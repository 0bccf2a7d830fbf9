"""Fixtures of the CLI tests: a private environment and a local-driver store."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from clikit import Cli, Store, clean_env  # noqa: E402


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The CLI with a private HOME, no AWS settings, and a local root under tmp_path."""
    root = tmp_path / "store"
    root.mkdir()
    env = clean_env(tmp_path / "home", {"LIBSTORE_LOCAL_ROOT": str(root)})
    return Cli(env, tmp_path / "work")


@pytest.fixture
def store(cli: Cli, tmp_path: Path) -> Iterator[Store]:
    """A container of the embedded local driver."""
    cli.ok("mb", "local://bucket")
    yield Store("local", "local", "bucket", cli, tmp_path)
