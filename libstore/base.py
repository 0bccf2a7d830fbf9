"""The storage API every driver implements: ``StorageDriver``, ``Container`` and ``Object``.

Method and argument names follow Apache Libcloud's storage API so a libcloud user
migrates by changing imports. A driver implements a handful of primitives (marked
*primitive* below); the core derives the rest and owns the rules every driver
must keep: listing from iteration, range validation, stream chunking, and
"download to a temporary file, verify, then rename".
"""

from __future__ import annotations

import abc
import hashlib
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from libstore._files import atomic_write, safe_join
from libstore._progress import ProgressFn, ProgressTracker
from libstore._util import rechunk
from libstore.types import (
    InvalidRangeError,
    LibstoreError,
    NotSupportedError,
    ObjectHashMismatchError,
)

__all__ = ["DEFAULT_CHUNK_SIZE", "Container", "Object", "ProgressFn", "StorageDriver"]

#: Default size of the pieces yielded by ``download_object_as_stream``.
DEFAULT_CHUNK_SIZE = 64 * 1024


class Container:
    """A container (bucket) of objects.

    Args:
        name: The container's name.
        extra: Provider-specific attributes (creation date, region…).
        driver: The driver the container belongs to.
    """

    def __init__(self, name: str, extra: dict[str, Any] | None, driver: StorageDriver) -> None:
        self.name = name
        self.extra = extra or {}
        self.driver = driver

    def iterate_objects(self, prefix: str | None = None) -> Iterator[Object]:
        """Iterate over the container's objects, optionally only those under ``prefix``."""
        return self.driver.iterate_container_objects(self, prefix=prefix)

    def list_objects(self, prefix: str | None = None) -> list[Object]:
        """Return the container's objects, optionally only those under ``prefix``."""
        return self.driver.list_container_objects(self, prefix=prefix)

    def get_cdn_url(self) -> str:
        """Return the container's CDN URL, where the provider has one."""
        return self.driver.get_container_cdn_url(self)

    def get_object(self, object_name: str) -> Object:
        """Return the object called ``object_name`` in this container."""
        return self.driver.get_object(self.name, object_name)

    def upload_object(
        self,
        file_path: str | os.PathLike[str],
        object_name: str,
        extra: dict[str, Any] | None = None,
        verify_hash: bool = True,
        headers: dict[str, str] | None = None,
        *,
        progress: ProgressFn | None = None,
    ) -> Object:
        """Upload a local file into this container. See :meth:`StorageDriver.upload_object`."""
        return self.driver.upload_object(
            file_path,
            self,
            object_name,
            extra=extra,
            verify_hash=verify_hash,
            headers=headers,
            progress=progress,
        )

    def upload_object_via_stream(
        self,
        iterator: Any,
        object_name: str,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        *,
        size_hint: int | None = None,
        progress: ProgressFn | None = None,
    ) -> Object:
        """Upload an iterator of bytes. See :meth:`StorageDriver.upload_object_via_stream`."""
        return self.driver.upload_object_via_stream(
            iterator,
            self,
            object_name,
            extra=extra,
            headers=headers,
            size_hint=size_hint,
            progress=progress,
        )

    def download_object(
        self,
        obj: Object,
        destination_path: str | os.PathLike[str],
        overwrite_existing: bool = False,
        delete_on_failure: bool = True,
        *,
        progress: ProgressFn | None = None,
    ) -> bool:
        """Download ``obj`` to a local path. See :meth:`StorageDriver.download_object`."""
        return self.driver.download_object(
            obj, destination_path, overwrite_existing, delete_on_failure, progress=progress
        )

    def download_object_as_stream(
        self, obj: Object, chunk_size: int | None = None
    ) -> Iterator[bytes]:
        """Stream ``obj``'s bytes. See :meth:`StorageDriver.download_object_as_stream`."""
        return self.driver.download_object_as_stream(obj, chunk_size)

    def download_object_range(
        self,
        obj: Object,
        destination_path: str | os.PathLike[str],
        start_bytes: int,
        end_bytes: int | None = None,
        overwrite_existing: bool = False,
        delete_on_failure: bool = True,
    ) -> bool:
        """Download a byte range of ``obj``. See :meth:`StorageDriver.download_object_range`."""
        return self.driver.download_object_range(
            obj, destination_path, start_bytes, end_bytes, overwrite_existing, delete_on_failure
        )

    def download_object_range_as_stream(
        self,
        obj: Object,
        start_bytes: int,
        end_bytes: int | None = None,
        chunk_size: int | None = None,
    ) -> Iterator[bytes]:
        """Stream a byte range of ``obj``."""
        return self.driver.download_object_range_as_stream(obj, start_bytes, end_bytes, chunk_size)

    def delete_object(self, obj: Object) -> bool:
        """Delete ``obj``."""
        return self.driver.delete_object(obj)

    def copy_object(
        self, obj: Object, object_name: str, extra: dict[str, Any] | None = None
    ) -> Object:
        """Copy ``obj`` (of the same driver) into this container as ``object_name``."""
        return self.driver.copy_object(obj, self, object_name, extra)

    def delete(self) -> bool:
        """Delete this (empty) container."""
        return self.driver.delete_container(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Container):
            return NotImplemented
        return self.name == other.name and self.driver is other.driver

    def __hash__(self) -> int:
        return hash((self.name, id(self.driver)))

    def __repr__(self) -> str:
        return f"<Container: name={self.name!r}, provider={self.driver.name}>"


