"""S3 object options as pure header builders: encryption, conditions, tags, object lock, checksums.

Nothing here sends a request. Every option is validated when it is parsed, so a
bad value raises :class:`~libstore.types.InvalidArgumentError` before the driver
sends anything; the builders then turn the validated options into the exact
headers each S3 operation takes:

* PutObject: :meth:`S3WriteOptions.object_headers` and :meth:`~S3WriteOptions.put_headers`;
* CreateMultipartUpload: ``object_headers`` and :meth:`~S3WriteOptions.initiate_headers`;
* UploadPart: :meth:`~S3WriteOptions.part_headers`;
* CompleteMultipartUpload: :meth:`~S3WriteOptions.complete_headers` and
  :meth:`~S3WriteOptions.part_checksum_element`;
* HeadObject and GetObject: :meth:`ReadOptions.headers` and :meth:`ReadOptions.query`;
* CopyObject: :func:`copy_object_headers`.

Checksums: CRC32, SHA1 and SHA256 come from the standard library; CRC32C and
CRC64NVME only from an accelerator package (``crc32c``, ``google-crc32c`` with its
C extension, or ``awscrt``). There is deliberately no pure-Python fallback: asking
for one of them without an accelerator raises :class:`~libstore.types.NotSupportedError`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib
import ipaddress
import json
import re
import weakref
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import IO, TYPE_CHECKING, Any, Final, Literal, Protocol, TypeVar, cast
from urllib.parse import quote

from libstore.types import (
    InvalidArgumentError,
    NotSupportedError,
    ObjectHashMismatchError,
    PreconditionFailedError,
)

if TYPE_CHECKING:
    from libstore._extra import UploadOptions
    from libstore.base import Object
    from libstore.types import MultipartUploadError

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "DSSEKMS",
    "SSEKMS",
    "SSES3",
    "ChecksumAlgorithm",
    "Encryption",
    "NoEncryption",
    "ObjectDefaults",
    "ReadOptions",
    "S3WriteOptions",
    "SSECustomerKey",
    "bypass_governance_headers",
    "checksum_available",
    "copy_object_headers",
    "format_etag",
]

#: The checksum algorithms S3 accepts in ``x-amz-checksum-*`` headers.
CHECKSUM_ALGORITHMS: Final = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
ChecksumAlgorithm = Literal["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]

#: Most tags one S3 object may carry, and the longest tag key and value (in characters).
MAX_TAGS = 10
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256

_PRINTABLE = re.compile(r"^[\x20-\x7e]+$")
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def _bad(message: str) -> InvalidArgumentError:
    return InvalidArgumentError(message)


def _text(value: Any, where: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise _bad(f"{where} must be a str, not {type(value).__name__}")
    if (not value and not allow_empty) or (value and not _PRINTABLE.match(value)):
        raise _bad(f"{where} must be non-empty printable ASCII: {value!r}")
    return value


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# -- checksums ------------------------------------------------------------------------------


class _Hasher(Protocol):
    def update(self, data: bytes) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    """An incremental CRC over a function ``(data, previous) -> crc``."""

    def __init__(self, function: Callable[[bytes, int], int], width: int) -> None:
        self._function = function
        self._width = width
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = self._function(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._width, "big")


def _zlib_crc32(data: bytes, previous: int) -> int:
    return zlib.crc32(data, previous)


def _find_crc32c() -> Callable[[bytes, int], int] | None:
    module = _import("crc32c")
    if module is not None and callable(getattr(module, "crc32c", None)):
        function = module.crc32c
        return lambda data, previous: int(function(data, previous))
    crt = _import("awscrt.checksums")
    if crt is not None and callable(getattr(crt, "crc32c", None)):
        crt_function = crt.crc32c
        return lambda data, previous: int(crt_function(data, previous))
    google = _import("google_crc32c")
    # google-crc32c silently falls back to pure Python without its C extension: refuse that.
    if google is not None and getattr(google, "implementation", None) == "c":
        extend = google.extend
        return lambda data, previous: int(extend(previous, data))
    return None


def _find_crc64nvme() -> Callable[[bytes, int], int] | None:
    crt = _import("awscrt.checksums")
    if crt is not None and callable(getattr(crt, "crc64nvme", None)):
        function = crt.crc64nvme
        return lambda data, previous: int(function(data, previous))
    return None


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


_ACCELERATORS: dict[str, Callable[[bytes, int], int] | None] = {}
_ACCELERATOR_HINTS = {
    "CRC32C": "install the 'crc32c' or 'awscrt' package",
    "CRC64NVME": "install the 'awscrt' package",
}


def _accelerator(algorithm: str) -> Callable[[bytes, int], int] | None:
    if algorithm not in _ACCELERATORS:
        _ACCELERATORS[algorithm] = _find_crc32c() if algorithm == "CRC32C" else _find_crc64nvme()
    return _ACCELERATORS[algorithm]


def checksum_available(algorithm: str) -> bool:
    """Whether this process can compute ``algorithm`` (CRC32C/CRC64NVME need an accelerator)."""
    if algorithm in ("CRC32", "SHA1", "SHA256"):
        return True
    if algorithm in ("CRC32C", "CRC64NVME"):
        return _accelerator(algorithm) is not None
    return False


def new_hasher(algorithm: str) -> _Hasher:
    """An incremental hasher for one of :data:`CHECKSUM_ALGORITHMS`.

    Raises:
        NotSupportedError: CRC32C or CRC64NVME without an accelerator package.
    """
    if algorithm == "CRC32":
        return _Crc(_zlib_crc32, 4)
    if algorithm == "SHA1":
        return hashlib.sha1(usedforsecurity=False)
    if algorithm == "SHA256":
        return hashlib.sha256()
    if algorithm in ("CRC32C", "CRC64NVME"):
        function = _accelerator(algorithm)
        if function is None:
            raise NotSupportedError(
                f"{algorithm} checksums need an accelerator package "
                f"({_ACCELERATOR_HINTS[algorithm]}); libstore has no slow pure-Python "
                "fallback. Use CRC32, SHA1 or SHA256 instead."
            )
        return _Crc(function, 4 if algorithm == "CRC32C" else 8)
    raise InvalidArgumentError(f"unknown checksum algorithm {algorithm!r}")


def checksum_b64(algorithm: str, data: bytes) -> str:
    """The base64 checksum of ``data``, as S3's ``x-amz-checksum-*`` headers carry it."""
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return _b64(hasher.digest())


