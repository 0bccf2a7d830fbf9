"""Client options: one immutable, typed value for everything about the network.

Every driver accepts ``options=ClientOptions(...)``: proxies, TLS, timeouts,
pooling, the user agent, the retry policy and the event hooks. Drivers without a
network (the local driver) accept the same object and use only its hooks.

Defaults (``ClientOptions()``):

=======================  ===================================================
proxies                  from ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``
                         (lower-case first), read once when the driver is built
no_proxy                 from ``NO_PROXY``/``no_proxy``, read once
verify                   ``True``: certificates and host names are checked
ca_bundle                ``AWS_CA_BUNDLE``, ``REQUESTS_CA_BUNDLE``,
                         ``SSL_CERT_FILE`` (first set wins), else certifi's
client_cert/client_key   none
connect_timeout          10 s
read_timeout             60 s between two bytes of a reply (an idle timeout:
                         never a limit on how long a whole transfer may take)
deadline                 none
pool_maxsize             16 connections per host
keep_alive               ``True``
tcp_keepalive            ``False``
user_agent_suffix        none (``User-Agent: libstore/<version> python/<x.y>``)
retry                    ``RetryPolicy()``: 5 attempts, backoff 0.1 s doubling
                         up to 20 s with full jitter
hooks                    a fresh :class:`~libstore.http.events.EventHooks` per driver
=======================  ===================================================

Per call, :func:`call_options` overrides the retry policy, the timeouts and the
deadline for every request made inside a ``with`` block::

    with call_options(retry=RetryPolicy(max_attempts=1), deadline=30):
        driver.delete_object(obj)
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import math
import os
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Final

from libstore.http.events import EventHooks
from libstore.http.retry import RetryPolicy
from libstore.types import InvalidArgumentError

__all__ = [
    "CA_BUNDLE_ENV_VARS",
    "ClientOptions",
    "call_options",
    "driver_options",
]

#: Environment variables naming a CA bundle, in order of precedence.
CA_BUNDLE_ENV_VARS: Final = ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")

_PROXY_SCHEMES: Final = frozenset({"http", "https", "all"})
_PROXY_URL_SCHEMES: Final = frozenset({"http", "https", "socks4", "socks4a", "socks5", "socks5h"})
_MAX_TIMEOUT: Final = 7 * 24 * 3600.0


def _positive_seconds(name: str, value: object, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(f"{name} must be a number of seconds, not {value!r}")
    number = float(value)
    if not math.isfinite(number) or number <= 0 or number > _MAX_TIMEOUT:
        raise InvalidArgumentError(
            f"{name} must be a positive number of seconds (at most {_MAX_TIMEOUT:.0f}), "
            f"not {value!r}"
        )
    return number


def _path(name: str, value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value or "\x00" in value:
        raise InvalidArgumentError(f"{name} must be a file path, not {value!r}")
    return value


def _normalize_proxy(scheme: str, url: object) -> str:
    if not isinstance(url, str) or not url.strip():
        raise InvalidArgumentError(f"proxies[{scheme!r}] must be a proxy URL string")
    url = url.strip()
    if "://" not in url:
        url = f"http://{url}"
    proxy_scheme, _, rest = url.partition("://")
    if proxy_scheme.lower() not in _PROXY_URL_SCHEMES:
        raise InvalidArgumentError(
            f"proxies[{scheme!r}] has unsupported scheme {proxy_scheme!r}; "
            f"use one of {sorted(_PROXY_URL_SCHEMES)}"
        )
    hostport = rest.split("/", 1)[0].rpartition("@")[2]
    if not hostport or hostport.startswith(":") or any(c.isspace() for c in rest):
        raise InvalidArgumentError(f"proxies[{scheme!r}] has no valid host")
    return f"{proxy_scheme.lower()}://{rest}"


def _normalize_no_proxy(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        items: Sequence[object] = value.split(",")
    elif isinstance(value, Sequence):
        items = value
    else:
        raise InvalidArgumentError(
            f"no_proxy must be a comma-separated str or a sequence of str, not {value!r}"
        )
    entries: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidArgumentError(f"no_proxy entries must be str, not {item!r}")
        entry = item.strip().lower()
        if not entry:
            continue
        if any(c.isspace() for c in entry) or "/" in entry.split("/", 1)[0] or "://" in entry:
            raise InvalidArgumentError(f"invalid no_proxy entry {item!r}")
        entries.append(entry)
    return tuple(entries)


def _redact_proxy(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    userinfo, at, hostport = rest.rpartition("@")
    if at and ":" in userinfo:
        return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:<redacted>@{hostport}"
    return url


@dataclass(frozen=True, kw_only=True, repr=False)
class ClientOptions:
    """Network settings shared by every driver; immutable, validated on construction.

    Environment variables are read once, when a driver is built from these
    options, never on each request: build a new driver to pick up changes.

    Args:
        proxies: Proxy URLs by URL scheme: ``{"https": "http://proxy:3128"}``;
            the key ``"all"`` applies to every scheme. A URL may carry
            ``user:password@`` for proxy authentication; ``socks5://`` URLs
            need the optional PySocks package. ``None`` (the default) takes
            them from ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY`` (lower-case
            names first) when ``trust_env`` is true; ``{}`` disables proxies.
            HTTPS requests go through a proxy with ``CONNECT`` (the TLS session
            is end to end); plain HTTP requests are sent to the proxy in
            absolute form.
        no_proxy: Hosts reached directly, as a comma-separated string or a
            sequence: host names (``example.com`` also matches its
            subdomains; a leading ``.`` or ``*.`` is accepted), IP addresses,
            CIDR blocks (``10.0.0.0/8``), any of them with ``:port``, or
            ``*`` for every host. ``None`` takes ``NO_PROXY``/``no_proxy``
            from the environment when ``trust_env`` is true.
        trust_env: Read proxies, ``NO_PROXY`` and the CA bundle from the
            environment where they are not given (default ``True``).
        verify: Verify the server's TLS certificate and host name (default
            ``True``). **Setting it to ``False`` lets anyone on the network path
            read and alter your data and steal your credentials' signatures;
            use it only against throw-away test endpoints.** A driver built
            with it logs a warning.
        ca_bundle: A PEM file (or a directory of hashed certificates) of the
            CAs to trust instead of the default bundle (certifi's). ``None``
            takes ``AWS_CA_BUNDLE``, ``REQUESTS_CA_BUNDLE`` or ``SSL_CERT_FILE``
            (the first one set) when ``trust_env`` is true.
        client_cert: A PEM client certificate for mutual TLS (it may also
            hold the key).
        client_key: The PEM private key of ``client_cert``, if separate.
        client_key_password: The password of an encrypted ``client_key``;
            never shown by ``repr()``.
        connect_timeout: Seconds to wait for a TCP connection and TLS handshake
            (default 10).
        read_timeout: Seconds to wait for the next bytes of a reply (default 60);
            an idle timeout, so a long transfer that keeps moving never hits it.
        deadline: An optional limit, in seconds, on one request including all
            its retries and backoff: from the first attempt until the reply
            (or, for a streamed download, its headers) arrived. ``None``
            (the default) sets no limit.
        pool_maxsize: Connections kept open per host (default 16); make it at
            least the concurrency of your transfers.
        keep_alive: Reuse connections between requests (default ``True``); with
            ``False`` every request asks for ``Connection: close``.
        tcp_keepalive: Enable TCP keep-alive probes on connections (default
            ``False``), for long idle periods behind stateful firewalls.
        user_agent_suffix: Appended to the ``User-Agent`` header, to identify
            your application in server logs (printable ASCII).
        retry: The retry policy (default :class:`RetryPolicy()
            <libstore.http.retry.RetryPolicy>`).
        hooks: The event hooks registry; ``None`` gives each driver its own.

    Raises:
        InvalidArgumentError: A value of the wrong type or range, or options
            that contradict each other (``verify=False`` with a ``ca_bundle``,
            a ``client_key`` without a ``client_cert``…).
    """

    proxies: Mapping[str, str] | None = field(default=None, hash=False)
    no_proxy: str | Sequence[str] | None = None
    trust_env: bool = True
    verify: bool = True
    ca_bundle: str | os.PathLike[str] | None = None
    client_cert: str | os.PathLike[str] | None = None
    client_key: str | os.PathLike[str] | None = None
    client_key_password: str | None = field(default=None, compare=False)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    deadline: float | None = None
    pool_maxsize: int = 16
    keep_alive: bool = True
    tcp_keepalive: bool = False
    user_agent_suffix: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    hooks: EventHooks | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("trust_env", "verify", "keep_alive", "tcp_keepalive"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidArgumentError(
                    f"{name} must be True or False, not {getattr(self, name)!r}"
                )
        if self.proxies is not None:
            if not isinstance(self.proxies, Mapping):
                raise InvalidArgumentError("proxies must be a mapping of scheme to proxy URL")
            normalized: dict[str, str] = {}
            for scheme, url in self.proxies.items():
                key = scheme.lower() if isinstance(scheme, str) else scheme
                if key not in _PROXY_SCHEMES:
                    raise InvalidArgumentError(
                        f"unknown proxies key {scheme!r}; use 'http', 'https' or 'all'"
                    )
                normalized[key] = _normalize_proxy(key, url)
            set_(self, "proxies", types.MappingProxyType(normalized))
        set_(self, "no_proxy", _normalize_no_proxy(self.no_proxy))
        for name in ("ca_bundle", "client_cert", "client_key"):
            set_(self, name, _path(name, getattr(self, name)))
        if self.client_key_password is not None and not isinstance(self.client_key_password, str):
            raise InvalidArgumentError("client_key_password must be a str")
        if not self.verify and self.ca_bundle is not None:
            raise InvalidArgumentError(
                "verify=False contradicts ca_bundle: a CA bundle is only used to verify"
            )
        if self.client_key is not None and self.client_cert is None:
            raise InvalidArgumentError("client_key needs client_cert")
        if self.client_key_password is not None and self.client_cert is None:
            raise InvalidArgumentError("client_key_password needs client_cert")
        set_(self, "connect_timeout", _positive_seconds("connect_timeout", self.connect_timeout))
        set_(self, "read_timeout", _positive_seconds("read_timeout", self.read_timeout))
        set_(self, "deadline", _positive_seconds("deadline", self.deadline, optional=True))
        size = self.pool_maxsize
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 10_000:
            raise InvalidArgumentError(f"pool_maxsize must be an int from 1 to 10000, not {size!r}")
        suffix = self.user_agent_suffix
        if suffix is not None and (
            not isinstance(suffix, str)
            or not suffix.strip()
            or len(suffix) > 256
            or not all(" " <= c <= "~" for c in suffix)
        ):
            raise InvalidArgumentError(
                "user_agent_suffix must be 1 to 256 printable ASCII characters"
            )
        if not isinstance(self.retry, RetryPolicy):
            raise InvalidArgumentError(f"retry must be a RetryPolicy, not {self.retry!r}")
        if self.hooks is not None and not isinstance(self.hooks, EventHooks):
            raise InvalidArgumentError(f"hooks must be an EventHooks, not {self.hooks!r}")

    def __repr__(self) -> str:
        shown: list[str] = []
        for item in fields(self):
            value = getattr(self, item.name)
            if value == item.default or (item.name == "retry" and value == RetryPolicy()):
                continue
            if item.name == "client_key_password":
                shown.append("client_key_password=<hidden>")
            elif item.name == "proxies" and value is not None:
                proxies = {k: _redact_proxy(v) for k, v in value.items()}
                shown.append(f"proxies={proxies!r}")
            else:
                shown.append(f"{item.name}={value!r}")
        return f"ClientOptions({', '.join(shown)})"

    __str__ = __repr__

    @classmethod
    def field_names(cls) -> frozenset[str]:
        """The names of every option."""
        return frozenset(item.name for item in fields(cls))

    @classmethod
    def _check_names(cls, names: Iterator[str] | Sequence[str]) -> None:
        known = cls.field_names()
        for name in names:
            if name not in known:
                hint = difflib.get_close_matches(name, sorted(known), n=1)
                suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                raise InvalidArgumentError(f"unknown client option {name!r}{suggestion}")

    def new(self, **changes: Any) -> ClientOptions:
        """Return a copy with some options changed (validated like the constructor).

        Raises:
            InvalidArgumentError: An unknown option name (with a suggestion), or an
                invalid or contradictory value.
        """
        self._check_names(list(changes))
        return replace(self, **changes)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ClientOptions:
        """Build options from a mapping, such as a parsed configuration file.

        ``retry`` may itself be a mapping of :class:`RetryPolicy` fields.

        Raises:
            InvalidArgumentError: An unknown option name (with a suggestion), or an
                invalid or contradictory value.
        """
        cls._check_names(list(values))
        kwargs = dict(values)
        retry = kwargs.get("retry")
        if isinstance(retry, Mapping):
            try:
                kwargs["retry"] = RetryPolicy(**retry)
            except TypeError as exc:
                raise InvalidArgumentError(f"invalid retry policy: {exc}") from exc
        return cls(**kwargs)


# -- per-call overrides --------------------------------------------------------------------


@dataclass(frozen=True)
class _CallOverrides:
    retry: RetryPolicy | None
    connect_timeout: float | None
    read_timeout: float | None
    deadline_at: float | None


_CALL: contextvars.ContextVar[_CallOverrides | None] = contextvars.ContextVar(
    "libstore_call_options", default=None
)


@contextlib.contextmanager
def call_options(
    *,
    retry: RetryPolicy | None = None,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    deadline: float | None = None,
) -> Iterator[None]:
    """Override options for every request made in this context (thread) inside the block.

    Blocks nest: an inner block overrides what it sets and keeps the rest;
    deadlines only ever get shorter. Work handed to other threads keeps the
    overrides when it is wrapped with :func:`libstore.http.events.bind_context`.

    Args:
        retry: The retry policy for these calls.
        connect_timeout: Seconds to wait for a connection.
        read_timeout: Seconds to wait between bytes of a reply.
        deadline: Seconds from entering the block after which no request starts,
            no retry is scheduled and no non-streamed reply is read any further
            (:class:`~libstore.types.RequestTimeoutError`). It combines with
            :attr:`ClientOptions.deadline`: the earlier one wins.

    Raises:
        InvalidArgumentError: A value of the wrong type or range.
    """
    import time

    if retry is not None and not isinstance(retry, RetryPolicy):
        raise InvalidArgumentError(f"retry must be a RetryPolicy, not {retry!r}")
    connect = _positive_seconds("connect_timeout", connect_timeout, optional=True)
    read = _positive_seconds("read_timeout", read_timeout, optional=True)
    limit = _positive_seconds("deadline", deadline, optional=True)
    outer = _CALL.get()
    deadline_at = time.monotonic() + limit if limit is not None else None
    if outer is not None:
        retry = retry or outer.retry
        connect = connect or outer.connect_timeout
        read = read or outer.read_timeout
        if outer.deadline_at is not None:
            deadline_at = (
                outer.deadline_at if deadline_at is None else min(deadline_at, outer.deadline_at)
            )
    token = _CALL.set(_CallOverrides(retry, connect, read, deadline_at))
    try:
        yield
    finally:
        _CALL.reset(token)


def current_call_options() -> _CallOverrides | None:
    """The overrides in force in this context (for the HTTP layer)."""
    return _CALL.get()


# -- driver construction -------------------------------------------------------------------


def driver_options(
    options: ClientOptions | None,
    **shortcuts: Any,
) -> ClientOptions:
    """Combine a driver's ``options`` argument with its legacy shortcut arguments.

    Shortcuts are the driver's older keyword arguments (``connect_timeout``,
    ``read_timeout``, ``max_attempts``, ``verify``, ``proxies``, ``retry_policy``,
    ``http_config``); ``None`` means "not given". A shortcut may not be combined
    with ``options``, nor ``max_attempts`` with ``retry_policy``: the caller
    would not know which one wins. The result always has its own hooks.

    Args:
        options: The ``options`` argument, or ``None``.
        **shortcuts: The shortcut arguments as the caller passed them.

    Returns:
        The options the driver uses.

    Raises:
        InvalidArgumentError: Conflicting or invalid arguments.
    """
    given = {name: value for name, value in shortcuts.items() if value is not None}
    unknown = set(given) - {
        "connect_timeout",
        "read_timeout",
        "max_attempts",
        "verify",
        "proxies",
        "retry_policy",
        "http_config",
    }
    if unknown:
        raise InvalidArgumentError(f"unknown shortcut arguments {sorted(unknown)}")
    if options is not None and not isinstance(options, ClientOptions):
        raise InvalidArgumentError(f"options must be a ClientOptions, not {options!r}")
    if options is not None and given:
        names = ", ".join(sorted(given))
        raise InvalidArgumentError(
            f"options= cannot be combined with {names}: set them on the ClientOptions "
            f"instead (options.new({sorted(given)[0]}=...))"
        )
    if "max_attempts" in given and "retry_policy" in given:
        raise InvalidArgumentError(
            "max_attempts cannot be combined with retry_policy: "
            "use retry_policy.new(max_attempts=...)"
        )
    if options is None:
        kwargs: dict[str, Any] = {}
        config = given.pop("http_config", None)
        if config is not None:
            overlap = sorted(set(given) & {"connect_timeout", "read_timeout", "verify", "proxies"})
            if overlap:
                raise InvalidArgumentError(
                    f"http_config cannot be combined with {', '.join(overlap)}"
                )
            kwargs.update(config.to_options_kwargs())
        for name in ("connect_timeout", "read_timeout", "proxies"):
            if name in given:
                kwargs[name] = given[name]
        if "verify" in given:
            verify = given["verify"]
            if isinstance(verify, bool):
                kwargs["verify"] = verify
            else:
                kwargs["ca_bundle"] = verify
        if "retry_policy" in given:
            kwargs["retry"] = given["retry_policy"]
        elif "max_attempts" in given:
            try:
                kwargs["retry"] = RetryPolicy(max_attempts=given["max_attempts"])
            except (TypeError, ValueError) as exc:
                raise InvalidArgumentError(f"invalid max_attempts: {exc}") from exc
        options = ClientOptions(**kwargs)
    if options.hooks is None:
        options = replace(options, hooks=EventHooks())
    return options
