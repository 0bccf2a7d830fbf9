"""The only place libstore sends HTTP requests: pooled sessions, timeouts, TLS and retries.

Drivers describe a request (method, exact wire URL, headers, a replayable body and
a signing callback); :class:`HttpClient` sends it, re-signing every attempt,
retries what is safe to retry under a :class:`~libstore.http.retry.RetryPolicy`,
and turns what remains into :mod:`libstore.types` exceptions. The URL is sent
exactly as given: requests never re-quotes it, so the URL signed is the URL sent.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

import requests
import requests.adapters
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from libstore.auth import redact_url
from libstore.http.retry import RetryPolicy
from libstore.types import (
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
]

logger = logging.getLogger("libstore.http")

#: A request body: bytes, or a callable returning a fresh binary file for each attempt.
Body = bytes | Callable[[], IO[bytes]] | None

#: Largest error body read from a reply; the rest is discarded unread.
MAX_ERROR_BODY = 64 * 1024

#: Largest non-streamed success body accepted (a listing page is well below this).
MAX_REPLY_BODY = 64 * 1024 * 1024

_DEFAULT_USER_AGENT = "libstore"

_T = TypeVar("_T")


@dataclass(frozen=True)
class HttpConfig:
    """Transport settings of one driver; immutable.

    Args:
        connect_timeout: Seconds to wait for a connection (default 10).
        read_timeout: Seconds to wait between bytes of a reply (default 60).
        pool_maxsize: Connections kept per host (default 16); at least the
            concurrency of any transfer.
        verify: Verify TLS certificates (default ``True``), or the path of a CA bundle.
        proxies: Proxy URLs by scheme, as in requests; ``None`` uses the environment.
        trust_env: Honour ``HTTP(S)_PROXY``/``NO_PROXY`` and ``REQUESTS_CA_BUNDLE``
            (default ``True``).
        user_agent: The ``User-Agent`` header (default ``"libstore/<version>"``).
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


class _RetryableReply(Exception):
    def __init__(self, error: ErrorReply) -> None:
        self.error = error