def checksum_of_body(algorithm: str, body: bytes | Callable[[], IO[bytes]] | None) -> str:
    """The base64 checksum of a request body: bytes, or a callable opening a fresh file."""
    hasher = new_hasher(algorithm)
    if callable(body):
        with body() as handle:
            for block in iter(lambda: handle.read(1024 * 1024), b""):
                hasher.update(block)
    elif body:
        hasher.update(body)
    return _b64(hasher.digest())


def composite_checksum(algorithm: str, part_checksums: Sequence[str]) -> str:
    """S3's COMPOSITE multipart checksum: the checksum of the parts' raw checksums, ``-N``."""
    hasher = new_hasher(algorithm)
    for value in part_checksums:
        hasher.update(base64.b64decode(value))
    return f"{_b64(hasher.digest())}-{len(part_checksums)}"


def checksum_header(algorithm: str) -> str:
    """``x-amz-checksum-crc32`` and so on."""
    return f"x-amz-checksum-{algorithm.lower()}"


def parse_checksum_algorithm(value: Any, where: str) -> str:
    """Validate a checksum algorithm name (any case) and return it upper-case.

    Raises:
        InvalidArgumentError: Not one of :data:`CHECKSUM_ALGORITHMS`.
        NotSupportedError: CRC32C or CRC64NVME without an accelerator package.
    """
    if not isinstance(value, str) or value.upper() not in CHECKSUM_ALGORITHMS:
        raise _bad(f"{where} must be one of {list(CHECKSUM_ALGORITHMS)}: {value!r}")
    algorithm = value.upper()
    new_hasher(algorithm)  # NotSupportedError now, not in the middle of an upload
    return algorithm


def reply_checksums(headers: Mapping[str, str]) -> dict[str, str]:
    """The ``x-amz-checksum-<algorithm>`` values of a reply, keyed by upper-case algorithm."""
    found: dict[str, str] = {}
    for algorithm in CHECKSUM_ALGORITHMS:
        value = headers.get(checksum_header(algorithm))
        if value:
            found[algorithm] = value.strip()
    return found


