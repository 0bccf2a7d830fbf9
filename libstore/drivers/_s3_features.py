"""S3 sub-resources as pure XML builders and parsers: tagging, versioning, bulk delete,
lifecycle rules, object lock and requester pays.

Builders validate their input (raising :class:`~libstore.types.InvalidArgumentError`
before any request) and return the request body; parsers take a reply body and
return plain data, raising :class:`~libstore.types.ResponseError` on a reply they
cannot understand. The driver methods in :mod:`libstore.drivers.s3` send them.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, Final, Literal

from lxml import etree

from libstore._xml import child_text, children, parse_xml
from libstore.drivers._s3_options import (
    format_lock_date,
    parse_lock_mode,
    parse_tags,
)
from libstore.drivers._s3_protocol import check_key, parse_iso_date
from libstore.types import InvalidArgumentError, LibstoreError, ResponseError

__all__ = [
    "DeleteObjectsResult",
    "DeletedObject",
    "FailedDelete",
    "LifecycleRule",
    "ObjectLockConfiguration",
    "ObjectRetention",
]

S3_NS: Final = "http://s3.amazonaws.com/doc/2006-03-01/"
#: Most keys one DeleteObjects request may name.
DELETE_BATCH: Final = 1000

_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def content_md5(body: bytes) -> str:
    """The ``Content-MD5`` S3 requires on every configuration body and on DeleteObjects."""
    return base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()


def _document(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _root(name: str) -> etree._Element:
    return etree.Element(f"{{{S3_NS}}}{name}", nsmap={None: S3_NS})  # type: ignore[dict-item]


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{S3_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


def _xml_safe(text: str, what: str) -> str:
    if _XML_UNSAFE.search(text):
        raise InvalidArgumentError(
            f"{what} {text!r} has characters XML 1.0 cannot carry; use delete_object for it"
        )
    return text


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"{where} must be a positive int, not {value!r}")
    return value


def _int_text(element: etree._Element, name: str) -> int | None:
    text = child_text(element, name)
    if text is None or not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        raise ResponseError(f"<{name}> is not an integer: {text[:40]!r}") from None


# -- tagging ---------------------------------------------------------------------------------


def tagging_body(tags: Mapping[str, str]) -> bytes:
    """PutObjectTagging's ``<Tagging>`` document (tags validated first)."""
    checked = parse_tags(tags, "tags")
    root = _root("Tagging")
    tag_set = _sub(root, "TagSet")
    for key, value in checked.items():
        tag = _sub(tag_set, "Tag")
        _sub(tag, "Key", key)
        _sub(tag, "Value", value)
    return _document(root)


def _tag_pairs(parent: etree._Element) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag in children(parent, "Tag"):
        key = child_text(tag, "Key")
        if not key:
            raise ResponseError("a tag in the reply has no key")
        tags[key] = child_text(tag, "Value") or ""
    return tags


def parse_tagging(body: bytes) -> dict[str, str]:
    """GetObjectTagging's reply as a dict."""
    root = parse_xml(body, "tagging reply")
    tag_set = root.find("{*}TagSet")
    return {} if tag_set is None else _tag_pairs(tag_set)


# -- versioning ------------------------------------------------------------------------------

VersioningStatus = Literal["Enabled", "Suspended"]


def versioning_body(status: VersioningStatus) -> bytes:
    root = _root("VersioningConfiguration")
    _sub(root, "Status", status)
    return _document(root)


def parse_versioning(body: bytes) -> VersioningStatus | None:
    """GetBucketVersioning's status; ``None`` for a bucket that never had versioning."""
    status = child_text(parse_xml(body, "versioning reply"), "Status")
    if not status:
        return None
    if status not in ("Enabled", "Suspended"):
        raise ResponseError(f"unknown versioning status {status[:40]!r}")
    return "Enabled" if status == "Enabled" else "Suspended"


@dataclass(frozen=True)
class VersionEntry:
    """One ``<Version>`` or ``<DeleteMarker>`` of a ListObjectVersions page."""

    key: str
    version_id: str
    is_latest: bool
    delete_marker: bool
    last_modified: datetime | None
    etag: str | None
    size: int
    storage_class: str | None


@dataclass(frozen=True)
class VersionPage:
    entries: list[VersionEntry]
    truncated: bool
    next_key_marker: str | None
    next_version_id_marker: str | None


