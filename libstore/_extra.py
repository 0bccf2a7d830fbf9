"""Validation of the ``extra`` options accepted on upload, shared by every driver.

Options are checked before any request is sent or any file is written, so a bad
value never leaves anything behind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from libstore.types import InvalidArgumentError

#: The canned ACLs S3 defines for objects.
CANNED_ACLS = frozenset(
    {
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
    }
)

#: S3 storage classes accepted on upload.
STORAGE_CLASSES = frozenset(
    {
        "STANDARD",
        "REDUCED_REDUNDANCY",
        "STANDARD_IA",
        "ONEZONE_IA",
        "INTELLIGENT_TIERING",
        "GLACIER",
        "DEEP_ARCHIVE",
        "OUTPOSTS",
        "GLACIER_IR",
        "SNOW",
        "EXPRESS_ONEZONE",
    }
)

#: Largest total size of user metadata (names plus values, in bytes) S3 accepts.
MAX_METADATA_BYTES = 2 * 1024

#: Keys accepted in ``extra`` on upload.
UPLOAD_EXTRA_KEYS = frozenset(
    {
        "content_type",
        "meta_data",
        "acl",
        "storage_class",
        "cache_control",
        "content_disposition",
        "content_encoding",
        "content_language",
        "expires",
    }
)

#: Keys accepted in ``extra`` on upload by the S3 drivers only (other drivers refuse them).
S3_EXTRA_KEYS = frozenset(
    {
        "encryption",
        "checksum_algorithm",
        "tags",
        "if_match",
        "if_none_match",
        "object_lock_mode",
        "object_lock_retain_until",
        "object_lock_legal_hold",
    }
)

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_HEADER_VALUE = re.compile(r"^[\x20-\x7e\t]*$")


@dataclass(frozen=True)
class UploadOptions:
    """Validated upload options; ``None`` means "not set"."""

    content_type: str | None = None
    meta_data: Mapping[str, str] = field(default_factory=dict)
    acl: str | None = None
    storage_class: str | None = None
    cache_control: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None
    expires: str | None = None
    # S3 only (see S3_EXTRA_KEYS); validated by libstore.drivers._s3_options.
    encryption: Any = None
    checksum_algorithm: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    if_match: str | None = None
    if_none_match: str | None = None
    object_lock_mode: str | None = None
    object_lock_retain_until: str | None = None
    object_lock_legal_hold: bool | None = None

    def stored_attributes(self) -> dict[str, str]:
        """The standard HTTP attributes that were set, keyed by their ``extra`` names."""
        names = (
            "cache_control",
            "content_disposition",
            "content_encoding",
            "content_language",
            "expires",
        )
        return {n: v for n in names if (v := getattr(self, n)) is not None}


def _header_text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"extra[{name!r}] must be a string, not {type(value).__name__}")
    if not value or not _HEADER_VALUE.match(value) or value != value.strip():
        raise InvalidArgumentError(
            f"extra[{name!r}] must be non-empty printable ASCII without leading/trailing "
            f"spaces or line breaks: {value!r}"
        )
    return value


def _meta_data(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidArgumentError("extra['meta_data'] must be a mapping of str to str")
    result: dict[str, str] = {}
    total = 0
    for key, item in value.items():
        if not isinstance(key, str) or not _TOKEN.match(key):
            raise InvalidArgumentError(
                f"metadata name {key!r} must be a non-empty HTTP token (ASCII letters, digits "
                "and !#$%&'*+-.^_`|~)"
            )
        if not isinstance(item, str) or not _HEADER_VALUE.match(item):
            raise InvalidArgumentError(
                f"metadata value for {key!r} must be a printable US-ASCII string: {item!r}"
            )
        lowered = key.lower()
        if lowered in result:
            raise InvalidArgumentError(f"metadata name {key!r} is given twice (names ignore case)")
        result[lowered] = item.strip()
        total += len(lowered) + len(item)
    if total > MAX_METADATA_BYTES:
        raise InvalidArgumentError(
            f"user metadata is {total} bytes; the limit is {MAX_METADATA_BYTES} bytes"
        )
    return result


def _expires(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidArgumentError("extra['expires'] must be a timezone-aware datetime")
        return format_datetime(value.astimezone(UTC), usegmt=True)
    text = _header_text("expires", value)
    try:
        parsedate_to_datetime(text)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"extra['expires'] is not an HTTP date: {text!r}") from exc
    return text


def parse_upload_extra(extra: Mapping[str, Any] | None, *, s3: bool = False) -> UploadOptions:
    """Validate ``extra`` as given to ``upload_object``/``upload_object_via_stream``.

    Args:
        extra: The options.
        s3: Accept the S3-only options (:data:`S3_EXTRA_KEYS`); other drivers refuse them.

    Raises:
        InvalidArgumentError: An unknown key or an invalid value (also a ``ValueError``).
        NotSupportedError: A CRC32C/CRC64NVME checksum without an accelerator package.
    """
    if extra is None:
        return UploadOptions()
    if not isinstance(extra, Mapping):
        raise InvalidArgumentError(f"extra must be a dict, not {type(extra).__name__}")
    accepted = UPLOAD_EXTRA_KEYS | S3_EXTRA_KEYS if s3 else UPLOAD_EXTRA_KEYS
    unknown = set(extra) - UPLOAD_EXTRA_KEYS - S3_EXTRA_KEYS
    if unknown:
        raise InvalidArgumentError(
            f"unknown extra option(s) {sorted(unknown)}; accepted: {sorted(accepted)}"
        )
    s3_only = sorted(k for k in set(extra) - accepted if extra[k] is not None)
    if s3_only:
        raise InvalidArgumentError(
            f"extra option(s) {s3_only} are supported by the S3 drivers only; "
            f"this driver accepts {sorted(accepted)}"
        )
    values: dict[str, Any] = {}
    for key, value in extra.items():
        if value is None:
            continue
        if key in S3_EXTRA_KEYS:
            values[key] = _s3_option(key, value)
        elif key == "meta_data":
            values[key] = _meta_data(value)
        elif key == "acl":
            if not isinstance(value, str) or value not in CANNED_ACLS:
                raise InvalidArgumentError(
                    f"extra['acl'] must be a canned ACL, one of {sorted(CANNED_ACLS)}: {value!r}"
                )
            values[key] = value
        elif key == "storage_class":
            text = _header_text(key, value).upper()
            if text not in STORAGE_CLASSES:
                raise InvalidArgumentError(
                    f"extra['storage_class'] must be one of {sorted(STORAGE_CLASSES)}: {value!r}"
                )
            values[key] = text
        elif key == "expires":
            values[key] = _expires(value)
        elif key == "content_type":
            text = _header_text(key, value)
            if "/" not in text:
                raise InvalidArgumentError(f"extra['content_type'] is not a media type: {text!r}")
            values[key] = text
        else:
            values[key] = _header_text(key, value)
    if ("object_lock_mode" in values) != ("object_lock_retain_until" in values):
        raise InvalidArgumentError(
            "extra['object_lock_mode'] and extra['object_lock_retain_until'] go together"
        )
    if "if_match" in values and "if_none_match" in values:
        raise InvalidArgumentError("give extra['if_match'] or extra['if_none_match'], not both")
    return UploadOptions(**values)


def _s3_option(key: str, value: Any) -> Any:
    from libstore.drivers import _s3_options as s3  # S3's own rules, kept with its driver

    where = f"extra[{key!r}]"
    if key == "encryption":
        return s3.parse_encryption(value, where)
    if key == "checksum_algorithm":
        return s3.parse_checksum_algorithm(value, where)
    if key == "tags":
        return s3.parse_tags(value, where)
    if key == "if_match":
        etag = s3.format_etag(value, where)
        if etag == "*":
            raise InvalidArgumentError(f"{where} must be an ETag; create-only is if_none_match='*'")
        return etag
    if key == "if_none_match":
        if value != "*":
            raise InvalidArgumentError(
                f"{where} must be '*' (create only: fail if the object exists): {value!r}"
            )
        return value
    if key == "object_lock_mode":
        return s3.parse_lock_mode(value, where)
    if key == "object_lock_retain_until":
        return s3.format_lock_date(value, where)
    if not isinstance(value, bool):  # object_lock_legal_hold
        raise InvalidArgumentError(f"{where} must be a bool: {value!r}")
    return value
