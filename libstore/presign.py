"""Presigned URLs and browser POST policies for S3, with their validation.

The S3 driver's :meth:`~libstore.drivers.s3.S3StorageDriver.presign`,
:meth:`~libstore.drivers.s3.S3StorageDriver.presign_post` and
``get_object_cdn_url`` are built from the pieces here; they are public so that
other S3-compatible code can reuse them.

**Expiry.** A presigned URL lives 1 second to 7 days (SigV4's limit). A URL signed
with temporary credentials stops working when they expire, whatever its
``X-Amz-Expires`` says. libstore never hands out a URL that claims to outlive its
credentials without saying so: by default (``credential_expiry="cap"``) the
expiry is shortened to the credentials' remaining lifetime, a
:class:`PresignExpiryWarning` is emitted, and the result's ``capped`` is ``True``;
with ``credential_expiry="raise"`` an :class:`~libstore.types.InvalidArgumentError`
is raised instead.
"""

from __future__ import annotations

import base64
import hmac
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import Any, Final, Literal

from libstore.auth import (
    ALGORITHM,
    MAX_PRESIGN_EXPIRES,
    Credentials,
    amz_date,
    credential_scope,
    derive_signing_key,
    redact_url,
)
from libstore.types import InvalidArgumentError

__all__ = [
    "MAX_EXPIRES",
    "MIN_EXPIRES",
    "PRESIGN_METHODS",
    "RESPONSE_OVERRIDES",
    "CredentialExpiry",
    "PresignExpiryWarning",
    "PresignedPost",
    "PresignedRequest",
    "build_post_policy",
    "check_expires",
    "fit_expiry",
    "response_override_query",
    "sign_post_policy",
]

#: Shortest lifetime of a presigned URL, in seconds.
MIN_EXPIRES: Final = 1
#: Longest lifetime of a presigned URL, in seconds (7 days, SigV4's limit).
MAX_EXPIRES: Final = MAX_PRESIGN_EXPIRES

#: The methods :meth:`presign` signs (browser uploads use :meth:`presign_post`).
PRESIGN_METHODS: Final = frozenset({"GET", "PUT", "HEAD", "DELETE"})

#: ``response_headers`` keys and the S3 query parameters that override reply headers.
RESPONSE_OVERRIDES: Final[Mapping[str, str]] = {
    "content_type": "response-content-type",
    "content_disposition": "response-content-disposition",
    "content_encoding": "response-content-encoding",
    "content_language": "response-content-language",
    "cache_control": "response-cache-control",
    "expires": "response-expires",
}

#: What to do when the credentials expire before the requested expiry.
CredentialExpiry = Literal["cap", "raise"]

# Form fields the signer sets; a caller may not pass them.
_SIGNER_FIELDS = frozenset(
    {
        "policy",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-algorithm",
        "x-amz-date",
        "x-amz-security-token",
        "key",
        "bucket",
        "file",
    }
)
_CONDITION_OPS = frozenset({"eq", "starts-with"})


class PresignExpiryWarning(UserWarning):
    """A presigned URL or POST policy was shortened to its credentials' lifetime."""


@dataclass(frozen=True)
class PresignedRequest:
    """A presigned request: send ``method`` to ``url`` with ``headers``.

    Attributes:
        method: The HTTP method the URL is signed for.
        url: The presigned URL (a bearer credential until it expires: do not log it).
        headers: Headers the user of the URL must send exactly as given (they are
            signed); empty for a plain GET.
        expires_at: When the URL stops working.
        capped: Whether the expiry was shortened to the credentials' lifetime.
    """

    method: str
    url: str = field(repr=False)
    headers: Mapping[str, str]
    expires_at: datetime
    capped: bool = False

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return (
            f"PresignedRequest(method={self.method!r}, url={redact_url(self.url)!r}, "
            f"headers={dict(self.headers)!r}, expires_at={self.expires_at.isoformat()!r}, "
            f"capped={self.capped})"
        )


@dataclass(frozen=True)
class PresignedPost:
    """A browser upload form: POST ``fields`` plus a ``file`` field to ``url``.

    Put the ``file`` field last, after every field of ``fields``, as S3 ignores
    fields that follow the file. ``key`` may contain ``${filename}``, which S3
    replaces with the uploaded file's name.

    Attributes:
        url: The form's action URL (the bucket).
        fields: The form fields, policy and signature included.
        expires_at: When the policy expires.
        capped: Whether the expiry was shortened to the credentials' lifetime.
    """

    url: str
    fields: Mapping[str, str] = field(repr=False)
    expires_at: datetime
    capped: bool = False

    def __repr__(self) -> str:
        names = sorted(self.fields)
        return (
            f"PresignedPost(url={self.url!r}, fields={names!r}, "
            f"expires_at={self.expires_at.isoformat()!r}, capped={self.capped})"
        )


