"""The retry policy: which failures are retried, how often, and how long to wait."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["RETRYABLE_CODES", "RETRYABLE_STATUSES", "RetryPolicy"]

#: HTTP statuses retried by default.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

#: Provider error codes retried whatever the status (S3 sends RequestTimeout as a 400).
RETRYABLE_CODES = frozenset(
    {
        "RequestTimeout",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalError",
        "ServiceUnavailable",
        "OperationAborted",
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """An immutable retry policy with capped exponential backoff and full jitter.

    The delay before retry ``n`` (1-based) is a random value between 0 and
    ``min(backoff_max, backoff_base * 2 ** (n - 1))``; a server's ``Retry-After``
    replaces it when larger, capped at ``retry_after_max``.

    Args:
        max_attempts: Total attempts per request, the first one included (default 5).
            ``1`` disables retries.
        backoff_base: Base of the exponential backoff in seconds (default 0.1).
        backoff_max: Upper bound of one backoff delay in seconds (default 20).
        retry_after_max: Upper bound honoured for a ``Retry-After`` header (default 30).
        statuses: HTTP statuses that are retried (default :data:`RETRYABLE_STATUSES`).
        codes: Provider error codes that are retried (default :data:`RETRYABLE_CODES`).
        transport: Retry network failures: refused or reset connections, timeouts,
            truncated replies (default ``True``). TLS failures are never retried,
            and a request that is not idempotent is replayed only when it certainly
            never reached the server.

    Defaults: 5 attempts; delays drawn from 0 to 0.1, 0.2, 0.4, 0.8 s (doubling,
    capped at 20 s); ``Retry-After`` honoured up to 30 s; 429, 500, 502, 503 and
    504 retried, and the codes ``RequestTimeout``, ``SlowDown``, ``Throttling``,
    ``ThrottlingException``, ``RequestLimitExceeded``, ``InternalError``,
    ``ServiceUnavailable`` and ``OperationAborted`` whatever their status.
    """

    max_attempts: int = 5
    backoff_base: float = 0.1
    backoff_max: float = 20.0
    retry_after_max: float = 30.0
    statuses: frozenset[int] = field(default=RETRYABLE_STATUSES)
    codes: frozenset[str] = field(default=RETRYABLE_CODES)
    transport: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise TypeError("max_attempts must be an int")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.backoff_base < 0 or self.backoff_max < 0 or self.retry_after_max < 0:
            raise ValueError("backoff values must not be negative")
        if not isinstance(self.transport, bool):
            raise TypeError("transport must be True or False")

    def new(self, **changes: object) -> RetryPolicy:
        """Return a copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def is_retryable(self, status: int | None, code: str | None = None) -> bool:
        """Whether a reply with this status and provider error code should be retried."""
        return (status is not None and status in self.statuses) or (
            code is not None and code in self.codes
        )

    def backoff(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retrying after failed attempt number ``attempt`` (1-based)."""
        exponent = min(max(attempt - 1, 0), 64)
        ceiling = min(self.backoff_max, self.backoff_base * 2.0**exponent)
        delay = random.uniform(0, ceiling)
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            delay = max(delay, min(hinted, self.retry_after_max))
        return delay


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header (seconds or an HTTP date) into seconds, or ``None``."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
