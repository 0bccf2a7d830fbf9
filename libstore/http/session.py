"""The only place libstore sends HTTP requests: pooled sessions, timeouts, TLS and retries.

Drivers describe a request (method, exact wire URL, headers, a replayable body and
a signing callback); :class:`HttpClient` sends it, re-signing every attempt,
retries what is safe to retry under a :class:`~libstore.http.retry.RetryPolicy`,
and turns what remains into :mod:`libstore.types` exceptions. The URL is sent
exactly as given: nothing re-quotes it, so the URL signed is the URL sent.

Direct connections go through :class:`~libstore.http.transport.DirectTransport`
(pooled :mod:`http.client` connections, the shortest path per request); proxied
connections go through requests, as does everything while an application's tests
replace requests' transport with ``responses`` or ``requests-mock``. Both paths put
the same request on the wire.

Everything about the network comes from one
:class:`~libstore.http.options.ClientOptions`, resolved once when the client is
built (:func:`~libstore.http.network.resolve_network`): the environment is never
read on the request path, one TLS context (CA bundle and client certificate
loaded once) serves every connection, and the proxy decision is cached per host.
Each attempt is reported to the driver's event hooks (``request_sent``,
``response_received`` or ``request_failed``, ``retry_scheduled``), counted into
the current transfer's statistics and logged at DEBUG on ``libstore.http``, with
every URL and header redacted.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol, TypeVar

import requests
import requests.adapters
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection

from libstore.auth import redact_headers, redact_url
from libstore.http.events import Event, EventHooks, _current, describe_error
from libstore.http.logs import get_logger, install_redaction
from libstore.http.network import NetworkSettings, resolve_network
from libstore.http.options import ClientOptions, current_call_options
from libstore.http.retry import RetryPolicy
from libstore.http.transport import (
    ConnectFailed,
    DirectResponse,
    DirectTransport,
    InvalidRequest,
    body_length,
    requests_intercepted,
)
from libstore.types import (
    InvalidArgumentError,
    LibstoreError,
    RequestTimeoutError,
    ResponseError,
    TransportError,
)

__all__ = [
    "Body",
    "ErrorReply",
    "HttpClient",
    "HttpConfig",
    "Reply",
    "StreamReply",
]

logger = get_logger("libstore.http")
header_logger = get_logger("libstore.http.headers")

# urllib3 logs request lines (path and query, so presigned signatures and tokens) at
# DEBUG: its loggers get the same redaction as libstore's own.
install_redaction(
    (
        "urllib3",
        "urllib3.connection",
        "urllib3.connectionpool",
        "urllib3.poolmanager",
        "urllib3.response",
        "urllib3.util.retry",
    )
)

#: A request body: bytes, or a callable returning a fresh binary file for each attempt.
Body = bytes | Callable[[], IO[bytes]] | None

#: Largest error body read from a reply; the rest is discarded unread.
MAX_ERROR_BODY = 64 * 1024

#: Largest non-streamed success body accepted (a listing page is well below this).
MAX_REPLY_BODY = 64 * 1024 * 1024

#: Host connection pools kept per client (virtual-hosted buckets are one host each).
POOL_CONNECTIONS = 32

_DEFAULT_USER_AGENT = "libstore"

_T = TypeVar("_T")


def default_user_agent() -> str:
    """``libstore/<version> python/<major.minor>``: the ``User-Agent`` before any suffix."""
    from libstore import __version__

    return f"libstore/{__version__} python/{sys.version_info[0]}.{sys.version_info[1]}"


@dataclass(frozen=True)
class HttpConfig:
    """Transport settings of one driver (the older form of :class:`ClientOptions`).

    Still accepted by the S3 driver's ``http_config`` argument and converted to
    :class:`~libstore.http.options.ClientOptions`; new code should use those.

    Args:
        connect_timeout: Seconds to wait for a connection (default 10).
        read_timeout: Seconds to wait between bytes of a reply (default 60).
        pool_maxsize: Connections kept per host (default 16); at least the
            concurrency of any transfer.
        verify: Verify TLS certificates (default ``True``), or the path of a CA bundle.
        proxies: Proxy URLs by scheme, as in requests; ``None`` uses the environment.
        trust_env: Honour ``HTTP(S)_PROXY``/``NO_PROXY`` and the CA bundle variables
            (default ``True``).
        user_agent: Appended to libstore's ``User-Agent`` unless it is the default.
    """

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    pool_maxsize: int = 16
    verify: bool | str = True
    proxies: Mapping[str, str] | None = None
    trust_env: bool = True
    user_agent: str = _DEFAULT_USER_AGENT

    def __post_init__(self) -> None:
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("timeouts must be positive numbers of seconds")
        if self.pool_maxsize < 1:
            raise ValueError("pool_maxsize must be at least 1")

    def to_options_kwargs(self) -> dict[str, Any]:
        """The equivalent :class:`ClientOptions` keyword arguments."""
        kwargs: dict[str, Any] = {
            "connect_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
            "pool_maxsize": self.pool_maxsize,
            "proxies": self.proxies,
            "trust_env": self.trust_env,
        }
        if isinstance(self.verify, bool):
            kwargs["verify"] = self.verify
        else:
            kwargs["ca_bundle"] = self.verify
        if self.user_agent != _DEFAULT_USER_AGENT:
            kwargs["user_agent_suffix"] = self.user_agent
        return kwargs


@dataclass
class ErrorReply:
    """An unsuccessful reply, parsed by the driver's error parser."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    host_id: str | None = None
    #: Extra fields the provider's error carried (e.g. S3's ``<Region>``).
    details: dict[str, str] = field(default_factory=dict)