def check_expires(expires: int | timedelta, what: str = "expires") -> int:
    """Validate a presigned URL's lifetime and return it in whole seconds.

    Args:
        expires: Seconds (an int) or a :class:`~datetime.timedelta` of whole seconds.
        what: The argument's name, for the error message.

    Raises:
        InvalidArgumentError: Not 1 second to 7 days, or not a whole number of seconds.
    """
    seconds: Any = expires
    if isinstance(expires, timedelta):
        total = expires.total_seconds()
        if total != int(total):
            raise InvalidArgumentError(f"{what} must be a whole number of seconds, not {expires}")
        seconds = int(total)
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise InvalidArgumentError(
            f"{what} must be an int number of seconds or a timedelta, not {expires!r}"
        )
    if not MIN_EXPIRES <= seconds <= MAX_EXPIRES:
        raise InvalidArgumentError(
            f"{what} must be from {MIN_EXPIRES} second to {MAX_EXPIRES} seconds (7 days), "
            f"not {seconds}"
        )
    return seconds


def fit_expiry(
    expires: int,
    credentials: Credentials,
    now: datetime,
    policy: CredentialExpiry = "cap",
) -> tuple[int, bool]:
    """Shorten ``expires`` to the credentials' remaining lifetime when needed.

    Returns:
        ``(seconds, capped)``.

    Raises:
        InvalidArgumentError: The credentials expire first and ``policy`` is
            ``"raise"``, or ``policy`` is unknown.
    """
    if policy not in ("cap", "raise"):
        raise InvalidArgumentError(f"credential_expiry must be 'cap' or 'raise', not {policy!r}")
    if credentials.expires_at is None:
        return expires, False
    remaining = math.floor((credentials.expires_at - now).total_seconds())
    if expires <= remaining:
        return expires, False
    if policy == "raise" or remaining < MIN_EXPIRES:
        raise InvalidArgumentError(
            f"the signing credentials expire at {credentials.expires_at.isoformat()}, "
            f"{max(remaining, 0)} s from now, before the {expires} s asked for"
        )
    warnings.warn(
        f"presigned with temporary credentials that expire in {remaining} s: the expiry "
        f"was shortened from {expires} s to {remaining} s",
        PresignExpiryWarning,
        stacklevel=3,
    )
    return remaining, True


def response_override_query(
    response_headers: Mapping[str, str] | None,
) -> list[tuple[str, str]]:
    """The ``response-*`` query parameters for reply-header overrides.

    Keys are ``content_type``, ``content_disposition``, ``content_encoding``,
    ``content_language``, ``cache_control`` and ``expires`` (or the
    ``response-*`` parameter names, or the header names such as ``Content-Type``).

    Raises:
        InvalidArgumentError: An unknown key or a non-string value.
    """
    if not response_headers:
        return []
    if not isinstance(response_headers, Mapping):
        raise InvalidArgumentError("response_headers must be a mapping")
    by_param = {param: param for param in RESPONSE_OVERRIDES.values()}
    out: dict[str, str] = {}
    for key, value in response_headers.items():
        if not isinstance(key, str):
            raise InvalidArgumentError(f"response_headers keys must be str, not {key!r}")
        normalised = key.strip().lower().replace("-", "_")
        param = RESPONSE_OVERRIDES.get(normalised) or by_param.get(key.strip().lower())
        if param is None:
            raise InvalidArgumentError(
                f"unknown response header override {key!r}; expected one of "
                f"{sorted(RESPONSE_OVERRIDES)}"
            )
        if not isinstance(value, str) or any(ord(c) < 0x20 and c != "\t" for c in value):
            raise InvalidArgumentError(
                f"response header override {key!r} must be a string without control characters"
            )
        if param in out:
            raise InvalidArgumentError(f"response header override {key!r} is given twice")
        out[param] = value
    return sorted(out.items())


