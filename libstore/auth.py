"""AWS Signature Version 4 request signing for libstore.

This module has one job: turn a request (method, exact wire URL, headers and
payload) plus a set of credentials into an AWS Signature Version 4
``Authorization`` header or a presigned URL, and keep the secrets involved out
of logs.

Two rule sets are supported:

* **S3 rules** (``service == "s3"``): the URL path is signed exactly as it is
  sent -- it is never normalised and never encoded a second time -- and the
  ``X-Amz-Content-SHA256`` header is always sent and signed.
* **Generic rules** (every other service): the path has its dot segments and
  duplicate slashes removed and is then URI-encoded once more, so a path that
  is already percent-encoded on the wire ends up encoded twice, as the public
  AWS test suites require.

Query strings are never encoded twice under either rule set: every name and
value is percent-decoded and re-encoded with the SigV4 unreserved set
(``A-Za-z0-9-_.~``), so ``~``, ``%7E`` and ``%7e`` all sign alike.

The individual steps of the algorithm are exposed as pure module-level
functions (:func:`canonical_uri`, :func:`canonical_query_string`,
:func:`canonical_headers`, :func:`canonical_request`, :func:`string_to_sign`,
:func:`derive_signing_key`, :func:`calculate_signature`, ...), each taking the
clock as an argument, so that each step can be checked at a fixed date.
:class:`SigV4Signer` chains them, :class:`SigV4Auth` plugs a signer into
``requests``, and :func:`redact_headers` / :func:`redact_url` make signed
requests safe to log.

Only the standard library and ``requests`` are used.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from urllib.parse import quote, unquote, unquote_to_bytes, urlsplit

from requests import PreparedRequest
from requests.auth import AuthBase

__all__ = [
    "ALGORITHM",
    "EMPTY_SHA256",
    "MAX_PRESIGN_EXPIRES",
    "UNSIGNABLE_HEADERS",
    "UNSIGNED_PAYLOAD",
    "Credentials",
    "HeaderItems",
    "SigV4Auth",
    "SigV4Signer",
    "SigningResult",
    "amz_date",
    "authorization_header",
    "calculate_signature",
    "canonical_headers",
    "canonical_query_string",
    "canonical_request",
    "canonical_uri",
    "credential_scope",
    "derive_signing_key",
    "redact_headers",
    "redact_url",
    "string_to_sign",
    "uri_encode",
]

ALGORITHM = "AWS4-HMAC-SHA256"
"""The SigV4 algorithm identifier used in headers, query strings and scopes."""

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
"""Payload hash placeholder telling S3 that the body is not part of the signature."""

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
"""Hex SHA-256 digest of the empty byte string."""

MAX_PRESIGN_EXPIRES = 604800
"""Longest lifetime SigV4 allows for a presigned URL, in seconds (seven days)."""

UNSIGNABLE_HEADERS: frozenset[str] = frozenset(
    {
        "authorization",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
"""Lower-case header names :class:`SigV4Signer` never signs.

