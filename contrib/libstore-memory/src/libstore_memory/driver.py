"""An in-memory libstore driver: containers and objects live in a dict, nothing touches disk.

It is the smallest complete driver: it implements only the primitives that
:class:`libstore.StorageDriver` asks for (containers, listing, get, upload, delete,
``_read_object`` and ``_content_md5``) and inherits everything else (``list_*``,
downloads to files and streams, ranges, size and MD5 checks, "temporary file then
rename") from the base class. It passes libstore's conformance kit.

Drivers created with the same ``key`` share one store for the life of the process,
so ``get_driver("memory")("cache")`` twice sees the same objects; an empty key gives
a private store.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from libstore import (
    Container,
    ContainerAlreadyExistsError,
    ContainerDoesNotExistError,
    ContainerIsNotEmptyError,
    InvalidArgumentError,
    InvalidContainerNameError,
    InvalidObjectNameError,
    LibstoreError,
    Object,
    ObjectDoesNotExistError,
    StorageDriver,
)
from libstore.driverkit import UploadOptions, parse_upload_extra

__all__ = ["MemoryStorageDriver"]

#: A progress callback: ``(bytes_done, bytes_total_or_None)``.
ProgressFn = Callable[[int, int | None], None]

#: Longest object name, in bytes of UTF-8 (S3's limit, which the conformance kit uses).
MAX_OBJECT_NAME_BYTES = 1024
#: Longest container name, in bytes of UTF-8.
MAX_CONTAINER_NAME_BYTES = 255
_READ_SIZE = 1024 * 1024


@dataclass(frozen=True)
class _Blob:
    data: bytes
    md5: str
    content_type: str
    meta_data: dict[str, str]
    attributes: dict[str, str]
    last_modified: datetime


@dataclass
class _Bucket:
    created: datetime
    objects: dict[str, _Blob] = field(default_factory=dict)


class _Store:
    """One namespace of containers; every access holds ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buckets: dict[str, _Bucket] = {}


_namespaces: dict[str, _Store] = {}
_namespaces_lock = threading.Lock()