def build_post_policy(
    *,
    bucket: str,
    key: str | None,
    key_prefix: str | None,
    credentials: Credentials,
    region: str,
    now: datetime,
    expires: int,
    fields: Mapping[str, str] | None = None,
    conditions: Sequence[Mapping[str, str] | Sequence[Any]] | None = None,
    content_length_range: tuple[int, int] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Build a SigV4 POST policy document and the form fields that go with it.

    ``key`` is the exact object key, or ends with ``${filename}`` (the policy then
    allows any key with what comes before it); ``key_prefix`` allows any key under
    the prefix (the ``key`` field is then ``<prefix>${filename}``). Every entry of
    ``fields`` becomes a form field and, unless a condition of ``conditions``
    already covers it, an exact-match condition.

    Returns:
        ``(policy, fields)``: the policy document (not yet encoded) and the form
        fields without ``policy`` and ``x-amz-signature``.

    Raises:
        InvalidArgumentError: Conflicting or malformed key, fields or conditions.
    """
    if (key is None) == (key_prefix is None):
        raise InvalidArgumentError("pass exactly one of key and key_prefix")
    if key is not None and (not isinstance(key, str) or not key):
        raise InvalidArgumentError("key must be a non-empty str")
    if key_prefix is not None and not isinstance(key_prefix, str):
        raise InvalidArgumentError("key_prefix must be a str")
    scope = credential_scope(now, region, "s3")
    form: dict[str, str] = {}
    policy_conditions: list[Any] = [{"bucket": bucket}]
    if key_prefix is not None:
        form["key"] = key_prefix + "${filename}"
        policy_conditions.append(["starts-with", "$key", key_prefix])
    else:
        assert key is not None
        form["key"] = key
        if key.endswith("${filename}"):
            policy_conditions.append(["starts-with", "$key", key[: -len("${filename}")]])
        else:
            policy_conditions.append({"key": key})
    extra = _check_conditions(conditions)
    covered = {name for name, _ in extra}
    for name, value in (fields or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidArgumentError(f"form fields must be str: {name!r}: {value!r}")
        if name.lower() in _SIGNER_FIELDS:
            raise InvalidArgumentError(f"form field {name!r} is set by the signer")
        form[name] = value
        if name.lower() not in covered:
            policy_conditions.append({name: value})
    policy_conditions.extend(condition for _, condition in extra)
    if content_length_range is not None:
        low, high = _check_length_range(content_length_range)
        policy_conditions.append(["content-length-range", low, high])
    signing = {
        "x-amz-algorithm": ALGORITHM,
        "x-amz-credential": f"{credentials.access_key}/{scope}",
        "x-amz-date": amz_date(now),
    }
    if credentials.token is not None:
        signing["x-amz-security-token"] = credentials.token
    for name, value in signing.items():
        policy_conditions.append({name: value})
    form.update(signing)
    expiration = (now + timedelta(seconds=expires)).astimezone(UTC)
    millis = f"{expiration.microsecond // 1000:03d}"
    policy = {
        "expiration": expiration.strftime("%Y-%m-%dT%H:%M:%S.") + millis + "Z",
        "conditions": policy_conditions,
    }
    return policy, form


def sign_post_policy(
    policy: Mapping[str, Any], credentials: Credentials, region: str, now: datetime
) -> tuple[str, str]:
    """Encode and sign a POST policy document.

    Returns:
        ``(policy_base64, signature_hex)``: the values of the ``policy`` and
        ``x-amz-signature`` form fields.
    """
    encoded = base64.b64encode(
        json.dumps(policy, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    ).decode("ascii")
    key = derive_signing_key(credentials.secret_key, now.strftime("%Y%m%d"), region, "s3")
    signature = hmac.new(key, encoded.encode("ascii"), sha256).hexdigest()
    return encoded, signature


def _check_conditions(
    conditions: Sequence[Mapping[str, str] | Sequence[Any]] | None,
) -> list[tuple[str, Any]]:
    """Validate extra policy conditions; return ``(lower-case field name, condition)``."""
    out: list[tuple[str, Any]] = []
    if conditions is None:
        return out
    if isinstance(conditions, str | bytes) or not isinstance(conditions, Sequence):
        raise InvalidArgumentError("conditions must be a list")
    for condition in conditions:
        if isinstance(condition, Mapping):
            if len(condition) != 1:
                raise InvalidArgumentError(
                    f"a condition mapping holds exactly one field: {condition!r}"
                )
            ((name, value),) = condition.items()
            if not isinstance(name, str) or not isinstance(value, str):
                raise InvalidArgumentError(f"invalid condition {condition!r}")
            out.append((name.lower(), {name: value}))
            continue
        if isinstance(condition, str | bytes) or not isinstance(condition, Sequence):
            raise InvalidArgumentError(f"invalid condition {condition!r}")
        items = list(condition)
        if items and items[0] == "content-length-range":
            if len(items) != 3:
                raise InvalidArgumentError(f"invalid condition {condition!r}")
            low, high = _check_length_range((items[1], items[2]))
            out.append(("content-length-range", ["content-length-range", low, high]))
            continue
        if (
            len(items) != 3
            or items[0] not in _CONDITION_OPS
            or not isinstance(items[1], str)
            or not items[1].startswith("$")
            or not isinstance(items[2], str)
        ):
            raise InvalidArgumentError(
                f'invalid condition {condition!r}: expected ["eq"|"starts-with", '
                '"$field", "value"] or ["content-length-range", min, max]'
            )
        out.append((items[1][1:].lower(), [items[0], items[1], items[2]]))
    return out


def _check_length_range(value: Any) -> tuple[int, int]:
    try:
        low, high = value
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"content_length_range must be (min, max), not {value!r}"
        ) from None
    for bound in (low, high):
        if isinstance(bound, bool) or not isinstance(bound, int) or bound < 0:
            raise InvalidArgumentError(f"content-length-range bounds must be ints >= 0: {value!r}")
    if low > high:
        raise InvalidArgumentError(f"content-length-range minimum exceeds its maximum: {value!r}")
    return low, high