def record_checksums(extra: dict[str, Any], headers: Mapping[str, str]) -> None:
    """Replace the ``checksum_*`` entries of an object's ``extra`` with those of a GET reply."""
    for name in [k for k in extra if k.startswith("checksum_")]:
        del extra[name]
    for algorithm, value in reply_checksums(headers).items():
        extra[f"checksum_{algorithm.lower()}"] = value
    kind = headers.get("x-amz-checksum-type")
    if kind:
        extra["checksum_type"] = kind


def whole_object_checksum(obj: Object, skip: Sequence[str] = ()) -> tuple[str, str] | None:
    """The whole-object checksum of ``obj`` a download can be verified against, if any.

    Skipped: COMPOSITE multipart checksums (``…-N``: a checksum of the parts'
    checksums, not of the data), multipart objects whose checksum type is unknown,
    and algorithms this process cannot compute (CRC32C/CRC64NVME without an
    accelerator: a download never fails for lack of one).
    """
    kind = (obj.extra.get("checksum_type") or "").upper()
    if kind == "COMPOSITE":
        return None
    multipart = "-" in (obj.hash or "")
    if multipart and kind != "FULL_OBJECT":
        return None
    for algorithm in CHECKSUM_ALGORITHMS:
        if algorithm in skip:
            continue
        value = obj.extra.get(f"checksum_{algorithm.lower()}")
        usable = isinstance(value, str) and value and "-" not in value
        if usable and checksum_available(algorithm):
            return algorithm, str(value)
    return None


def verify_checksum_stream(
    chunks: Iterator[bytes], obj: Object, driver: Any, skip: Sequence[str] = ()
) -> Iterator[bytes]:
    """Pass ``chunks`` (a whole object) through, then check its ``x-amz-checksum-*``.

    The expected value is looked up when the first chunk arrives: the GET reply,
    read by then, recorded it in ``obj.extra`` (:func:`record_checksums`). Algorithms
    in ``skip`` are left to the caller (the core checks CRC32 itself).

    Raises:
        ObjectHashMismatchError: The data does not match the store's checksum.
    """
    hasher: _Hasher | None = None
    algorithm: str | None = None
    started = False
    for chunk in chunks:
        if not started:
            started = True  # the GET reply has been read by now
            expected = whole_object_checksum(obj, skip)
            if expected is not None:
                algorithm, hasher = expected[0], new_hasher(expected[0])
        if hasher is not None:
            hasher.update(chunk)
        yield chunk
    expected = whole_object_checksum(obj, skip)
    if expected is None:
        return
    if not started:  # an empty object
        algorithm, hasher = expected[0], new_hasher(expected[0])
    if hasher is None or algorithm != expected[0]:
        return
    got = _b64(hasher.digest())
    if got != expected[1]:
        raise ObjectHashMismatchError(
            f"{algorithm} of the downloaded data ({got}) does not match the store's "
            f"({expected[1]})",
            driver,
            obj.name,
            container_name=obj.container.name,
        )


# -- server-side encryption ------------------------------------------------------------------


@dataclass(frozen=True)
class SSES3:
    """SSE-S3: objects encrypted with keys S3 manages (``x-amz-server-side-encryption: AES256``)."""

    def headers(self) -> dict[str, str]:
        return {"x-amz-server-side-encryption": "AES256"}


def _kms_headers(
    algorithm: str, key_id: str | None, context: Mapping[str, str] | None
) -> dict[str, str]:
    headers = {"x-amz-server-side-encryption": algorithm}
    if key_id is not None:
        headers["x-amz-server-side-encryption-aws-kms-key-id"] = key_id
    if context is not None:
        document = json.dumps(dict(context), separators=(",", ":"), sort_keys=True)
        headers["x-amz-server-side-encryption-context"] = _b64(document.encode("utf-8"))
    return headers


def _check_kms(key_id: Any, context: Any, what: str) -> None:
    if key_id is not None:
        _text(key_id, f"{what} key_id")
    if context is not None:
        if not isinstance(context, Mapping) or not context:
            raise _bad(f"{what} context must be a non-empty mapping of str to str")
        for name, value in context.items():
            if not isinstance(name, str) or not isinstance(value, str) or not name:
                raise _bad(f"{what} context must map non-empty str keys to str values")