@dataclass
class Reply:
    """A successful, fully read reply."""

    status: int
    headers: CaseInsensitiveDict[str]
    body: bytes


#: Parses an unsuccessful reply: (status, headers, bounded body) -> ErrorReply.
ErrorParser = Callable[[int, Mapping[str, str], bytes], ErrorReply]
#: Turns the final ErrorReply of a request into the exception to raise.
ErrorMapper = Callable[[ErrorReply], LibstoreError]
#: Signs one attempt: (method, url, headers) -> headers to send.
Signer = Callable[[str, str, dict[str, str]], dict[str, str]]


class StreamReply(Protocol):
    """A reply whose body is still on the connection (what :meth:`HttpClient.open_stream`
    returns): the direct transport's :class:`~libstore.http.transport.DirectResponse`,
    or requests' reply behind the same four members."""

    @property
    def status_code(self) -> int:
        """The HTTP status."""
        ...  # pragma: no cover

    @property
    def headers(self) -> CaseInsensitiveDict[str]:
        """The reply's headers (case-insensitive)."""
        ...  # pragma: no cover

    def iter_raw(self, chunk_size: int) -> Iterator[bytes]:
        """The body as sent (no content decoding), in chunks of at most ``chunk_size``."""
        ...  # pragma: no cover

    def close(self) -> None:
        """Release the connection."""
        ...  # pragma: no cover


class _RequestsReply:
    """requests' streamed reply as a :class:`StreamReply`."""

    __slots__ = ("_response", "headers", "status_code")

    def __init__(self, response: requests.Response) -> None:
        self._response = response
        self.status_code: int = response.status_code
        self.headers: CaseInsensitiveDict[str] = response.headers

    def iter_raw(self, chunk_size: int) -> Iterator[bytes]:
        response = self._response
        if response._content_consumed:  # type: ignore[attr-defined]
            # requests reads a redirect's body itself (to free the connection).
            yield from response.iter_content(chunk_size)
            return
        # Raw bytes: a Content-Encoding (gzip…) is the object's, not ours to undo.
        yield from response.raw.stream(chunk_size, decode_content=False)

    def close(self) -> None:
        self._response.close()


class _RetryableReply(Exception):
    def __init__(self, error: ErrorReply) -> None:
        self.error = error


class _DeadlineExceeded(Exception):
    pass


