"""S3's wire format: bucket and key rules, URL encoding, dates and error documents.

Pure functions shared by the S3 driver's modules; no requests are sent here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, cast
from urllib.parse import quote

from lxml import etree

from libstore._xml import child_text, parse_xml
from libstore.base import StorageDriver
from libstore.http.session import ErrorReply
from libstore.types import (
    AccessDeniedError,
    ContainerAlreadyExistsError,
    ContainerDoesNotExistError,
    ContainerIsNotEmptyError,
    InvalidContainerNameError,
    InvalidCredsError,
    InvalidObjectNameError,
    InvalidRangeError,
    LibstoreError,
    NotModifiedError,
    ObjectDoesNotExistError,
    ObjectError,
    ObjectHashMismatchError,
    PreconditionFailedError,
    RateLimitReachedError,
    RequestTimeoutError,
    ResponseError,
    ServerError,
)

#: Longest object key S3 accepts, in UTF-8 bytes.
MAX_KEY_BYTES = 1024

_CREDENTIAL_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "AuthorizationHeaderMalformed",
        "InvalidSecurity",
    }
)
#: A bucket name that is also a valid DNS label sequence (virtual-hosted addressing).
DNS_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def validate_bucket_name(name: str) -> None:
    """Check ``name`` against S3's rules for new general-purpose buckets.

    Raises:
        InvalidContainerNameError: The name breaks a rule; the message says which.
    """

    def bad(reason: str) -> InvalidContainerNameError:
        return InvalidContainerNameError(f"invalid bucket name: {reason}", container_name=name)

    if not isinstance(name, str):
        raise bad("it must be a string")
    if not 3 <= len(name) <= 63:
        raise bad("it must be 3 to 63 characters long")
    if not DNS_BUCKET_NAME.match(name):
        raise bad(
            "use only lowercase letters, digits, dots and hyphens, beginning and ending "
            "with a letter or digit"
        )
    if ".." in name or ".-" in name or "-." in name:
        raise bad("dots may not be adjacent to each other or to hyphens")
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        raise bad("it must not be formatted as an IP address")
    if name.startswith(_BUCKET_PREFIXES) or name.endswith(_BUCKET_SUFFIXES):
        raise bad("that prefix or suffix is reserved by S3")


def check_bucket_reference(name: str) -> None:
    """Lenient check for names of existing buckets (legacy names may break today's rules)."""
    if not isinstance(name, str) or not name or len(name) > 255:
        raise InvalidContainerNameError(
            "bucket name must be 1 to 255 characters", container_name=name
        )
    if "/" in name or any(ord(c) < 0x21 or c in "\x7f?#%\\" for c in name):
        raise InvalidContainerNameError(
            "bucket name contains characters no bucket can have", container_name=name
        )


def check_key(name: str) -> None:
    if not isinstance(name, str):
        raise InvalidObjectNameError(f"object name must be a str, not {type(name).__name__}")
    if not name:
        raise InvalidObjectNameError("object name must not be empty", object_name=name)
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidObjectNameError(
            "object name is not valid Unicode (lone surrogate)", object_name=name
        ) from None
    if len(encoded) > MAX_KEY_BYTES:
        raise InvalidObjectNameError(
            f"object name is {len(encoded)} bytes in UTF-8; S3 allows {MAX_KEY_BYTES}",
            object_name=name,
        )


def quote_key(value: str) -> str:
    """Percent-encode everything but RFC 3986's unreserved characters and ``/``."""
    return quote(value, safe="/~")


def encode_query(params: Sequence[tuple[str, str | None]]) -> str:
    return "&".join(
        quote(k, safe="-_.~") if v is None else f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, v in params
    )


def strip_etag(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


_LISTING_FIELDS = ("Key", "Size", "ETag", "LastModified", "StorageClass")
_LISTING_PATHS: dict[str, tuple[etree.XPath, ...]] = {}

#: Key, Size, ETag, LastModified and StorageClass texts of a page's entries.
ListingColumns = tuple[list[str], list[str], list[str], list[str], list[str] | None]


def listing_columns(root: etree._Element) -> ListingColumns | None:
    """The fields of every ``Contents`` entry of a listing page, one list per field.

    ``None`` when a column does not have exactly one text per entry (a missing or
    empty element, a repeated one): the caller then reads entry by entry. The
    storage classes are ``None`` when no entry names one.
    """
    tag = root.tag
    if not isinstance(tag, str):
        return None
    namespace = tag[1:].partition("}")[0] if tag.startswith("{") else ""
    paths = _LISTING_PATHS.get(namespace)
    if paths is None:
        prefix = "s3:" if namespace else ""
        spaces = {"s3": namespace} if namespace else None
        paths = (
            *(
                etree.XPath(
                    f"{prefix}Contents/{prefix}{name}/text()",
                    namespaces=spaces,
                    smart_strings=False,
                )
                for name in _LISTING_FIELDS
            ),
            etree.XPath(f"count({prefix}Contents)", namespaces=spaces),
        )
        if len(_LISTING_PATHS) < 16:
            _LISTING_PATHS[namespace] = paths
    count = int(cast(float, paths[5](root)))
    keys, sizes, etags, dates, classes = (cast(list[str], path(root)) for path in paths[:5])
    if not (len(keys) == len(sizes) == len(etags) == len(dates) == count):
        return None
    if classes and len(classes) != count:
        return None  # some entries name a storage class, some do not
    return keys, sizes, etags, dates, classes or None


def lowered_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A plain dict of ``headers`` keyed by lower-case name (fast to read many fields from)."""
    lower_items = getattr(headers, "lower_items", None)  # requests' CaseInsensitiveDict
    if lower_items is not None:
        return dict(lower_items())
    return {name.lower(): value for name, value in headers.items()}


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date (``Last-Modified``…) as an aware datetime; ``None`` if absent or invalid."""
    if not value:
        return None
    # The IMF-fixdate every current server sends: "Sun, 06 Nov 1994 08:49:37 GMT".
    parts = value.split()
    if len(parts) == 6 and parts[5] == "GMT" and len(parts[4]) == 8:
        month = _MONTHS.get(parts[2])
        clock = parts[4]
        if (
            month is not None
            and parts[1].isdigit()
            and parts[3].isdigit()
            and clock[2] == clock[5] == ":"
            and (clock[:2] + clock[3:5] + clock[6:]).isdigit()
        ):
            try:
                return datetime(
                    int(parts[3]), month, int(parts[1]),
                    int(clock[:2]), int(clock[3:5]), int(clock[6:]), tzinfo=UTC,
                )  # fmt: skip
            except ValueError:
                return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_iso_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_s3_error(status: int, headers: Mapping[str, str], body: bytes) -> ErrorReply:
    """Parse S3's ``<Error>`` document (when there is one) and its request-id headers."""
    reply = ErrorReply(
        status=status,
        headers=headers,
        body=body,
        request_id=headers.get("x-amz-request-id"),
        host_id=headers.get("x-amz-id-2"),
    )
    if body.strip():
        try:
            root = parse_xml(body, "error reply")
        except ResponseError:
            return reply
        if etree.QName(root).localname == "Error":
            reply.code = child_text(root, "Code")
            reply.message = child_text(root, "Message")
            reply.request_id = child_text(root, "RequestId") or reply.request_id
            reply.host_id = child_text(root, "HostId") or reply.host_id
            for name in ("Region", "BucketName", "Key", "Condition"):
                text = child_text(root, name)
                if text:
                    reply.details[name] = text
    return reply


def map_s3_error(
    driver: StorageDriver,
    region: str,
    error: ErrorReply,
    action: str,
    container_name: str | None,
    object_name: str | None,
    missing: Literal["container", "object"] | None,
) -> LibstoreError:
    """Map an S3 error reply to the libstore exception for ``action``.

    ``missing`` says what a bodiless 404 (a HEAD reply) means.
    """
    status, code = error.status, error.code
    message = error.message or ""
    if len(message) > 300:
        message = message[:300] + "…"
    detail = f"{code}: {message}" if code and message else (code or "")
    text = f"{action} failed: {detail or f'HTTP {status}'}"
    fields: dict[str, Any] = {
        "http_status": status,
        "code": code,
        "request_id": error.request_id,
        "host_id": error.host_id,
    }
    if code == "NoSuchBucket" or (code is None and status == 404 and missing == "container"):
        return ContainerDoesNotExistError(text, driver, container_name, **fields)
    if code in ("NoSuchKey", "NoSuchVersion") or (
        code is None and status == 404 and missing == "object"
    ):
        return ObjectDoesNotExistError(
            text, driver, object_name, container_name=container_name, **fields
        )
    fields["container_name"] = container_name
    fields["object_name"] = object_name
    bucket_region = error.details.get("Region") or error.headers.get("x-amz-bucket-region")
    redirected = status in (301, 307) or code in (
        "PermanentRedirect",
        "AuthorizationHeaderMalformed",
    )
    if redirected and bucket_region and bucket_region != region:
        text += f"; the bucket is in region {bucket_region!r}, create the driver with that region"
    if code in ("BucketAlreadyExists", "BucketAlreadyOwnedByYou"):
        return ContainerAlreadyExistsError(text, driver, **fields)
    if code == "BucketNotEmpty":
        return ContainerIsNotEmptyError(text, driver, **fields)
    if code == "InvalidBucketName":
        return InvalidContainerNameError(text, driver, **fields)
    if code in _CREDENTIAL_CODES:
        return InvalidCredsError(text, driver, **fields)
    if status == 403 or code == "AccessDenied":
        return AccessDeniedError(text, driver, **fields)
    if status == 304:
        return NotModifiedError(f"{action}: not modified (HTTP 304)", driver, **fields)
    if status == 412 or code in ("PreconditionFailed", "ConditionalRequestConflict"):
        return PreconditionFailedError(text, driver, **fields)
    if status == 416 or code == "InvalidRange":
        return InvalidRangeError(text, driver, **fields)
    if code in ("BadDigest", "InvalidDigest"):
        return ObjectHashMismatchError(text, driver, **fields)
    if code == "RequestTimeout":
        return RequestTimeoutError(text, driver, **fields)
    if status == 429 or code in ("SlowDown", "Throttling", "ThrottlingException"):
        return RateLimitReachedError(text, driver, **fields)
    if status >= 500 or code in ("InternalError", "ServiceUnavailable"):
        return ServerError(text, driver, **fields)
    if object_name is not None:
        return ObjectError(text, driver, **fields)
    return LibstoreError(text, driver, **fields)