def parse_versions(body: bytes) -> VersionPage:
    """A ListObjectVersions page, versions and delete markers in the reply's order."""
    root = parse_xml(body, "version listing")
    entries: list[VersionEntry] = []
    for element in root:
        if not isinstance(element.tag, str):
            continue
        kind = etree.QName(element).localname
        if kind not in ("Version", "DeleteMarker"):
            continue
        key = child_text(element, "Key")
        version_id = child_text(element, "VersionId")
        if not key or not version_id:
            raise ResponseError(f"a <{kind}> in the version listing lacks a key or version id")
        size = _int_text(element, "Size") if kind == "Version" else 0
        etag = child_text(element, "ETag")
        entries.append(
            VersionEntry(
                key=key,
                version_id=version_id,
                is_latest=(child_text(element, "IsLatest") or "").lower() == "true",
                delete_marker=kind == "DeleteMarker",
                last_modified=parse_iso_date(child_text(element, "LastModified")),
                etag=etag.strip().strip('"') if etag else None,
                size=size or 0,
                storage_class=child_text(element, "StorageClass"),
            )
        )
    return VersionPage(
        entries,
        (child_text(root, "IsTruncated") or "").lower() == "true",
        child_text(root, "NextKeyMarker") or None,
        child_text(root, "NextVersionIdMarker") or None,
    )


# -- bulk delete -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletedObject:
    """A key (or key version) DeleteObjects removed.

    ``delete_marker`` tells that the deletion created (or removed) a delete marker,
    whose version is ``delete_marker_version_id``.
    """

    name: str
    version_id: str | None = None
    delete_marker: bool = False
    delete_marker_version_id: str | None = None


@dataclass(frozen=True)
class FailedDelete:
    """A key (or key version) DeleteObjects could not delete, with S3's error code."""

    name: str
    version_id: str | None
    code: str
    message: str


@dataclass
class DeleteObjectsResult:
    """What a bulk delete did, key by key, across all its batches.

    In quiet mode ``deleted`` stays empty: S3 reports failures only.
    """

    deleted: list[DeletedObject] = field(default_factory=list)
    errors: list[FailedDelete] = field(default_factory=list)

    def raise_for_errors(self) -> None:
        """Raise :class:`~libstore.types.LibstoreError` when any key failed."""
        if not self.errors:
            return
        first = self.errors[0]
        more = f" and {len(self.errors) - 1} more" if len(self.errors) > 1 else ""
        raise LibstoreError(
            f"deleting {len(self.errors)} object(s) failed: {first.name!r}: {first.code}: "
            f"{first.message}{more}",
            code=first.code,
            object_name=first.name,
        )


def delete_target(item: Any) -> tuple[str, str | None]:
    """A ``(key, version_id)`` pair from a name or a ``(name, version_id)`` tuple."""
    if isinstance(item, tuple) and len(item) == 2:
        name, version_id = item
        if version_id is not None and (not isinstance(version_id, str) or not version_id):
            raise InvalidArgumentError(f"invalid version id for {name!r}: {version_id!r}")
    else:
        name, version_id = item, None
    check_key(name)
    _xml_safe(name, "object name")
    if version_id is not None:
        _xml_safe(version_id, "version id")
    return name, version_id


def delete_batches(
    targets: Sequence[tuple[str, str | None]], size: int = DELETE_BATCH
) -> Iterator[Sequence[tuple[str, str | None]]]:
    for start in range(0, len(targets), size):
        yield targets[start : start + size]


def delete_body(batch: Iterable[tuple[str, str | None]], *, quiet: bool) -> bytes:
    root = _root("Delete")
    if quiet:
        _sub(root, "Quiet", "true")
    for name, version_id in batch:
        element = _sub(root, "Object")
        _sub(element, "Key", name)
        if version_id is not None:
            _sub(element, "VersionId", version_id)
    return _document(root)


def parse_delete_result(body: bytes, result: DeleteObjectsResult) -> None:
    """Add a DeleteObjects reply's ``<Deleted>`` and ``<Error>`` entries to ``result``."""
    root = parse_xml(body, "bulk delete reply")
    for element in children(root, "Deleted"):
        name = child_text(element, "Key")
        if name is None:
            raise ResponseError("a <Deleted> entry of the bulk delete reply has no key")
        result.deleted.append(
            DeletedObject(
                name,
                child_text(element, "VersionId") or None,
                (child_text(element, "DeleteMarker") or "").lower() == "true",
                child_text(element, "DeleteMarkerVersionId") or None,
            )
        )
    for element in children(root, "Error"):
        name = child_text(element, "Key")
        if name is None:
            raise ResponseError("an <Error> entry of the bulk delete reply has no key")
        result.errors.append(
            FailedDelete(
                name,
                child_text(element, "VersionId") or None,
                child_text(element, "Code") or "Unknown",
                child_text(element, "Message") or "",
            )
        )