class _TlsAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter with one preloaded TLS context for every pool and proxy.

    requests would otherwise hand the CA bundle path to urllib3 for every new
    connection (which loads it into a context each time) and check that the file
    exists on every request.
    """

    def __init__(
        self,
        ssl_context: Any,
        verify: bool,
        pool_maxsize: int,
        socket_options: list[tuple[int, int, int]] | None,
    ) -> None:
        self._ssl_context = ssl_context
        self._verify = verify
        self._socket_options = socket_options
        super().__init__(
            pool_connections=POOL_CONNECTIONS, pool_maxsize=pool_maxsize, max_retries=0
        )

    def _pool_extras(self) -> dict[str, Any]:
        extras: dict[str, Any] = {"ssl_context": self._ssl_context}
        if self._socket_options is not None:
            extras["socket_options"] = self._socket_options
        return extras

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs.update(self._pool_extras())
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        if proxy not in self.proxy_manager:
            proxy_kwargs.update(self._pool_extras())
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # The context already holds the CAs and the client certificate.
        conn.cert_reqs = "CERT_REQUIRED" if self._verify else "CERT_NONE"
        conn.ca_certs = None
        conn.ca_cert_dir = None


class HttpClient:
    """Sends requests for one driver over one pooled connection manager.

    Args:
        options: The driver's :class:`ClientOptions` (a legacy :class:`HttpConfig`
            is accepted too, followed by a :class:`RetryPolicy`).
        parse_error: The provider family's error-body parser.
        driver_name: The provider name put on events.
        environ: The environment to resolve ``options`` against (default
            ``os.environ``); it is read here, once, and never again.

    Raises:
        InvalidArgumentError: The options cannot be resolved (a missing CA bundle,
            an unloadable client certificate, an invalid proxy in the environment).
    """

    def __init__(
        self,
        options: ClientOptions | HttpConfig,
        parse_error: ErrorParser | RetryPolicy,
        legacy_parse_error: ErrorParser | None = None,
        *,
        driver_name: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(options, HttpConfig):  # the foundation's HttpClient(config, retry, parse)
            if not isinstance(parse_error, RetryPolicy) or legacy_parse_error is None:
                raise InvalidArgumentError("HttpClient(HttpConfig, RetryPolicy, parse_error)")
            options = ClientOptions(retry=parse_error, **options.to_options_kwargs())
            parse_error = legacy_parse_error
        if isinstance(parse_error, RetryPolicy):
            raise InvalidArgumentError("HttpClient(options, parse_error): no RetryPolicy here")
        if not isinstance(options, ClientOptions):
            raise InvalidArgumentError(f"options must be a ClientOptions, not {options!r}")
        self.options = options
        self.hooks: EventHooks = options.hooks if options.hooks is not None else EventHooks()
        self.driver_name = driver_name
        self.network: NetworkSettings = resolve_network(options, environ)
        self._parse_error = parse_error
        self._timeout = (options.connect_timeout, options.read_timeout)
        agent = default_user_agent()
        self.user_agent = (
            f"{agent} {options.user_agent_suffix}" if options.user_agent_suffix else agent
        )
        self._base_headers: dict[str, str] = {"User-Agent": self.user_agent}
        if not options.keep_alive:
            self._base_headers["Connection"] = "close"
        socket_options = None
        extra_socket_options: list[tuple[int, int, int]] = []
        if options.tcp_keepalive:
            import socket

            extra_socket_options.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
            socket_options = [*HTTPConnection.default_socket_options, *extra_socket_options]
        self._direct = DirectTransport(
            self.network.ssl_context, options.pool_maxsize, extra_socket_options
        )
        self._session = requests.Session()
        self._session.trust_env = False  # resolved once above; never per request
        self._cookies = requests.cookies.RequestsCookieJar()
        adapter = _TlsAdapter(
            self.network.ssl_context, self.network.verify, options.pool_maxsize, socket_options
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._sleep: Callable[[float], None] = time.sleep

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy in force here: the current :func:`call_options`' or the driver's."""
        overrides = current_call_options()
        if overrides is not None and overrides.retry is not None:
            return overrides.retry
        return self.options.retry

    @property
    def config(self) -> ClientOptions:
        """The client's options (the name of the foundation's attribute)."""
        return self.options

    def close(self) -> None:
        """Close every pooled connection."""
        self._direct.close()
        self._session.close()

    # -- public entry points ----------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        sign: Signer,
        on_error: ErrorMapper,
        ok: frozenset[int] = frozenset({200, 204}),
        idempotent: bool = True,
        error_in_body: bool = False,
        retry: RetryPolicy | None = None,
    ) -> Reply:
        """Send a request, retrying as the policy allows, and read the whole reply.

        Args:
            method: HTTP method.
            url: The exact wire URL, already percent-encoded.
            headers: Headers to send (before signing).
            body: The body; callables are called once per attempt.
            sign: Signs each attempt.
            on_error: Maps the final unsuccessful reply to the exception raised.
            ok: Statuses that count as success.
            idempotent: Whether the request may be replayed after it may have
                reached the server. Non-idempotent requests are retried only when
                they certainly were not sent (connection refused, connect timeout).
            error_in_body: A 200 reply whose body is an ``<Error>`` document is an
                error (S3's CompleteMultipartUpload and CopyObject do this).
            retry: The retry policy of this request (default: the current
                :func:`call_options`' or the driver's).

        Raises:
            LibstoreError: Whatever ``on_error`` returns for the final failure,
                :class:`TransportError` or :class:`RequestTimeoutError` for network
                failures (and a passed deadline), :class:`ResponseError` for an
                oversized reply.
        """

        def attempt(response: StreamReply, deadline_at: float | None) -> Reply:
            data = _read_limited(response, MAX_REPLY_BODY, deadline_at)
            if error_in_body and _looks_like_error(data):
                error = self._parse_error(
                    response.status_code, response.headers, data[:MAX_ERROR_BODY]
                )
                if error.code is None:
                    raise ResponseError(
                        "reply was an unparseable error document", http_status=response.status_code
                    )
                raise _RetryableReply(error)
            return Reply(response.status_code, response.headers, data)

        return self._run(method, url, headers, body, sign, on_error, ok, idempotent, attempt, retry)

    def open_stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        sign: Signer,
        on_error: ErrorMapper,
        ok: frozenset[int] = frozenset({200, 206}),
        retry: RetryPolicy | None = None,
    ) -> StreamReply:
        """Send a bodiless request and return the streaming reply (the caller closes it)."""
        return self._run(
            method, url, headers, None, sign, on_error, ok, True, lambda r, _d: r, retry
        )

    def pause_before_retry(
        self,
        attempt: int,
        *,
        method: str = "",
        url: str = "",
        reason: str | None = None,
        retry_after: str | None = None,
    ) -> float:
        """Back off before a driver-level retry (a resumed download): event, count, sleep.

        Args:
            attempt: The attempt that failed, 1-based.
            method: The HTTP method being retried.
            url: The URL being retried (redacted before it is reported).
            reason: Why, for the event and the log (``"ReadTimeoutError"``…).
            retry_after: A ``Retry-After`` header value, if the server sent one.

        Returns:
            The seconds slept.
        """
        delay = self.retry.backoff(attempt, retry_after)
        self._report_retry(method, url, attempt, delay, None, reason, self.retry.max_attempts)
        self._sleep(delay)
        return delay

    # -- the retry loop ---------------------------------------------------------------------

    def _limits(
        self, retry: RetryPolicy | None
    ) -> tuple[RetryPolicy, tuple[float, float], float | None]:
        options = self.options
        overrides = current_call_options()
        deadline_at: float | None = None
        if options.deadline is not None:
            deadline_at = time.monotonic() + options.deadline
        if overrides is None:
            return retry or options.retry, self._timeout, deadline_at
        timeout = (
            overrides.connect_timeout or options.connect_timeout,
            overrides.read_timeout or options.read_timeout,
        )
        if overrides.deadline_at is not None:
            deadline_at = (
                overrides.deadline_at
                if deadline_at is None
                else min(deadline_at, overrides.deadline_at)
            )
        return retry or overrides.retry or options.retry, timeout, deadline_at

    def _run(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: Body,
        sign: Signer,
        on_error: ErrorMapper,
        ok: frozenset[int],
        idempotent: bool,
        finish: Callable[[StreamReply, float | None], _T],
        retry: RetryPolicy | None,
    ) -> _T:
        policy, base_timeout, deadline_at = self._limits(retry)
        transfer = _current()
        stats = transfer.stats if transfer is not None else None
        hooks = self.hooks
        debug = logger.isEnabledFor(logging.DEBUG)
        attempts = policy.max_attempts
        for attempt in range(1, attempts + 1):
            last = attempt >= attempts
            timeout = base_timeout
            if deadline_at is not None:
                remaining = deadline_at - time.monotonic()
                if remaining <= 0:
                    raise self._deadline_error(method, url, attempt - 1)
                timeout = (min(timeout[0], remaining), min(timeout[1], remaining))
            if stats is not None:
                stats.add_request()
            if debug:
                logger.debug(
                    "sending %s %s (attempt %d of %d)", method, redact_url(url), attempt, attempts
                )
            started = time.monotonic()
            response: StreamReply | None = None
            failure: ErrorReply | None = None
            retry_after: str | None = None
            error_text: str | None = None
            transport_exc: BaseException | None = None
            try:
                response = self._send_once(
                    method, url, headers, body, sign, timeout, deadline_at, attempt, hooks
                )
                status = response.status_code
                if status in ok:
                    try:
                        result = finish(response, deadline_at)
                    except _RetryableReply:
                        raise
                    except BaseException:
                        response.close()
                        raise
                    streamed = result is response
                    if not streamed:  # streams are closed by their reader
                        response.close()
                    self._report_response(
                        method, url, response, attempt, started,
                        len(result.body) if isinstance(result, Reply) else None, debug,
                    )  # fmt: skip
                    return result
                error_body = _read_limited(response, None)  # small: no deadline check
                failure = self._parse_error(status, response.headers, error_body)
                response.close()
                self._report_response(
                    method, url, response, attempt, started, len(error_body), debug
                )
                retry_after = failure.headers.get("Retry-After")
                reason = f"status {failure.status} {failure.code or ''}".strip()
                retryable = policy.is_retryable(failure.status, failure.code)
            except _RetryableReply as exc:
                assert response is not None
                response.close()
                self._report_response(method, url, response, attempt, started, None, debug)
                failure = exc.error
                reason = f"error document {failure.code}"
                retryable = policy.is_retryable(None, failure.code)
            except _DeadlineExceeded:
                if response is not None:
                    response.close()
                raise self._deadline_error(method, url, attempt) from None
            except _TRANSPORT_ERRORS as exc:
                if response is not None:
                    response.close()
                    self._report_response(method, url, response, attempt, started, None, debug)
                else:
                    self._report_failure(method, url, exc, attempt, started, debug)
                sent_maybe = not _certainly_unsent(exc)
                if (
                    last
                    or (sent_maybe and not idempotent)
                    or not policy.transport
                    or not _is_retryable_transport(exc)
                ):
                    raise _transport_error(exc, method, url) from exc
                reason = type(exc).__name__
                error_text = describe_error(exc)
                retryable = True
                transport_exc = exc
            if failure is not None and (last or not retryable):
                raise on_error(failure)
            delay = policy.backoff(attempt, retry_after)
            if deadline_at is not None and time.monotonic() + delay >= deadline_at:
                if failure is not None:
                    final = on_error(failure)
                else:
                    assert transport_exc is not None
                    final = _transport_error(transport_exc, method, url)
                final.add_note(
                    f"libstore: gave up after {attempt} attempts: the deadline left no time "
                    f"for the {delay:.2f} s backoff"
                )
                raise final
            self._report_retry(
                method, url, attempt, delay, failure.status if failure else None,
                error_text or reason, attempts,
            )  # fmt: skip
            self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    def _deadline_error(self, method: str, url: str, attempts: int) -> RequestTimeoutError:
        return RequestTimeoutError(
            f"{method} {redact_url(url)} passed its deadline after {attempts} "
            f"attempt{'' if attempts == 1 else 's'}"
        )

    # -- reporting --------------------------------------------------------------------------

    def _event(self, kind: str, method: str, url: str, attempt: int, **fields: Any) -> Event:
        transfer = _current()
        if transfer is not None:
            stats = transfer.stats
            fields.setdefault("operation", stats.operation)
            fields.setdefault("container", stats.container)
            fields.setdefault("object_name", stats.object_name)
        return Event(
            kind,
            method=method,
            url=redact_url(url),
            attempt=attempt,
            driver=self.driver_name,
            **fields,
        )

    def _report_response(
        self,
        method: str,
        url: str,
        response: StreamReply,
        attempt: int,
        started: float,
        size: int | None,
        debug: bool,
    ) -> None:
        duration = time.monotonic() - started
        if size is None:
            length = response.headers.get("Content-Length")
            size = int(length) if length is not None and length.isdigit() else None
        request_id = response.headers.get("x-amz-request-id")
        if debug:
            logger.debug(
                "%s %s -> %d in %.1f ms (%s bytes, attempt %d%s)",
                method,
                redact_url(url),
                response.status_code,
                duration * 1000,
                "?" if size is None else size,
                attempt,
                f", request id {request_id}" if request_id else "",
            )
            if header_logger.isEnabledFor(logging.DEBUG):
                header_logger.debug(
                    "reply headers of %s %s: %s",
                    method,
                    redact_url(url),
                    redact_headers(response.headers),
                )
        if self.hooks.wants("response_received"):
            self.hooks.emit(
                self._event(
                    "response_received",
                    method,
                    url,
                    attempt,
                    status=response.status_code,
                    bytes=size,
                    duration=duration,
                    request_id=request_id,
                )
            )

    def _report_failure(
        self, method: str, url: str, exc: BaseException, attempt: int, started: float, debug: bool
    ) -> None:
        duration = time.monotonic() - started
        if debug:
            logger.debug(
                "%s %s failed in %.1f ms (attempt %d): %s",
                method,
                redact_url(url),
                duration * 1000,
                attempt,
                _transport_error(exc, method, url),
            )
        if self.hooks.wants("request_failed"):
            self.hooks.emit(
                self._event(
                    "request_failed",
                    method,
                    url,
                    attempt,
                    duration=duration,
                    error=describe_error(_transport_error(exc, method, url)),
                )
            )

    def _report_retry(
        self,
        method: str,
        url: str,
        attempt: int,
        delay: float,
        status: int | None,
        reason: str | None,
        attempts: int,
    ) -> None:
        transfer = _current()
        if transfer is not None:
            transfer.stats.add_retry()
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "retrying %s %s after %s in %.2f s (attempt %d of %d)",
                method,
                redact_url(url),
                reason or "a failure",
                delay,
                attempt + 1,
                attempts,
            )
        if self.hooks.wants("retry_scheduled"):
            self.hooks.emit(
                self._event(
                    "retry_scheduled",
                    method,
                    url,
                    attempt,
                    status=status,
                    error=reason,
                    delay=delay,
                )
            )

    # -- one attempt ------------------------------------------------------------------------

    def _send_once(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: Body,
        sign: Signer,
        timeout: tuple[float, float],
        deadline_at: float | None,
        attempt: int,
        hooks: EventHooks,
    ) -> StreamReply:
        data: Any
        opened: IO[bytes] | None = None
        if callable(body):
            opened = data = body()
            if deadline_at is not None:
                data = _DeadlineReader(opened, deadline_at)
        else:
            data = body
        try:
            send_headers = dict(self._base_headers)
            if headers:
                send_headers.update(headers)
            send_headers = sign(method, url, send_headers)
            proxies = self.network.proxies_for(url)
            if not proxies and not requests_intercepted():
                direct = self._send_direct(method, url, send_headers, data, timeout, attempt, hooks)
                if direct is not None:
                    return direct
            prepared = requests.PreparedRequest()
            prepared.prepare_method(method)
            # requests re-quotes URLs; the signature covers the URL exactly as built.
            prepared.url = url
            prepared.prepare_headers(send_headers)
            prepared.prepare_body(data, None)
            prepared._cookies = self._cookies  # type: ignore[attr-defined]  # read, never written
            length = prepared.headers.get("Content-Length")
            self._report_sent(
                method, url, attempt, hooks, prepared.headers,
                int(length) if length and length.isdigit() else None,
            )  # fmt: skip
            # Session.send (not the adapter directly) keeps requests-mock/responses
            # working for applications that mock their HTTP in tests.
            return _RequestsReply(
                self._session.send(
                    prepared,
                    stream=True,
                    timeout=timeout,
                    verify=self.network.verify,
                    cert=None,
                    proxies=proxies,
                    allow_redirects=False,
                )
            )
        finally:
            if opened is not None:
                opened.close()

    def _send_direct(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        data: Any,
        timeout: tuple[float, float],
        attempt: int,
        hooks: EventHooks,
    ) -> DirectResponse | None:
        """Send over the direct transport; ``None`` if it cannot carry this body.

        The headers put on the wire are requests' for the same call: a
        ``Content-Length`` for every body, and ``0`` for bodiless methods other
        than GET and HEAD.
        """
        length = body_length(data)
        if length is None:
            return None  # a body of unknown length: requests sends it chunked
        if length == 0:
            data = None
        if (
            "Content-Length" not in headers
            and "content-length" not in headers
            and (length or method not in ("GET", "HEAD"))
        ):
            headers["Content-Length"] = str(length)
        self._report_sent(method, url, attempt, hooks, headers, length)
        return self._direct.send(method, url, headers, data, timeout)

    def _report_sent(
        self,
        method: str,
        url: str,
        attempt: int,
        hooks: EventHooks,
        headers: Mapping[str, str],
        length: int | None,
    ) -> None:
        """The ``request_sent`` event and the DEBUG header line, for either transport."""
        if hooks.wants("request_sent"):
            hooks.emit(self._event("request_sent", method, url, attempt, bytes=length))
        if header_logger.isEnabledFor(logging.DEBUG):
            header_logger.debug(
                "request headers of %s %s: %s", method, redact_url(url), redact_headers(headers)
            )