@dataclass(frozen=True)
class SSEKMS:
    """SSE-KMS: objects encrypted with an AWS KMS key (``aws:kms``).

    Args:
        key_id: The KMS key id, ARN or alias; ``None`` uses the account's
            ``aws/s3`` managed key.
        context: An encryption context (sent as base64 JSON); S3 passes it to KMS
            and stores it with the object.
        bucket_key: Use (``True``) or not (``False``) an S3 Bucket Key; ``None``
            leaves the bucket's setting.
    """

    key_id: str | None = None
    context: Mapping[str, str] | None = field(default=None, hash=False)
    bucket_key: bool | None = None

    def __post_init__(self) -> None:
        _check_kms(self.key_id, self.context, "SSEKMS")
        if self.bucket_key is not None and not isinstance(self.bucket_key, bool):
            raise _bad("SSEKMS bucket_key must be a bool or None")

    def headers(self) -> dict[str, str]:
        headers = _kms_headers("aws:kms", self.key_id, self.context)
        if self.bucket_key is not None:
            headers["x-amz-server-side-encryption-bucket-key-enabled"] = (
                "true" if self.bucket_key else "false"
            )
        return headers


@dataclass(frozen=True)
class DSSEKMS:
    """DSSE-KMS: dual-layer encryption with an AWS KMS key (``aws:kms:dsse``).

    Args:
        key_id: The KMS key id, ARN or alias; ``None`` uses the ``aws/s3`` key.
        context: An encryption context, as for :class:`SSEKMS`.
    """

    key_id: str | None = None
    context: Mapping[str, str] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        _check_kms(self.key_id, self.context, "DSSEKMS")

    def headers(self) -> dict[str, str]:
        return _kms_headers("aws:kms:dsse", self.key_id, self.context)


@dataclass(frozen=True, repr=False)
class SSECustomerKey:
    """SSE-C: objects encrypted with a key the caller keeps and sends with every request.

    The same key must be given to read the object back (HEAD, GET, ranged GET,
    copy). It is sent with its MD5 so S3 can check it arrived intact. Its ``repr``
    shows only that MD5, never the key.

    Args:
        key: The 256-bit AES key: exactly 32 bytes.

    Raises:
        InvalidArgumentError: The key is not 32 bytes.
    """

    key: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes | bytearray | memoryview):
            raise _bad(f"an SSE-C key must be bytes, not {type(self.key).__name__}")
        key = bytes(self.key)
        if len(key) != 32:
            raise _bad(f"an SSE-C key must be exactly 32 bytes (AES-256), not {len(key)} bytes")
        object.__setattr__(self, "key", key)

    @property
    def key_md5(self) -> str:
        """The base64 MD5 of the key, as sent in ``…-customer-key-MD5``."""
        return _b64(hashlib.md5(self.key, usedforsecurity=False).digest())

    def headers(self, prefix: str = "x-amz-server-side-encryption-customer-") -> dict[str, str]:
        return {
            f"{prefix}algorithm": "AES256",
            f"{prefix}key": _b64(self.key),
            f"{prefix}key-MD5": self.key_md5,
        }

    def copy_source_headers(self) -> dict[str, str]:
        """The headers that decrypt the *source* of a CopyObject / UploadPartCopy."""
        return self.headers("x-amz-copy-source-server-side-encryption-customer-")

    def __repr__(self) -> str:
        return f"SSECustomerKey(key_md5={self.key_md5!r})"


@dataclass(frozen=True)
class NoEncryption:
    """Send no encryption headers, overriding the driver's default encryption for one call.

    The bucket's default encryption (SSE-S3 on AWS) still applies to writes.
    """

    def headers(self) -> dict[str, str]:
        return {}


Encryption = SSES3 | SSEKMS | DSSEKMS | SSECustomerKey | NoEncryption
_ENCRYPTION_TYPES = (SSES3, SSEKMS, DSSEKMS, SSECustomerKey, NoEncryption)
_ENCRYPTION_NAMES: dict[str, Callable[[], Encryption]] = {
    "AES256": SSES3,
    "aws:kms": SSEKMS,
    "aws:kms:dsse": DSSEKMS,
}


def parse_encryption(value: Any, where: str) -> Encryption:
    """Validate an encryption option: an instance, or ``AES256``/``aws:kms``/``aws:kms:dsse``."""
    if isinstance(value, _ENCRYPTION_TYPES):
        return value
    if isinstance(value, str) and value in _ENCRYPTION_NAMES:
        return _ENCRYPTION_NAMES[value]()
    raise _bad(
        f"{where} must be SSES3(), SSEKMS(...), DSSEKMS(...), SSECustomerKey(key), "
        f"NoEncryption() or one of {sorted(_ENCRYPTION_NAMES)}: {value!r}"
    )