class HttpClient:
    """Sends requests for one driver over one pooled ``requests.Session``.

    Args:
        config: Transport settings.
        retry: The retry policy.
        parse_error: The provider family's error-body parser.
    """

    def __init__(self, config: HttpConfig, retry: RetryPolicy, parse_error: ErrorParser) -> None:
        self.config = config
        self.retry = retry
        self._parse_error = parse_error
        self._session = requests.Session()
        self._session.trust_env = config.trust_env
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=4, pool_maxsize=config.pool_maxsize, max_retries=0
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._sleep: Callable[[float], None] = time.sleep

    def close(self) -> None:
        """Close every pooled connection."""
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

        Raises:
            LibstoreError: Whatever ``on_error`` returns for the final failure,
                :class:`TransportError` or :class:`RequestTimeoutError` for network
                failures, :class:`ResponseError` for an oversized reply.
        """

        def attempt(response: requests.Response) -> Reply:
            data = _read_limited(response, MAX_REPLY_BODY)
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

        return self._run(method, url, headers, body, sign, on_error, ok, idempotent, attempt)

    def open_stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        sign: Signer,
        on_error: ErrorMapper,
        ok: frozenset[int] = frozenset({200, 206}),
    ) -> requests.Response:
        """Send a bodiless request and return the streaming reply (the caller closes it)."""
        return self._run(method, url, headers, None, sign, on_error, ok, True, lambda r: r)

    # -- the retry loop ---------------------------------------------------------------------

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
        finish: Callable[[requests.Response], _T],
    ) -> _T:
        policy = self.retry
        attempt = 0
        while True:
            attempt += 1
            last = attempt >= policy.max_attempts
            started = time.monotonic()
            response: requests.Response | None = None
            failure: ErrorReply | None = None
            try:
                response = self._send_once(method, url, headers, body, sign)
                logger.debug(
                    "%s %s -> %d in %.1f ms (attempt %d)",
                    method,
                    redact_url(url),
                    response.status_code,
                    (time.monotonic() - started) * 1000,
                    attempt,
                )
                if response.status_code in ok:
                    try:
                        result = finish(response)
                    except BaseException:
                        response.close()
                        raise
                    if result is not response:  # streams are closed by their reader
                        response.close()
                    return result
                failure = self._parse_error(
                    response.status_code, response.headers, _read_limited(response, None)
                )
                response.close()
                retry_after = failure.headers.get("Retry-After")
                reason = f"status {failure.status} {failure.code or ''}".strip()
                retryable = policy.is_retryable(failure.status, failure.code)
            except _RetryableReply as exc:
                if response is not None:
                    response.close()
                failure = exc.error
                retry_after = None
                reason = f"error document {failure.code}"
                retryable = policy.is_retryable(None, failure.code)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                if response is not None:
                    response.close()
                sent_maybe = not _certainly_unsent(exc)
                if last or (sent_maybe and not idempotent) or not _is_retryable_transport(exc):
                    raise _transport_error(exc, method, url) from exc
                retry_after = None
                reason = type(exc).__name__
                retryable = True
            if failure is not None and (last or not retryable):
                raise on_error(failure)
            delay = policy.backoff(attempt, retry_after)
            logger.debug(
                "retrying %s %s after %s in %.2f s (attempt %d of %d)",
                method,
                redact_url(url),
                reason,
                delay,
                attempt + 1,
                policy.max_attempts,
            )
            self._sleep(delay)

    def _send_once(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: Body,
        sign: Signer,
    ) -> requests.Response:
        data: Any
        opened: IO[bytes] | None = None
        if callable(body):
            opened = data = body()
        else:
            data = body
        try:
            send_headers = {"User-Agent": self.config.user_agent}
            send_headers.update(headers or {})
            send_headers = sign(method, url, send_headers)
            prepared = requests.Request(method, url, headers=send_headers, data=data).prepare()
            # requests re-quotes URLs; the signature covers the URL exactly as built.
            prepared.url = url
            settings = self._session.merge_environment_settings(
                url, dict(self.config.proxies or {}), True, self.config.verify, None
            )
            return self._session.send(
                prepared,
                timeout=(self.config.connect_timeout, self.config.read_timeout),
                allow_redirects=False,
                **settings,
            )
        finally:
            if opened is not None:
                opened.close()


def _read_limited(response: requests.Response, limit: int | None) -> bytes:
    """Read a reply's body, at most ``limit`` bytes (``None``: an error body's bound)."""
    cap = MAX_ERROR_BODY if limit is None else limit
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_content(chunk_size=64 * 1024):
        chunks.append(chunk)
        total += len(chunk)
        if total > cap:
            if limit is None:
                break  # an error body: keep the first bytes, drop the rest unread
            raise ResponseError(f"reply body exceeds {cap} bytes", http_status=response.status_code)
    return b"".join(chunks)[:cap]


def _looks_like_error(data: bytes) -> bool:
    head = data[:512].lstrip()
    if head.startswith(b"<?xml"):
        end = head.find(b"?>")
        head = head[end + 2 :].lstrip() if end != -1 else head
    return head.startswith(b"<Error>") or head.startswith(b"<Error ")


def _certainly_unsent(exc: BaseException) -> bool:
    """Whether the request certainly never reached the server (safe to replay any method)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
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


def _is_retryable_transport(exc: BaseException) -> bool:
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.InvalidURL):
        return False
    return isinstance(
        exc,
        requests.exceptions.ConnectionError
        | requests.exceptions.Timeout
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError
        | urllib3.exceptions.HTTPError
        | ConnectionError
        | TimeoutError,
    )


def _transport_error(exc: BaseException, method: str, url: str) -> LibstoreError:
    where = f"{method} {redact_url(url)}"
    if isinstance(exc, requests.exceptions.Timeout | TimeoutError):
        return RequestTimeoutError(f"{where} timed out: {type(exc).__name__}")
    if isinstance(exc, requests.exceptions.SSLError):
        return TransportError(f"{where} failed TLS verification or negotiation")
    return TransportError(f"{where} failed: {type(exc).__name__}: {_short(exc)}")


def _short(exc: BaseException) -> str:
    """A one-line description of a transport error, without URLs (they may carry queries)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    if "://" in text or "?" in text:
        inner = _inner_reason(exc)
        return type(inner).__name__ if inner is not None else "connection failed"
    return text[:200]


def iter_response(response: requests.Response, chunk_size: int) -> Iterator[bytes]:
    """Yield a streamed reply's decoded body, closing the reply when done or abandoned."""
    try:
        yield from response.iter_content(chunk_size=chunk_size)
    finally:
        with contextlib.suppress(Exception):
            response.close()