class _DeadlineReader:
    """A request body file that refuses to be read past a deadline."""

    def __init__(self, handle: IO[bytes], deadline_at: float) -> None:
        self._handle = handle
        self._deadline_at = deadline_at
        self._length = int(requests.utils.super_len(handle))  # type: ignore[no-untyped-call]

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:  # only to look like a stream to requests
        return iter(lambda: self.read(64 * 1024), b"")

    def read(self, size: int = -1) -> bytes:
        if time.monotonic() >= self._deadline_at:
            raise _DeadlineExceeded
        return self._handle.read(size)

    def close(self) -> None:
        self._handle.close()


def _read_limited(
    response: StreamReply, limit: int | None, deadline_at: float | None = None
) -> bytes:
    """Read a reply's body, at most ``limit`` bytes (``None``: an error body's bound)."""
    cap = MAX_ERROR_BODY if limit is None else limit
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_raw(256 * 1024):
        chunks.append(chunk)
        total += len(chunk)
        if total > cap:
            if limit is None:
                break  # an error body: keep the first bytes, drop the rest unread
            raise ResponseError(f"reply body exceeds {cap} bytes", http_status=response.status_code)
        if deadline_at is not None and time.monotonic() >= deadline_at:
            raise _DeadlineExceeded
    return b"".join(chunks)[:cap]