They are either the signature itself, hop-by-hop headers that proxies may
rewrite or drop, or headers that HTTP stacks commonly rewrite after signing.
They are still returned to the caller; they are simply left out of
``SignedHeaders``.
"""

HeaderItems = Mapping[str, str] | Iterable[tuple[str, str]]
"""Headers as a mapping, or as ``(name, value)`` pairs when a name repeats."""

_SCOPE_TERMINATOR = "aws4_request"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_PERCENT_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
_HEADER_WHITESPACE = re.compile(r"[ \t\r\n\f\v]+")
_HEADER_WHITESPACE_RUN = re.compile(r"[\t\r\n\f\v]|  ")  # what the substitution would change
_HEADER_STRIP = " \t\r\n\f\v"
# Characters an HTTP client (requests/urllib3) leaves literal in a URL path;
# everything else (space, non-ASCII, controls, "<>{}|\^` and quotes) goes out
# percent-encoded, so that is how S3 mode signs it.
_WIRE_PATH_SAFE = "!#$%&'()*+,/:;=?@[]~"
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_DATE_STAMP_FORMAT = "%Y%m%d"
_KEY_CACHE_SIZE = 8

_HDR_AUTHORIZATION = "Authorization"
_HDR_DATE = "X-Amz-Date"
_HDR_CONTENT_SHA256 = "X-Amz-Content-SHA256"
_HDR_SESSION = "X-Amz-Security-Token"
_HDR_CONTENT_SHA256_LOWER = _HDR_CONTENT_SHA256.lower()
_HDR_SESSION_LOWER = _HDR_SESSION.lower()

_PRESIGN_PARAMS = frozenset(
    {
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-expires",
        "x-amz-security-token",
        "x-amz-signature",
        "x-amz-signedheaders",
    }
)

_REDACTED = "<redacted>"
_SECRET_HEADERS = frozenset(
    {
        "proxy-authorization",
        "x-amz-security-token",
        "x-amz-server-side-encryption-customer-key",
        "x-amz-copy-source-server-side-encryption-customer-key",
        "x-goog-encryption-key",
        "x-goog-copy-source-encryption-key",
        "x-ms-encryption-key",
        "x-ms-copy-source-authorization",
    }
)
_SECRET_QUERY_PARAMS = frozenset(
    {
        "x-amz-signature",
        "x-amz-security-token",
        "x-goog-signature",
        "signature",
        "sig",
    }
)
_SIGV4_AUTHORIZATION = re.compile(
    r"^\s*(?P<algorithm>AWS4-HMAC-SHA256)\s+"
    r"Credential=(?P<credential>[^,\s]+)"
    r"(?:\s*,\s*SignedHeaders=(?P<signed>[^,\s]+))?",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Credentials:
    """An immutable AWS access key pair, optionally temporary.

    The secret key and the session token never appear in ``repr()`` or
    ``str()``; only the access key id and whether a token is present are shown.

    Attributes:
        access_key: The access key id (for example ``AKIAIOSFODNN7EXAMPLE``).
        secret_key: The secret access key.
        token: The session token of temporary credentials, or ``None``.
        expires_at: When temporary credentials expire (timezone-aware), or
            ``None`` when they do not expire.
    """

    access_key: str
    secret_key: str
    token: str | None = None
    expires_at: datetime | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        """Validate the fields.

        Raises:
            TypeError: If a field has the wrong type.
            ValueError: If a key or the token is empty, or ``expires_at`` is a
                naive datetime.
        """
        _require_text(self.access_key, "access_key")
        _require_text(self.secret_key, "secret_key")
        if self.token is not None:
            _require_text(self.token, "token")
        if self.expires_at is not None:
            if not isinstance(self.expires_at, datetime):
                raise TypeError("expires_at must be a datetime or None")
            if self.expires_at.tzinfo is None or self.expires_at.utcoffset() is None:
                raise ValueError("expires_at must be a timezone-aware datetime")

    def __repr__(self) -> str:
        """Return a representation that hides the secret key and the token.

        Returns:
            For example ``Credentials(access_key='AKID', secret_key=<hidden>,
            token=<present>, expires_at=None)``.
        """
        has_token = "<present>" if self.token is not None else "None"
        expires = self.expires_at.isoformat() if self.expires_at is not None else "None"
        return (
            f"Credentials(access_key={self.access_key!r}, secret_key=<hidden>, "
            f"token={has_token}, expires_at={expires})"
        )

    __str__ = __repr__

    def is_expired(self, now: datetime | None = None, *, leeway: float = 0.0) -> bool:
        """Tell whether the credentials are expired or about to expire.

        Args:
            now: The current time (timezone-aware); defaults to now in UTC.
            leeway: Seconds before ``expires_at`` from which the credentials
                already count as expired.

        Returns:
            ``True`` if ``expires_at`` is set and is at most ``leeway`` seconds
            after ``now``; ``False`` for credentials that do not expire.

        Raises:
            ValueError: If ``now`` is a naive datetime.
        """
        if self.expires_at is None:
            return False
        current = _as_utc(now) if now is not None else datetime.now(UTC)
        return self.expires_at - current <= timedelta(seconds=leeway)


# --------------------------------------------------------------------------
# Pure steps
# --------------------------------------------------------------------------


def uri_encode(value: str | bytes, *, safe: str = "") -> str:
    """Percent-encode a string the way SigV4 does.

    Every byte of the UTF-8 encoding except ``A-Za-z0-9-_.~`` (and the
    characters in ``safe``) becomes ``%XX`` with upper-case hex digits. A space
    becomes ``%20``, never ``+``.

    Args:
        value: Text (encoded as UTF-8) or raw bytes.
        safe: Extra characters to leave as they are, for example ``"/"``.

    Returns:
        The encoded ASCII string.
    """
    return quote(value, safe=safe)


def canonical_uri(path: str, *, s3: bool, normalize: bool | None = None) -> str:
    """Build the CanonicalURI component of a canonical request.

    Args:
        path: The URL path exactly as sent on the wire (already
            percent-encoded); an empty path means ``/``.
        s3: Apply the S3 rules: the path is used as sent -- no
            normalisation, no second encoding. Only characters an HTTP client
            cannot send literally (space, non-ASCII, control characters and
            the like) are percent-encoded, exactly as the client does on the
            wire, and existing ``%xx`` escapes are upper-cased.
        normalize: Generic rules only: remove ``.``/``..`` segments and
            duplicate slashes before encoding. Defaults to ``True`` for the
            generic rules; must not be ``True`` with ``s3=True``.

    Returns:
        The canonical URI. Under the generic rules every byte outside the
        unreserved set (``%`` included) is percent-encoded, so an encoded wire
        path ends up encoded twice.

    Raises:
        ValueError: If ``normalize`` is ``True`` together with ``s3``.
    """
    if s3 and normalize:
        raise ValueError("S3 paths are never normalised")
    path = _PERCENT_ESCAPE.sub(lambda m: m.group(0).upper(), path or "/")
    if s3:
        return quote(path if path.startswith("/") else "/" + path, safe=_WIRE_PATH_SAFE)
    if normalize is None or normalize:
        path = _remove_dot_segments(path)
    elif not path.startswith("/"):
        path = "/" + path
    return quote(path, safe="/")


def canonical_query_string(raw_query: str) -> str:
    """Build the CanonicalQueryString component of a canonical request.

    The raw query is split on ``&`` and each piece on its first ``=`` (a piece
    without ``=`` gets an empty value; empty pieces are dropped). Names and
    values are percent-decoded and re-encoded with :func:`uri_encode`, so an
    existing encoding is normalised rather than doubled; ``+`` is taken
    literally (it becomes ``%2B``). Pairs are sorted by encoded name, then by
    encoded value.

    Args:
        raw_query: The query string as sent, without the leading ``?``.

    Returns:
        The canonical query string (empty for an empty query).
    """
    pairs: list[tuple[str, str]] = []
    for piece in raw_query.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        pairs.append((uri_encode(unquote_to_bytes(name)), uri_encode(unquote_to_bytes(value))))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_headers(headers: HeaderItems) -> tuple[str, str]:
    """Build the CanonicalHeaders and SignedHeaders components.

    Names are lower-cased and sorted. Each value is trimmed and every run of
    whitespace inside it (folded line breaks included) becomes one space.
    Values of a repeated name are joined with ``,`` in the order given. All
    headers given are included: filtering is the caller's business.

    Args:
        headers: A mapping, or ``(name, value)`` pairs when a name repeats.

    Returns:
        ``(canonical_headers, signed_headers)``: the ``name:value`` lines, each
        ending in a newline, and the ``;``-separated list of names.

    Raises:
        TypeError: If a name or a value is not a string.
    """
    merged: dict[str, str] = {}
    for name, value in _header_pairs(headers):
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"header names and values must be str, got {name!r}: {value!r}")
        clean = value.strip(_HEADER_STRIP)
        if _HEADER_WHITESPACE_RUN.search(clean):  # rare: most values have single spaces
            clean = _HEADER_WHITESPACE.sub(" ", clean)
        key = name.strip().lower()
        previous = merged.get(key)
        merged[key] = clean if previous is None else f"{previous},{clean}"
    names = sorted(merged)
    block = "".join([f"{name}:{merged[name]}\n" for name in names])
    return block, ";".join(names)


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: HeaderItems,
    payload_hash: str,
    *,
    s3: bool,
    normalize_path: bool | None = None,
) -> str:
    """Build the canonical request.

    Args:
        method: The HTTP method (upper-cased here).
        path: The URL path as sent; see :func:`canonical_uri`.
        query: The raw query string as sent, without ``?``.
        headers: Exactly the headers to sign (``host`` and ``x-amz-date``
            included), as a mapping or as ``(name, value)`` pairs.
        payload_hash: Hex SHA-256 of the body, or :data:`UNSIGNED_PAYLOAD`.
        s3: Apply the S3 path rules; see :func:`canonical_uri`.
        normalize_path: Generic rules only; see :func:`canonical_uri`.

    Returns:
        The six newline-separated components of the canonical request.

    Raises:
        TypeError: If a header name or value is not a string.
        ValueError: If ``normalize_path`` is ``True`` together with ``s3``.
    """
    block, signed = canonical_headers(headers)
    return "\n".join(
        (
            method.upper(),
            canonical_uri(path, s3=s3, normalize=normalize_path),
            canonical_query_string(query),
            block,
            signed,
            payload_hash,
        )
    )


def amz_date(timestamp: datetime) -> str:
    """Format a time as SigV4 expects it in ``X-Amz-Date``.

    Args:
        timestamp: A timezone-aware datetime (converted to UTC).

    Returns:
        The ISO 8601 basic format, for example ``20150830T123600Z``.

    Raises:
        ValueError: If ``timestamp`` is naive.
    """
    return _as_utc(timestamp).strftime(_AMZ_DATE_FORMAT)


def credential_scope(timestamp: datetime, region: str, service: str) -> str:
    """Build the credential scope ``YYYYMMDD/region/service/aws4_request``.

    Args:
        timestamp: The signing time (timezone-aware; its UTC date is used).
        region: The region, for example ``us-east-1``.
        service: The signing name of the service, for example ``s3``.

    Returns:
        The credential scope.

    Raises:
        ValueError: If ``timestamp`` is naive.
    """
    date_stamp = _as_utc(timestamp).strftime(_DATE_STAMP_FORMAT)
    return f"{date_stamp}/{region}/{service}/{_SCOPE_TERMINATOR}"


def string_to_sign(canonical_request: str, timestamp: datetime, region: str, service: str) -> str:
    """Build the string to sign.

    Args:
        canonical_request: The output of :func:`canonical_request`.
        timestamp: The signing time (timezone-aware), the same one sent in
            ``X-Amz-Date``.
        region: The region.
        service: The signing name of the service.

    Returns:
        The algorithm, the time, the credential scope and the hex SHA-256 of
        the canonical request, separated by newlines.

    Raises:
        ValueError: If ``timestamp`` is naive.
    """
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return "\n".join(
        (
            ALGORITHM,
            amz_date(timestamp),
            credential_scope(timestamp, region, service),
            digest,
        )
    )


def derive_signing_key(secret_key: str, date_stamp: str, region: str, service: str) -> bytes:
    """Derive the SigV4 signing key.

    Args:
        secret_key: The secret access key.
        date_stamp: The UTC signing date as ``YYYYMMDD``.
        region: The region.
        service: The signing name of the service.

    Returns:
        The 32-byte key: HMAC-SHA256 chained over the date, region, service
        and ``aws4_request``, starting from ``"AWS4" + secret_key``.
    """
    key = ("AWS4" + secret_key).encode("utf-8")
    for part in (date_stamp, region, service, _SCOPE_TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def calculate_signature(signing_key: bytes, string_to_sign: str) -> str:
    """Sign a string to sign.

    Args:
        signing_key: The output of :func:`derive_signing_key`.
        string_to_sign: The output of :func:`string_to_sign`.

    Returns:
        The hex HMAC-SHA256 signature.
    """
    return hmac.new(signing_key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization_header(access_key: str, scope: str, signed_headers: str, signature: str) -> str:
    """Format the ``Authorization`` header value.

    Args:
        access_key: The access key id.
        scope: The output of :func:`credential_scope`.
        signed_headers: The ``;``-separated signed header names.
        signature: The output of :func:`calculate_signature`.

    Returns:
        ``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``.
    """
    return (
        f"{ALGORITHM} Credential={access_key}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )


# --------------------------------------------------------------------------
# Signer
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningResult:
    """Everything :class:`SigV4Signer` produced for one request.

    Only ``string_to_sign`` (which holds no secret) shows in ``repr()``: the
    other fields carry the session token or bearer-grade signatures.

    Attributes:
        headers: The headers to send: for :meth:`SigV4Signer.sign_detailed`,
            the given headers plus the authentication headers; for
            :meth:`SigV4Signer.presign_detailed`, a copy of the given headers.
        url: The URL to send: unchanged for header signing, the presigned URL
            for query signing.
        canonical_request: The canonical request that was signed.
        string_to_sign: The string to sign.
        signature: The hex signature.
    """

    headers: dict[str, str] = field(repr=False)
    url: str = field(repr=False)
    canonical_request: str = field(repr=False)
    string_to_sign: str
    signature: str = field(repr=False)


class SigV4Signer:
    """Sign requests for one set of credentials, one region and one service.

    ``service == "s3"`` selects the S3 rules (path signed as sent,
    ``X-Amz-Content-SHA256`` always sent, presigned URLs with
    ``UNSIGNED-PAYLOAD``); any other service follows generic SigV4. Derived
    signing keys are cached per date, thread-safely; a signer is safe to share
    between threads.
    """

    def __init__(
        self,
        credentials: Credentials,
        region: str,
        service: str,
        *,
        normalize_path: bool | None = None,
        sign_session_token: bool = True,
    ) -> None:
        """Create a signer.

        Args:
            credentials: The credentials to sign with.
            region: The region, for example ``us-east-1``.
            service: The signing name of the service, for example ``s3``.
            normalize_path: Generic rules only: whether to remove dot segments
                and duplicate slashes from the path before signing. Defaults
                to ``True`` for generic services; S3 paths are never
                normalised.
            sign_session_token: When ``True`` (the default) the session token
                of temporary credentials is part of the signature; when
                ``False`` it is added to the request after signing, as a few
                services require.

        Raises:
            TypeError: If an argument has the wrong type.
            ValueError: If ``region`` or ``service`` is empty or contains
                ``/`` or whitespace, or ``normalize_path`` is ``True`` for S3.
        """
        if not isinstance(credentials, Credentials):
            raise TypeError("credentials must be a libstore.auth.Credentials")
        _require_scope_part(region, "region")
        _require_scope_part(service, "service")
        self._credentials = credentials
        self._region = region
        self._service = service
        self._s3 = service == "s3"
        if self._s3 and normalize_path:
            raise ValueError("S3 paths are never normalised")
        self._normalize_path = normalize_path
        self._sign_session_token = bool(sign_session_token)
        self._keys: dict[tuple[str, str, str], bytes] = {}
        self._keys_lock = threading.Lock()

    def __repr__(self) -> str:
        """Return a representation without secrets.

        Returns:
            The region, the service and the redacted credentials.
        """
        return (
            f"SigV4Signer(region={self._region!r}, service={self._service!r}, "
            f"credentials={self._credentials!r})"
        )

    @property
    def credentials(self) -> Credentials:
        """The credentials this signer signs with."""
        return self._credentials

    @property
    def region(self) -> str:
        """The region in the credential scope."""
        return self._region

    @property
    def service(self) -> str:
        """The service signing name in the credential scope."""
        return self._service

    @property
    def is_s3(self) -> bool:
        """Whether the S3 rules apply (``service == "s3"``)."""
        return self._s3

    def signing_key(self, date_stamp: str) -> bytes:
        """Return the (cached) signing key for a date.

        Args:
            date_stamp: The UTC signing date as ``YYYYMMDD``.

        Returns:
            The key from :func:`derive_signing_key`.
        """
        cache_key = (date_stamp, self._region, self._service)
        with self._keys_lock:
            key = self._keys.get(cache_key)
        if key is not None:
            return key
        key = derive_signing_key(
            self._credentials.secret_key, date_stamp, self._region, self._service
        )
        with self._keys_lock:
            if len(self._keys) >= _KEY_CACHE_SIZE:
                self._keys.clear()
            self._keys[cache_key] = key
        return key

    def sign(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        payload_hash: str | None = None,
        timestamp: datetime | None = None,
    ) -> dict[str, str]:
        """Sign a request with an ``Authorization`` header.

        Args:
            method: The HTTP method.
            url: The exact wire URL, already percent-encoded.
            headers: The headers that will be sent. All are signed except
                :data:`UNSIGNABLE_HEADERS`. ``Host`` is taken from the URL
                (with ``:port`` only for a non-default port) unless given.
            body: The request body, hashed when ``payload_hash`` is ``None``.
            payload_hash: Hex SHA-256 of the body, :data:`UNSIGNED_PAYLOAD`,
                or a ``STREAMING-...`` value. When ``None``, an
                ``X-Amz-Content-SHA256`` header in ``headers`` is used if
                present, otherwise the hash of ``body``.
            timestamp: The signing time (timezone-aware); defaults to now.

        Returns:
            A new dict: the given headers (stale ``Authorization`` and
            ``X-Amz-*`` authentication headers replaced) plus
            ``Authorization``, ``X-Amz-Date``, ``X-Amz-Content-SHA256`` (S3
            only) and ``X-Amz-Security-Token`` (temporary credentials only).

        Raises:
            TypeError: If ``body``, a header name or a header value has the
                wrong type.
            ValueError: If the URL, the payload hash or the timestamp is
                invalid.
        """
        return self.sign_detailed(method, url, headers, body, payload_hash, timestamp).headers

    def sign_detailed(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        payload_hash: str | None = None,
        timestamp: datetime | None = None,
    ) -> SigningResult:
        """Sign like :meth:`sign`, and also return the intermediate values.

        Args:
            method: The HTTP method.
            url: The exact wire URL, already percent-encoded.
            headers: The headers that will be sent; see :meth:`sign`.
            body: The request body; see :meth:`sign`.
            payload_hash: The payload hash; see :meth:`sign`.
            timestamp: The signing time (timezone-aware); defaults to now.

        Returns:
            The signed headers with the canonical request, the string to sign
            and the signature.

        Raises:
            TypeError: If ``body``, a header name or a header value has the
                wrong type.
            ValueError: If the URL, the payload hash or the timestamp is
                invalid.
        """
        when = _as_utc(timestamp) if timestamp is not None else datetime.now(UTC)
        parts = _split_url(url)
        if not isinstance(body, bytes | bytearray | memoryview):
            raise TypeError("body must be bytes")
        out = _copy_headers(headers)
        lower = {name.lower(): name for name in out}  # one pass; names looked up below
        if payload_hash is None:
            declared = out.get(lower.get(_HDR_CONTENT_SHA256_LOWER, ""))
            payload_hash = (
                declared.strip() if declared is not None else hashlib.sha256(body).hexdigest()
            )
        _check_payload_hash(payload_hash)

        stamp = _amz_text(when)
        token = self._credentials.token
        replaced = [(_HDR_DATE, stamp)]
        if self._s3:
            replaced.append((_HDR_CONTENT_SHA256, payload_hash))
        if token is not None:
            replaced.append((_HDR_SESSION, token))
        for name, value in replaced:
            existing = lower.pop(name.lower(), None)
            if existing is not None:
                del out[existing]
            out[name] = value
        existing = lower.pop("authorization", None)
        if existing is not None:
            del out[existing]

        skip_token = token is not None and not self._sign_session_token
        to_sign = [
            (name, value)
            for name, value in out.items()
            if name.lower() not in UNSIGNABLE_HEADERS
            and not (skip_token and name.lower() == _HDR_SESSION_LOWER)
        ]
        if "host" not in lower:
            to_sign.append(("host", parts.host))

        creq, sts, signature, signed_headers = self._sign_parts(
            method, parts, parts.query, to_sign, payload_hash, stamp
        )
        out[_HDR_AUTHORIZATION] = authorization_header(
            self._credentials.access_key,
            self._scope(stamp),
            signed_headers,
            signature,
        )
        return SigningResult(
            headers=out,
            url=url,
            canonical_request=creq,
            string_to_sign=sts,
            signature=signature,
        )

    def presign(
        self,
        method: str,
        url: str,
        expires: int = 3600,
        timestamp: datetime | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        payload_hash: str | None = None,
    ) -> str:
        """Sign a request in its query string (a presigned URL).

        Args:
            method: The HTTP method the URL will be used with.
            url: The exact wire URL, already percent-encoded. Its query is
                kept as is, minus any earlier ``X-Amz-*`` signing parameters.
            expires: Lifetime in seconds, 1 to 604800.
            timestamp: The signing time (timezone-aware); defaults to now.
            headers: Headers the user of the URL must send; they are signed
                (except :data:`UNSIGNABLE_HEADERS`). ``Host`` always is.
            payload_hash: Defaults to :data:`UNSIGNED_PAYLOAD` for S3 and to
                the hash of an empty body for other services.

        Returns:
            The URL with ``X-Amz-Algorithm``, ``X-Amz-Credential``,
            ``X-Amz-Date``, ``X-Amz-Expires``, ``X-Amz-SignedHeaders``,
            ``X-Amz-Security-Token`` (temporary credentials only) and
            ``X-Amz-Signature`` appended to its query.

        Raises:
            TypeError: If a header name or value is not a string.
            ValueError: If ``expires`` is out of range, or the URL, the
                payload hash or the timestamp is invalid.
        """
        return self.presign_detailed(
            method, url, expires, timestamp, headers, payload_hash=payload_hash
        ).url

    def presign_detailed(
        self,
        method: str,
        url: str,
        expires: int = 3600,
        timestamp: datetime | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        payload_hash: str | None = None,
    ) -> SigningResult:
        """Presign like :meth:`presign`, and also return the intermediate values.

        Args:
            method: The HTTP method the URL will be used with.
            url: The exact wire URL, already percent-encoded.
            expires: Lifetime in seconds, 1 to 604800.
            timestamp: The signing time (timezone-aware); defaults to now.
            headers: Headers the user of the URL must send; see :meth:`presign`.
            payload_hash: See :meth:`presign`.

        Returns:
            The presigned URL (``url``), a copy of the given headers, the
            canonical request, the string to sign and the signature.

        Raises:
            TypeError: If a header name or value is not a string.
            ValueError: If ``expires`` is out of range, or the URL, the
                payload hash or the timestamp is invalid.
        """
        if (
            not isinstance(expires, int)
            or isinstance(expires, bool)
            or not 1 <= expires <= MAX_PRESIGN_EXPIRES
        ):
            raise ValueError(
                f"expires must be an int from 1 to {MAX_PRESIGN_EXPIRES} seconds, got {expires!r}"
            )
        when = _as_utc(timestamp) if timestamp is not None else datetime.now(UTC)
        parts = _split_url(url)
        given = _copy_headers(headers)
        if payload_hash is None:
            payload_hash = UNSIGNED_PAYLOAD if self._s3 else EMPTY_SHA256
        _check_payload_hash(payload_hash)

        to_sign = [
            (name, value) for name, value in given.items() if name.lower() not in UNSIGNABLE_HEADERS
        ]
        if _get_header(given, "Host") is None:
            to_sign.append(("host", parts.host))
        _, signed_headers = canonical_headers(to_sign)

        scope = credential_scope(when, self._region, self._service)
        params = [
            ("X-Amz-Algorithm", ALGORITHM),
            ("X-Amz-Credential", f"{self._credentials.access_key}/{scope}"),
            ("X-Amz-Date", amz_date(when)),
            ("X-Amz-Expires", str(expires)),
            ("X-Amz-SignedHeaders", signed_headers),
        ]
        token = self._credentials.token
        if token is not None and self._sign_session_token:
            params.append((_HDR_SESSION, token))
        query = _join_query(_strip_presign_params(parts.query), _encode_params(params))

        creq, sts, signature, _ = self._sign_parts(
            method, parts, query, to_sign, payload_hash, _amz_text(when)
        )
        trailer = [("X-Amz-Signature", signature)]
        if token is not None and not self._sign_session_token:
            trailer.append((_HDR_SESSION, token))
        final_query = _join_query(query, _encode_params(trailer))
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        presigned = f"{parts.scheme}://{parts.netloc}{parts.path or '/'}?{final_query}{fragment}"
        return SigningResult(
            headers=given,
            url=presigned,
            canonical_request=creq,
            string_to_sign=sts,
            signature=signature,
        )

    def _sign_parts(
        self,
        method: str,
        parts: _UrlParts,
        query: str,
        to_sign: list[tuple[str, str]],
        payload_hash: str,
        stamp: str,
    ) -> tuple[str, str, str, str]:
        """Run the pure steps for one request.

        Args:
            method: The HTTP method.
            parts: The split URL.
            query: The raw query string to sign.
            to_sign: The headers to sign.
            payload_hash: The payload hash.
            stamp: The signing time as ``X-Amz-Date`` shows it.

        Returns:
            The canonical request, the string to sign, the signature and the
            signed header names.
        """
        creq = canonical_request(
            method,
            parts.path,
            query,
            to_sign,
            payload_hash,
            s3=self._s3,
            normalize_path=None if self._s3 else self._normalize_path,
        )
        # The signed-headers line is the canonical request's second to last: reading it
        # back avoids canonicalising the headers a second time on every request.
        signed_headers = creq.rsplit("\n", 2)[1]
        digest = hashlib.sha256(creq.encode("utf-8")).hexdigest()
        sts = f"{ALGORITHM}\n{stamp}\n{self._scope(stamp)}\n{digest}"
        key = self.signing_key(stamp[:8])
        return creq, sts, calculate_signature(key, sts), signed_headers

    def _scope(self, stamp: str) -> str:
        return f"{stamp[:8]}/{self._region}/{self._service}/{_SCOPE_TERMINATOR}"


class SigV4Auth(AuthBase):
    """A ``requests`` auth plug-in that signs with a :class:`SigV4Signer`.

    Example::

        requests.get(url, auth=SigV4Auth(signer))

    The prepared URL (``r.url``) is signed exactly as ``requests`` will send
    it. The payload hash is, in order of preference: an
    ``X-Amz-Content-SHA256`` header already on the request; the hash of a
    bytes or text body (text is encoded as UTF-8, as urllib3 sends it);
    :data:`UNSIGNED_PAYLOAD` for a file-like or iterator body under the S3
    rules. A streaming body for any other service needs that header.
    """

    def __init__(self, signer: SigV4Signer, *, clock: Callable[[], datetime] | None = None) -> None:
        """Create the plug-in.

        Args:
            signer: The signer to use.
            clock: Returns the signing time (timezone-aware); defaults to the
                current UTC time.

        Raises:
            TypeError: If ``signer`` is not a :class:`SigV4Signer`.
        """
        if not isinstance(signer, SigV4Signer):
            raise TypeError("signer must be a libstore.auth.SigV4Signer")
        self.signer = signer
        self._clock = clock if clock is not None else _utc_now

    def __repr__(self) -> str:
        """Return a representation without secrets.

        Returns:
            The wrapped signer's representation.
        """
        return f"SigV4Auth({self.signer!r})"

    def __call__(self, r: PreparedRequest) -> PreparedRequest:
        """Sign a prepared request in place.

        Args:
            r: The prepared request.

        Returns:
            The same request, with its authentication headers set.

        Raises:
            ValueError: If the request has no URL or method, or has a
                streaming body that cannot be hashed and no
                ``X-Amz-Content-SHA256`` header for a non-S3 service.
        """
        if r.url is None or r.method is None:
            raise ValueError("the request must be prepared (URL and method set)")
        headers = {
            name: value.decode("latin-1") if isinstance(value, bytes) else value
            for name, value in r.headers.items()
        }
        body: object = r.body
        data = b""
        payload_hash: str | None = None
        if _get_header(headers, _HDR_CONTENT_SHA256) is not None:
            pass  # sign() uses the declared hash
        elif body is None:
            pass
        elif isinstance(body, bytes | bytearray | memoryview):
            data = bytes(body)
        elif isinstance(body, str):
            data = body.encode("utf-8")
        elif self.signer.is_s3:
            payload_hash = UNSIGNED_PAYLOAD
        else:
            raise ValueError(
                "cannot hash a streaming body; set an X-Amz-Content-SHA256 header "
                "with the payload hash before signing"
            )
        signed = self.signer.sign(
            r.method, r.url, headers, data, payload_hash, timestamp=self._clock()
        )
        for name, value in signed.items():
            r.headers[name] = value
        return r


# --------------------------------------------------------------------------
# Redaction
# --------------------------------------------------------------------------


def redact_headers(headers: Mapping[str, str | bytes]) -> dict[str, str]:
    """Return a copy of headers that is safe to log.

    * ``Authorization`` with SigV4 keeps ``AWS4-HMAC-SHA256 Credential=...``
      (the access key id and the credential scope, which are not secret) and
      ``SignedHeaders=...``; the signature becomes ``<redacted>``. Any other
      ``Authorization`` value is replaced entirely.
    * Session tokens and customer-supplied encryption keys
      (``X-Amz-Security-Token``, ``x-amz-server-side-encryption-customer-key``
      and its copy-source variant, their Google and Azure equivalents) and
      ``Proxy-Authorization`` become ``<redacted>``. Key MD5 digests are kept.

    Args:
        headers: Header names and values (bytes are decoded as Latin-1).

    Returns:
        A new dict with the same names, in the same order.
    """
    out: dict[str, str] = {}
    for name, raw in headers.items():
        value = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
        lower = name.lower()
        if lower == "authorization":
            value = _redact_authorization(value)
        elif lower in _SECRET_HEADERS:
            value = _REDACTED
        out[name] = value
    return out


def redact_url(url: str) -> str:
    """Return a URL that is safe to log.

    The values of the query parameters ``X-Amz-Signature``,
    ``X-Amz-Security-Token`` (and the ``X-Goog-Signature``, ``Signature`` and
    ``sig`` signatures of other schemes) become ``<redacted>``, matched
    case-insensitively; ``X-Amz-Credential`` is kept since it is not secret.
    A password in the URL's user info is redacted too. Everything else is
    returned unchanged.

    Args:
        url: Any URL, typically a presigned one.

    Returns:
        The redacted URL.
    """
    base, hash_sign, fragment = url.partition("#")
    head, question, query = base.partition("?")
    scheme_sep = head.find("://")
    if scheme_sep >= 0:
        authority_start = scheme_sep + 3
        slash = head.find("/", authority_start)
        authority_end = slash if slash >= 0 else len(head)
        authority = head[authority_start:authority_end]
        userinfo, at, hostport = authority.rpartition("@")
        if at and ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            authority = f"{user}:{_REDACTED}@{hostport}"
            head = head[:authority_start] + authority + head[authority_end:]
    if question:
        pieces = []
        for piece in query.split("&"):
            name = piece.partition("=")[0]
            if unquote(name).lower() in _SECRET_QUERY_PARAMS:
                piece = f"{name}={_REDACTED}"
            pieces.append(piece)
        query = "&".join(pieces)
    return f"{head}{question}{query}{hash_sign}{fragment}"


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


class _UrlParts(NamedTuple):
    scheme: str
    netloc: str
    host: str
    path: str
    query: str
    fragment: str


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _amz_text(when: datetime) -> str:
    """``X-Amz-Date`` of a UTC datetime (what :func:`amz_date` returns, without strftime)."""
    return (
        f"{when.year:04d}{when.month:02d}{when.day:02d}"
        f"T{when.hour:02d}{when.minute:02d}{when.second:02d}Z"
    )


def _as_utc(timestamp: datetime) -> datetime:
    if not isinstance(timestamp, datetime):
        raise TypeError("timestamp must be a datetime")
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        raise ValueError("timestamp must be a timezone-aware datetime, not a naive one")
    return timestamp.astimezone(UTC)


def _require_text(value: object, name: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")


def _require_scope_part(value: object, name: str) -> None:
    _require_text(value, name)
    if isinstance(value, str) and ("/" in value or any(char.isspace() for char in value)):
        raise ValueError(f"{name} must not contain '/' or whitespace: {value!r}")


def _split_url(url: str) -> _UrlParts:
    if not isinstance(url, str):
        raise TypeError("url must be a str")
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS:
        raise ValueError(f"url must be an http or https URL, got {redact_url(url)!r}")
    hostport = parts.netloc.rpartition("@")[2]
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ValueError(f"invalid IPv6 host in {redact_url(url)!r}")
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    if not host:
        raise ValueError(f"url has no host: {redact_url(url)!r}")
    host = host.lower()
    if port:
        if not port.isdigit():
            raise ValueError(f"invalid port in {redact_url(url)!r}")
        if int(port) != _DEFAULT_PORTS[parts.scheme]:
            host = f"{host}:{int(port)}"
    return _UrlParts(parts.scheme, parts.netloc, host, parts.path, parts.query, parts.fragment)


def _remove_dot_segments(path: str) -> str:
    segments = path.split("/")
    kept: list[str] = []
    for segment in segments:
        if segment in ("", "."):
            continue
        if segment == "..":
            if kept:
                kept.pop()
            continue
        kept.append(segment)
    result = "/" + "/".join(kept)
    if kept and (path.endswith("/") or segments[-1] in (".", "..")):
        result += "/"
    return result


def _header_pairs(headers: HeaderItems) -> Iterable[tuple[str, str]]:
    if isinstance(headers, Mapping):
        return headers.items()
    return headers


def _copy_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if headers is None:
        return out
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"header names and values must be str, got {name!r}: {value!r}")
        out[name] = value
    return out


def _get_header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _check_payload_hash(payload_hash: str) -> None:
    if not isinstance(payload_hash, str):
        raise TypeError("payload_hash must be a str")
    if (
        _HEX_SHA256.fullmatch(payload_hash)
        or payload_hash == UNSIGNED_PAYLOAD
        or (payload_hash.startswith("STREAMING-") and payload_hash[10:].strip())
    ):
        return
    raise ValueError(
        "payload_hash must be a lower-case hex SHA-256, 'UNSIGNED-PAYLOAD' or a "
        f"'STREAMING-...' value, got {payload_hash!r}"
    )


def _encode_params(params: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{uri_encode(name)}={uri_encode(value)}" for name, value in params)


def _join_query(first: str, second: str) -> str:
    return f"{first}&{second}" if first and second else first or second


def _strip_presign_params(query: str) -> str:
    kept = [
        piece
        for piece in query.split("&")
        if piece and unquote(piece.partition("=")[0]).lower() not in _PRESIGN_PARAMS
    ]
    return "&".join(kept)


def _redact_authorization(value: str) -> str:
    match = _SIGV4_AUTHORIZATION.match(value)
    if match is None:
        return _REDACTED
    redacted = f"{match['algorithm']} Credential={match['credential']}"
    if match["signed"]:
        redacted += f", SignedHeaders={match['signed']}"
    return f"{redacted}, Signature={_REDACTED}"
