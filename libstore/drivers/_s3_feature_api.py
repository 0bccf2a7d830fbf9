"""The S3 driver's bucket and object feature API: tags, versions, bulk delete, lifecycle,
object lock and requester pays.

:class:`S3FeaturesMixin` is a base class of :class:`~libstore.drivers.s3.S3StorageDriver`;
the request and XML details live in ``_s3_features.py`` and ``_s3_options.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from libstore.base import Container, Object
from libstore.drivers._s3_features import (
    DeleteObjectsResult,
    LifecycleRule,
    ObjectLockConfiguration,
    ObjectRetention,
    delete_batches,
    delete_body,
    delete_target,
    legal_hold_body,
    lifecycle_body,
    object_lock_body,
    parse_delete_result,
    parse_legal_hold,
    parse_lifecycle,
    parse_object_lock,
    parse_request_payment,
    parse_retention,
    parse_tagging,
    parse_versioning,
    parse_versions,
    request_payment_body,
    retention_body,
    tagging_body,
    versioning_body,
)
from libstore.drivers._s3_options import (
    ReadOptions,
    bypass_governance_headers,
    read_options_of,
    remember_read_options,
)
from libstore.drivers._s3_protocol import (
    check_bucket_reference,
)
from libstore.types import (
    InvalidArgumentError,
    LibstoreError,
    ResponseError,
)

if TYPE_CHECKING:
    from libstore.drivers.s3 import S3StorageDriver

__all__ = ["S3FeaturesMixin"]


class S3FeaturesMixin:
    """Tags, versioning, bulk delete, lifecycle, object lock and requester pays."""

    @property
    def _driver(self) -> S3StorageDriver:
        return cast("S3StorageDriver", self)

    def set_object_tags(
        self, obj: Object, tags: Mapping[str, str], *, version_id: str | None = None
    ) -> None:
        """Replace the tags of ``obj`` (of its pinned version, or of ``version_id``).

        Raises:
            InvalidArgumentError: More than 10 tags, a key over 128 or a value over
                256 characters, or an ``aws:`` key; nothing is sent.
        """
        body = tagging_body(tags)
        self._driver._object_call(
            "PUT", obj, [("tagging", None)], "tagging", version_id=version_id, body=body
        )

    def get_object_tags(self, obj: Object, *, version_id: str | None = None) -> dict[str, str]:
        """Return the tags of ``obj`` (of its pinned version, or of ``version_id``)."""
        reply = self._driver._object_call(
            "GET", obj, [("tagging", None)], "reading the tags", version_id=version_id
        )
        return parse_tagging(reply.body)

    def delete_object_tags(self, obj: Object, *, version_id: str | None = None) -> None:
        """Remove every tag of ``obj`` (of its pinned version, or of ``version_id``)."""
        self._driver._object_call(
            "DELETE", obj, [("tagging", None)], "deleting the tags", version_id=version_id
        )

    # versioning

    def enable_versioning(self, container: Container) -> None:
        """Turn versioning on: every overwrite and delete keeps the previous version."""
        self._driver._bucket_call(
            "PUT",
            container,
            [("versioning", None)],
            "enabling versioning",
            body=versioning_body("Enabled"),
        )

    def suspend_versioning(self, container: Container) -> None:
        """Suspend versioning: existing versions stay, new writes get the ``null`` version."""
        self._driver._bucket_call(
            "PUT",
            container,
            [("versioning", None)],
            "suspending versioning",
            body=versioning_body("Suspended"),
        )

    def get_versioning(self, container: Container) -> Literal["Enabled", "Suspended"] | None:
        """The bucket's versioning status; ``None`` if versioning was never enabled."""
        reply = self._driver._bucket_call(
            "GET", container, [("versioning", None)], "reading versioning"
        )
        return parse_versioning(reply.body)

    def iterate_object_versions(
        self, container: Container, prefix: str | None = None
    ) -> Iterator[Object]:
        """Iterate over every version and delete marker, by key, newest version first.

        Each :class:`Object` is pinned to its version: downloading it, reading or
        setting its tags or retention, and :meth:`delete_object` act on that version.
        ``extra`` holds ``version_id``, ``is_latest``, ``delete_marker`` (a delete
        marker has no data), ``last_modified``, ``etag`` and ``storage_class``.
        """
        check_bucket_reference(container.name)
        if prefix is not None and not isinstance(prefix, str):
            raise InvalidArgumentError("prefix must be a str")
        return self._driver._iterate_versions(container, prefix or None)

    def list_object_versions(self, container: Container, prefix: str | None = None) -> list[Object]:
        """Return every version and delete marker. See :meth:`iterate_object_versions`."""
        return list(self._driver.iterate_object_versions(container, prefix))

    def _iterate_versions(self, container: Container, prefix: str | None) -> Iterator[Object]:
        markers: tuple[str | None, str | None] = (None, None)
        seen: set[tuple[str | None, str | None]] = set()
        while True:
            query: list[tuple[str, str | None]] = [("versions", None)]
            if markers[0]:
                query.append(("key-marker", markers[0]))
            if prefix:
                query.append(("prefix", prefix))
            if markers[1]:
                query.append(("version-id-marker", markers[1]))
            reply = self._driver._bucket_call("GET", container, query, "listing object versions")
            page = parse_versions(reply.body)
            for entry in page.entries:
                extra: dict[str, Any] = {
                    "version_id": entry.version_id,
                    "is_latest": entry.is_latest,
                    "delete_marker": entry.delete_marker,
                    "last_modified": entry.last_modified,
                    "etag": entry.etag,
                    "storage_class": entry.storage_class,
                }
                obj = Object(entry.key, entry.size, entry.etag, extra, {}, container, self._driver)
                yield remember_read_options(obj, ReadOptions(version_id=entry.version_id))
            if not page.truncated:
                return
            markers = (page.next_key_marker, page.next_version_id_marker)
            if markers == (None, None) or markers in seen:
                raise ResponseError(
                    "version listing is truncated but gives no new marker",
                    self,
                    container_name=container.name,
                )
            seen.add(markers)

    # bulk delete

    def delete_objects(
        self,
        container: Container,
        objects: Iterable[Object | str | tuple[str, str | None]],
        *,
        quiet: bool = False,
    ) -> DeleteObjectsResult:
        """Delete many objects with DeleteObjects, 1000 keys a request.

        Args:
            container: The bucket.
            objects: :class:`Object` handles (a version-pinned one deletes that
                version), names, or ``(name, version_id)`` pairs.
            quiet: Ask S3 to report failures only (``result.deleted`` stays empty).

        Returns:
            Every key deleted and every key that failed, with S3's error code;
            :meth:`DeleteObjectsResult.raise_for_errors` turns failures into an error.
            As with S3, a key that did not exist counts as deleted.

        Raises:
            InvalidArgumentError: An invalid name, or one XML cannot carry; checked for
                every item before the first request.
        """
        check_bucket_reference(container.name)
        self._driver.preset.require("bulk_delete", self)  # Content-MD5 is always sent with it
        targets: list[tuple[str, str | None]] = []
        for item in objects:
            if isinstance(item, Object):
                if item.container.name != container.name:
                    raise InvalidArgumentError(
                        f"object {item.name!r} is in bucket {item.container.name!r}, "
                        f"not {container.name!r}"
                    )
                item = (item.name, read_options_of(item).version_id)
            targets.append(delete_target(item))
        result = DeleteObjectsResult()
        for batch in delete_batches(targets):
            reply = self._driver._bucket_call(
                "POST",
                container,
                [("delete", None)],
                f"deleting {len(batch)} objects",
                body=delete_body(batch, quiet=bool(quiet)),
                headers={"Content-Type": "application/xml"},
            )
            parse_delete_result(reply.body, result)
        return result

    # lifecycle

    def set_lifecycle_rules(self, container: Container, rules: Sequence[LifecycleRule]) -> None:
        """Replace the bucket's lifecycle configuration with ``rules`` (expirations).

        Raises:
            InvalidArgumentError: No rule, duplicate ids, or a rule S3 would refuse.
        """
        body = lifecycle_body(rules)
        self._driver._bucket_call(
            "PUT",
            container,
            [("lifecycle", None)],
            "setting lifecycle rules",
            body=body,
            headers={"Content-Type": "application/xml"},
        )

    def get_lifecycle_rules(self, container: Container) -> list[LifecycleRule]:
        """The bucket's lifecycle rules; ``[]`` when it has none."""
        try:
            reply = self._driver._bucket_call(
                "GET", container, [("lifecycle", None)], "reading lifecycle rules"
            )
        except LibstoreError as exc:
            if exc.code == "NoSuchLifecycleConfiguration":
                return []
            raise
        return parse_lifecycle(reply.body)

    def delete_lifecycle_rules(self, container: Container) -> None:
        """Remove every lifecycle rule of the bucket."""
        self._driver._bucket_call(
            "DELETE", container, [("lifecycle", None)], "deleting lifecycle rules"
        )

    # object lock

    def set_object_lock_configuration(
        self,
        container: Container,
        *,
        mode: Literal["GOVERNANCE", "COMPLIANCE"] | None = None,
        days: int | None = None,
        years: int | None = None,
    ) -> None:
        """Set the default retention of new objects in a bucket created with ``object_lock``.

        ``mode=None`` removes the default retention; otherwise give ``days`` or ``years``.
        """
        body = object_lock_body(mode, days, years)
        self._driver._bucket_call(
            "PUT",
            container,
            [("object-lock", None)],
            "setting the object lock configuration",
            body=body,
        )

    def get_object_lock_configuration(self, container: Container) -> ObjectLockConfiguration:
        """The bucket's object lock state; ``enabled=False`` on a bucket without object lock."""
        try:
            reply = self._driver._bucket_call(
                "GET", container, [("object-lock", None)], "reading the object lock configuration"
            )
        except LibstoreError as exc:
            if exc.code == "ObjectLockConfigurationNotFoundError":
                return ObjectLockConfiguration(False)
            raise
        return parse_object_lock(reply.body)

    def set_object_retention(
        self,
        obj: Object,
        mode: Literal["GOVERNANCE", "COMPLIANCE"],
        retain_until: datetime,
        *,
        version_id: str | None = None,
        bypass_governance_retention: bool = False,
    ) -> None:
        """Protect ``obj`` (its pinned version, or ``version_id``) from deletion until a date.

        Shortening or removing a GOVERNANCE retention needs
        ``bypass_governance_retention=True`` (and the permission for it); a
        COMPLIANCE retention can only be extended.
        """
        body = retention_body(mode, retain_until)
        bypass = bypass_governance_headers(bypass_governance_retention)
        self._driver._object_call(
            "PUT",
            obj,
            [("retention", None)],
            "setting the retention",
            version_id=version_id,
            body=body,
            headers=bypass,
        )

    def get_object_retention(
        self, obj: Object, *, version_id: str | None = None
    ) -> ObjectRetention | None:
        """The retention of ``obj`` (its pinned version, or ``version_id``); ``None`` if none."""
        try:
            reply = self._driver._object_call(
                "GET", obj, [("retention", None)], "reading the retention", version_id=version_id
            )
        except LibstoreError as exc:
            if exc.code == "NoSuchObjectLockConfiguration":
                return None
            raise
        return parse_retention(reply.body)

    def set_object_legal_hold(
        self, obj: Object, enabled: bool, *, version_id: str | None = None
    ) -> None:
        """Put a legal hold on ``obj`` (``True``) or lift it (``False``)."""
        body = legal_hold_body(enabled)
        self._driver._object_call(
            "PUT",
            obj,
            [("legal-hold", None)],
            "setting the legal hold",
            version_id=version_id,
            body=body,
        )

    def get_object_legal_hold(self, obj: Object, *, version_id: str | None = None) -> bool:
        """Whether ``obj`` (its pinned version, or ``version_id``) is under a legal hold."""
        try:
            reply = self._driver._object_call(
                "GET", obj, [("legal-hold", None)], "reading the legal hold", version_id=version_id
            )
        except LibstoreError as exc:
            if exc.code in ("NoSuchObjectLockConfiguration", "NoSuchObjectLegalHold"):
                return False
            raise
        return parse_legal_hold(reply.body)

    # requester pays

    def set_requester_pays(self, container: Container, enabled: bool) -> None:
        """Make requesters (``True``) or the bucket owner (``False``) pay for requests."""
        body = request_payment_body(enabled)
        self._driver._bucket_call(
            "PUT", container, [("requestPayment", None)], "setting requester pays", body=body
        )

    def get_requester_pays(self, container: Container) -> bool:
        """Whether requesters pay for requests to the bucket."""
        reply = self._driver._bucket_call(
            "GET", container, [("requestPayment", None)], "reading requester pays"
        )
        return parse_request_payment(reply.body)