#: What one attempt may raise from either transport when the network or the peer fails.
_TRANSPORT_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    InvalidRequest,
    OSError,
)


def _looks_like_error(data: bytes) -> bool:
    head = data[:512].lstrip()
    if head.startswith(b"<?xml"):
        end = head.find(b"?>")
        head = head[end + 2 :].lstrip() if end != -1 else head
    return head.startswith(b"<Error>") or head.startswith(b"<Error ")


def _certainly_unsent(exc: BaseException) -> bool:
    """Whether the request certainly never reached the server (safe to replay any method)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout | ConnectFailed | InvalidRequest):
        return True
    current: BaseException | None = exc
    for _ in range(8):
        if current is None:
            break
        if isinstance(current, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
            return True
        current = current.__cause__ or current.__context__ or _inner_reason(current)
    return False


def _inner_reason(exc: BaseException) -> BaseException | None:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        return reason
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], BaseException):
        return args[0]
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it wraps (causes, contexts, urllib3 reasons), bounded."""
    seen: set[int] = set()
    current: BaseException | None = exc
    for _ in range(12):
        if current is None or id(current) in seen:
            return
        seen.add(id(current))
        yield current
        current = _inner_reason(current) or current.__cause__ or current.__context__


def _is_tls_failure(exc: BaseException) -> bool:
    import ssl

    return any(
        isinstance(e, requests.exceptions.SSLError | urllib3.exceptions.SSLError | ssl.SSLError)
        for e in _chain(exc)
    )