# -- lifecycle -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LifecycleRule:
    """One bucket lifecycle rule: which objects, and when they expire.

    Args:
        id: The rule's name (up to 255 characters); S3 makes one up when ``None``.
        prefix: Only keys starting with this ("" for every key).
        tags: Only objects carrying all these tags.
        expiration_days: Expire current versions this many days after creation.
        expiration_date: Expire current versions on this date (midnight UTC).
        expired_object_delete_marker: Remove delete markers left without versions.
        noncurrent_expiration_days: Delete noncurrent versions this many days
            after they became noncurrent.
        noncurrent_newer_versions: Keep this many newer noncurrent versions
            regardless (with ``noncurrent_expiration_days``).
        abort_incomplete_multipart_days: Abort multipart uploads left incomplete
            this many days after they started.
        enabled: Whether the rule is in force.

    Transitions to other storage classes are not modelled; a rule read back by
    :func:`parse_lifecycle` from a bucket that has them loses them.
    """

    id: str | None = None
    prefix: str = ""
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)
    expiration_days: int | None = None
    expiration_date: date | None = None
    expired_object_delete_marker: bool = False
    noncurrent_expiration_days: int | None = None
    noncurrent_newer_versions: int | None = None
    abort_incomplete_multipart_days: int | None = None
    enabled: bool = True

    def validate(self) -> None:
        """Raise :class:`~libstore.types.InvalidArgumentError` if S3 would refuse the rule."""
        if self.id is not None and (
            not isinstance(self.id, str)
            or not 0 < len(self.id) <= 255
            or _XML_UNSAFE.search(self.id)
        ):
            raise InvalidArgumentError(
                f"lifecycle rule id must be 1 to 255 characters: {self.id!r}"
            )
        if not isinstance(self.prefix, str):
            raise InvalidArgumentError("lifecycle rule prefix must be a str")
        _xml_safe(self.prefix, "lifecycle rule prefix")
        parse_tags(self.tags, "lifecycle rule tags")
        for name in (
            "expiration_days",
            "noncurrent_expiration_days",
            "noncurrent_newer_versions",
            "abort_incomplete_multipart_days",
        ):
            value = getattr(self, name)
            if value is not None:
                _positive_int(value, f"lifecycle rule {name}")
        if self.expiration_date is not None and not isinstance(self.expiration_date, date):
            raise InvalidArgumentError("lifecycle rule expiration_date must be a date")
        if isinstance(self.expiration_date, datetime):
            moment = self.expiration_date
            if moment.tzinfo is None or moment.astimezone(UTC).time() != time(0):
                raise InvalidArgumentError(
                    "lifecycle rule expiration_date must be a date, or midnight UTC"
                )
        current = [
            self.expiration_days is not None,
            self.expiration_date is not None,
            bool(self.expired_object_delete_marker),
        ]
        if sum(current) > 1:
            raise InvalidArgumentError(
                "a lifecycle rule takes one of expiration_days, expiration_date and "
                "expired_object_delete_marker"
            )
        if self.expired_object_delete_marker and self.tags:
            raise InvalidArgumentError("expired_object_delete_marker cannot be used with tags")
        if self.noncurrent_newer_versions is not None and self.noncurrent_expiration_days is None:
            raise InvalidArgumentError("noncurrent_newer_versions needs noncurrent_expiration_days")
        if self.abort_incomplete_multipart_days is not None and self.tags:
            raise InvalidArgumentError("abort_incomplete_multipart_days cannot be used with tags")
        if not (
            any(current)
            or self.noncurrent_expiration_days is not None
            or self.abort_incomplete_multipart_days is not None
        ):
            raise InvalidArgumentError(f"lifecycle rule {self.id or self.prefix!r} has no action")
        if not isinstance(self.enabled, bool):
            raise InvalidArgumentError("lifecycle rule enabled must be a bool")


def _expiration_date_text(value: date) -> str:
    day = value.astimezone(UTC).date() if isinstance(value, datetime) else value
    return f"{day.isoformat()}T00:00:00.000Z"