def parse_read_key(value: Any, where: str) -> SSECustomerKey | NoEncryption:
    """Validate the encryption of a read: only an SSE-C key (or bytes of one) applies."""
    if isinstance(value, bytes | bytearray | memoryview):
        return SSECustomerKey(bytes(value))
    if isinstance(value, SSECustomerKey | NoEncryption):
        return value
    raise _bad(
        f"{where} must be an SSECustomerKey (or its 32 bytes) or NoEncryption(): S3 decrypts "
        f"SSE-S3 and SSE-KMS objects by itself, so only SSE-C keys are sent on reads; got {value!r}"
    )


def check_sse_c_transport(key: SSECustomerKey | None, secure: bool, host: str) -> None:
    """Refuse to send an SSE-C key in clear text to anything but this machine.

    AWS rejects SSE-C over plain HTTP, after the key has crossed the network; this
    raises before it is sent. Loopback endpoints (local test servers) are allowed.
    """
    if key is None or secure:
        return
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return
    try:
        if ipaddress.ip_address(name).is_loopback:
            return
    except ValueError:
        pass
    raise _bad(
        "SSE-C keys are only sent over HTTPS (secure=True); S3 refuses them over plain "
        "HTTP and the key would cross the network in clear text"
    )


# -- conditions ------------------------------------------------------------------------------


def format_etag(value: Any, where: str) -> str:
    """Validate an ETag (with or without quotes) and return it quoted, or ``*`` as is."""
    text = _text(value, where).strip()
    if text == "*":
        return text
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text or '"' in text:
        raise _bad(f"{where} is not an ETag: {value!r}")
    return f'"{text}"'


def _http_date(value: Any, where: str) -> str:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise _bad(f"{where} must be a timezone-aware datetime, not {value!r}")
    return format_datetime(value.astimezone(UTC), usegmt=True)


@dataclass(frozen=True)
class ReadConditions:
    """Validated conditional-read headers, ready to send."""

    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(
        cls,
        *,
        if_match: Any = None,
        if_none_match: Any = None,
        if_modified_since: Any = None,
        if_unmodified_since: Any = None,
    ) -> ReadConditions:
        headers: dict[str, str] = {}
        if if_match is not None:
            headers["If-Match"] = format_etag(if_match, "if_match")
        if if_none_match is not None:
            headers["If-None-Match"] = format_etag(if_none_match, "if_none_match")
        if if_modified_since is not None:
            headers["If-Modified-Since"] = _http_date(if_modified_since, "if_modified_since")
        if if_unmodified_since is not None:
            headers["If-Unmodified-Since"] = _http_date(if_unmodified_since, "if_unmodified_since")
        return cls(headers)


# -- tags ------------------------------------------------------------------------------------


#: The characters besides letters and digits S3 accepts in tag keys and values.
_TAG_PUNCTUATION = frozenset(" +-=._:/@")


def parse_tags(value: Any, where: str) -> dict[str, str]:
    """Validate object tags against S3's limits (10 tags, keys ≤ 128, values ≤ 256 chars)."""
    if not isinstance(value, Mapping):
        raise _bad(f"{where} must be a mapping of str to str")
    if len(value) > MAX_TAGS:
        raise _bad(f"{where} has {len(value)} tags; S3 allows at most {MAX_TAGS} per object")
    tags: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise _bad(f"{where} must map str keys to str values: {key!r}: {item!r}")
        if not key or len(key) > MAX_TAG_KEY:
            raise _bad(f"tag key {key!r} must be 1 to {MAX_TAG_KEY} characters")
        if len(item) > MAX_TAG_VALUE:
            raise _bad(f"the value of tag {key!r} is longer than {MAX_TAG_VALUE} characters")
        if key.lower().startswith("aws:"):
            raise _bad(f"tag key {key!r}: the 'aws:' prefix is reserved")
        for text in (key, item):
            bad = [c for c in text if not (c.isalnum() or c in _TAG_PUNCTUATION)]
            if bad:
                raise _bad(
                    f"tag {key!r} contains {bad[0]!r}; S3 allows letters, digits, spaces "
                    f"and {' '.join(sorted(_TAG_PUNCTUATION - {' '}))}"
                )
        tags[key] = item
    return tags