def _is_retryable_transport(exc: BaseException) -> bool:
    if isinstance(
        exc, requests.exceptions.InvalidURL | InvalidRequest | http.client.InvalidURL
    ) or _is_tls_failure(exc):
        return False
    return isinstance(
        exc,
        requests.exceptions.ConnectionError
        | requests.exceptions.Timeout
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError
        | urllib3.exceptions.HTTPError
        | http.client.HTTPException
        | ConnectionError
        | TimeoutError,
    )


def _tls_reason(exc: BaseException) -> str:
    import ssl

    for inner in _chain(exc):
        if isinstance(inner, ssl.SSLCertVerificationError):
            detail = inner.verify_message or inner.reason or "unknown reason"
            return (
                f"the server's certificate is not trusted (certificate verify failed: {detail}); "
                "set ClientOptions("
                "ca_bundle=...) or AWS_CA_BUNDLE to the CA that issued it"
            )
        if isinstance(inner, ssl.SSLError) and inner.reason:
            reason = str(inner.reason).lower().replace("_", " ")
            if "certificate required" in reason or "handshake failure" in reason:
                return (
                    f"the TLS handshake failed ({reason}); the server may require a client "
                    "certificate (ClientOptions(client_cert=..., client_key=...))"
                )
            return f"the TLS handshake failed ({reason})"
    links = list(_chain(exc))
    cause = links[-1] if links else exc
    text = str(cause).splitlines()[0] if str(cause) else ""
    detail = type(cause).__name__ + (f": {text[:120]}" if text and "://" not in text else "")
    return (
        f"the TLS session failed ({detail}); check that the server's certificate is trusted "
        "and, if the server requires one, the client certificate (ClientOptions(client_cert=...))"
    )


