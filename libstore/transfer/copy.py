"""Copy objects between any two drivers, server-side where possible."""

from __future__ import annotations

from typing import Any

from libstore._progress import ProgressFn
from libstore.base import Container, Object
from libstore.types import ObjectHashMismatchError

__all__ = ["copy"]


def copy(
    obj: Object,
    container: Container,
    object_name: str,
    extra: dict[str, Any] | None = None,
    *,
    progress: ProgressFn | None = None,
) -> Object:
    """Copy ``obj`` to ``object_name`` in ``container``, whatever drivers the two belong to.

    Within one driver this is that driver's :meth:`~libstore.base.StorageDriver.copy_object`
    (server-side on S3). Across drivers the bytes stream from ranged reads of the
    source into the destination's parallel part uploads, under the destination's
    memory bound; with ``extra=None`` the content type and metadata are carried
    over. When both sides know a whole-object CRC32 the two are compared, so a
    copy that changed a byte raises instead of succeeding quietly.

    Raises:
        ObjectHashMismatchError: The copy's checksum differs from the source's.
    """
    if obj.driver is container.driver:
        return container.driver.copy_object(obj, container, object_name, extra, progress=progress)
    if extra is None:
        extra = {"meta_data": dict(obj.meta_data)}
        if obj.extra.get("content_type"):
            extra["content_type"] = obj.extra["content_type"]
    source = obj.driver.download_object_as_stream(obj, 1024 * 1024)
    copied = container.driver.upload_object_via_stream(
        source, container, object_name, extra=extra, size_hint=obj.size, progress=progress
    )
    theirs = obj.extra.get("checksum_crc32")
    ours = copied.extra.get("checksum_crc32")
    if isinstance(theirs, str) and isinstance(ours, str) and theirs != ours:
        raise ObjectHashMismatchError(
            f"the copy's CRC32 ({ours}) differs from the source's ({theirs})",
            container.driver,
            object_name,
            container_name=container.name,
        )
    return copied