def tagging_header(tags: Mapping[str, str]) -> str:
    """The ``x-amz-tagging`` value: tags as a URL query string (UTF-8, percent-encoded)."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in tags.items())


# -- object lock -----------------------------------------------------------------------------

LOCK_MODES: Final = ("GOVERNANCE", "COMPLIANCE")


def parse_lock_mode(value: Any, where: str) -> str:
    if not isinstance(value, str) or value.upper() not in LOCK_MODES:
        raise _bad(f"{where} must be 'GOVERNANCE' or 'COMPLIANCE': {value!r}")
    return value.upper()


def format_lock_date(value: Any, where: str) -> str:
    """An aware datetime as S3's object-lock timestamp (ISO 8601, UTC, milliseconds)."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise _bad(f"{where} must be a timezone-aware datetime, not {value!r}")
    moment = value.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# -- resolved write options ------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectDefaults:
    """A driver's defaults for every call: encryption, checksum algorithm, requester pays.

    ``checksum`` is the driver's ``checksum`` argument: ``"crc32"`` and ``"md5"``
    are the transfer engine's own modes; any other algorithm is added by
    :class:`S3WriteOptions` on top of the ``"md5"`` mode.
    """

    encryption: Encryption | None = None
    checksum: str = "crc32"
    request_payer: bool = False

    @classmethod
    def parse(cls, *, encryption: Any, checksum: Any, request_payer: Any) -> ObjectDefaults:
        parsed = None if encryption is None else parse_encryption(encryption, "encryption")
        if not isinstance(checksum, str) or checksum.lower() not in ("md5", *_LOWER_ALGORITHMS):
            raise _bad(
                f"invalid checksum {checksum!r}: use 'md5' or one of "
                f"{[a.lower() for a in CHECKSUM_ALGORITHMS]}"
            )
        checksum = checksum.lower()
        if checksum != "md5":
            parse_checksum_algorithm(checksum, "checksum")
        if not isinstance(request_payer, bool):
            raise _bad("request_payer must be a bool")
        return cls(parsed, checksum, request_payer)

    @property
    def engine_checksum(self) -> Literal["crc32", "md5"]:
        """The transfer engine's mode: its own CRC32, or Content-MD5 with ours on top."""
        return "crc32" if self.checksum == "crc32" else "md5"

    def read_key(self) -> SSECustomerKey | None:
        """The key sent on reads by default: the default encryption when it is SSE-C."""
        return self.encryption if isinstance(self.encryption, SSECustomerKey) else None


_LOWER_ALGORITHMS = tuple(a.lower() for a in CHECKSUM_ALGORITHMS)