def _transport_error(exc: BaseException, method: str, url: str) -> LibstoreError:
    where = f"{method} {redact_url(url)}"
    if isinstance(exc, LibstoreError):
        return exc
    if isinstance(exc, requests.exceptions.ProxyError):
        return TransportError(f"{where} failed at the proxy: {_short(exc)}")
    if _is_tls_failure(exc):
        return TransportError(f"{where} failed: {_tls_reason(exc)}")
    if isinstance(exc, requests.exceptions.Timeout | TimeoutError):
        return RequestTimeoutError(f"{where} timed out: {type(exc).__name__}")
    return TransportError(f"{where} failed: {type(exc).__name__}: {_short(exc)}")


def _short(exc: BaseException) -> str:
    """A one-line description of a transport error, without URLs (they may carry queries)."""
    for link in _chain(exc):
        line = str(link).splitlines()[0] if str(link) else ""
        if "Tunnel connection failed" in line:
            return line[line.find("Tunnel connection failed") :][:200]
    text = str(exc).splitlines()[0] if str(exc) else ""
    if "://" in text or "?" in text:
        inner = _inner_reason(exc)
        return type(inner).__name__ if inner is not None else "connection failed"
    return text[:200]


def iter_response(response: StreamReply, chunk_size: int) -> Iterator[bytes]:
    """Yield a streamed reply's body, closing the reply when done or abandoned."""
    try:
        yield from response.iter_raw(chunk_size)
    finally:
        with contextlib.suppress(Exception):
            response.close()