def lifecycle_body(rules: Sequence[LifecycleRule]) -> bytes:
    """PutBucketLifecycleConfiguration's document (every rule validated first)."""
    if isinstance(rules, LifecycleRule) or not isinstance(rules, Sequence):
        raise InvalidArgumentError("rules must be a sequence of LifecycleRule")
    if not rules:
        raise InvalidArgumentError("give at least one rule; delete_lifecycle_rules removes them")
    if len(rules) > 1000:
        raise InvalidArgumentError("S3 allows at most 1000 lifecycle rules")
    ids = [rule.id for rule in rules if isinstance(rule, LifecycleRule) and rule.id]
    if len(ids) != len(set(ids)):
        raise InvalidArgumentError("lifecycle rule ids must be unique")
    root = _root("LifecycleConfiguration")
    for rule in rules:
        if not isinstance(rule, LifecycleRule):
            raise InvalidArgumentError(f"not a LifecycleRule: {rule!r}")
        rule.validate()
        element = _sub(root, "Rule")
        if rule.id:
            _sub(element, "ID", rule.id)
        filter_element = _sub(element, "Filter")
        tags = dict(rule.tags)
        if tags and (rule.prefix or len(tags) > 1):
            and_element = _sub(filter_element, "And")
            if rule.prefix:
                _sub(and_element, "Prefix", rule.prefix)
            _tags_into(and_element, tags)
        elif tags:
            _tags_into(filter_element, tags)
        else:
            _sub(filter_element, "Prefix", rule.prefix)
        _sub(element, "Status", "Enabled" if rule.enabled else "Disabled")
        if rule.expiration_days is not None:
            _sub(_sub(element, "Expiration"), "Days", str(rule.expiration_days))
        elif rule.expiration_date is not None:
            _sub(_sub(element, "Expiration"), "Date", _expiration_date_text(rule.expiration_date))
        elif rule.expired_object_delete_marker:
            _sub(_sub(element, "Expiration"), "ExpiredObjectDeleteMarker", "true")
        if rule.noncurrent_expiration_days is not None:
            noncurrent = _sub(element, "NoncurrentVersionExpiration")
            _sub(noncurrent, "NoncurrentDays", str(rule.noncurrent_expiration_days))
            if rule.noncurrent_newer_versions is not None:
                _sub(noncurrent, "NewerNoncurrentVersions", str(rule.noncurrent_newer_versions))
        if rule.abort_incomplete_multipart_days is not None:
            abort = _sub(element, "AbortIncompleteMultipartUpload")
            _sub(abort, "DaysAfterInitiation", str(rule.abort_incomplete_multipart_days))
    return _document(root)


def _tags_into(parent: etree._Element, tags: Mapping[str, str]) -> None:
    for key, value in tags.items():
        tag = _sub(parent, "Tag")
        _sub(tag, "Key", key)
        _sub(tag, "Value", value)


def parse_lifecycle(body: bytes) -> list[LifecycleRule]:
    """GetBucketLifecycleConfiguration's rules (filters by prefix and tags; expirations)."""
    root = parse_xml(body, "lifecycle reply")
    rules: list[LifecycleRule] = []
    for element in children(root, "Rule"):
        prefix = child_text(element, "Prefix") or ""  # the legacy, filter-less form
        tags: dict[str, str] = {}
        filter_element = element.find("{*}Filter")
        if filter_element is not None:
            scope = filter_element.find("{*}And")
            scope = filter_element if scope is None else scope
            prefix = child_text(scope, "Prefix") or prefix
            tags = _tag_pairs(scope)
        expiration = element.find("{*}Expiration")
        days = date_value = None
        marker = False
        if expiration is not None:
            days = _int_text(expiration, "Days")
            when = parse_iso_date(child_text(expiration, "Date"))
            date_value = when.date() if when is not None else None
            marker = (child_text(expiration, "ExpiredObjectDeleteMarker") or "") == "true"
        noncurrent = element.find("{*}NoncurrentVersionExpiration")
        abort = element.find("{*}AbortIncompleteMultipartUpload")
        rules.append(
            LifecycleRule(
                id=child_text(element, "ID") or None,
                prefix=prefix,
                tags=tags,
                expiration_days=days,
                expiration_date=date_value,
                expired_object_delete_marker=marker,
                noncurrent_expiration_days=(
                    _int_text(noncurrent, "NoncurrentDays") if noncurrent is not None else None
                ),
                noncurrent_newer_versions=(
                    _int_text(noncurrent, "NewerNoncurrentVersions")
                    if noncurrent is not None
                    else None
                ),
                abort_incomplete_multipart_days=(
                    _int_text(abort, "DaysAfterInitiation") if abort is not None else None
                ),
                enabled=(child_text(element, "Status") or "") == "Enabled",
            )
        )
    return rules