@dataclass(frozen=True)
class S3WriteOptions:
    """Everything S3-specific about one upload, resolved from its ``extra`` and the driver.

    ``checksum_algorithm`` is set only when this upload's checksum is one that the
    transfer engine does not produce itself (anything but its default CRC32); the
    engine then runs in its ``"md5"`` mode and these builders add the checksums.
    """

    encryption: Encryption | None = None
    checksum_algorithm: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    if_match: str | None = None
    if_none_match: str | None = None
    lock_mode: str | None = None
    lock_retain_until: str | None = None
    legal_hold: bool | None = None

    @classmethod
    def resolve(cls, options: UploadOptions, defaults: ObjectDefaults) -> S3WriteOptions:
        encryption = options.encryption if options.encryption is not None else defaults.encryption
        if isinstance(encryption, NoEncryption):
            encryption = None
        algorithm = options.checksum_algorithm
        if algorithm is None and defaults.checksum not in ("crc32", "md5"):
            algorithm = defaults.checksum.upper()
        if algorithm == "CRC32" and defaults.checksum == "crc32":
            algorithm = None  # the engine's own full-object CRC32 does it better
        return cls(
            encryption=encryption,
            checksum_algorithm=algorithm,
            tags=dict(options.tags),
            if_match=options.if_match,
            if_none_match=options.if_none_match,
            lock_mode=options.object_lock_mode,
            lock_retain_until=options.object_lock_retain_until,
            legal_hold=options.object_lock_legal_hold,
        )

    @property
    def sse_customer_key(self) -> SSECustomerKey | None:
        return self.encryption if isinstance(self.encryption, SSECustomerKey) else None

    def engine_crc32(self, defaults: ObjectDefaults) -> bool:
        """Whether the transfer engine should send its own CRC32 checksums for this upload."""
        return defaults.engine_checksum == "crc32" and self.checksum_algorithm is None

    def object_headers(self) -> dict[str, str]:
        """Headers describing the stored object: PutObject and CreateMultipartUpload."""
        headers: dict[str, str] = {}
        if self.encryption is not None:
            headers.update(self.encryption.headers())
        if self.tags:
            headers["x-amz-tagging"] = tagging_header(self.tags)
        if self.lock_mode is not None:
            headers["x-amz-object-lock-mode"] = self.lock_mode
        if self.lock_retain_until is not None:
            headers["x-amz-object-lock-retain-until-date"] = self.lock_retain_until
        if self.legal_hold is not None:
            headers["x-amz-object-lock-legal-hold"] = "ON" if self.legal_hold else "OFF"
        return headers

    def _condition_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.if_match is not None:
            headers["If-Match"] = self.if_match
        if self.if_none_match is not None:
            headers["If-None-Match"] = self.if_none_match
        return headers

    def put_headers(self, body: bytes | Callable[[], IO[bytes]] | None) -> dict[str, str]:
        """Headers only a single PutObject takes: its conditions and its checksum."""
        headers = self._condition_headers()
        if self.checksum_algorithm is not None:
            headers.update(self._checksum_headers(checksum_of_body(self.checksum_algorithm, body)))
        return headers

    def _checksum_headers(self, value: str) -> dict[str, str]:
        assert self.checksum_algorithm is not None
        return {
            checksum_header(self.checksum_algorithm): value,
            # Some servers (moto) keep a checksum only when told its algorithm this way.
            "x-amz-sdk-checksum-algorithm": self.checksum_algorithm,
        }

    def initiate_headers(self) -> dict[str, str]:
        """Headers only CreateMultipartUpload takes: the checksum algorithm and type."""
        if self.checksum_algorithm is None:
            return {}
        # CRC64NVME exists only as a full-object checksum; the others default to COMPOSITE.
        kind = "FULL_OBJECT" if self.checksum_algorithm == "CRC64NVME" else "COMPOSITE"
        return {
            "x-amz-checksum-algorithm": self.checksum_algorithm,
            "x-amz-checksum-type": kind,
        }

    def part_headers(self, data: bytes) -> tuple[dict[str, str], str | None]:
        """UploadPart's headers (SSE-C key, part checksum) and the part's checksum."""
        headers: dict[str, str] = {}
        key = self.sse_customer_key
        if key is not None:
            headers.update(key.headers())
        value = None
        if self.checksum_algorithm is not None:
            value = checksum_b64(self.checksum_algorithm, data)
            headers.update(self._checksum_headers(value))
        return headers, value

    def part_checksum_element(self) -> str | None:
        """The ``<Part>`` child naming a part's checksum in CompleteMultipartUpload."""
        return None if self.checksum_algorithm is None else f"Checksum{self.checksum_algorithm}"

    def complete_headers(self) -> dict[str, str]:
        """CompleteMultipartUpload's headers: the write conditions and the SSE-C key."""
        headers = self._condition_headers()
        key = self.sse_customer_key
        if key is not None:
            headers.update(key.headers())
        return headers

    def expected_composite(self, part_checksums: Sequence[str]) -> str | None:
        """The COMPOSITE checksum the store should report for these part checksums."""
        if self.checksum_algorithm in (None, "CRC64NVME") or not part_checksums:
            return None
        assert self.checksum_algorithm is not None
        return composite_checksum(self.checksum_algorithm, part_checksums)


_F = TypeVar("_F", bound=Callable[..., Any])