def _utf8_len(text: str) -> int | None:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def _check_container_name(name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidContainerNameError("container name must be a non-empty string")
    size = _utf8_len(name)
    if size is None or size > MAX_CONTAINER_NAME_BYTES:
        raise InvalidContainerNameError(
            f"container name must be at most {MAX_CONTAINER_NAME_BYTES} bytes of UTF-8",
            container_name=name,
        )
    if "/" in name or "\x00" in name or name in (".", ".."):
        raise InvalidContainerNameError(
            "container name may not contain '/' or NUL, nor be '.' or '..'", container_name=name
        )


def _check_object_name(name: Any, container_name: str) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidObjectNameError(
            "object name must be a non-empty string",
            object_name=name if isinstance(name, str) else None,
            container_name=container_name,
        )
    size = _utf8_len(name)
    if size is None or size > MAX_OBJECT_NAME_BYTES:
        raise InvalidObjectNameError(
            f"object name must be at most {MAX_OBJECT_NAME_BYTES} bytes of UTF-8",
            object_name=name,
            container_name=container_name,
        )


def _utf8_key(name: str) -> bytes:
    return name.encode("utf-8")


class MemoryStorageDriver(StorageDriver):
    """Containers and objects kept in memory.

    Args:
        key: Name of the shared in-process namespace; ``""`` (default) gives this
            driver a store of its own.
        secret: Ignored; accepted so the driver is called like every other one.
    """

    name: ClassVar[str] = "In-memory"
    website: ClassVar[str] = "https://libstore.readthedocs.io/"

    def __init__(self, key: str = "", secret: str | None = None) -> None:
        if not isinstance(key, str):
            raise InvalidArgumentError("key must be a string naming the namespace")
        self.key = key
        if key:
            with _namespaces_lock:
                self._store = _namespaces.setdefault(key, _Store())
        else:
            self._store = _Store()

    def __repr__(self) -> str:
        return f"<MemoryStorageDriver namespace={self.key!r}>"

    # -- containers -------------------------------------------------------------------------

    def _bucket(self, container_name: str) -> _Bucket:
        """The bucket called ``container_name``; the caller holds the store lock."""
        bucket = self._store.buckets.get(container_name)
        if bucket is None:
            raise ContainerDoesNotExistError(
                f"container {container_name!r} does not exist", self, container_name
            )
        return bucket

    def iterate_containers(self) -> Iterator[Container]:
        with self._store.lock:
            names = sorted(self._store.buckets.items(), key=lambda item: _utf8_key(item[0]))
            snapshot = [(name, bucket.created) for name, bucket in names]
        for name, created in snapshot:
            yield Container(name, {"creation_date": created}, self)

    def get_container(self, container_name: str) -> Container:
        _check_container_name(container_name)
        with self._store.lock:
            bucket = self._bucket(container_name)
            return Container(container_name, {"creation_date": bucket.created}, self)

    def create_container(self, container_name: str) -> Container:
        _check_container_name(container_name)
        with self._store.lock:
            if container_name in self._store.buckets:
                raise ContainerAlreadyExistsError(
                    f"container {container_name!r} already exists", self, container_name
                )
            bucket = _Bucket(created=datetime.now(UTC))
            self._store.buckets[container_name] = bucket
        return Container(container_name, {"creation_date": bucket.created}, self)

    def delete_container(self, container: Container) -> bool:
        _check_container_name(container.name)
        with self._store.lock:
            bucket = self._bucket(container.name)
            if bucket.objects:
                raise ContainerIsNotEmptyError(
                    f"container {container.name!r} is not empty", self, container.name
                )
            del self._store.buckets[container.name]
        return True

    # -- objects ----------------------------------------------------------------------------

    def _object(self, container: Container, name: str, blob: _Blob) -> Object:
        extra: dict[str, Any] = {
            "content_type": blob.content_type,
            "last_modified": blob.last_modified,
            "etag": blob.md5,
            **blob.attributes,
        }
        return Object(name, len(blob.data), blob.md5, extra, dict(blob.meta_data), container, self)

    def iterate_container_objects(
        self, container: Container, prefix: str | None = None
    ) -> Iterator[Object]:
        _check_container_name(container.name)
        if prefix is not None and not isinstance(prefix, str):
            raise InvalidArgumentError("prefix must be a str")
        with self._store.lock:
            bucket = self._bucket(container.name)
            matching = [
                (name, blob)
                for name, blob in bucket.objects.items()
                if not prefix or name.startswith(prefix)
            ]
        matching.sort(key=lambda item: _utf8_key(item[0]))
        return (self._object(container, name, blob) for name, blob in matching)

    def get_object(self, container_name: str, object_name: str) -> Object:
        _check_container_name(container_name)
        _check_object_name(object_name, container_name)
        with self._store.lock:
            blob = self._bucket(container_name).objects.get(object_name)
            if blob is None:
                raise ObjectDoesNotExistError(
                    f"object {object_name!r} does not exist",
                    self,
                    object_name,
                    container_name=container_name,
                )
            created = self._store.buckets[container_name].created
        container = Container(container_name, {"creation_date": created}, self)
        return self._object(container, object_name, blob)

    def delete_object(self, obj: Object) -> bool:
        _check_container_name(obj.container.name)
        _check_object_name(obj.name, obj.container.name)
        with self._store.lock:
            objects = self._bucket(obj.container.name).objects
            if obj.name not in objects:
                raise ObjectDoesNotExistError(
                    f"object {obj.name!r} does not exist",
                    self,
                    obj.name,
                    container_name=obj.container.name,
                )
            del objects[obj.name]
        return True

    # -- uploads ----------------------------------------------------------------------------

    def _store_blob(
        self, container: Container, object_name: str, data: bytes, options: UploadOptions
    ) -> Object:
        blob = _Blob(
            data=data,
            md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
            content_type=options.content_type or "application/octet-stream",
            meta_data=dict(options.meta_data),
            attributes=options.stored_attributes(),
            last_modified=datetime.now(UTC),
        )
        # One assignment under the lock: readers see the old object or the new one.
        with self._store.lock:
            self._bucket(container.name).objects[object_name] = blob
        return self._object(container, object_name, blob)

    def _check_upload(self, container: Container, object_name: str, extra: Any) -> UploadOptions:
        _check_container_name(container.name)
        _check_object_name(object_name, container.name)
        options = parse_upload_extra(extra)  # raises before any byte is read
        with self._store.lock:
            self._bucket(container.name)
        return options

    def upload_object(
        self,
        file_path: str | os.PathLike[str],
        container: Container,
        object_name: str,
        extra: dict[str, Any] | None = None,
        verify_hash: bool = True,
        headers: dict[str, str] | None = None,
        *,
        progress: ProgressFn | None = None,
    ) -> Object:
        options = self._check_upload(container, object_name, extra)
        path = os.fspath(file_path)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise LibstoreError(
                f"cannot read {path!r}: {exc.strerror or exc}", self, object_name=object_name
            ) from exc
        if progress is not None:
            progress(len(data), len(data))
        return self._store_blob(container, object_name, data, options)

    def upload_object_via_stream(
        self,
        iterator: Any,
        container: Container,
        object_name: str,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        *,
        size_hint: int | None = None,
        progress: ProgressFn | None = None,
    ) -> Object:
        options = self._check_upload(container, object_name, extra)
        buffer = io.BytesIO()
        # The whole stream is read before anything is stored: a failing stream leaves
        # the previous object (or no object) under the name.
        for chunk in _chunks(iterator):
            buffer.write(chunk)
            if progress is not None:
                progress(buffer.tell(), size_hint)
        return self._store_blob(container, object_name, buffer.getvalue(), options)

    # -- downloads --------------------------------------------------------------------------

    def _read_object(self, obj: Object, start_bytes: int, end_bytes: int | None) -> Iterator[bytes]:
        with self._store.lock:
            blob = self._bucket(obj.container.name).objects.get(obj.name)
        if blob is None:
            raise ObjectDoesNotExistError(
                f"object {obj.name!r} does not exist",
                self,
                obj.name,
                container_name=obj.container.name,
            )
        view = memoryview(blob.data)[start_bytes:end_bytes]
        for offset in range(0, len(view), _READ_SIZE):
            yield bytes(view[offset : offset + _READ_SIZE])

    def _content_md5(self, obj: Object) -> str | None:
        # The MD5 the object had when it was listed or fetched: if it was replaced since,
        # the base class reports a mismatch instead of mixing two versions.
        return obj.hash


def _chunks(source: Any) -> Iterator[bytes]:
    """Bytes from an iterator of bytes-like chunks or from a binary file-like object."""
    if hasattr(source, "read"):
        while True:
            block = source.read(_READ_SIZE)
            if not block:
                return
            if not isinstance(block, (bytes, bytearray, memoryview)):
                raise InvalidArgumentError("the file-like object must be opened in binary mode")
            yield bytes(block)
    for chunk in source:
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise InvalidArgumentError(
                f"stream chunks must be bytes-like, not {type(chunk).__name__}"
            )
        if chunk:
            yield bytes(chunk)