class Object:
    """An object stored in a container.

    Args:
        name: The object's name (key), exactly as stored.
        size: Size in bytes.
        hash: The provider's hash of the object (S3: the ETag without quotes).
        extra: Attributes such as ``content_type``, ``last_modified``, ``etag``,
            ``storage_class``.
        meta_data: User metadata (S3: the ``x-amz-meta-*`` headers, prefix removed).
        container: The container holding the object.
        driver: The driver the object belongs to.
    """

    def __init__(
        self,
        name: str,
        size: int,
        hash: str | None,
        extra: dict[str, Any] | None,
        meta_data: dict[str, str] | None,
        container: Container,
        driver: StorageDriver,
    ) -> None:
        self.name = name
        self.size = size
        self.hash = hash
        self.extra = extra or {}
        self.meta_data = meta_data or {}
        self.container = container
        self.driver = driver

    def get_cdn_url(self) -> str:
        """Return a URL the object can be fetched from without credentials."""
        return self.driver.get_object_cdn_url(self)

    def download(
        self,
        destination_path: str | os.PathLike[str],
        overwrite_existing: bool = False,
        delete_on_failure: bool = True,
        *,
        progress: ProgressFn | None = None,
    ) -> bool:
        """Download the object to a local path."""
        return self.driver.download_object(
            self, destination_path, overwrite_existing, delete_on_failure, progress=progress
        )

    def as_stream(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """Stream the object's bytes."""
        return self.driver.download_object_as_stream(self, chunk_size)

    def download_range(
        self,
        destination_path: str | os.PathLike[str],
        start_bytes: int,
        end_bytes: int | None = None,
        overwrite_existing: bool = False,
        delete_on_failure: bool = True,
    ) -> bool:
        """Download a byte range of the object to a local path."""
        return self.driver.download_object_range(
            self, destination_path, start_bytes, end_bytes, overwrite_existing, delete_on_failure
        )

    def range_as_stream(
        self, start_bytes: int, end_bytes: int | None = None, chunk_size: int | None = None
    ) -> Iterator[bytes]:
        """Stream a byte range of the object."""
        return self.driver.download_object_range_as_stream(self, start_bytes, end_bytes, chunk_size)

    def delete(self) -> bool:
        """Delete the object."""
        return self.driver.delete_object(self)

    def __repr__(self) -> str:
        return (
            f"<Object: name={self.name!r}, size={self.size}, hash={self.hash}, "
            f"provider={self.driver.name}>"
        )


class StorageDriver(abc.ABC):
    """Base class of every storage driver.

    A driver implements these primitives:

    * :meth:`iterate_containers`, :meth:`get_container`, :meth:`create_container`,
      :meth:`delete_container`;
    * :meth:`iterate_container_objects`, :meth:`get_object`, :meth:`delete_object`;
    * :meth:`upload_object`, :meth:`upload_object_via_stream`;
    * :meth:`_read_object`: the raw bytes of a whole object or a validated range;
    * optionally :meth:`_content_md5`: the object's content MD5 when the driver
      knows it, so downloads can be verified.

    Everything else (listing, downloads to files or streams, ranges) is derived
    here and behaves the same for every driver.
    """

    #: Human-readable provider name.
    name: ClassVar[str] = "Storage"
    #: The provider's web site.
    website: ClassVar[str] = ""

    # -- containers -------------------------------------------------------------------------

    @abc.abstractmethod
    def iterate_containers(self) -> Iterator[Container]:
        """Iterate over the containers the credentials can see."""

    def list_containers(self) -> list[Container]:
        """Return the containers the credentials can see."""
        return list(self.iterate_containers())

    @abc.abstractmethod
    def get_container(self, container_name: str) -> Container:
        """Return one container.

        Raises:
            ContainerDoesNotExistError: There is no such container.
        """

    @abc.abstractmethod
    def create_container(self, container_name: str) -> Container:
        """Create a container and return it.

        Raises:
            InvalidContainerNameError: The name breaks the provider's rules.
            ContainerAlreadyExistsError: The container exists already, whoever owns it.
        """

    @abc.abstractmethod
    def delete_container(self, container: Container) -> bool:
        """Delete an empty container and return ``True``.

        Raises:
            ContainerIsNotEmptyError: The container still holds objects.
            ContainerDoesNotExistError: There is no such container.
        """

    def get_container_cdn_url(self, container: Container) -> str:
        """Return a public URL of the container, where the provider has one."""
        raise NotSupportedError(f"{self.name} does not provide container CDN URLs", self)

    # -- objects ----------------------------------------------------------------------------

    @abc.abstractmethod
    def iterate_container_objects(
        self, container: Container, prefix: str | None = None
    ) -> Iterator[Object]:
        """Iterate over the objects of ``container`` whose names start with ``prefix``.

        Names are returned exactly as stored, in the provider's order (lexicographic
        by UTF-8 bytes for S3 and the local driver).
        """

    def list_container_objects(
        self, container: Container, prefix: str | None = None
    ) -> list[Object]:
        """Return the objects of ``container`` whose names start with ``prefix``."""
        return list(self.iterate_container_objects(container, prefix=prefix))

    @abc.abstractmethod
    def get_object(self, container_name: str, object_name: str) -> Object:
        """Return one object's metadata.

        Raises:
            ContainerDoesNotExistError: There is no such container.
            ObjectDoesNotExistError: There is no such object.
        """

    def get_object_cdn_url(self, obj: Object) -> str:
        """Return a URL the object can be fetched from without credentials."""
        raise NotSupportedError(f"{self.name} does not provide object CDN URLs", self)

    @abc.abstractmethod
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
        """Upload a local file as ``object_name`` and return the new object.

        Args:
            file_path: The file to upload.
            container: The destination container.
            object_name: The object's name.
            extra: Object options (``content_type``, ``meta_data``, ``acl``…), validated
                before any request is sent.
            verify_hash: Check the hash the store reports against the file's content.
            headers: Extra request headers, passed through unchanged.
            progress: Called with ``(bytes_done, bytes_total)`` as data is sent,
                from any thread but never concurrently.

        Raises:
            ObjectHashMismatchError: ``verify_hash`` is set and the hashes differ.
        """

    @abc.abstractmethod
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
        """Upload the bytes of an iterator (or file-like object) of unknown length.

        Empty chunks are skipped, not taken as the end; an empty iterator stores an
        empty object. Nothing is stored under ``object_name`` unless the whole stream
        was read and uploaded.

        Args:
            iterator: An iterable of bytes-like chunks, or a file-like object.
            container: The destination container.
            object_name: The object's name.
            extra: Object options, as for :meth:`upload_object`.
            headers: Extra request headers, passed through unchanged.
            size_hint: The expected total size, when known; lets drivers choose part
                sizes (it need not be exact).
            progress: Called with ``(bytes_done, size_hint)`` as data is sent.
        """

    def copy_object(
        self,
        obj: Object,
        container: Container,
        object_name: str,
        extra: dict[str, Any] | None = None,
        *,
        progress: ProgressFn | None = None,
    ) -> Object:
        """Copy ``obj`` to ``object_name`` in ``container`` (of this driver) and return the copy.

        Drivers with a server-side copy override this; the default streams the
        bytes through this process with bounded memory. With ``extra=None`` the
        copy keeps the source's content type and metadata; with ``extra`` given they
        are replaced by it, as S3's ``x-amz-metadata-directive: REPLACE`` does.

        Raises:
            ObjectDoesNotExistError: The source is gone.
        """
        if extra is None:
            extra = {"meta_data": dict(obj.meta_data)}
            content_type = obj.extra.get("content_type")
            if content_type:
                extra["content_type"] = content_type
        return self.upload_object_via_stream(
            self.download_object_as_stream(obj, 1024 * 1024),
            container,
            object_name,
            extra=extra,
            size_hint=obj.size,
            progress=progress,
        )

    @abc.abstractmethod
    def delete_object(self, obj: Object) -> bool:
        """Delete an object and return ``True``.

        Raises:
            ObjectDoesNotExistError: There is no such object (where the provider says so).
        """

    @abc.abstractmethod
    def _read_object(
        self, obj: Object, start_bytes: int, end_bytes: int | None
    ) -> Iterator[bytes | bytearray]:
        """*Primitive*: yield the bytes of ``obj`` from ``start_bytes`` to ``end_bytes``.

        The range is already validated (``end_bytes`` exclusive, ``None`` meaning the
        end). Chunks may have any size; the core re-chunks them.
        """

    def _content_crc32(self, obj: Object) -> int | None:
        """Return ``obj``'s whole-content CRC32 when the driver knows it, else ``None``.

        Called after the whole object was read, like :meth:`_content_md5`.
        """
        return None

    def _content_md5(self, obj: Object) -> str | None:
        """Return ``obj``'s content MD5 (hex) when the driver knows it, else ``None``.

        Called after the whole object was read through :meth:`_read_object`, so a
        driver may use what it learnt from the reply.
        """
        return None

    # -- derived downloads ------------------------------------------------------------------

    def download_object(
        self,
        obj: Object,
        destination_path: str | os.PathLike[str],
        overwrite_existing: bool = False,
        delete_on_failure: bool = True,
        *,
        progress: ProgressFn | None = None,
    ) -> bool:
        """Download ``obj`` to ``destination_path`` and return ``True``.

        The data goes to a temporary file beside the destination, which is renamed
        into place only after the size (and the MD5, where the store gives one)
        checks out. When ``destination_path`` is an existing directory (or ends with
        a separator), the file is placed inside it under the object's name, which
        can never lead outside that directory.

        Args:
            obj: The object to download.
            destination_path: A file path, or a directory.
            overwrite_existing: Replace an existing file; otherwise raise.
            delete_on_failure: Remove the temporary file when the download fails
                (with ``False`` it is kept beside the destination, never under its name).
            progress: Called with ``(bytes_done, bytes_total)`` as data arrives.

        Raises:
            LibstoreError: The destination exists and ``overwrite_existing`` is false.
            ObjectHashMismatchError: The data did not match the object's size or MD5.
        """
        return self._download_to_path(
            obj, destination_path, 0, None, overwrite_existing, delete_on_failure, progress
        )

    def download_object_range(
        self,
        obj: Object,
        destination_path: str | os.PathLike[str],
        start_bytes: int,
        end_bytes: int | None = None,
        overwrite_existing: bool = False,
        delete_on_failure: bool = True,
        *,
        progress: ProgressFn | None = None,
    ) -> bool:
        """Download bytes ``start_bytes`` (inclusive) to ``end_bytes`` (exclusive) of ``obj``.

        Raises:
            InvalidRangeError: The range is invalid (also a ``ValueError``).
        """
        return self._download_to_path(
            obj,
            destination_path,
            start_bytes,
            end_bytes,
            overwrite_existing,
            delete_on_failure,
            progress,
        )

    def download_object_as_stream(
        self, obj: Object, chunk_size: int | None = None, *, progress: ProgressFn | None = None
    ) -> Iterator[bytes]:
        """Yield the bytes of ``obj`` in chunks of at most ``chunk_size`` bytes, none empty.

        After the last chunk the size, and the MD5 where the store gives one, are
        checked; a mismatch raises :class:`ObjectHashMismatchError` from the iterator.
        """
        size = self._chunk_size(chunk_size)
        return self._verified_stream(obj, 0, None, size, progress)

    def download_object_range_as_stream(
        self,
        obj: Object,
        start_bytes: int,
        end_bytes: int | None = None,
        chunk_size: int | None = None,
        *,
        progress: ProgressFn | None = None,
    ) -> Iterator[bytes]:
        """Yield bytes ``start_bytes`` to ``end_bytes`` (exclusive) of ``obj``.

        Raises:
            InvalidRangeError: The range is invalid (also a ``ValueError``).
        """
        size = self._chunk_size(chunk_size)
        start, end = self._check_range(obj, start_bytes, end_bytes)
        return self._verified_stream(obj, start, end, size, progress)

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _chunk_size(chunk_size: int | None) -> int:
        if chunk_size is None:
            return DEFAULT_CHUNK_SIZE
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
            raise ValueError(f"chunk_size must be a positive integer, not {chunk_size!r}")
        return chunk_size

    def _check_range(
        self, obj: Object, start_bytes: int, end_bytes: int | None
    ) -> tuple[int, int | None]:
        """Validate a libcloud-style range and clamp its end to the object's size."""
        bounds = (start_bytes,) if end_bytes is None else (start_bytes, end_bytes)
        for value in bounds:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidRangeError(f"range bounds must be integers, not {value!r}", self)
        if start_bytes < 0:
            raise InvalidRangeError(f"start_bytes must be >= 0, not {start_bytes}", self)
        if end_bytes is not None and end_bytes <= start_bytes:
            raise InvalidRangeError(
                f"end_bytes ({end_bytes}) must be greater than start_bytes ({start_bytes})",
                self,
                object_name=obj.name,
            )
        if start_bytes > 0 and obj.size is not None and start_bytes >= obj.size:
            raise InvalidRangeError(
                f"start_bytes ({start_bytes}) is past the end of the object ({obj.size} bytes)",
                self,
                object_name=obj.name,
            )
        if end_bytes is not None and obj.size is not None and end_bytes >= obj.size:
            end_bytes = None
        return start_bytes, end_bytes

    def _verified_stream(
        self,
        obj: Object,
        start: int,
        end: int | None,
        chunk_size: int,
        progress: ProgressFn | None = None,
    ) -> Iterator[bytes]:
        expected_size = (obj.size if end is None else end) - start
        tracker = ProgressTracker(progress, expected_size)
        whole = start == 0 and end is None
        # The expected MD5 is asked for after the transfer: a driver may learn from the
        # reply whether the hash is a content MD5 at all (S3's ETag under SSE-KMS is not).
        digest = hashlib.md5(usedforsecurity=False) if whole else None
        crc = 0
        received = 0
        for chunk in rechunk(self._read_object(obj, start, end), chunk_size):
            received += len(chunk)
            if received > expected_size:
                raise ObjectHashMismatchError(
                    f"received more than the expected {expected_size} bytes",
                    self,
                    obj.name,
                    container_name=obj.container.name,
                )
            if digest is not None:
                digest.update(chunk)
                crc = zlib.crc32(chunk, crc)
            tracker.add(len(chunk))
            yield chunk
        if received != expected_size:
            raise ObjectHashMismatchError(
                f"received {received} bytes, expected {expected_size}",
                self,
                obj.name,
                container_name=obj.container.name,
            )
        crc_expected = self._content_crc32(obj) if whole else None
        if crc_expected is not None and crc != crc_expected:
            raise ObjectHashMismatchError(
                f"CRC32 of the downloaded data ({crc:08x}) does not match the object's "
                f"({crc_expected:08x})",
                self,
                obj.name,
                container_name=obj.container.name,
            )
        md5_expected = self._content_md5(obj) if whole else None
        if digest is not None and md5_expected and digest.hexdigest() != md5_expected:
            raise ObjectHashMismatchError(
                f"MD5 of the downloaded data ({digest.hexdigest()}) does not match "
                f"the object's ({md5_expected})",
                self,
                obj.name,
                container_name=obj.container.name,
            )

    def _download_to_path(
        self,
        obj: Object,
        destination_path: str | os.PathLike[str],
        start_bytes: int,
        end_bytes: int | None,
        overwrite_existing: bool,
        delete_on_failure: bool,
        progress: ProgressFn | None = None,
    ) -> bool:
        start, end = self._check_range(obj, start_bytes, end_bytes)
        raw = os.fspath(destination_path)
        dest = Path(raw)
        if dest.is_dir() or raw.endswith((os.sep, "/")):
            if not dest.is_dir():
                raise LibstoreError(f"destination directory {raw!r} does not exist", self)
            dest = safe_join(dest, obj.name)
            dest.parent.mkdir(parents=True, exist_ok=True)
        elif not dest.parent.is_dir():
            raise LibstoreError(f"destination directory {str(dest.parent)!r} does not exist", self)
        if dest.exists() and not overwrite_existing:
            raise LibstoreError(
                f"{str(dest)!r} already exists; pass overwrite_existing=True to replace it",
                self,
                object_name=obj.name,
            )
        with atomic_write(
            dest, overwrite=overwrite_existing, keep_on_failure=not delete_on_failure
        ) as handle:
            self._download_into(handle, obj, start, end, progress)
        return True

    def _download_into(
        self,
        handle: BinaryIO,
        obj: Object,
        start: int,
        end: int | None,
        progress: ProgressFn | None,
    ) -> None:
        """Write the validated range of ``obj`` into the empty temporary file ``handle``.

        Verification failures must raise. The default reads one verified stream;
        drivers may override it to fetch ranges in parallel (positioned writes).
        """
        for chunk in self._verified_stream(obj, start, end, 1024 * 1024, progress):
            handle.write(chunk)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
