"""Event hooks and transfer statistics: what libstore did, for metrics and tracing.

Callers register callbacks on an :class:`EventHooks` registry (one per driver by
default, or shared through :attr:`ClientOptions.hooks
<libstore.http.options.ClientOptions.hooks>`), and libstore calls them with a small,
immutable :class:`Event`. That is enough to feed Prometheus, StatsD or
OpenTelemetry without libstore depending on any of them (``contrib/`` has an
OpenTelemetry adapter)::

    from libstore import ClientOptions, EventHooks

    hooks = EventHooks()

    @hooks.on("response_received")
    def count(event):
        REQUESTS.labels(event.method, str(event.status)).inc()

    driver = S3StorageDriver(key, secret, options=ClientOptions(hooks=hooks))

Event kinds (:data:`EVENT_KINDS`), in the order a request sees them:

``request_sent``
    the HTTP layer hands a request to a connection (``bytes``: the body length when
    known, ``attempt``: 1 for the first try).
``response_received``
    a status line and headers arrived (``status``, ``duration`` since the request was
    sent, ``bytes``: the body length read, or announced for a streamed download,
    ``request_id``).
``request_failed``
    an attempt ended without any reply: connection refused or reset, timeout, TLS
    failure (``error``). Every ``request_sent`` is followed by exactly one
    ``response_received`` or ``request_failed``.
``retry_scheduled``
    the attempt will be retried after ``delay`` seconds (``status`` or ``error``
    says why; ``attempt`` is the attempt that failed).
``part_completed``
    one part of a multipart transfer is done (``part_number``, ``bytes``,
    ``duration``); emitted by the transfer layer through :func:`part_completed`.
``transfer_finished``
    a high-level operation (upload, download, delete, copy) ended, successfully
    or not (``operation``, ``bytes``, ``duration``, ``error``, and ``stats``, its
    :class:`TransferStats`).

Secrets never reach an event: URLs are passed through
:func:`libstore.auth.redact_url` (presigned signatures and security tokens
become ``<redacted>``), no headers are carried, and ``error`` is the exception's
type and libstore's own (secret-free) message.

Callbacks run synchronously on the thread doing the work, so they should be
quick. An exception raised by a callback is logged (logger ``libstore.hooks``)
and otherwise ignored: observability never breaks a transfer.

Transfer context
----------------

A high-level operation runs inside :func:`track_transfer`, which makes its
:class:`TransferStats` the *current transfer* of the calling context (a
:mod:`contextvars` variable). The HTTP layer counts every request and retry into
it, the transfer layer adds parts and bytes, and when the operation ends the
statistics are frozen, logged at INFO and emitted as ``transfer_finished``;
:func:`last_transfer_stats` returns them afterwards. Work handed to other
threads must carry the context along: submit ``bind_context(fn)`` instead of
``fn`` (see :func:`bind_context`).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, ParamSpec, TypeVar

from libstore.types import InvalidArgumentError

__all__ = [
    "EVENT_KINDS",
    "Event",
    "EventCallback",
    "EventHooks",
    "TransferStats",
    "bind_context",
    "current_transfer",
    "last_transfer_stats",
    "part_completed",
    "track_transfer",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: Every event kind, in the order a request and a transfer see them.
EVENT_KINDS: Final[frozenset[str]] = frozenset(
    {
        "request_sent",
        "response_received",
        "request_failed",
        "retry_scheduled",
        "part_completed",
        "transfer_finished",
    }
)

_hooks_logger = logging.getLogger("libstore.hooks")


@dataclass(frozen=True, slots=True)
class Event:
    """One thing libstore did; immutable and free of secrets.

    Attributes:
        kind: One of :data:`EVENT_KINDS`.
        method: The HTTP method (``""`` for transfer events).
        url: The request URL with presigned signatures and tokens redacted
            (``""`` for transfer events).
        status: The HTTP status, when there was a reply.
        bytes: Body bytes: sent (``request_sent``), received or announced
            (``response_received``), of the part (``part_completed``), or
            moved by the whole operation (``transfer_finished``).
        duration: Seconds: since the request was sent (``response_received``,
            ``request_failed``), of the part, or of the whole operation.
        attempt: 1 for a first attempt, 2 for the first retry, and so on.
        error: ``"ExceptionType: message"`` of a failure, else ``None``.
        delay: Seconds until the retry (``retry_scheduled`` only).
        operation: The high-level operation in progress (``"upload"``,
            ``"download"``, ``"delete"``, ``"copy"``), if any.
        container: The container of that operation, if known.
        object_name: The object of that operation, if known.
        part_number: The part (``part_completed``), 1-based.
        request_id: The provider's request id of the reply (``x-amz-request-id``).
        driver: The provider name of the driver (``"Amazon S3"``…), if known.
        stats: The operation's statistics (``transfer_finished`` only).
        timestamp: Wall-clock time of the event (``time.time()``).
    """

    kind: str
    method: str = ""
    url: str = ""
    status: int | None = None
    bytes: int | None = None
    duration: float | None = None
    attempt: int = 1
    error: str | None = None
    delay: float | None = None
    operation: str | None = None
    container: str | None = None
    object_name: str | None = None
    part_number: int | None = None
    request_id: str | None = None
    driver: str | None = None
    stats: TransferStats | None = None
    timestamp: float = field(default_factory=time.time)


#: A hook callback: called with each event of the kinds it was registered for.
EventCallback = Callable[[Event], object]


class EventHooks:
    """A thread-safe registry of event callbacks.

    Registration is copy-on-write, so :meth:`emit` takes no lock and costs one
    dictionary lookup when nobody listens. One registry may be shared by many
    drivers (pass it as ``ClientOptions(hooks=...)``); by default each driver
    has its own, reachable as ``driver.hooks``.

    Args:
        raise_errors: Re-raise exceptions from callbacks instead of logging them
            (for tests; never in production: a failing metrics exporter would
            then fail transfers).
    """

    __slots__ = ("_callbacks", "_lock", "_raise_errors")

    def __init__(self, *, raise_errors: bool = False) -> None:
        self._callbacks: dict[str, tuple[EventCallback, ...]] = {}
        self._lock = threading.Lock()
        self._raise_errors = bool(raise_errors)

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={len(v)}" for k, v in sorted(self._callbacks.items()) if v)
        return f"EventHooks({counts})"

    @staticmethod
    def _kinds(kinds: str | Iterable[str]) -> tuple[str, ...]:
        names = (kinds,) if isinstance(kinds, str) else tuple(kinds)
        if not names:
            raise InvalidArgumentError("name at least one event kind")
        if "*" in names:
            return tuple(sorted(EVENT_KINDS))
        for name in names:
            if name not in EVENT_KINDS:
                raise InvalidArgumentError(
                    f"unknown event kind {name!r}; expected one of {sorted(EVENT_KINDS)} or '*'"
                )
        return names

    def register(self, kinds: str | Iterable[str], callback: EventCallback) -> Callable[[], None]:
        """Call ``callback`` for every event of ``kinds``.

        Args:
            kinds: An event kind, several, or ``"*"`` for all of them.
            callback: Called with each :class:`Event`; its return value is ignored.

        Returns:
            A function that unregisters the callback again.

        Raises:
            InvalidArgumentError: An unknown kind, or ``callback`` is not callable.
        """
        if not callable(callback):
            raise InvalidArgumentError("callback must be callable")
        names = self._kinds(kinds)
        with self._lock:
            updated = dict(self._callbacks)
            for name in names:
                updated[name] = (*updated.get(name, ()), callback)
            self._callbacks = updated

        def unregister() -> None:
            self.unregister(names, callback)

        return unregister

    def on(self, *kinds: str) -> Callable[[Callable[[Event], _R]], Callable[[Event], _R]]:
        """Decorator form of :meth:`register`: ``@hooks.on("retry_scheduled")``."""

        def decorate(callback: Callable[[Event], _R]) -> Callable[[Event], _R]:
            self.register(kinds or "*", callback)
            return callback

        return decorate

    def unregister(self, kinds: str | Iterable[str], callback: EventCallback) -> bool:
        """Remove ``callback`` from ``kinds``; return whether it was registered anywhere."""
        names = self._kinds(kinds)
        removed = False
        with self._lock:
            updated = dict(self._callbacks)
            for name in names:
                current = updated.get(name, ())
                kept = tuple(cb for cb in current if cb is not callback)
                removed = removed or len(kept) != len(current)
                updated[name] = kept
            self._callbacks = updated
        return removed

    def clear(self) -> None:
        """Remove every callback."""
        with self._lock:
            self._callbacks = {}

    def wants(self, kind: str) -> bool:
        """Whether any callback listens to ``kind`` (emitters skip building events otherwise)."""
        return bool(self._callbacks.get(kind))

    def emit(self, event: Event) -> None:
        """Call the callbacks registered for ``event.kind``, in registration order.

        A callback's exception is logged on ``libstore.hooks`` and does not stop
        the other callbacks (unless the registry was built with ``raise_errors``).
        """
        for callback in self._callbacks.get(event.kind, ()):
            try:
                callback(event)
            except Exception as exc:
                if self._raise_errors:
                    raise
                _hooks_logger.warning(
                    "event hook %s failed on %s: %s",
                    getattr(callback, "__qualname__", type(callback).__name__),
                    event.kind,
                    type(exc).__name__,
                )


# -- transfer statistics ------------------------------------------------------------------


@dataclass(eq=False)
class TransferStats:
    """Statistics of one high-level operation, filled while it runs; thread-safe.

    The HTTP layer counts requests and retries, the transfer layer adds bytes and
    parts (from any number of worker threads), and :func:`track_transfer` sets
    :attr:`finished` and :attr:`error` when the operation ends.

    Attributes:
        operation: ``"upload"``, ``"download"``, ``"delete"`` or ``"copy"``.
        container: The container, if known.
        object_name: The object, if known.
        bytes_total: The size the operation will move, when known in advance.
        bytes_transferred: Payload bytes moved so far (retried bytes count once).
        parts: Parts completed (0 for single-request transfers).
        requests: HTTP attempts made, retries included.
        retries: Attempts that were retried (HTTP retries and download resumptions).
        started: ``time.monotonic()`` at the start.
        finished: ``time.monotonic()`` at the end, ``None`` while running.
        error: ``"ExceptionType: message"`` if the operation failed.
    """

    operation: str
    container: str | None = None
    object_name: str | None = None
    bytes_total: int | None = None
    bytes_transferred: int = 0
    parts: int = 0
    requests: int = 0
    retries: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    error: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def elapsed(self) -> float:
        """Seconds from the start to the end (or to now, while running)."""
        end = self.finished if self.finished is not None else time.monotonic()
        return max(0.0, end - self.started)

    @property
    def rate(self) -> float:
        """Average payload bytes per second (0.0 before any time has passed)."""
        elapsed = self.elapsed
        return self.bytes_transferred / elapsed if elapsed > 0 else 0.0

    @property
    def succeeded(self) -> bool:
        """Whether the operation finished without error."""
        return self.finished is not None and self.error is None

    def add_bytes(self, count: int) -> None:
        """Count ``count`` more payload bytes."""
        with self._lock:
            self.bytes_transferred += count

    def add_part(self, size: int | None = None) -> None:
        """Count one completed part, and its ``size`` in bytes when given."""
        with self._lock:
            self.parts += 1
            if size:
                self.bytes_transferred += size

    def add_request(self) -> None:
        """Count one HTTP attempt."""
        with self._lock:
            self.requests += 1

    def add_retry(self) -> None:
        """Count one retried attempt."""
        with self._lock:
            self.retries += 1

    def finish(self, error: BaseException | None = None) -> None:
        """Mark the operation as ended now (once; later calls change nothing)."""
        with self._lock:
            if self.finished is None:
                self.finished = time.monotonic()
                if error is not None:
                    self.error = describe_error(error)


@dataclass
class _Transfer:
    """The current transfer of a context: its stats and where to report them."""

    stats: TransferStats
    hooks: EventHooks | None
    driver: str | None


_CURRENT: contextvars.ContextVar[_Transfer | None] = contextvars.ContextVar(
    "libstore_transfer", default=None
)
_LAST: contextvars.ContextVar[TransferStats | None] = contextvars.ContextVar(
    "libstore_last_transfer", default=None
)


def current_transfer() -> TransferStats | None:
    """The statistics of the operation running in this context, or ``None``."""
    transfer = _CURRENT.get()
    return transfer.stats if transfer is not None else None


def last_transfer_stats() -> TransferStats | None:
    """The statistics of the last operation that finished in this context (thread).

    Example::

        driver.upload_object("big.iso", container, "big.iso")
        stats = libstore.last_transfer_stats()
        print(stats.bytes_transferred, stats.parts, stats.retries, stats.rate)
    """
    return _LAST.get()


def _current() -> _Transfer | None:
    return _CURRENT.get()


@contextlib.contextmanager
def track_transfer(
    operation: str,
    *,
    container: str | None = None,
    object_name: str | None = None,
    bytes_total: int | None = None,
    hooks: EventHooks | None = None,
    driver: str | None = None,
    logger: logging.Logger | None = None,
) -> Iterator[TransferStats]:
    """Run a high-level operation as the current transfer of this context.

    On exit the statistics are finished, logged at INFO on ``logger`` (one line),
    emitted as a ``transfer_finished`` event on ``hooks`` and remembered for
    :func:`last_transfer_stats`. Nested calls (an operation made of other
    operations) join the outer transfer: they yield its statistics and report
    nothing themselves.

    Args:
        operation: ``"upload"``, ``"download"``, ``"delete"`` or ``"copy"``.
        container: The container's name.
        object_name: The object's name.
        bytes_total: The size to move, if known.
        hooks: Where to emit ``transfer_finished`` (and where the transfer
            layer's ``part_completed`` goes).
        driver: The provider name, for events.
        logger: Where to log the summary line; ``None`` logs nothing.

    Yields:
        The operation's :class:`TransferStats`.
    """
    outer = _CURRENT.get()
    if outer is not None:
        yield outer.stats
        return
    stats = TransferStats(operation, container, object_name, bytes_total)
    token = _CURRENT.set(_Transfer(stats, hooks, driver))
    failure: BaseException | None = None
    try:
        yield stats
    except BaseException as exc:
        failure = exc
        raise
    finally:
        _CURRENT.reset(token)
        stats.finish(failure)
        _report_finished(stats, hooks, driver, logger)


def _report_finished(
    stats: TransferStats,
    hooks: EventHooks | None,
    driver: str | None,
    logger: logging.Logger | None,
) -> None:
    """Remember, log and emit a finished transfer."""
    _LAST.set(stats)
    if logger is not None and logger.isEnabledFor(logging.INFO):
        _log_summary(logger, stats)
    if hooks is not None and hooks.wants("transfer_finished"):
        hooks.emit(
            Event(
                "transfer_finished",
                bytes=stats.bytes_transferred,
                duration=stats.elapsed,
                attempt=stats.requests,
                error=stats.error,
                operation=stats.operation,
                container=stats.container,
                object_name=stats.object_name,
                driver=driver,
                stats=stats,
            )
        )


def part_completed(
    part_number: int,
    size: int,
    duration: float | None = None,
    *,
    attempt: int = 1,
    method: str = "",
    url: str = "",
) -> None:
    """Report one completed part of the current transfer (for the transfer layer).

    Counts the part and its bytes into the current :class:`TransferStats` and
    emits a ``part_completed`` event on the transfer's hooks. Outside a tracked
    transfer it does nothing. Safe to call from worker threads that run in a
    copy of the transfer's context (:func:`bind_context`).

    Args:
        part_number: The part, 1-based.
        size: Its payload bytes.
        duration: Seconds the part took, retries included.
        attempt: The attempt that succeeded (1 when it was not retried).
        method: The HTTP method of the part request (``PUT``, ``GET``…).
        url: The part request's URL; it is redacted before it is emitted.
    """
    transfer = _CURRENT.get()
    if transfer is None:
        return
    transfer.stats.add_part(size)
    hooks = transfer.hooks
    if hooks is not None and hooks.wants("part_completed"):
        stats = transfer.stats
        hooks.emit(
            Event(
                "part_completed",
                method=method,
                url=_redact(url) if url else "",
                bytes=size,
                duration=duration,
                attempt=attempt,
                operation=stats.operation,
                container=stats.container,
                object_name=stats.object_name,
                part_number=part_number,
                driver=transfer.driver,
            )
        )


def bind_context(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Wrap ``fn`` to run in a copy of the *current* context, wherever it is called.

    Thread pools do not carry :mod:`contextvars` over to their workers; submit
    ``bind_context(upload_part)`` instead of ``upload_part`` so that requests made
    by the worker count into the current transfer and obey the current
    :func:`~libstore.http.options.call_options`. Each call gets its own copy, so
    the wrapper may run on many threads at once.
    """
    context = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return context.copy().run(fn, *args, **kwargs)

    return run


def describe_error(exc: BaseException) -> str:
    """``"Type: message"`` of an exception, first line only, at most 300 characters."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {_redact_text(text)[:300]}" if text else type(exc).__name__


def format_size(count: float) -> str:
    """Bytes in binary units: ``512 B``, ``1.5 KiB``, ``12.0 MiB``."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover - the loop always returns


def _log_summary(logger: logging.Logger, stats: TransferStats) -> None:
    where = "/".join(part for part in (stats.container, stats.object_name) if part) or "-"
    retries = f"{stats.retries} retr{'y' if stats.retries == 1 else 'ies'}"
    requests_ = f"{stats.requests} request{'' if stats.requests == 1 else 's'}"
    parts = f", {stats.parts} parts" if stats.parts else ""
    extra = {
        "libstore_operation": stats.operation,
        "libstore_container": stats.container,
        "libstore_object": stats.object_name,
        "libstore_bytes": stats.bytes_transferred,
        "libstore_duration": stats.elapsed,
        "libstore_retries": stats.retries,
        "libstore_error": stats.error,
    }
    if stats.error is None:
        logger.info(
            "%s %s: %s in %.3f s (%s/s), %s, %s%s",
            stats.operation,
            where,
            format_size(stats.bytes_transferred),
            stats.elapsed,
            format_size(stats.rate),
            requests_,
            retries,
            parts,
            extra=extra,
        )
    else:
        logger.info(
            "%s %s failed after %.3f s (%s moved, %s, %s%s): %s",
            stats.operation,
            where,
            stats.elapsed,
            format_size(stats.bytes_transferred),
            requests_,
            retries,
            parts,
            stats.error,
            extra=extra,
        )


def _redact(url: str) -> str:
    from libstore.auth import redact_url  # the signer module: imported only when needed

    return redact_url(url)


def _redact_text(text: str) -> str:
    from libstore.http.logs import redact_text

    return redact_text(text)
