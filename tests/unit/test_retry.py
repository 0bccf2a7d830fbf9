"""Tests for libstore.http.retry: the policy, backoff with full jitter, Retry-After."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest

import libstore.http.retry as retry_module
from libstore.http.retry import (
    RETRYABLE_CODES,
    RETRYABLE_STATUSES,
    RetryPolicy,
    parse_retry_after,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def uniform_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """Record the bounds passed to random.uniform and return the upper one."""
    calls: list[tuple[float, float]] = []

    def fake(low: float, high: float) -> float:
        calls.append((low, high))
        return high

    monkeypatch.setattr(retry_module.random, "uniform", fake)
    return calls


# -- policy --------------------------------------------------------------------------------


def test_defaults() -> None:
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.backoff_base, policy.backoff_max) == (5, 0.1, 20.0)
    assert policy.retry_after_max == 30.0
    assert policy.statuses == RETRYABLE_STATUSES == {429, 500, 502, 503, 504}
    assert policy.codes == RETRYABLE_CODES
    assert {"RequestTimeout", "SlowDown", "InternalError"} <= RETRYABLE_CODES


def test_policy_is_immutable() -> None:
    policy = RetryPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_attempts = 1  # type: ignore[misc]
    assert isinstance(policy.statuses, frozenset)
    assert isinstance(policy.codes, frozenset)
    assert hash(policy) == hash(RetryPolicy())


def test_new_returns_a_changed_copy() -> None:
    policy = RetryPolicy()
    changed = policy.new(max_attempts=2, backoff_base=0)
    assert (changed.max_attempts, changed.backoff_base) == (2, 0)
    assert policy.max_attempts == 5
    assert changed is not policy
    assert changed.statuses == policy.statuses


def test_new_validates() -> None:
    with pytest.raises(ValueError):
        RetryPolicy().new(max_attempts=0)
    with pytest.raises(TypeError):
        RetryPolicy().new(no_such_field=1)


@pytest.mark.parametrize("value", [1.0, "3", None, True, False])
def test_max_attempts_must_be_an_int(value: Any) -> None:
    with pytest.raises(TypeError):
        RetryPolicy(max_attempts=value)


@pytest.mark.parametrize("value", [0, -1])
def test_max_attempts_must_be_positive(value: int) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=value)


@pytest.mark.parametrize("field", ["backoff_base", "backoff_max", "retry_after_max"])
def test_backoff_values_must_not_be_negative(field: str) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**{field: -0.001})
    assert getattr(RetryPolicy(**{field: 0}), field) == 0


def test_one_attempt_disables_retries() -> None:
    assert RetryPolicy(max_attempts=1).max_attempts == 1


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (500, None, True),
        (502, None, True),
        (503, None, True),
        (504, None, True),
        (429, None, True),
        (501, None, False),
        (400, None, False),
        (403, None, False),
        (404, None, False),
        (400, "RequestTimeout", True),
        (200, "InternalError", True),
        (None, "SlowDown", True),
        (None, "OperationAborted", True),
        (403, "AccessDenied", False),
        (None, None, False),
        (None, "requesttimeout", False),
    ],
)
def test_is_retryable(status: int | None, code: str | None, expected: bool) -> None:
    assert RetryPolicy().is_retryable(status, code) is expected


def test_custom_statuses_and_codes() -> None:
    policy = RetryPolicy(statuses=frozenset({418}), codes=frozenset({"Teapot"}))
    assert policy.is_retryable(418)
    assert not policy.is_retryable(500)
    assert policy.is_retryable(400, "Teapot")
    assert not policy.is_retryable(400, "SlowDown")


# -- backoff -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(0, 0.5), (1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 10.0), (30, 10.0)],
)
def test_backoff_ceiling_is_capped_exponential(
    uniform_calls: list[tuple[float, float]], attempt: int, ceiling: float
) -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=10)
    assert policy.backoff(attempt) == ceiling
    assert uniform_calls == [(0, ceiling)]


def test_full_jitter_stays_within_bounds_and_spreads() -> None:
    random.seed(1234)
    policy = RetryPolicy(backoff_base=1, backoff_max=100)
    delays = [policy.backoff(4) for _ in range(2000)]  # ceiling 8
    assert all(0 <= d <= 8 for d in delays)
    assert min(delays) < 0.5
    assert max(delays) > 7.5
    assert 3 < sum(delays) / len(delays) < 5  # uniform: mean is ceiling / 2


def test_zero_base_means_no_delay() -> None:
    policy = RetryPolicy(backoff_base=0)
    assert {policy.backoff(n) for n in range(1, 10)} == {0.0}


def test_backoff_never_exceeds_max_for_many_attempts() -> None:
    policy = RetryPolicy(backoff_base=0.1, backoff_max=20, max_attempts=100)
    assert all(0 <= policy.backoff(n) <= 20 for n in range(1, 101))


def test_backoff_for_a_very_late_attempt_is_capped() -> None:
    policy = RetryPolicy(backoff_base=0.1, backoff_max=20, max_attempts=5000)
    assert 0 <= policy.backoff(1100) <= 20


def test_retry_after_raises_the_delay(uniform_calls: list[tuple[float, float]]) -> None:
    policy = RetryPolicy(backoff_base=0.1)
    assert policy.backoff(1, "2") == 2.0


def test_retry_after_smaller_than_jitter_does_not_lower_it(
    uniform_calls: list[tuple[float, float]],
) -> None:
    policy = RetryPolicy(backoff_base=4)
    assert policy.backoff(2, "1") == 8.0


def test_retry_after_is_capped(uniform_calls: list[tuple[float, float]]) -> None:
    policy = RetryPolicy(backoff_base=0, retry_after_max=30)
    assert policy.backoff(1, "3600") == 30.0
    assert RetryPolicy(backoff_base=0, retry_after_max=0).backoff(1, "5") == 0.0


def test_unparseable_retry_after_is_ignored(uniform_calls: list[tuple[float, float]]) -> None:
    policy = RetryPolicy(backoff_base=0)
    assert policy.backoff(1, "soon") == 0.0
    assert policy.backoff(1, None) == 0.0


# -- Retry-After parsing -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [("0", 0.0), ("2", 2.0), (" 7 ", 7.0), ("120", 120.0)]
)
def test_retry_after_seconds(value: str, expected: float) -> None:
    assert parse_retry_after(value) == expected


@pytest.mark.parametrize("value", [None, "", "  ", "-1", "1.5", "1e3", "abc", "0x10", "2 s"])
def test_retry_after_invalid_is_none(value: str | None) -> None:
    assert parse_retry_after(value) is None


def test_retry_after_http_date_in_the_future() -> None:
    value = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(value, now=NOW) == 90.0


def test_retry_after_http_date_in_the_past_is_zero() -> None:
    value = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(value, now=NOW) == 0.0


def test_retry_after_obsolete_date_formats() -> None:
    # RFC 850 and asctime forms are still valid HTTP dates (RFC 9110, 5.6.7).
    assert parse_retry_after("Thursday, 01-Jan-26 12:01:00 GMT", now=NOW) == 60.0
    assert parse_retry_after("Thu Jan  1 12:00:30 2026", now=NOW) == 30.0


def test_retry_after_date_with_offset() -> None:
    value = (NOW + timedelta(seconds=45)).astimezone(timezone(timedelta(hours=-5)))
    assert parse_retry_after(format_datetime(value), now=NOW) == 45.0


def test_retry_after_date_defaults_to_now() -> None:
    value = format_datetime(datetime.now(UTC) + timedelta(seconds=100), usegmt=True)
    delay = parse_retry_after(value)
    assert delay is not None
    assert 95 <= delay <= 100


@pytest.mark.parametrize("value", ["\u00b2", "\u00b9\u00b3"])
def test_retry_after_non_ascii_digits_are_ignored(value: str) -> None:
    assert parse_retry_after(value) is None