def reraise_preconditions(method: _F) -> _F:
    """Decorate an upload so a lost conditional completion raises :func:`precondition_error`."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from libstore.types import MultipartUploadError

        try:
            return method(*args, **kwargs)
        except MultipartUploadError as exc:
            error = precondition_error(exc)
            if error is None:
                raise
            raise error from exc

    return cast(_F, wrapper)


def precondition_error(exc: MultipartUploadError) -> PreconditionFailedError | None:
    """The :class:`PreconditionFailedError` behind a failed multipart completion, if it was one.

    The multipart engine wraps every failure in :class:`MultipartUploadError`; a
    conditional write that lost must still raise the dedicated exception.
    """
    cause = exc.__cause__
    if not isinstance(cause, PreconditionFailedError):
        return None
    error = type(cause)(
        f"{cause.value} (the multipart upload was aborted)",
        cause.driver,
        container_name=cause.container_name,
        object_name=cause.object_name,
        http_status=cause.http_status,
        code=cause.code,
        request_id=cause.request_id,
        host_id=cause.host_id,
    )
    return error


# -- reads -----------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class ReadOptions:
    """How to read one object: its version, its SSE-C key and the read conditions."""

    version_id: str | None = None
    key: SSECustomerKey | NoEncryption | None = None
    conditions: ReadConditions = field(default_factory=ReadConditions)

    def effective_key(self, defaults: ObjectDefaults) -> SSECustomerKey | None:
        if isinstance(self.key, NoEncryption):
            return None
        return self.key if self.key is not None else defaults.read_key()

    def headers(self, defaults: ObjectDefaults, *, conditions: bool = True) -> dict[str, str]:
        """HEAD/GET headers: SSE-C key, requester pays and (optionally) the conditions."""
        headers: dict[str, str] = {}
        key = self.effective_key(defaults)
        if key is not None:
            headers.update(key.headers())
        if defaults.request_payer:
            headers["x-amz-request-payer"] = "requester"
        if conditions:
            headers.update(self.conditions.headers)
        return headers

    def query(self) -> list[tuple[str, str | None]]:
        return [] if self.version_id is None else [("versionId", self.version_id)]

    def __repr__(self) -> str:
        return f"ReadOptions(version_id={self.version_id!r}, key={self.key!r})"


_READ_OPTIONS: weakref.WeakKeyDictionary[Object, ReadOptions] = weakref.WeakKeyDictionary()


def remember_read_options(obj: Object, options: ReadOptions) -> Object:
    """Attach ``options`` to the ``obj`` handle: its downloads and operations use them."""
    if options != ReadOptions():
        _READ_OPTIONS[obj] = options
    return obj


def read_options_of(obj: Object) -> ReadOptions:
    """The options attached to ``obj``, or the defaults."""
    return _READ_OPTIONS.get(obj) or ReadOptions()


def version_query(version_id: str) -> str:
    """``versionId=…`` for ``x-amz-copy-source`` (percent-encoded)."""
    return f"versionId={quote(version_id, safe='')}"


def parse_version_id(value: Any) -> str | None:
    if value is None:
        return None
    return _text(value, "version_id")


# -- copies ----------------------------------------------------------------------------------


def copy_object_headers(
    *,
    storage_class: str | None = None,
    encryption: Encryption | None = None,
    source_key: SSECustomerKey | None = None,
    replace_metadata: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """CopyObject's S3-specific headers (the caller adds ``x-amz-copy-source`` itself).

    Args:
        storage_class: The copy's storage class (validated by ``parse_upload_extra``).
        encryption: How to encrypt the copy; an SSE-C key is the *destination* key.
        source_key: The SSE-C key of the source, when the source is SSE-C encrypted.
        replace_metadata: The upload headers of the copy (``Content-Type``,
            ``x-amz-meta-*``…): given, they replace the source's
            (``x-amz-metadata-directive: REPLACE``); ``None`` copies the source's.
        tags: The copy's tags (``x-amz-tagging-directive: REPLACE``); ``None`` copies
            the source's.
    """
    headers: dict[str, str] = {}
    if replace_metadata is not None:
        headers["x-amz-metadata-directive"] = "REPLACE"
        headers.update(replace_metadata)
    if storage_class is not None:
        headers["x-amz-storage-class"] = storage_class
    if encryption is not None:
        headers.update(encryption.headers())
    if source_key is not None:
        headers.update(source_key.copy_source_headers())
    if tags is not None:
        headers["x-amz-tagging-directive"] = "REPLACE"
        if tags:
            headers["x-amz-tagging"] = tagging_header(tags)
    return headers


def bypass_governance_headers(bypass: bool) -> dict[str, str]:
    """The header that lets a delete or a retention change override GOVERNANCE-mode locks."""
    if not isinstance(bypass, bool):
        raise InvalidArgumentError("bypass_governance_retention must be a bool")
    return {"x-amz-bypass-governance-retention": "true"} if bypass else {}
