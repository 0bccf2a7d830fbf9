"""Where AWS credentials come from: providers, the default chain, and refreshing.

A *credential provider* is any callable taking no argument and returning a
:class:`~libstore.auth.Credentials` (optionally temporary, with ``expires_at``),
or ``None`` when it has nothing to offer so the next provider should be asked::

    def from_vault() -> Credentials:
        secret = vault.read("aws/creds/backup")
        return Credentials(secret["access_key"], secret["secret_key"], secret["token"],
                           expires_at=datetime.now(UTC) + timedelta(seconds=secret["ttl"]))

    driver = S3StorageDriver(credentials=from_vault, region="eu-west-1")

The drivers wrap every provider in :class:`RefreshingCredentials`, which caches
the credentials and fetches new ones before they expire (thread-safely, one
fetch at a time). Without explicit credentials, the S3 driver uses
:func:`default_chain`, which asks, in this order:

1. the environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
   ``AWS_SESSION_TOKEN``) -- skipped when a profile is passed explicitly;
2. the shared files ``~/.aws/credentials`` and ``~/.aws/config`` (profile from
   ``AWS_PROFILE``, paths from ``AWS_SHARED_CREDENTIALS_FILE`` and
   ``AWS_CONFIG_FILE``): static keys, ``credential_process``, ``role_arn`` with
   ``source_profile`` or ``credential_source`` (STS ``AssumeRole``, signed by
   libstore's own signer), ``role_arn`` with ``web_identity_token_file``;
3. web identity from the environment (``AWS_WEB_IDENTITY_TOKEN_FILE`` and
   ``AWS_ROLE_ARN``, as EKS IRSA sets them);
4. ECS/EKS container credentials (``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` or
   ``AWS_CONTAINER_CREDENTIALS_FULL_URI``, with ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE``
   or ``AWS_CONTAINER_AUTHORIZATION_TOKEN``);
5. EC2 instance metadata, IMDSv2 (a session token first; the IMDSv1 fallback
   only when asked for).

A provider that is *configured* but fails (a profile naming a missing source
profile, a ``credential_process`` that exits non-zero, an STS error) raises
:class:`CredentialsError` instead of silently handing over to the next one.

:data:`ANONYMOUS` asks for unsigned requests (public buckets).
"""

from __future__ import annotations

import configparser
import ipaddress
import json
import logging
import os
import shlex
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

from libstore.auth import Credentials, SigV4Signer
from libstore.types import LibstoreError

__all__ = [
    "ANONYMOUS",
    "DEFAULT_ADVISORY_REFRESH",
    "DEFAULT_MANDATORY_REFRESH",
    "AnonymousCredentials",
    "AssumeRoleProvider",
    "ContainerProvider",
    "CredentialChain",
    "CredentialProvider",
    "CredentialsError",
    "EnvironmentProvider",
    "InstanceMetadataProvider",
    "NoCredentialsError",
    "ProcessProvider",
    "ProfileProvider",
    "RefreshingCredentials",
    "SharedConfig",
    "StaticProvider",
    "WebIdentityProvider",
    "credentials_for_driver",
    "default_chain",
    "parse_expiration",
    "read_shared_config",
]

_log = logging.getLogger("libstore.credentials")

CredentialProvider = Callable[[], "Credentials | None"]
"""A callable returning credentials, or ``None`` when it has none to offer."""

#: Seconds before expiry from which new credentials are fetched; a failure is
#: tolerated while the old credentials are still valid for a while.
DEFAULT_ADVISORY_REFRESH: Final = 15 * 60.0
#: Seconds before expiry from which new credentials *must* be fetched; a failure raises.
DEFAULT_MANDATORY_REFRESH: Final = 10 * 60.0

IMDS_ENDPOINT: Final = "http://169.254.169.254"
IMDS_ENDPOINT_IPV6: Final = "http://[fd00:ec2::254]"
ECS_ENDPOINT: Final = "http://169.254.170.2"
STS_API_VERSION: Final = "2011-06-15"

_IMDS_TOKEN_TTL = 21600
_ADVISORY_RETRY_DELAY = 30.0  # seconds between failed advisory refreshes
_IMDS_TOKEN_PATH = "/latest/api/token"  # noqa: S105 (a URL path)
_IMDS_ROLE_PATH = "/latest/meta-data/iam/security-credentials/"
_CONTAINER_HOSTS = frozenset(
    {
        ipaddress.ip_address("169.254.170.2"),
        ipaddress.ip_address("169.254.170.23"),
        ipaddress.ip_address("fd00:ec2::23"),
    }
)
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


# --------------------------------------------------------------------------
# Errors and small helpers
# --------------------------------------------------------------------------


class CredentialsError(LibstoreError):
    """Credentials could not be obtained from a source that is configured."""


class NoCredentialsError(CredentialsError):
    """No source of credentials was found (and anonymous access was not asked for)."""


class AnonymousCredentials:
    """The marker for unsigned (anonymous) requests; use :data:`ANONYMOUS`."""

    _instance: AnonymousCredentials | None = None

    def __new__(cls) -> AnonymousCredentials:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ANONYMOUS"


