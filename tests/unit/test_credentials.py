"""Credential providers, the default chain, refreshing, and the S3 driver's credential arguments.

Nothing here touches the network or the real ``~/.aws``: every test runs with a
temporary ``HOME``, no ``AWS_*`` variables, the instance metadata service switched
off, and a guard that fails any connection to a link-local address.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import urllib3.util.connection

from libstore.auth import Credentials
from libstore.credentials import (
    ANONYMOUS,
    AssumeRoleProvider,
    ContainerProvider,
    CredentialChain,
    CredentialsError,
    EnvironmentProvider,
    InstanceMetadataProvider,
    NoCredentialsError,
    ProcessProvider,
    ProfileProvider,
    RefreshingCredentials,
    StaticProvider,
    WebIdentityProvider,
    credentials_for_driver,
    default_chain,
    parse_expiration,
    read_shared_config,
)
from libstore.drivers.s3 import S3StorageDriver
from libstore.types import InvalidArgumentError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    real = urllib3.util.connection.create_connection

    def guarded(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        if address[0].startswith(("169.254.", "fd00:ec2")):
            raise AssertionError(f"a test tried to reach {address[0]}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", guarded)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Counting:
    """A provider returning numbered temporary credentials valid for ``lifetime``."""

    def __init__(self, clock: Clock, lifetime: timedelta = timedelta(hours=1)) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.calls = 0
        self.fail = False

    def __call__(self) -> Credentials:
        self.calls += 1
        if self.fail:
            raise CredentialsError("source down")
        return Credentials(
            f"AKID{self.calls}", "secret", "token", expires_at=self.clock() + self.lifetime
        )


# --------------------------------------------------------------------------
# Environment and expiry parsing
# --------------------------------------------------------------------------


def test_environment_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    assert EnvironmentProvider()() is None
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    creds = EnvironmentProvider()()
    assert creds == Credentials("AKIDENV", "secret")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "legacy")
    assert EnvironmentProvider()().token == "legacy"  # type: ignore[union-attr]
    monkeypatch.setenv("AWS_SESSION_TOKEN", "tok")
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", "2030-01-01T00:00:00Z")
    creds = EnvironmentProvider()()
    assert creds is not None
    assert creds.token == "tok"
    assert creds.expires_at == datetime(2030, 1, 1, tzinfo=UTC)


def test_environment_half_configured_is_an_error() -> None:
    with pytest.raises(CredentialsError, match="AWS_SECRET_ACCESS_KEY is not set"):
        EnvironmentProvider({"AWS_ACCESS_KEY_ID": "AKID"})()
    # empty values count as unset
    assert EnvironmentProvider({"AWS_ACCESS_KEY_ID": " ", "AWS_SECRET_ACCESS_KEY": ""})() is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T12:00:00Z", NOW),
        ("2026-03-01T12:00:00.123Z", NOW.replace(microsecond=123000)),
        ("2026-03-01T13:00:00+01:00", NOW),
        ("2026-03-01T12:00:00", NOW),
        (None, None),
        ("", None),
    ],
)
def test_parse_expiration(text: str | None, expected: datetime | None) -> None:
    assert parse_expiration(text, "test") == expected


def test_parse_expiration_rejects_garbage() -> None:
    with pytest.raises(CredentialsError, match="not an ISO 8601 time"):
        parse_expiration("tomorrow", "test")


# --------------------------------------------------------------------------
# Shared files and profiles
# --------------------------------------------------------------------------


@pytest.fixture
def aws_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    creds = tmp_path / "aws" / "credentials"
    config = tmp_path / "aws" / "config"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    return creds, config


def test_profile_static_keys_and_precedence(aws_files: tuple[Path, Path]) -> None:
    creds, config = aws_files
    write(
        creds,
        """
        [default]
        aws_access_key_id = AKIDFILE
        aws_secret_access_key = secretfile
        aws_session_token = tok

        [other]
        aws_access_key_id = AKIDOTHER
        aws_secret_access_key = secretother
        """,
    )
    write(
        config,
        """
        [default]
        region = eu-west-1
        aws_access_key_id = AKIDCONFIG
        aws_secret_access_key = secretconfig

        [profile only-config]
        aws_access_key_id = AKIDONLYCONFIG
        aws_secret_access_key = s
        """,
    )
    assert ProfileProvider()() == Credentials("AKIDFILE", "secretfile", "tok")
    assert ProfileProvider("other")() == Credentials("AKIDOTHER", "secretother")
    assert ProfileProvider("only-config")() == Credentials("AKIDONLYCONFIG", "s")
    shared = read_shared_config()
    assert shared.profile("default") == {
        "region": "eu-west-1",
        "aws_access_key_id": "AKIDFILE",
        "aws_secret_access_key": "secretfile",
        "aws_session_token": "tok",
    }


def test_profile_from_aws_profile_variable(
    aws_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(aws_files[0], "[work]\naws_access_key_id = AKIDWORK\naws_secret_access_key = s\n")
    monkeypatch.setenv("AWS_PROFILE", "work")
    assert ProfileProvider()().access_key == "AKIDWORK"  # type: ignore[union-attr]


def test_missing_profiles(aws_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    assert ProfileProvider()() is None  # no files, default profile: nothing to offer
    with pytest.raises(CredentialsError, match="profile 'nope' is in neither"):
        ProfileProvider("nope")()
    monkeypatch.setenv("AWS_PROFILE", "gone")
    with pytest.raises(CredentialsError, match="profile 'gone'"):
        ProfileProvider()()


def test_profile_without_credentials_gives_none(aws_files: tuple[Path, Path]) -> None:
    write(aws_files[1], "[default]\nregion = eu-west-1\n")
    assert ProfileProvider()() is None


def test_half_static_profile_is_an_error(aws_files: tuple[Path, Path]) -> None:
    write(aws_files[0], "[default]\naws_access_key_id = AKID\n")
    with pytest.raises(CredentialsError, match="lacks aws_secret_access_key"):
        ProfileProvider()()


def test_unparseable_file_is_an_error(aws_files: tuple[Path, Path]) -> None:
    write(aws_files[0], "aws_access_key_id = outside any section\n")
    with pytest.raises(CredentialsError, match="cannot parse"):
        ProfileProvider()()


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ("[profile r]\nrole_arn = arn:aws:iam::1:role/x\n", "neither source_profile"),
        (
            "[profile r]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = a\n"
            "credential_source = Environment\n",
            "both source_profile and credential_source",
        ),
        (
            "[profile r]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = missing\n",
            "source_profile 'missing', which does not exist",
        ),
        (
            "[profile r]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = a\n"
            "[profile a]\nrole_arn = arn:aws:iam::1:role/y\nsource_profile = r\n",
            "source_profile cycle: r -> a -> r",
        ),
        (
            "[profile r]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = r\n",
            "its own source_profile but has no static keys",
        ),
        (
            "[profile r]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = a\n"
            "mfa_serial = arn:aws:iam::1:mfa/me\n[profile a]\naws_access_key_id = A\n"
            "aws_secret_access_key = s\n",
            "MFA",
        ),
        (
            "[profile r]\nrole_arn = arn:aws:iam::1:role/x\ncredential_source = Magic\n",
            "credential_source 'Magic'",
        ),
        (
            "[profile r]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = Admin\n",
            "export-credentials --profile r --format process",
        ),
        ("[profile r]\nrole_arn = not-an-arn\nsource_profile = r\n", None),
    ],
)
def test_bad_role_profiles(aws_files: tuple[Path, Path], profile: str, message: str | None) -> None:
    write(aws_files[1], profile)
    with pytest.raises(CredentialsError, match=message):
        ProfileProvider("r")()


def test_role_profile_builds_assume_role(aws_files: tuple[Path, Path]) -> None:
    write(
        aws_files[1],
        """
        [profile base]
        aws_access_key_id = AKIDBASE
        aws_secret_access_key = s

        [profile role]
        role_arn = arn:aws:iam::123456789012:role/reader
        source_profile = base
        external_id = ext-1
        role_session_name = me
        duration_seconds = 1800
        region = eu-west-2
        """,
    )
    provider = ProfileProvider("role")
    inner = provider._resolve_top("role")
    assert isinstance(inner, AssumeRoleProvider)
    assert inner.role_arn == "arn:aws:iam::123456789012:role/reader"
    assert (inner.external_id, inner.duration_seconds) == ("ext-1", 1800)
    assert inner.source() == Credentials("AKIDBASE", "s")


def test_credential_process(aws_files: tuple[Path, Path], tmp_path: Path) -> None:
    script = write(
        tmp_path / "creds.py",
        """
        import json
        print(json.dumps({"Version": 1, "AccessKeyId": "AKIDPROC", "SecretAccessKey": "s",
                          "SessionToken": "t", "Expiration": "2030-01-01T00:00:00Z"}))
        """,
    )
    write(
        aws_files[1],
        f"[default]\ncredential_process = {sys.executable} {script}\n",
    )
    creds = ProfileProvider()()
    assert creds == Credentials("AKIDPROC", "s", "t", expires_at=datetime(2030, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("program", "message"),
    [
        ("import sys; sys.stderr.write('login first'); sys.exit(3)", "status 3: login first"),
        ("print('not json')", "did not print a JSON document"),
        ("print('[1]')", "did not print a JSON object"),
        (
            "import json; print(json.dumps({'Version': 2, 'AccessKeyId': 'A', "
            "'SecretAccessKey': 's'}))",
            "only Version 1",
        ),
        ("import json; print(json.dumps({'Version': 1, 'AccessKeyId': 'A'}))", "no secret"),
    ],
)
def test_credential_process_failures(tmp_path: Path, program: str, message: str) -> None:
    script = write(tmp_path / "p.py", program + "\n")
    with pytest.raises(CredentialsError, match=message):
        ProcessProvider(f"{sys.executable} {script}")()


def test_credential_process_timeout_and_missing_command(tmp_path: Path) -> None:
    script = write(tmp_path / "slow.py", "import time; time.sleep(10)\n")
    with pytest.raises(CredentialsError, match="no answer within"):
        ProcessProvider(f"{sys.executable} {script}", timeout=0.2)()
    with pytest.raises(CredentialsError, match="command not found"):
        ProcessProvider("/nonexistent/helper --flag")()
    with pytest.raises(CredentialsError, match="cannot be parsed"):
        ProcessProvider("helper 'unclosed")
    with pytest.raises(CredentialsError, match="empty"):
        ProcessProvider("  ")


def test_credential_process_output_is_not_in_errors(tmp_path: Path) -> None:
    script = write(
        tmp_path / "leaky.py",
        'print(\'{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": 5}\')\n',
    )
    with pytest.raises(CredentialsError) as info:
        ProcessProvider(f"{sys.executable} {script}")()
    assert "SecretAccessKey" not in str(info.value)


# --------------------------------------------------------------------------
# Container and instance metadata configuration (no requests)
# --------------------------------------------------------------------------


def test_container_provider_unconfigured_is_none() -> None:
    assert ContainerProvider()() is None


@pytest.mark.parametrize(
    "uri",
    [
        "http://10.0.0.5/creds",
        "http://169.254.169.254/latest",
        "ftp://127.0.0.1/creds",
        "127.0.0.1/creds",
    ],
)
def test_container_full_uri_must_be_local_or_https(uri: str) -> None:
    with pytest.raises(CredentialsError, match="AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        ContainerProvider(full_uri=uri)()


def test_container_token_with_line_break_is_refused(tmp_path: Path) -> None:
    token = write(tmp_path / "token", "abc\ndef")
    provider = ContainerProvider(full_uri="http://127.0.0.1:1/creds", token_file=token)
    with pytest.raises(CredentialsError, match="line break"):
        provider()


def test_container_missing_token_file(tmp_path: Path) -> None:
    provider = ContainerProvider(
        full_uri="http://127.0.0.1:1/creds", token_file=tmp_path / "missing"
    )
    with pytest.raises(CredentialsError, match="cannot read the container authorization"):
        provider()


def test_imds_endpoint_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    assert InstanceMetadataProvider().endpoint() == "http://169.254.169.254"
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6")
    assert InstanceMetadataProvider().endpoint() == "http://[fd00:ec2::254]"
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:8111/")
    assert InstanceMetadataProvider().endpoint() == "http://127.0.0.1:8111"
    assert (
        InstanceMetadataProvider(endpoint="http://localhost:1").endpoint() == "http://localhost:1"
    )
    monkeypatch.delenv("AWS_EC2_METADATA_SERVICE_ENDPOINT")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv5")
    with pytest.raises(CredentialsError, match="IPv4 or IPv6"):
        InstanceMetadataProvider().endpoint()


def test_imds_disabled_sends_nothing() -> None:
    assert InstanceMetadataProvider()() is None  # AWS_EC2_METADATA_DISABLED=true here


def test_imds_bad_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CredentialsError, match="token_ttl"):
        InstanceMetadataProvider(token_ttl=0)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "maybe")
    with pytest.raises(CredentialsError, match="true or false"):
        InstanceMetadataProvider()()


def test_web_identity_configuration_errors(tmp_path: Path) -> None:
    assert WebIdentityProvider()() is None
    with pytest.raises(CredentialsError, match="AWS_WEB_IDENTITY_TOKEN_FILE is not set"):
        WebIdentityProvider(environ={"AWS_ROLE_ARN": "arn:aws:iam::1:role/x"})()
    with pytest.raises(CredentialsError, match="cannot read the web identity token file"):
        WebIdentityProvider("arn:aws:iam::1:role/x", tmp_path / "missing")()
    empty = write(tmp_path / "empty", "")
    with pytest.raises(CredentialsError, match="is empty"):
        WebIdentityProvider("arn:aws:iam::1:role/x", empty)()
    with pytest.raises(CredentialsError, match="duration_seconds"):
        WebIdentityProvider("arn:aws:iam::1:role/x", empty, duration_seconds=60)


# --------------------------------------------------------------------------
# Refreshing
# --------------------------------------------------------------------------


def test_static_credentials_are_fetched_once() -> None:
    calls: list[int] = []

    def provider() -> Credentials:
        calls.append(1)
        return Credentials("AKID", "s")

    source = RefreshingCredentials(provider)
    assert source() is source() is source.current
    assert len(calls) == 1


def test_refresh_windows() -> None:
    clock = Clock()
    provider = Counting(clock)
    source = RefreshingCredentials(provider, clock=clock)
    assert source().access_key == "AKID1"
    clock.now += timedelta(minutes=40)  # 20 min left: still fine
    assert source().access_key == "AKID1"
    clock.now += timedelta(minutes=6)  # 14 min left: advisory refresh
    assert source().access_key == "AKID2"
    assert provider.calls == 2


def test_advisory_refresh_failure_keeps_the_old_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    provider = Counting(clock)
    source = RefreshingCredentials(provider, clock=clock)
    first = source()
    provider.fail = True
    clock.now += timedelta(minutes=47)  # 13 min left: advisory window
    assert source() is first
    assert "using the current ones" in caplog.text
    calls = provider.calls
    assert source() is first  # a failed advisory refresh is not retried at once
    assert provider.calls == calls
    clock.now += timedelta(minutes=5)  # 8 min left: mandatory
    with pytest.raises(CredentialsError, match="source down"):
        source()
    provider.fail = False
    assert source().access_key == f"AKID{provider.calls}"


def test_expired_credentials_from_the_provider_are_refused() -> None:
    clock = Clock()

    def stale() -> Credentials:
        return Credentials("A", "s", expires_at=clock() - timedelta(seconds=1))

    with pytest.raises(CredentialsError, match="expired at"):
        RefreshingCredentials(stale, clock=clock)()


def test_none_and_wrong_types_from_the_provider() -> None:
    with pytest.raises(NoCredentialsError, match="returned no credentials"):
        RefreshingCredentials(lambda: None)()
    with pytest.raises(CredentialsError, match="returned tuple"):
        RefreshingCredentials(lambda: ("A", "s"))()  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError):
        RefreshingCredentials("not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RefreshingCredentials(lambda: None, advisory_refresh=10, mandatory_refresh=20)


def test_short_lived_credentials_are_not_refetched_every_call() -> None:
    clock = Clock()
    provider = Counting(clock, lifetime=timedelta(minutes=5))
    source = RefreshingCredentials(provider, clock=clock)
    source()
    for _ in range(10):
        clock.now += timedelta(seconds=10)
        source()
    assert provider.calls == 1  # 100 s into a 300 s lifetime: no refresh yet
    clock.now += timedelta(seconds=60)  # 140 s left, under half the lifetime
    source()
    assert provider.calls == 2


def test_refresh_after_rejection_is_done_once() -> None:
    clock = Clock()
    provider = Counting(clock)
    source = RefreshingCredentials(provider, clock=clock)
    rejected = source()
    fresh = source.refresh(rejected=rejected)
    assert fresh.access_key == "AKID2"
    # another thread that was rejected with the same old credentials: no new fetch
    assert source.refresh(rejected=rejected) is fresh
    assert provider.calls == 2
    assert source.refresh().access_key == "AKID3"


def test_concurrent_callers_fetch_once_at_expiry() -> None:
    clock = Clock()
    lock = threading.Lock()
    calls: list[int] = []

    def slow() -> Credentials:
        with lock:
            calls.append(1)
            number = len(calls)
        time.sleep(0.05)
        return Credentials(f"AKID{number}", "s", expires_at=clock() + timedelta(hours=1))

    source = RefreshingCredentials(slow, clock=clock)
    source()
    clock.now += timedelta(minutes=55)  # inside the mandatory window: everyone must wait
    results: list[str] = []
    barrier = threading.Barrier(16)

    def worker() -> None:
        barrier.wait()
        creds = source()
        with lock:
            results.append(creds.access_key)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["AKID2"] * 16
    assert len(calls) == 2


def test_advisory_refresh_does_not_block_other_threads() -> None:
    clock = Clock()
    started = threading.Event()
    release = threading.Event()
    count = 0

    def provider() -> Credentials:
        nonlocal count
        count += 1
        if count == 2:
            started.set()
            release.wait(5)
        return Credentials(f"AKID{count}", "s", expires_at=clock() + timedelta(hours=1))

    source = RefreshingCredentials(provider, clock=clock)
    source()
    clock.now += timedelta(minutes=47)  # advisory window
    refresher = threading.Thread(target=source)
    refresher.start()
    assert started.wait(5)
    assert source().access_key == "AKID1"  # served at once while the refresh runs
    release.set()
    refresher.join()
    assert source().access_key == "AKID2"


# --------------------------------------------------------------------------
# The chain
# --------------------------------------------------------------------------


def test_chain_order_and_stickiness() -> None:
    asked: list[str] = []

    def named(name: str, result: Credentials | None) -> Callable[[], Credentials | None]:
        def provider() -> Credentials | None:
            asked.append(name)
            return result

        provider.description = name  # type: ignore[attr-defined]
        return provider

    chain = CredentialChain(
        [named("a", None), named("b", Credentials("B", "s")), named("c", Credentials("C", "s"))]
    )
    assert chain().access_key == "B"
    assert asked == ["a", "b"]
    asked.clear()
    assert chain().access_key == "B"
    assert asked == ["b"]  # a refresh asks only the provider that answered
    assert chain.description == "b"


def test_chain_without_credentials_says_where_it_looked() -> None:
    chain = default_chain()
    with pytest.raises(NoCredentialsError) as info:
        chain()
    text = str(info.value)
    for place in ("environment", "shared AWS files", "web identity", "container", "EC2"):
        assert place in text
    assert "ANONYMOUS" in text


def test_default_chain_order(aws_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    write(aws_files[0], "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\n")
    write(aws_files[0].parent / "x", "")
    assert default_chain()().access_key == "AKIDFILE"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    assert default_chain()().access_key == "AKIDENV"  # the environment comes first
    # an explicit profile skips the environment, like the AWS CLI's --profile
    assert default_chain("default")().access_key == "AKIDFILE"


def test_chain_reads_the_profile_files_only_from_the_environment_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Path(os.environ["HOME"])
    write(home / ".aws" / "credentials", "[default]\naws_access_key_id = AKIDHOME\n"
          "aws_secret_access_key = s\n")  # fmt: skip
    assert default_chain()().access_key == "AKIDHOME"  # ~ is the temporary HOME
    other = write(tmp_path / "elsewhere", "[default]\naws_access_key_id = AKIDELSE\n"
                  "aws_secret_access_key = s\n")  # fmt: skip
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(other))
    assert default_chain()().access_key == "AKIDELSE"


# --------------------------------------------------------------------------
# What drivers do with their arguments
# --------------------------------------------------------------------------


def test_credentials_for_driver_argument_combinations() -> None:
    assert credentials_for_driver(None, None, None, ANONYMOUS) is None
    static = credentials_for_driver("AKID", "s", "t", None)
    assert static is not None and static() == Credentials("AKID", "s", "t")
    assert not static.refreshable
    given = Credentials("A", "s")
    from_creds = credentials_for_driver(None, None, None, given)
    assert from_creds is not None and from_creds() is given
    provider = credentials_for_driver(None, None, None, lambda: Credentials("P", "s"))
    assert provider is not None and provider.refreshable and provider().access_key == "P"
    chain = credentials_for_driver(None, None, None, None)
    assert chain is not None and isinstance(chain.provider, CredentialChain)
    refreshing = RefreshingCredentials(lambda: given)
    assert credentials_for_driver(None, None, None, refreshing) is refreshing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("AKID", None, None, None), "needs a secret key"),
        ((None, "secret", None, None), "without a key"),
        ((None, None, "token", None), "without a key"),
        (("AKID", "s", None, ANONYMOUS), "not both"),
        (("AKID", "s", None, Credentials("A", "s")), "not both"),
        ((None, None, None, "AKID:secret"), "not str"),
        (("", "s", None, None), "invalid credentials"),
    ],
)
def test_credentials_for_driver_errors(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        credentials_for_driver(*args)


def _driver(**kwargs: Any) -> S3StorageDriver:
    return S3StorageDriver(secure=False, host="s3.test", port=9000, **kwargs)


def test_driver_accepts_key_secret_as_before() -> None:
    driver = _driver(key="AKID", secret="s", token="t")
    assert driver.get_credentials() == Credentials("AKID", "s", "t")
    assert "access_key='AKID'" in repr(driver)
    headers = driver._signer_for("UNSIGNED-PAYLOAD")("GET", "http://s3.test:9000/b/k", {})
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKID/")
    assert headers["X-Amz-Security-Token"] == "t"


def test_driver_positional_key_and_secret() -> None:
    driver = S3StorageDriver("AKID", "s", False, "s3.test", 9000)
    assert driver.get_credentials() == Credentials("AKID", "s")


def test_driver_with_a_provider_signs_with_its_current_credentials() -> None:
    clock_creds = [Credentials("AKID1", "s1", "t1", expires_at=datetime.now(UTC) + timedelta(1))]
    driver = _driver(credentials=lambda: clock_creds[-1])
    sign = driver._signer_for("UNSIGNED-PAYLOAD")
    assert "Credential=AKID1/" in sign("GET", "http://s3.test:9000/b/k", {})["Authorization"]
    clock_creds.append(
        Credentials("AKID2", "s2", "t2", expires_at=datetime.now(UTC) + timedelta(hours=2))
    )
    driver._credentials.refresh()  # type: ignore[union-attr]
    headers = sign("GET", "http://s3.test:9000/b/k", {})
    assert "Credential=AKID2/" in headers["Authorization"]
    assert headers["X-Amz-Security-Token"] == "t2"


def test_anonymous_driver_does_not_sign() -> None:
    driver = _driver(credentials=ANONYMOUS)
    assert driver.anonymous
    assert driver.get_credentials() is None
    headers = driver._signer_for("UNSIGNED-PAYLOAD")("GET", "http://s3.test:9000/b/k", {"A": "1"})
    assert headers == {"A": "1"}
    assert "anonymous" in repr(driver)


def test_driver_without_credentials_resolves_the_chain_lazily(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    driver = _driver()  # nothing found yet, and nothing asked yet
    assert "<not yet resolved>" in repr(driver)
    with pytest.raises(NoCredentialsError):
        driver.get_credentials()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    assert _driver().get_credentials() == Credentials("AKIDENV", "s")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"key": "AKID"},
        {"secret": "s"},
        {"key": "AKID", "secret": "s", "credentials": ANONYMOUS},
        {"credentials": 42},
    ],
)
def test_driver_credential_errors_come_before_any_request(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        _driver(**kwargs)


def test_static_provider_and_reprs_hide_secrets() -> None:
    creds = Credentials("AKID", "topsecret", "sessiontoken")
    for text in (
        repr(StaticProvider(creds)),
        repr(RefreshingCredentials(StaticProvider(creds))),
        repr(_driver(credentials=creds)),
    ):
        assert "topsecret" not in text
        assert "sessiontoken" not in text


def test_process_provider_runs_without_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    script = write(
        tmp_path / "args.py",
        """
        import json, sys
        print(json.dumps({"Version": 1, "AccessKeyId": sys.argv[1], "SecretAccessKey": "s"}))
        """,
    )
    command = f"{sys.executable} {script} 'AKID;touch {marker}'"
    assert ProcessProvider(command)().access_key == f"AKID;touch {marker}"
    assert not marker.exists()


def test_token_file_permissions_do_not_matter_for_reading(tmp_path: Path) -> None:
    token = write(tmp_path / "token", "secret-token\n")
    token.chmod(stat.S_IRUSR)
    provider = ContainerProvider(full_uri="http://127.0.0.1:1/x", token_file=token)
    assert provider._authorization({}) == "secret-token"


def test_json_reply_helpers_report_codes() -> None:
    from libstore.credentials import _error_code

    assert _error_code(json.dumps({"code": "Denied", "message": "no"}).encode()) == (
        "Denied",
        "no",
    )
    sts = (
        b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
        b"<Type>Sender</Type><Code>AccessDenied</Code><Message>nope</Message></Error>"
        b"</ErrorResponse>"
    )
    assert _error_code(sts) == ("AccessDenied", "nope")
    assert _error_code(b"plain") == (None, None)


def test_shared_files_follow_the_home_of_the_given_environment(tmp_path: Path) -> None:
    home = tmp_path / "elsewhere-home"
    write(home / ".aws" / "credentials", "[default]\naws_access_key_id = AKIDHOME2\n"
          "aws_secret_access_key = s\n")  # fmt: skip
    creds = ProfileProvider(environ={"HOME": str(home)})()
    assert creds is not None and creds.access_key == "AKIDHOME2"
    assert read_shared_config(environ={"HOME": str(home)}).credentials_file == str(
        home / ".aws" / "credentials"
    )