# -- object lock -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectRetention:
    """An object version's retention: its mode and until when it cannot be deleted."""

    mode: Literal["GOVERNANCE", "COMPLIANCE"]
    retain_until: datetime


@dataclass(frozen=True)
class ObjectLockConfiguration:
    """A bucket's object lock: enabled or not, and the default retention of new objects."""

    enabled: bool
    mode: Literal["GOVERNANCE", "COMPLIANCE"] | None = None
    days: int | None = None
    years: int | None = None


def _lock_mode(text: str | None, what: str) -> Literal["GOVERNANCE", "COMPLIANCE"]:
    if text == "GOVERNANCE":
        return "GOVERNANCE"
    if text == "COMPLIANCE":
        return "COMPLIANCE"
    raise ResponseError(f"{what} has an unknown object lock mode {str(text)[:40]!r}")


def retention_body(mode: Any, retain_until: Any) -> bytes:
    root = _root("Retention")
    _sub(root, "Mode", parse_lock_mode(mode, "mode"))
    _sub(root, "RetainUntilDate", format_lock_date(retain_until, "retain_until"))
    return _document(root)


def parse_retention(body: bytes) -> ObjectRetention:
    root = parse_xml(body, "retention reply")
    until = parse_iso_date(child_text(root, "RetainUntilDate"))
    if until is None:
        raise ResponseError("the retention reply has no valid RetainUntilDate")
    return ObjectRetention(_lock_mode(child_text(root, "Mode"), "the retention reply"), until)


def legal_hold_body(enabled: Any) -> bytes:
    if not isinstance(enabled, bool):
        raise InvalidArgumentError(f"a legal hold is on (True) or off (False), not {enabled!r}")
    root = _root("LegalHold")
    _sub(root, "Status", "ON" if enabled else "OFF")
    return _document(root)


def parse_legal_hold(body: bytes) -> bool:
    status = child_text(parse_xml(body, "legal hold reply"), "Status")
    if status not in ("ON", "OFF"):
        raise ResponseError(f"unknown legal hold status {str(status)[:40]!r}")
    return status == "ON"


def object_lock_body(mode: Any, days: Any, years: Any) -> bytes:
    """PutObjectLockConfiguration's document: enabled, with an optional default retention."""
    root = _root("ObjectLockConfiguration")
    _sub(root, "ObjectLockEnabled", "Enabled")
    if mode is None:
        if days is not None or years is not None:
            raise InvalidArgumentError("a default retention needs a mode")
        return _document(root)
    checked = parse_lock_mode(mode, "mode")
    if (days is None) == (years is None):
        raise InvalidArgumentError("a default retention takes days or years (one of them)")
    retention = _sub(_sub(root, "Rule"), "DefaultRetention")
    _sub(retention, "Mode", checked)
    if days is not None:
        _sub(retention, "Days", str(_positive_int(days, "days")))
    else:
        _sub(retention, "Years", str(_positive_int(years, "years")))
    return _document(root)


def parse_object_lock(body: bytes) -> ObjectLockConfiguration:
    root = parse_xml(body, "object lock reply")
    enabled = child_text(root, "ObjectLockEnabled") == "Enabled"
    retention = root.find("{*}Rule/{*}DefaultRetention")
    if retention is None:
        return ObjectLockConfiguration(enabled)
    days = _int_text(retention, "Days") or None  # moto sends <Years>0</Years> beside <Days>
    years = _int_text(retention, "Years") or None
    mode = _lock_mode(child_text(retention, "Mode"), "the object lock reply")
    return ObjectLockConfiguration(enabled, mode, days, years)


# -- requester pays --------------------------------------------------------------------------


def request_payment_body(requester_pays: Any) -> bytes:
    if not isinstance(requester_pays, bool):
        raise InvalidArgumentError(f"enabled must be a bool, not {requester_pays!r}")
    root = _root("RequestPaymentConfiguration")
    _sub(root, "Payer", "Requester" if requester_pays else "BucketOwner")
    return _document(root)


def parse_request_payment(body: bytes) -> bool:
    payer = child_text(parse_xml(body, "request payment reply"), "Payer")
    if payer not in ("Requester", "BucketOwner"):
        raise ResponseError(f"unknown request payer {str(payer)[:40]!r}")
    return payer == "Requester"