#: Pass as ``credentials=ANONYMOUS`` for unsigned requests to public buckets.
ANONYMOUS: Final = AnonymousCredentials()


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _env_value(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _env_flag(environ: Mapping[str, str], name: str) -> bool | None:
    value = _env_value(environ, name)
    if value is None:
        return None
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise CredentialsError(f"{name} must be true or false, not {value!r}")


def parse_expiration(value: str | None, where: str) -> datetime | None:
    """Parse an ISO 8601 expiry time as AWS sends it (``2026-11-25T18:00:00Z``).

    A time without an offset is taken as UTC. ``None`` or an empty string gives ``None``.

    Raises:
        CredentialsError: The value is not an ISO 8601 time.
    """
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise CredentialsError(f"{where}: expiration {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _make_credentials(
    access_key: Any, secret_key: Any, token: Any, expires_at: datetime | None, where: str
) -> Credentials:
    if not isinstance(access_key, str) or not access_key.strip():
        raise CredentialsError(f"{where}: no access key id in the reply")
    if not isinstance(secret_key, str) or not secret_key.strip():
        raise CredentialsError(f"{where}: no secret access key in the reply")
    if token is not None and (not isinstance(token, str) or not token.strip()):
        token = None
    return Credentials(access_key, secret_key, token, expires_at=expires_at)


# --------------------------------------------------------------------------
# HTTP for the metadata services and STS
# --------------------------------------------------------------------------


def _http_client(
    *, connect_timeout: float, read_timeout: float, attempts: int, trust_env: bool
) -> Any:
    # Imported here: ``libstore.credentials`` stays importable without the HTTP stack.
    from libstore.http.retry import RetryPolicy
    from libstore.http.session import ErrorReply, HttpClient, HttpConfig

    def parse_error(status: int, headers: Mapping[str, str], body: bytes) -> ErrorReply:
        reply = ErrorReply(status=status, headers=headers, body=body)
        reply.code, reply.message = _error_code(body)
        return reply

    config = HttpConfig(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        trust_env=trust_env,
        proxies=None if trust_env else {},
    )
    return HttpClient(
        config,
        RetryPolicy(
            max_attempts=attempts,
            backoff_base=0.05,
            backoff_max=1.0,
            codes=frozenset({"Throttling", "IDPCommunicationError", "InternalError"}),
        ),
        parse_error,
    )


def _error_code(body: bytes) -> tuple[str | None, str | None]:
    """The code and message of a JSON or STS XML error body, where there is one."""
    text = body.strip()
    if text.startswith(b"{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None, None
        if isinstance(data, dict):
            code = data.get("code") or data.get("Code")
            message = data.get("message") or data.get("Message")
            return (
                str(code) if code is not None else None,
                str(message) if message is not None else None,
            )
        return None, None
    if text.startswith(b"<"):
        from libstore._xml import child_text, parse_xml
        from libstore.types import ResponseError

        try:
            root = parse_xml(text, "STS error reply")
        except ResponseError:
            return None, None
        error = root.find("{*}Error")
        node = error if error is not None else root
        return child_text(node, "Code"), child_text(node, "Message")
    return None, None


def _no_sign(method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
    return headers


def _failure(where: str) -> Callable[[Any], LibstoreError]:
    def on_error(error: Any) -> LibstoreError:
        detail = error.code or f"HTTP {error.status}"
        if error.message:
            detail += f": {error.message[:300]}"
        return CredentialsError(
            f"{where} failed: {detail}",
            http_status=error.status,
            code=error.code,
            request_id=error.request_id,
        )

    return on_error


# --------------------------------------------------------------------------
# Refreshing cache
# --------------------------------------------------------------------------


class RefreshingCredentials:
    """Caches a provider's credentials and fetches new ones before they expire.

    Call the object to get valid credentials. Credentials without ``expires_at``
    are fetched once and kept. Temporary ones are fetched again once they are
    within ``advisory_refresh`` seconds of expiry; if that fetch fails, the old
    credentials keep being used until they are within ``mandatory_refresh``
    seconds of expiry, from which a failed fetch raises. For short-lived
    credentials both windows shrink to a half and a quarter of the lifetime, so
    a 5-minute credential is not refetched on every request.

    Thread-safe: one thread fetches at a time; during an advisory refresh the
    other threads keep using the current credentials instead of waiting.

    Args:
        provider: The provider to cache.
        advisory_refresh: Seconds before expiry to start refreshing (default 15 min).
        mandatory_refresh: Seconds before expiry after which a refresh must succeed
            (default 10 min).
        clock: Returns the current time (timezone-aware); for tests.
        description: What the provider is, for error messages.
    """

    def __init__(
        self,
        provider: CredentialProvider,
        *,
        advisory_refresh: float = DEFAULT_ADVISORY_REFRESH,
        mandatory_refresh: float = DEFAULT_MANDATORY_REFRESH,
        clock: Callable[[], datetime] | None = None,
        description: str | None = None,
    ) -> None:
        if not callable(provider):
            raise TypeError("provider must be a callable returning Credentials or None")
        if not 0 <= mandatory_refresh <= advisory_refresh:
            raise ValueError("need 0 <= mandatory_refresh <= advisory_refresh")
        self.provider = provider
        self.advisory_refresh = float(advisory_refresh)
        self.mandatory_refresh = float(mandatory_refresh)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._description = description or _describe(provider)
        self._lock = threading.Lock()
        self._credentials: Credentials | None = None
        self._windows = (self.advisory_refresh, self.mandatory_refresh)
        self._quiet_until = 0.0  # no advisory refresh before this (monotonic) time

    def __repr__(self) -> str:
        return f"RefreshingCredentials({self._description}, current={self._credentials!r})"

    @property
    def current(self) -> Credentials | None:
        """The cached credentials, without fetching (``None`` before the first call)."""
        return self._credentials

    @property
    def refreshable(self) -> bool:
        """Whether fetching again may give different credentials."""
        provider = self.provider
        return not isinstance(provider, StaticProvider)

    def __call__(self) -> Credentials:
        """Return valid credentials, fetching new ones when due.

        Raises:
            NoCredentialsError: The provider returned ``None``.
            CredentialsError: A due refresh failed.
        """
        creds = self._credentials
        if creds is not None:
            advisory, mandatory = self._windows
            if not creds.is_expired(self._clock(), leeway=advisory):
                return creds
            if not creds.is_expired(self._clock(), leeway=mandatory):
                if time.monotonic() >= self._quiet_until and self._lock.acquire(blocking=False):
                    try:
                        if self._credentials is creds:
                            self._fetch(tolerate_failure=True)
                    finally:
                        self._lock.release()
                current = self._credentials
                return current if current is not None else creds
        with self._lock:
            current = self._credentials
            if current is not None and current is not creds:
                _, mandatory = self._windows
                if not current.is_expired(self._clock(), leeway=mandatory):
                    return current
            return self._fetch(tolerate_failure=False)

    def refresh(self, rejected: Credentials | None = None) -> Credentials:
        """Fetch new credentials now, e.g. after the server said ``ExpiredToken``.

        Args:
            rejected: The credentials the server rejected; when another thread has
                already replaced them, its credentials are returned without a new fetch.
        """
        with self._lock:
            current = self._credentials
            if rejected is not None and current is not None and current is not rejected:
                return current
            return self._fetch(tolerate_failure=False)

    def _fetch(self, *, tolerate_failure: bool) -> Credentials:
        old = self._credentials
        try:
            fresh = self.provider()
        except Exception as exc:
            if tolerate_failure and old is not None:
                self._quiet_until = time.monotonic() + _ADVISORY_RETRY_DELAY
                _log.warning(
                    "refreshing credentials from %s failed (%s); using the current ones until %s",
                    self._description,
                    exc,
                    old.expires_at,
                )
                return old
            raise
        if fresh is None:
            if tolerate_failure and old is not None:
                return old
            raise NoCredentialsError(f"{self._description} returned no credentials")
        if not isinstance(fresh, Credentials):
            raise CredentialsError(
                f"{self._description} returned {type(fresh).__name__}, not Credentials"
            )
        now = self._clock()
        if fresh.is_expired(now):
            if tolerate_failure and old is not None:
                return old
            raise CredentialsError(
                f"{self._description} returned credentials that expired at {fresh.expires_at}"
            )
        self._credentials = fresh
        self._windows = self._windows_for(fresh, now)
        return fresh

    def _windows_for(self, creds: Credentials, now: datetime) -> tuple[float, float]:
        if creds.expires_at is None:
            return self.advisory_refresh, self.mandatory_refresh
        lifetime = (creds.expires_at - now).total_seconds()
        return (
            min(self.advisory_refresh, lifetime / 2),
            min(self.mandatory_refresh, lifetime / 4),
        )


def _describe(provider: object) -> str:
    name = getattr(provider, "description", None)
    if isinstance(name, str):
        return name
    qualname = getattr(provider, "__qualname__", None) or type(provider).__qualname__
    return f"credential provider {qualname}"


# --------------------------------------------------------------------------
# Simple providers
# --------------------------------------------------------------------------


class StaticProvider:
    """Always the same credentials."""

    description = "static credentials"

    def __init__(self, credentials: Credentials) -> None:
        if not isinstance(credentials, Credentials):
            raise TypeError("credentials must be a libstore.auth.Credentials")
        self.credentials = credentials

    def __call__(self) -> Credentials:
        return self.credentials

    def __repr__(self) -> str:
        return f"StaticProvider({self.credentials!r})"


class EnvironmentProvider:
    """``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN``.

    ``AWS_SECURITY_TOKEN`` is accepted for the token too, and
    ``AWS_CREDENTIAL_EXPIRATION`` (ISO 8601) marks the credentials temporary.
    The variables are read at every call, so a refresh picks up new values.

    Raises:
        CredentialsError: Only one of the key id and the secret is set.
    """

    description = "environment variables"

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ

    def __call__(self) -> Credentials | None:
        environ = _env(self._environ)
        access_key = _env_value(environ, "AWS_ACCESS_KEY_ID")
        secret_key = _env_value(environ, "AWS_SECRET_ACCESS_KEY")
        if access_key is None and secret_key is None:
            return None
        if access_key is None or secret_key is None:
            missing = "AWS_ACCESS_KEY_ID" if access_key is None else "AWS_SECRET_ACCESS_KEY"
            raise CredentialsError(f"{missing} is not set, but the other half of the key is")
        token = _env_value(environ, "AWS_SESSION_TOKEN") or _env_value(
            environ, "AWS_SECURITY_TOKEN"
        )
        expires = parse_expiration(
            _env_value(environ, "AWS_CREDENTIAL_EXPIRATION"), "AWS_CREDENTIAL_EXPIRATION"
        )
        return Credentials(access_key, secret_key, token, expires_at=expires)


class ProcessProvider:
    """Runs a ``credential_process`` command and reads the JSON it prints.

    The command is split like a POSIX shell would (no shell is started). Its
    output must be ``{"Version": 1, "AccessKeyId": ..., "SecretAccessKey": ...}``
    with optional ``SessionToken`` and ``Expiration``.

    Args:
        command: The command line.
        timeout: Seconds to wait for the command (default: no limit).
        description: For error messages (default: the profile-less command name).

    Raises:
        CredentialsError: The command cannot start, exits non-zero, times out or
            prints something else than the documented JSON.
    """

    def __init__(
        self, command: str, *, timeout: float | None = None, description: str | None = None
    ) -> None:
        if not isinstance(command, str) or not command.strip():
            raise CredentialsError("credential_process is empty")
        try:
            self.argv = shlex.split(command)
        except ValueError as exc:
            raise CredentialsError(f"credential_process cannot be parsed: {exc}") from None
        self.timeout = timeout
        self.description = description or f"credential_process {self.argv[0]!r}"

    def __call__(self) -> Credentials:
        where = self.description
        try:
            done = subprocess.run(self.argv, capture_output=True, timeout=self.timeout, check=False)
        except FileNotFoundError:
            raise CredentialsError(f"{where}: command not found") from None
        except subprocess.TimeoutExpired:
            raise CredentialsError(f"{where}: no answer within {self.timeout} s") from None
        except OSError as exc:
            raise CredentialsError(f"{where}: cannot run it: {exc.strerror or exc}") from None
        if done.returncode != 0:
            stderr = done.stderr.decode("utf-8", "replace").strip()[-500:]
            raise CredentialsError(
                f"{where} exited with status {done.returncode}" + (f": {stderr}" if stderr else "")
            )
        try:
            data = json.loads(done.stdout)
        except ValueError:
            raise CredentialsError(f"{where} did not print a JSON document") from None
        if not isinstance(data, dict):
            raise CredentialsError(f"{where} did not print a JSON object")
        if data.get("Version") != 1:
            raise CredentialsError(
                f"{where} printed Version {data.get('Version')!r}; only Version 1 is supported"
            )
        return _make_credentials(
            data.get("AccessKeyId"),
            data.get("SecretAccessKey"),
            data.get("SessionToken"),
            parse_expiration(data.get("Expiration"), where),
            where,
        )


# --------------------------------------------------------------------------
# STS
# --------------------------------------------------------------------------


def _sts_endpoint(
    explicit: str | None, region: str | None, environ: Mapping[str, str]
) -> tuple[str, str]:
    """The STS endpoint URL and the signing region."""
    ignore = _env_flag(environ, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
    endpoint = explicit
    if endpoint is None and not ignore:
        endpoint = _env_value(environ, "AWS_ENDPOINT_URL_STS") or _env_value(
            environ, "AWS_ENDPOINT_URL"
        )
    signing_region = region or "us-east-1"
    if endpoint is None:
        if region is None:
            endpoint = "https://sts.amazonaws.com"
        else:
            suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
            endpoint = f"https://sts.{region}.{suffix}"
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CredentialsError(f"invalid STS endpoint {endpoint!r}")
    return endpoint.rstrip("/") + "/", signing_region


def _sts_region(explicit: str | None, environ: Mapping[str, str]) -> str | None:
    return (
        explicit or _env_value(environ, "AWS_REGION") or _env_value(environ, "AWS_DEFAULT_REGION")
    )


def _session_name(explicit: str | None, environ: Mapping[str, str]) -> str:
    name = explicit or _env_value(environ, "AWS_ROLE_SESSION_NAME")
    return name or f"libstore-session-{int(time.time() * 1000)}"


def _sts_request(
    action: str,
    params: Mapping[str, str],
    *,
    endpoint: str,
    region: str,
    credentials: Credentials | None,
    where: str,
    timeout: float,
    attempts: int,
) -> Credentials:
    """POST one STS query API call and return the credentials it hands out."""
    from libstore._xml import child_text, parse_xml
    from libstore.types import ResponseError

    body = urlencode({"Action": action, "Version": STS_API_VERSION, **params}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    sign = _no_sign
    if credentials is not None:
        signer = SigV4Signer(credentials, region, "sts")

        def sign(method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
            return signer.sign(method, url, headers, body)

    client = _http_client(
        connect_timeout=min(timeout, 10.0), read_timeout=timeout, attempts=attempts, trust_env=True
    )
    try:
        reply = client.request(
            "POST",
            endpoint,
            headers=headers,
            body=body,
            sign=sign,
            on_error=_failure(where),
            ok=frozenset({200}),
            idempotent=True,
        )
    except CredentialsError:
        raise
    except LibstoreError as exc:
        raise CredentialsError(f"{where}: {exc}") from exc
    finally:
        client.close()
    try:
        root = parse_xml(reply.body, f"STS {action} reply")
    except ResponseError as exc:
        raise CredentialsError(f"{where}: {exc}") from None
    result = root.find(f"{{*}}{action}Result")
    node = result.find("{*}Credentials") if result is not None else None
    if node is None:
        raise CredentialsError(f"{where}: the STS reply holds no credentials")
    return _make_credentials(
        child_text(node, "AccessKeyId"),
        child_text(node, "SecretAccessKey"),
        child_text(node, "SessionToken"),
        parse_expiration(child_text(node, "Expiration"), where),
        where,
    )


class AssumeRoleProvider:
    """Temporary credentials from STS ``AssumeRole``, signed with source credentials.

    Args:
        source: The provider of the credentials that sign the ``AssumeRole`` call
            (wrapped in :class:`RefreshingCredentials` when it is not one already).
        role_arn: The role to assume.
        session_name: ``RoleSessionName`` (default ``AWS_ROLE_SESSION_NAME`` or a
            generated ``libstore-session-<ms>``).
        external_id: ``ExternalId``, when the role's trust policy requires one.
        duration_seconds: ``DurationSeconds`` (900 to 43200; default: the role's).
        region: Region of the regional STS endpoint and of the signature (default
            ``AWS_REGION``/``AWS_DEFAULT_REGION``; without one, the global endpoint).
        sts_endpoint: The STS endpoint URL (default ``AWS_ENDPOINT_URL_STS``,
            ``AWS_ENDPOINT_URL``, then AWS's).
        timeout: Seconds to wait for STS.
        attempts: Attempts per call, retries of throttling and 5xx included.
        environ: The environment to read (default ``os.environ``).
    """

    def __init__(
        self,
        source: CredentialProvider,
        role_arn: str,
        *,
        session_name: str | None = None,
        external_id: str | None = None,
        duration_seconds: int | None = None,
        region: str | None = None,
        sts_endpoint: str | None = None,
        timeout: float = 30.0,
        attempts: int = 3,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(role_arn, str) or not role_arn.startswith("arn:"):
            raise CredentialsError(f"role_arn must be an ARN, not {role_arn!r}")
        _check_duration(duration_seconds)
        self.source = (
            source if isinstance(source, RefreshingCredentials) else RefreshingCredentials(source)
        )
        self.role_arn = role_arn
        self._session_name = session_name
        self.external_id = external_id
        self.duration_seconds = duration_seconds
        self._region = region
        self._sts_endpoint = sts_endpoint
        self.timeout = timeout
        self.attempts = attempts
        self._environ = environ
        self.description = f"AssumeRole {role_arn}"

    def __call__(self) -> Credentials:
        environ = _env(self._environ)
        region = _sts_region(self._region, environ)
        endpoint, signing_region = _sts_endpoint(self._sts_endpoint, region, environ)
        params = {
            "RoleArn": self.role_arn,
            "RoleSessionName": _session_name(self._session_name, environ),
        }
        if self.external_id:
            params["ExternalId"] = self.external_id
        if self.duration_seconds is not None:
            params["DurationSeconds"] = str(self.duration_seconds)
        return _sts_request(
            "AssumeRole",
            params,
            endpoint=endpoint,
            region=signing_region,
            credentials=self.source(),
            where=self.description,
            timeout=self.timeout,
            attempts=self.attempts,
        )


class WebIdentityProvider:
    """Temporary credentials from STS ``AssumeRoleWithWebIdentity`` (EKS IRSA and alike).

    The token file is read at every fetch, since it is rotated. The call is not
    signed. Without arguments, ``AWS_WEB_IDENTITY_TOKEN_FILE``, ``AWS_ROLE_ARN``
    and ``AWS_ROLE_SESSION_NAME`` are read from the environment; when they are
    unset the provider returns ``None``.

    Args:
        role_arn: The role to assume.
        token_file: The file holding the OIDC token.
        session_name: ``RoleSessionName``.
        duration_seconds: ``DurationSeconds``.
        region: See :class:`AssumeRoleProvider`.
        sts_endpoint: See :class:`AssumeRoleProvider`.
        timeout: Seconds to wait for STS.
        attempts: Attempts per call (``IDPCommunicationError`` is retried too).
        environ: The environment to read (default ``os.environ``).
    """

    description = "web identity (AssumeRoleWithWebIdentity)"

    def __init__(
        self,
        role_arn: str | None = None,
        token_file: str | os.PathLike[str] | None = None,
        *,
        session_name: str | None = None,
        duration_seconds: int | None = None,
        region: str | None = None,
        sts_endpoint: str | None = None,
        timeout: float = 30.0,
        attempts: int = 3,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        _check_duration(duration_seconds)
        self._role_arn = role_arn
        self._token_file = os.fspath(token_file) if token_file is not None else None
        self._session_name = session_name
        self.duration_seconds = duration_seconds
        self._region = region
        self._sts_endpoint = sts_endpoint
        self.timeout = timeout
        self.attempts = attempts
        self._environ = environ

    def __call__(self) -> Credentials | None:
        environ = _env(self._environ)
        role_arn = self._role_arn or _env_value(environ, "AWS_ROLE_ARN")
        token_file = self._token_file or _env_value(environ, "AWS_WEB_IDENTITY_TOKEN_FILE")
        if role_arn is None and token_file is None:
            return None
        if role_arn is None or token_file is None:
            missing = "AWS_ROLE_ARN" if role_arn is None else "AWS_WEB_IDENTITY_TOKEN_FILE"
            raise CredentialsError(f"web identity is half configured: {missing} is not set")
        try:
            with open(token_file, encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError as exc:
            raise CredentialsError(
                f"cannot read the web identity token file {token_file!r}: {exc.strerror or exc}"
            ) from None
        if not token:
            raise CredentialsError(f"the web identity token file {token_file!r} is empty")
        region = _sts_region(self._region, environ)
        endpoint, signing_region = _sts_endpoint(self._sts_endpoint, region, environ)
        params = {
            "RoleArn": role_arn,
            "RoleSessionName": _session_name(self._session_name, environ),
            "WebIdentityToken": token,
        }
        if self.duration_seconds is not None:
            params["DurationSeconds"] = str(self.duration_seconds)
        return _sts_request(
            "AssumeRoleWithWebIdentity",
            params,
            endpoint=endpoint,
            region=signing_region,
            credentials=None,
            where=f"AssumeRoleWithWebIdentity {role_arn}",
            timeout=self.timeout,
            attempts=self.attempts,
        )


def _check_duration(duration: int | None) -> None:
    if duration is None:
        return
    if isinstance(duration, bool) or not isinstance(duration, int) or not 900 <= duration <= 43200:
        raise CredentialsError(
            f"duration_seconds must be an int from 900 to 43200, not {duration!r}"
        )


# --------------------------------------------------------------------------
# Container (ECS / EKS Pod Identity) credentials
# --------------------------------------------------------------------------


class ContainerProvider:
    """ECS task role and EKS Pod Identity credentials from a local HTTP endpoint.

    ``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` is appended to
    ``http://169.254.170.2``; otherwise ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` is
    used, which must be HTTPS or name a loopback address, ``169.254.170.2``,
    ``169.254.170.23`` or ``fd00:ec2::23`` (a host name must resolve only to
    those). The ``Authorization`` header comes from
    ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`` (read at every fetch) or
    ``AWS_CONTAINER_AUTHORIZATION_TOKEN``. Returns ``None`` when neither URI is set.

    Args:
        relative_uri: Overrides ``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI``.
        full_uri: Overrides ``AWS_CONTAINER_CREDENTIALS_FULL_URI``.
        token: Overrides ``AWS_CONTAINER_AUTHORIZATION_TOKEN``.
        token_file: Overrides ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE``.
        timeout: Seconds to wait for the endpoint (default 2).
        attempts: Attempts per fetch (default 3).
        environ: The environment to read (default ``os.environ``).
    """

    description = "container credentials endpoint"

    def __init__(
        self,
        *,
        relative_uri: str | None = None,
        full_uri: str | None = None,
        token: str | None = None,
        token_file: str | os.PathLike[str] | None = None,
        timeout: float = 2.0,
        attempts: int = 3,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._relative_uri = relative_uri
        self._full_uri = full_uri
        self._token = token
        self._token_file = os.fspath(token_file) if token_file is not None else None
        self.timeout = timeout
        self.attempts = attempts
        self._environ = environ

    def _url(self, environ: Mapping[str, str]) -> str | None:
        relative = self._relative_uri or _env_value(
            environ, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
        )
        if relative is not None:
            return ECS_ENDPOINT + ("" if relative.startswith("/") else "/") + relative
        full = self._full_uri or _env_value(environ, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
        if full is None:
            return None
        _check_container_uri(full)
        return full

    def _authorization(self, environ: Mapping[str, str]) -> str | None:
        token_file = self._token_file or _env_value(
            environ, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
        )
        token: str | None
        if token_file is not None:
            try:
                with open(token_file, encoding="utf-8") as handle:
                    token = handle.read().strip()
            except OSError as exc:
                raise CredentialsError(
                    f"cannot read the container authorization token file {token_file!r}: "
                    f"{exc.strerror or exc}"
                ) from None
        else:
            token = self._token or _env_value(environ, "AWS_CONTAINER_AUTHORIZATION_TOKEN")
        if token is not None and ("\r" in token or "\n" in token):
            raise CredentialsError("the container authorization token contains a line break")
        return token or None

    def __call__(self) -> Credentials | None:
        environ = _env(self._environ)
        url = self._url(environ)
        if url is None:
            return None
        headers = {"Accept": "application/json"}
        token = self._authorization(environ)
        if token is not None:
            headers["Authorization"] = token
        client = _http_client(
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            attempts=self.attempts,
            trust_env=False,
        )
        where = "the container credentials endpoint"
        try:
            reply = client.request(
                "GET", url, headers=headers, sign=_no_sign, on_error=_failure(where)
            )
        except CredentialsError:
            raise
        except LibstoreError as exc:
            raise CredentialsError(f"{where}: {exc}") from exc
        finally:
            client.close()
        return _json_credentials(reply.body, where)


def _check_container_uri(uri: str) -> None:
    parts = urlsplit(uri)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme != "http" or not parts.hostname:
        raise CredentialsError(
            f"AWS_CONTAINER_CREDENTIALS_FULL_URI must be an http(s) URL, not {uri!r}"
        )
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, parts.port or 80, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            raise CredentialsError(
                f"cannot resolve the container endpoint {host!r}: {exc}"
            ) from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        if not (address.is_loopback or address in _CONTAINER_HOSTS):
            raise CredentialsError(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI over plain http must name a loopback "
                f"address or the ECS/EKS agent; {host!r} is {address}"
            )


def _json_credentials(body: bytes, where: str) -> Credentials:
    try:
        data = json.loads(body)
    except ValueError:
        raise CredentialsError(f"{where} did not answer with JSON") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"{where} did not answer with a JSON object")
    code = data.get("Code")
    if code is not None and code != "Success":
        raise CredentialsError(f"{where} answered {code}: {str(data.get('Message', ''))[:300]}")
    return _make_credentials(
        data.get("AccessKeyId"),
        data.get("SecretAccessKey"),
        data.get("Token"),
        parse_expiration(data.get("Expiration"), where),
        where,
    )


# --------------------------------------------------------------------------
# EC2 instance metadata (IMDSv2)
# --------------------------------------------------------------------------


class InstanceMetadataProvider:
    """The instance profile's credentials from the EC2 instance metadata service.

    IMDSv2: a session token is fetched with ``PUT /latest/api/token`` and sent
    with every metadata request; it is reused until shortly before its TTL runs
    out. The IMDSv1 fallback (plain ``GET`` without a token) is used only with
    ``allow_v1_fallback=True`` and only when the token request is refused with
    404/405 or times out (a container behind a hop limit of 1), never when
    ``AWS_EC2_METADATA_V1_DISABLED`` is true. Unlike boto3, libstore does not fall
    back to IMDSv1 by default.

    Returns ``None`` when no metadata service answers (not on EC2), when
    ``AWS_EC2_METADATA_DISABLED`` is true, or when no role is attached.

    Args:
        endpoint: The service's base URL (default ``AWS_EC2_METADATA_SERVICE_ENDPOINT``,
            else ``http://169.254.169.254``, or ``http://[fd00:ec2::254]`` with
            ``AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6``).
        allow_v1_fallback: Fall back to IMDSv1 when IMDSv2 is unavailable.
        timeout: Seconds to wait for each metadata request (default 1).
        attempts: Attempts per metadata request (default 1).
        token_ttl: Lifetime asked for the IMDSv2 session token, in seconds.
        environ: The environment to read (default ``os.environ``).
    """

    description = "EC2 instance metadata"

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        allow_v1_fallback: bool = False,
        timeout: float = 1.0,
        attempts: int = 1,
        token_ttl: int = _IMDS_TOKEN_TTL,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not 1 <= token_ttl <= _IMDS_TOKEN_TTL:
            raise CredentialsError(f"token_ttl must be 1 to {_IMDS_TOKEN_TTL} seconds")
        self._endpoint = endpoint
        self.allow_v1_fallback = bool(allow_v1_fallback)
        self.timeout = timeout
        self.attempts = attempts
        self.token_ttl = token_ttl
        self._environ = environ
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def endpoint(self) -> str:
        """The metadata service's base URL, without a trailing slash."""
        environ = _env(self._environ)
        endpoint = self._endpoint or _env_value(environ, "AWS_EC2_METADATA_SERVICE_ENDPOINT")
        if endpoint is None:
            mode = (_env_value(environ, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE") or "ipv4").lower()
            if mode not in ("ipv4", "ipv6"):
                raise CredentialsError(
                    f"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE must be IPv4 or IPv6, not {mode!r}"
                )
            endpoint = IMDS_ENDPOINT_IPV6 if mode == "ipv6" else IMDS_ENDPOINT
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CredentialsError(f"invalid instance metadata endpoint {endpoint!r}")
        return endpoint.rstrip("/")

    def __call__(self) -> Credentials | None:
        environ = _env(self._environ)
        if _env_flag(environ, "AWS_EC2_METADATA_DISABLED"):
            return None
        base = self.endpoint()
        v1_allowed = self.allow_v1_fallback and not _env_flag(
            environ, "AWS_EC2_METADATA_V1_DISABLED"
        )
        from libstore.types import RequestTimeoutError, TransportError

        client = _http_client(
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            attempts=self.attempts,
            trust_env=False,
        )
        try:
            try:
                token = self._session_token(client, base)
            except RequestTimeoutError:
                if not v1_allowed:
                    _log.debug("no answer from the instance metadata service at %s", base)
                    return None
                token = None
            except TransportError:
                _log.debug("no instance metadata service at %s", base)
                return None
            if token is None and not v1_allowed:
                _log.warning(
                    "the instance metadata service at %s refused an IMDSv2 session token and "
                    "the IMDSv1 fallback is off (allow_v1_fallback=True enables it)",
                    base,
                )
                return None
            if token == "":
                return None  # IMDS is switched off for this instance (403)
            return self._fetch_credentials(client, base, token)
        finally:
            client.close()

    def _session_token(self, client: Any, base: str) -> str | None:
        """A valid IMDSv2 token; ``None`` when v2 is unavailable, ``""`` when IMDS is off."""
        with self._lock:
            cached = self._token
            if cached is not None and cached[1] > time.monotonic():
                return cached[0]
        reply: Any = client.request(
            "PUT",
            base + _IMDS_TOKEN_PATH,
            headers={"X-aws-ec2-metadata-token-ttl-seconds": str(self.token_ttl)},
            body=b"",
            sign=_no_sign,
            on_error=_failure("the IMDSv2 token request"),
            ok=frozenset({200, 403, 404, 405}),
        )
        if reply.status == 403:
            return ""
        if reply.status in (404, 405):
            return None
        token = bytes(reply.body).decode("ascii", "replace").strip()
        if not token:
            raise CredentialsError("the instance metadata service sent an empty token")
        with self._lock:
            self._token = (token, time.monotonic() + max(self.token_ttl - 60, 1))
        return token

    def _get(self, client: Any, url: str, token: str | None, what: str) -> Any:
        headers = {"X-aws-ec2-metadata-token": token} if token else {}
        return client.request(
            "GET",
            url,
            headers=headers,
            sign=_no_sign,
            on_error=_failure(f"the instance metadata request for {what}"),
            ok=frozenset({200, 401, 404}),
        )

    def _fetch_credentials(self, client: Any, base: str, token: str | None) -> Credentials | None:
        from libstore.types import TransportError

        try:
            reply = self._get(client, base + _IMDS_ROLE_PATH, token, "the role name")
            if reply.status == 401 and token is not None:
                with self._lock:
                    self._token = None  # expired: one new token, one more try
                token = self._session_token(client, base)
                reply = self._get(client, base + _IMDS_ROLE_PATH, token, "the role name")
            if reply.status == 404:
                return None  # no instance profile attached
            if reply.status != 200:
                raise CredentialsError(
                    f"the instance metadata service answered HTTP {reply.status} for the role name",
                    http_status=reply.status,
                )
            lines = reply.body.decode("utf-8", "replace").split()
            if not lines:
                return None
            role = lines[0].strip()
            reply = self._get(client, base + _IMDS_ROLE_PATH + role, token, "the credentials")
        except TransportError as exc:
            raise CredentialsError(f"the instance metadata service failed: {exc}") from exc
        if reply.status != 200:
            raise CredentialsError(
                f"the instance metadata service answered HTTP {reply.status} for the "
                f"credentials of role {role!r}",
                http_status=reply.status,
            )
        return _json_credentials(reply.body, f"instance metadata role {role!r}")


# --------------------------------------------------------------------------
# Shared files: ~/.aws/credentials and ~/.aws/config
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedConfig:
    """The profiles of the shared credentials and config files.

    Attributes:
        credentials: Profile name -> settings from the credentials file.
        config: Profile name -> settings from the config file (``[profile x]``
            sections, and ``[default]``).
        credentials_file: The path read (it may not exist).
        config_file: The path read (it may not exist).
    """

    credentials: Mapping[str, Mapping[str, str]]
    config: Mapping[str, Mapping[str, str]]
    credentials_file: str
    config_file: str

    def profile(self, name: str) -> dict[str, str] | None:
        """A profile's settings, the credentials file winning; ``None`` if it is nowhere."""
        if name not in self.credentials and name not in self.config:
            return None
        merged = dict(self.config.get(name, {}))
        merged.update(self.credentials.get(name, {}))
        return merged


def read_shared_config(
    *,
    credentials_file: str | os.PathLike[str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> SharedConfig:
    """Read ``~/.aws/credentials`` and ``~/.aws/config`` (or the files the environment names).

    Missing files are empty. Nested settings (``s3 =`` followed by indented
    ``key = value`` lines) are kept as their raw text.

    Raises:
        CredentialsError: A file exists but cannot be read or parsed.
    """
    environ = _env(environ)
    cred_path = os.fspath(
        credentials_file
        or _env_value(environ, "AWS_SHARED_CREDENTIALS_FILE")
        or os.path.join("~", ".aws", "credentials")
    )
    conf_path = os.fspath(
        config_file or _env_value(environ, "AWS_CONFIG_FILE") or os.path.join("~", ".aws", "config")
    )
    cred_path = _expand_home(cred_path, environ)
    conf_path = _expand_home(conf_path, environ)
    credentials = _read_ini(cred_path)
    config: dict[str, dict[str, str]] = {}
    for section, values in _read_ini(conf_path).items():
        if section == "default":
            config.setdefault("default", {}).update(values)
        elif section.startswith("profile ") or section.startswith("profile\t"):
            name = section[len("profile") :].strip()
            if name:
                # "[profile default]" wins over "[default]", as in the AWS CLI
                config.setdefault(name, {}).update(values)
    return SharedConfig(credentials, config, cred_path, conf_path)


def _expand_home(path: str, environ: Mapping[str, str]) -> str:
    """``~`` is the ``HOME`` of ``environ`` when it has one, else the process's home."""
    home = environ.get("HOME")
    if home and (path == "~" or path.startswith(("~/", "~" + os.sep))):
        return home + path[1:]
    return os.path.expanduser(path)


def _read_ini(path: str) -> dict[str, dict[str, str]]:
    if not os.path.isfile(path):
        return {}
    parser = configparser.RawConfigParser(strict=False, default_section="\x00no default\x00")
    parser.optionxform = lambda optionstr: optionstr.strip().lower()  # type: ignore[method-assign]
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle, source=path)
    except OSError as exc:
        raise CredentialsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CredentialsError(f"cannot parse {path}: {message}") from None
    return {
        section.strip(): {key: (value or "").strip() for key, value in parser.items(section)}
        for section in parser.sections()
    }


class ProfileProvider:
    """Credentials of a profile of the shared credentials and config files.

    A profile's settings come from both files (the credentials file wins). What
    it resolves to, in this order:

    * ``role_arn`` + ``web_identity_token_file``: STS ``AssumeRoleWithWebIdentity``;
    * ``role_arn`` + ``source_profile`` (resolved the same way, recursively; a
      profile naming itself uses its own static keys) or ``credential_source``
      (``Environment``, ``Ec2InstanceMetadata`` or ``EcsContainer``): STS
      ``AssumeRole`` signed with the source's credentials, with ``external_id``,
      ``role_session_name`` and ``duration_seconds``; the STS region is the
      profile's ``region``;
    * static keys in the credentials file;
    * ``credential_process``;
    * static keys in the config file.

    Args:
        profile: The profile name (default ``AWS_PROFILE``, ``AWS_DEFAULT_PROFILE``,
            then ``default``). A profile that was asked for (argument or
            environment) and does not exist raises; a missing ``default`` gives ``None``.
        credentials_file: Overrides ``AWS_SHARED_CREDENTIALS_FILE`` / ``~/.aws/credentials``.
        config_file: Overrides ``AWS_CONFIG_FILE`` / ``~/.aws/config``.
        sts_endpoint: The STS endpoint for role profiles.
        imds: The instance metadata provider for ``credential_source = Ec2InstanceMetadata``.
        environ: The environment to read (default ``os.environ``).

    Raises:
        CredentialsError: The profile is missing, incomplete, cyclic, or needs
            something libstore does not do (MFA, SSO).
    """

    def __init__(
        self,
        profile: str | None = None,
        *,
        credentials_file: str | os.PathLike[str] | None = None,
        config_file: str | os.PathLike[str] | None = None,
        sts_endpoint: str | None = None,
        imds: InstanceMetadataProvider | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._profile = profile
        self._credentials_file = credentials_file
        self._config_file = config_file
        self._sts_endpoint = sts_endpoint
        self._imds = imds
        self._environ = environ
        self._resolved: tuple[str, CredentialProvider | None] | None = None
        self._lock = threading.Lock()

    @property
    def profile_name(self) -> str:
        """The profile this provider reads."""
        environ = _env(self._environ)
        return (
            self._profile
            or _env_value(environ, "AWS_PROFILE")
            or _env_value(environ, "AWS_DEFAULT_PROFILE")
            or "default"
        )

    @property
    def description(self) -> str:
        return f"profile {self.profile_name!r} of the shared AWS files"

    def __call__(self) -> Credentials | None:
        name = self.profile_name
        with self._lock:
            if self._resolved is None or self._resolved[0] != name:
                self._resolved = (name, self._resolve_top(name))
            provider = self._resolved[1]
        return provider() if provider is not None else None

    def _resolve_top(self, name: str) -> CredentialProvider | None:
        environ = _env(self._environ)
        files = read_shared_config(
            credentials_file=self._credentials_file,
            config_file=self._config_file,
            environ=environ,
        )
        settings = files.profile(name)
        if settings is None:
            explicit = (
                self._profile is not None
                or _env_value(environ, "AWS_PROFILE") is not None
                or _env_value(environ, "AWS_DEFAULT_PROFILE") is not None
            )
            if explicit:
                raise CredentialsError(
                    f"profile {name!r} is in neither {files.credentials_file} "
                    f"nor {files.config_file}"
                )
            return None
        return self._resolve(files, name, (), top=True)

    def _resolve(
        self, files: SharedConfig, name: str, chain: tuple[str, ...], *, top: bool
    ) -> CredentialProvider | None:
        settings = files.profile(name)
        if settings is None:
            raise CredentialsError(
                f"profile {chain[-1]!r} names source_profile {name!r}, which does not exist"
            )
        where = f"profile {name!r}"
        region = settings.get("region") or None
        role_arn = settings.get("role_arn")
        if role_arn:
            if settings.get("mfa_serial"):
                raise CredentialsError(
                    f"{where} needs an MFA code (mfa_serial), which libstore cannot prompt "
                    "for; use credential_process instead"
                )
            session_name = settings.get("role_session_name") or None
            duration = _int_setting(settings, "duration_seconds", where)
            token_file = settings.get("web_identity_token_file")
            if token_file:
                return WebIdentityProvider(
                    role_arn,
                    os.path.expanduser(token_file),
                    session_name=session_name,
                    duration_seconds=duration,
                    region=region,
                    sts_endpoint=self._sts_endpoint,
                    environ=self._environ,
                )
            source_profile = settings.get("source_profile")
            credential_source = settings.get("credential_source")
            if source_profile and credential_source:
                raise CredentialsError(
                    f"{where} has both source_profile and credential_source; keep one"
                )
            source: CredentialProvider | None
            if source_profile:
                if source_profile == name:
                    source = _static_from(settings, where)
                    if source is None:
                        raise CredentialsError(
                            f"{where} is its own source_profile but has no static keys"
                        )
                elif source_profile in chain:
                    cycle = " -> ".join((*chain, name, source_profile))
                    raise CredentialsError(f"source_profile cycle: {cycle}")
                else:
                    source = self._resolve(files, source_profile, (*chain, name), top=False)
            elif credential_source:
                source = self._credential_source(credential_source, where)
            else:
                raise CredentialsError(
                    f"{where} has role_arn but neither source_profile nor credential_source"
                )
            if source is None:
                raise CredentialsError(
                    f"source profile {source_profile!r} of {where} has no credentials"
                )
            return AssumeRoleProvider(
                source,
                role_arn,
                session_name=session_name,
                external_id=settings.get("external_id") or None,
                duration_seconds=duration,
                region=region,
                sts_endpoint=self._sts_endpoint,
                environ=self._environ,
            )
        static = _static_from(
            files.credentials.get(name, {}), f"{where} in {files.credentials_file}"
        )
        if static is not None:
            return static
        process = settings.get("credential_process")
        if process:
            return ProcessProvider(process, description=f"credential_process of {where}")
        static = _static_from(files.config.get(name, {}), f"{where} in {files.config_file}")
        if static is not None:
            return static
        if any(key.startswith("sso_") for key in settings):
            raise CredentialsError(
                f"{where} uses IAM Identity Center (SSO), which libstore does not support; "
                "add credential_process = aws configure export-credentials --profile "
                f"{name} --format process"
            )
        if top:
            return None
        raise CredentialsError(f"{where} has no credentials")

    def _credential_source(self, source: str, where: str) -> CredentialProvider:
        if source == "Environment":
            return EnvironmentProvider(self._environ)
        if source == "Ec2InstanceMetadata":
            return self._imds or InstanceMetadataProvider(environ=self._environ)
        if source == "EcsContainer":
            return ContainerProvider(environ=self._environ)
        raise CredentialsError(
            f"{where} has credential_source {source!r}; expected Environment, "
            "Ec2InstanceMetadata or EcsContainer"
        )


def _static_from(settings: Mapping[str, str], where: str) -> StaticProvider | None:
    access_key = settings.get("aws_access_key_id") or None
    secret_key = settings.get("aws_secret_access_key") or None
    if access_key is None and secret_key is None:
        return None
    if access_key is None or secret_key is None:
        missing = "aws_access_key_id" if access_key is None else "aws_secret_access_key"
        raise CredentialsError(f"{where} lacks {missing}")
    token = settings.get("aws_session_token") or settings.get("aws_security_token") or None
    return StaticProvider(Credentials(access_key, secret_key, token))


def _int_setting(settings: Mapping[str, str], key: str, where: str) -> int | None:
    value = settings.get(key)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise CredentialsError(f"{where}: {key} must be an integer, not {value!r}") from None


# --------------------------------------------------------------------------
# The chain
# --------------------------------------------------------------------------


class CredentialChain:
    """Asks providers in turn and sticks with the first one that has credentials.

    Once a provider answered, later calls (refreshes) ask only that provider, so
    a refresh cannot silently switch to another identity; should it answer
    ``None`` later, the whole chain is asked again.

    Raises:
        NoCredentialsError: No provider had credentials.
    """

    def __init__(self, providers: Sequence[CredentialProvider]) -> None:
        self.providers = list(providers)
        if not self.providers:
            raise ValueError("a credential chain needs at least one provider")
        for provider in self.providers:
            if not callable(provider):
                raise TypeError(f"{provider!r} is not a credential provider")
        self.selected: CredentialProvider | None = None

    @property
    def description(self) -> str:
        if self.selected is not None:
            return _describe(self.selected)
        return "the default credential chain"

    def __repr__(self) -> str:
        names = ", ".join(_describe(provider) for provider in self.providers)
        return f"CredentialChain([{names}])"

    def __call__(self) -> Credentials:
        selected = self.selected
        if selected is not None:
            creds = selected()
            if creds is not None:
                return creds
        for provider in self.providers:
            creds = provider()
            if creds is not None:
                self.selected = provider
                _log.debug("credentials from %s", _describe(provider))
                return creds
        raise NoCredentialsError(
            "no AWS credentials found: looked in "
            + ", ".join(_describe(provider) for provider in self.providers)
            + "; pass key and secret, credentials=..., or credentials=ANONYMOUS for public "
            "buckets"
        )


def default_chain(
    profile: str | None = None,
    *,
    credentials_file: str | os.PathLike[str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    sts_endpoint: str | None = None,
    imds_endpoint: str | None = None,
    imds_v1_fallback: bool = False,
    imds_timeout: float = 1.0,
    environ: Mapping[str, str] | None = None,
) -> CredentialChain:
    """The default credential chain (see the module documentation for its order).

    Args:
        profile: A profile to use. Passing one skips the environment variables
            (as ``--profile`` does in the AWS CLI); ``AWS_PROFILE`` does not.
        credentials_file: Overrides the shared credentials file's path.
        config_file: Overrides the shared config file's path.
        sts_endpoint: The STS endpoint for role and web identity credentials.
        imds_endpoint: The instance metadata service's base URL.
        imds_v1_fallback: Allow the IMDSv1 fallback.
        imds_timeout: Seconds to wait for the instance metadata service.
        environ: The environment to read (default ``os.environ``).
    """
    imds = InstanceMetadataProvider(
        endpoint=imds_endpoint,
        allow_v1_fallback=imds_v1_fallback,
        timeout=imds_timeout,
        environ=environ,
    )
    providers: list[CredentialProvider] = []
    if profile is None:
        providers.append(EnvironmentProvider(environ))
    providers += [
        ProfileProvider(
            profile,
            credentials_file=credentials_file,
            config_file=config_file,
            sts_endpoint=sts_endpoint,
            imds=imds,
            environ=environ,
        ),
        WebIdentityProvider(sts_endpoint=sts_endpoint, environ=environ),
        ContainerProvider(environ=environ),
        imds,
    ]
    return CredentialChain(providers)


# --------------------------------------------------------------------------
# What drivers do with their arguments
# --------------------------------------------------------------------------


def credentials_for_driver(
    key: str | None,
    secret: str | None,
    token: str | None,
    credentials: object,
    *,
    driver_name: str = "the driver",
) -> RefreshingCredentials | None:
    """Turn a driver's credential arguments into a refreshing source (``None``: anonymous).

    * ``credentials=ANONYMOUS``: unsigned requests;
    * ``credentials=`` a :class:`~libstore.auth.Credentials` or a provider callable;
    * ``key`` and ``secret`` (and ``token``): static credentials, exactly as before;
    * nothing: :func:`default_chain`, resolved lazily on the first request.

    Raises:
        InvalidArgumentError: The arguments contradict each other or are incomplete.
    """
    from libstore.types import InvalidArgumentError

    if credentials is not None and (key is not None or secret is not None or token is not None):
        raise InvalidArgumentError(
            f"{driver_name}: pass either key/secret/token or credentials=, not both"
        )
    if credentials is ANONYMOUS or isinstance(credentials, AnonymousCredentials):
        return None
    if isinstance(credentials, RefreshingCredentials):
        return credentials
    if isinstance(credentials, Credentials):
        return RefreshingCredentials(StaticProvider(credentials))
    if credentials is not None:
        if not callable(credentials):
            raise InvalidArgumentError(
                f"{driver_name}: credentials must be Credentials, a provider callable or "
                f"ANONYMOUS, not {type(credentials).__name__}"
            )
        return RefreshingCredentials(credentials)
    if key is None:
        if secret is not None or token is not None:
            raise InvalidArgumentError(f"{driver_name}: a secret or token was given without a key")
        return RefreshingCredentials(default_chain())
    if secret is None:
        raise InvalidArgumentError(f"{driver_name} needs a secret key")
    try:
        static = Credentials(key, secret, token)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{driver_name}: invalid credentials: {exc}") from None
    return RefreshingCredentials(StaticProvider(static))
