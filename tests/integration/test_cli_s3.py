"""The ``libstore`` command line against a real S3 server (SeaweedFS on 127.0.0.1).

Every test of ``tests/cli/test_cli_commands.py`` runs here again with an S3 bucket
as its store; the tests below add what only a real server shows: signature errors
(403), configuration precedence, and copies between providers.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_CLI_TESTS = str(Path(__file__).resolve().parents[1] / "cli")
if _CLI_TESTS not in sys.path:
    sys.path.insert(0, _CLI_TESTS)

from clikit import Cli, Store, assert_error, clean_env  # noqa: E402
from servers import S3Endpoint  # noqa: E402
from test_cli_commands import *  # noqa: E402, F403 - the same tests, against S3

pytestmark = pytest.mark.integration


def _s3_env(endpoint: S3Endpoint, tmp_path: Path, secret: str | None = None) -> dict[str, str]:
    root = tmp_path / "local-store"
    root.mkdir(exist_ok=True)
    return clean_env(
        tmp_path / "home",
        {
            "AWS_ENDPOINT_URL": endpoint.url,
            "AWS_ACCESS_KEY_ID": endpoint.access_key,
            "AWS_SECRET_ACCESS_KEY": secret or endpoint.secret_key,
            "AWS_REGION": endpoint.region,
            "LIBSTORE_LOCAL_ROOT": str(root),
        },
    )


@pytest.fixture
def cli(seaweedfs: S3Endpoint, tmp_path: Path) -> Cli:
    return Cli(_s3_env(seaweedfs, tmp_path), tmp_path / "work")


@pytest.fixture
def store(cli: Cli, tmp_path: Path, bucket_name: str) -> Iterator[Store]:
    cli.ok("mb", f"s3://{bucket_name}")
    yield Store("seaweedfs", "s3", bucket_name, cli, tmp_path)
    cli.run("rb", "--force", f"s3://{bucket_name}")


def test_wrong_secret_is_access_denied_and_writes_nothing(
    seaweedfs: S3Endpoint, store: Store, tmp_path: Path
) -> None:
    wrong_secret = "wrong/secret/key/000000000000000000000"
    bad = Cli(_s3_env(seaweedfs, tmp_path, wrong_secret), store.cli.cwd)
    (bad.cwd / "a.txt").write_bytes(b"a")
    store.cli.ok("cp", "-", store.url("there.txt"), input=b"there")
    cases = [
        ["ls", store.url()],
        ["ls", "s3://"],
        ["cp", "a.txt", store.url("a.txt")],
        ["cp", "-", store.url("b.txt")],
        ["cp", store.url("there.txt"), "down.txt"],
        ["sync", str(bad.cwd), store.url("sync/")],
        ["rm", store.url("there.txt")],
        ["mb", f"s3://{store.bucket}-new"],
        ["stat", store.url("there.txt")],
    ]
    for args in cases:
        line = assert_error(bad.run(*args, input=b"data"), 4, "access denied")
        assert wrong_secret not in line and seaweedfs.secret_key not in line
    assert store.keys() == ["there.txt"]
    assert sorted(p.name for p in bad.cwd.iterdir()) == ["a.txt"]
    record = bad.run("--json", "ls", store.url()).records()[-1]
    assert record["error_kind"] == "access_denied" and record["exit_code"] == 4
    # --debug shows the traceback and the requests, never a secret
    debug = bad.run("--debug", "ls", store.url())
    assert debug.code == 4 and "Traceback" in debug.stderr
    assert wrong_secret not in debug.stderr and seaweedfs.secret_key not in debug.stderr
    assert not re.search(r"Signature=[0-9a-f]{64}", debug.stderr)
    flag = bad.run(
        "--debug",
        "--secret-access-key",
        wrong_secret,
        "--access-key-id",
        seaweedfs.access_key,
        "ls",
        store.url(),
    )
    assert flag.code == 4 and wrong_secret not in flag.stderr


def test_settings_precedence_flags_config_environment(
    seaweedfs: S3Endpoint, store: Store, tmp_path: Path
) -> None:
    store.cli.ok("cp", "-", store.url("k"), input=b"value")
    wrong = "not/the/right/secret/0000000000000000000"
    env = _s3_env(seaweedfs, tmp_path, wrong)  # the environment is wrong...
    config = tmp_path / "config.toml"
    config.write_text(
        "[default]\n"
        f'endpoint_url = "{seaweedfs.url}"\n'
        f'access_key_id = "{seaweedfs.access_key}"\n'
        f'secret_access_key = "{seaweedfs.secret_key}"\n'
        "[broken]\n"
        f'access_key_id = "{seaweedfs.access_key}"\n'
        f'secret_access_key = "{wrong}"\n'
    )
    cli = Cli(env, store.cli.cwd)
    assert_error(cli.run("ls", store.url()), 4)
    assert cli.ok("--config", str(config), "ls", store.url()).stdout.split()[-1] == "k"
    cli.env["LIBSTORE_CONFIG"] = str(config)  # ...the config file wins over it
    assert cli.ok("cat", store.url("k")).stdout == "value"
    assert_error(cli.run("--profile", "broken", "ls", store.url()), 4)
    assert_error(cli.run("--profile", "nope", "ls", store.url()), 2, "nope")
    # ...and flags win over the config file
    assert_error(
        cli.run(
            "ls", "--secret-access-key", wrong, "--access-key-id", seaweedfs.access_key, store.url()
        ),
        4,
    )
    # AWS CLI shared files come last, after the environment
    cli.env.pop("LIBSTORE_CONFIG")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        cli.env.pop(name)
    aws = Path(cli.env["HOME"]) / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        f"[default]\naws_access_key_id = {seaweedfs.access_key}\n"
        f"aws_secret_access_key = {seaweedfs.secret_key}\n"
    )
    assert cli.ok("cat", store.url("k")).stdout == "value"
    cli.env.pop("AWS_ENDPOINT_URL")
    assert_error(cli.run("--endpoint-url", "ftp://x", "ls", store.url()), 2, "endpoint")


def test_copies_between_providers_stream_and_keep_metadata(store: Store, tmp_path: Path) -> None:
    cli = store.cli
    data = os.urandom(7 * 1024 * 1024 + 11)
    (cli.cwd / "blob.bin").write_bytes(data)
    cli.ok(
        "cp",
        "--metadata",
        "owner=ops",
        "--content-type",
        "application/x-blob",
        "blob.bin",
        store.url("x/blob.bin"),
    )
    cli.ok("mb", "local://mirror")
    cli.ok("cp", store.url("x/blob.bin"), "local://mirror/blob.bin")
    info = cli.ok("stat", "--json", "local://mirror/blob.bin").records()[0]
    assert info["meta_data"]["owner"] == "ops" and info["content_type"] == "application/x-blob"
    cli.ok("sync", "local://mirror/", store.url("back/"))
    assert cli.run_bytes("cat", store.url("back/blob.bin"))[1] == data
    again = cli.ok("sync", "--json", "local://mirror/", store.url("back/")).records()
    assert again[-1]["transferred"] == 0
    info = cli.ok("stat", "--json", store.url("back/blob.bin")).records()[0]
    assert info["meta_data"]["owner"] == "ops"
