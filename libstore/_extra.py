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


def parse_upload_extra(extra: Mapping[str, Any] | None) -> UploadOptions:
    """Validate ``extra`` as given to ``upload_object``/``upload_object_via_stream``.

    Raises:
        InvalidArgumentError: An unknown key or an invalid value (also a ``ValueError``).
    """
    if extra is None:
        return UploadOptions()
    if not isinstance(extra, Mapping):
        raise InvalidArgumentError(f"extra must be a dict, not {type(extra).__name__}")
    unknown = set(extra) - UPLOAD_EXTRA_KEYS
    if unknown:
        raise InvalidArgumentError(
            f"unknown extra option(s) {sorted(unknown)}; accepted: {sorted(UPLOAD_EXTRA_KEYS)}"
        )
    values: dict[str, Any] = {}
    for key, value in extra.items():
        if value is None:
            continue
        if key == "meta_data":
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
    return UploadOptions(**values)
