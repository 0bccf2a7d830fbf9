"""A driver scoped to one container and an optional key prefix.

:class:`ScopedDriver` wraps any driver. Its one container is the wrapped
driver's bucket, and every object name is relative to the prefix: uploading
``"a.txt"`` with the prefix ``"app/data/"`` stores ``app/data/a.txt``, listing
returns ``a.txt``, and nothing outside the prefix is ever listed, read, written
or deleted. :func:`libstore.from_url` returns one::

    store = libstore.from_url("s3://backups/host-1/2026")
    store.upload_object("db.tar", store.container, "db.tar")   # backups: host-1/2026/db.tar
    for obj in store.iterate_container_objects(store.container):
        print(obj.name)                                          # "db.tar"
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

from libstore.base import Container, Object, StorageDriver
from libstore.types import (
    ContainerAlreadyExistsError,
    ContainerDoesNotExistError,
    InvalidArgumentError,
    InvalidObjectNameError,
    NotSupportedError,
)

__all__ = ["ScopedDriver", "normalize_prefix"]


def normalize_prefix(prefix: str | None) -> str:
    """``""`` or the prefix without a leading ``/`` and with exactly one trailing ``/``.

    Raises:
        InvalidArgumentError: The prefix is not a str or has empty, ``.`` or ``..``
            segments.
    """
    if prefix is None:
        return ""
    if not isinstance(prefix, str):
        raise InvalidArgumentError(f"prefix must be a str, not {type(prefix).__name__}")
    stripped = prefix.strip("/")
    if not stripped:
        return ""
    segments = stripped.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise InvalidArgumentError(
            f"prefix {prefix!r} has an empty, '.' or '..' segment; give it as a/b/c"
        )
    return stripped + "/"


class ScopedDriver(StorageDriver):
    """One container of another driver, with every object name under a prefix.

    Args:
        driver: The driver doing the work.
        container_name: The container (bucket) everything happens in.
        prefix: Key prefix for every object (``"app/data"`` and ``"app/data/"`` mean
            the same); ``""`` for the whole container.
        auto_create: Create the container on first use if it does not exist.

    The methods keep the libcloud signatures; the container arguments must be the
    scoped container (:attr:`container`, or any container of that name).
    """

    name: ClassVar[str] = "Scoped"

    def __init__(
        self,
        driver: StorageDriver,
        container_name: str,
        prefix: str | None = "",
        *,
        auto_create: bool = False,
    ) -> None:
        if not isinstance(driver, StorageDriver):
            raise InvalidArgumentError(f"{driver!r} is not a storage driver")
        if not isinstance(container_name, str) or not container_name:
            raise InvalidArgumentError("container_name must be a non-empty str")
        #: The wrapped driver.
        self.driver = driver
        #: The container's name.
        self.container_name = container_name
        #: The key prefix: ``""`` or ending with ``/``.
        self.prefix = normalize_prefix(prefix)
        #: Whether the container is created on first use.
        self.auto_create = bool(auto_create)
        self._ready = not self.auto_create
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"<ScopedDriver container={self.container_name!r} prefix={self.prefix!r} "
            f"driver={self.driver!r}>"
        )

    def __enter__(self) -> ScopedDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the wrapped driver's connections, where it has any."""
        close = getattr(self.driver, "close", None)
        if callable(close):
            close()

    # -- names ----------------------------------------------------------------------------------

    @property
    def container(self) -> Container:
        """The scoped container (no request is sent)."""
        return Container(self.container_name, {}, self)

    def key(self, object_name: str) -> str:
        """The full key of ``object_name`` in the wrapped driver's container."""
        if not isinstance(object_name, str) or not object_name:
            raise InvalidObjectNameError("object name must be a non-empty str", self)
        if self.prefix and object_name.startswith("/"):
            raise InvalidObjectNameError(
                f"object name {object_name!r} starts with '/': names are relative to the "
                f"prefix {self.prefix!r}",
                self,
                object_name=object_name,
            )
        return self.prefix + object_name

    def relative(self, key: str) -> str:
        """The name of the wrapped driver's ``key`` relative to the prefix."""
        if not key.startswith(self.prefix):
            raise InvalidObjectNameError(
                f"key {key!r} is outside the prefix {self.prefix!r}", self, object_name=key
            )
        return key[len(self.prefix) :]

    def _check_container(self, container: Container | str) -> None:
        name = container if isinstance(container, str) else getattr(container, "name", None)
        if name != self.container_name:
            raise InvalidArgumentError(
                f"this driver is scoped to container {self.container_name!r}, not {name!r}",
                self,
            )

    def _ensure(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            try:
                self.driver.get_container(self.container_name)
            except ContainerDoesNotExistError:
                # another process may create it meanwhile
                with contextlib.suppress(ContainerAlreadyExistsError):
                    self.driver.create_container(self.container_name)
            self._ready = True

    def _inner_container(self) -> Container:
        self._ensure()
        return Container(self.container_name, {}, self.driver)

    def _wrap(self, obj: Object) -> Object:
        wrapped = Object(
            self.relative(obj.name), obj.size, obj.hash, None, None, self.container, self
        )
        wrapped.extra = obj.extra  # shared: drivers record what they learn while reading
        wrapped.meta_data = obj.meta_data
        return wrapped

    def _unwrap(self, obj: Object) -> Object:
        self._check_container(obj.container)
        inner = Object(
            self.key(obj.name), obj.size, obj.hash, None, None, self._inner_container(), self.driver
        )
        inner.extra = obj.extra
        inner.meta_data = obj.meta_data
        return inner

    # -- containers -----------------------------------------------------------------------------

    def iterate_containers(self) -> Iterator[Container]:
        """Yield the one scoped container."""
        yield self.get_container(self.container_name)

    def get_container(self, container_name: str) -> Container:
        self._check_container(container_name)
        self._ensure()
        found = self.driver.get_container(container_name)
        return Container(container_name, dict(found.extra), self)

    def create_container(self, container_name: str) -> Container:
        self._check_container(container_name)
        created = self.driver.create_container(container_name)
        self._ready = True
        return Container(container_name, dict(created.extra), self)

    def delete_container(self, container: Container) -> bool:
        raise NotSupportedError(
            "a scoped driver does not delete its container; use its .driver to do so", self
        )

    # -- objects --------------------------------------------------------------------------------

    def iterate_container_objects(
        self, container: Container, prefix: str | None = None
    ) -> Iterator[Object]:
        self._check_container(container)
        if prefix is not None and not isinstance(prefix, str):
            raise InvalidArgumentError("prefix must be a str")
        full = self.prefix + (prefix or "")
        for obj in self.driver.iterate_container_objects(self._inner_container(), full or None):
            if obj.name.startswith(self.prefix) and len(obj.name) > len(self.prefix):
                yield self._wrap(obj)

    def get_object(self, container_name: str, object_name: str) -> Object:
        self._check_container(container_name)
        self._ensure()
        return self._wrap(self.driver.get_object(container_name, self.key(object_name)))

    def get_object_cdn_url(self, obj: Object, *args: Any, **kwargs: Any) -> str:
        return self.driver.get_object_cdn_url(self._unwrap(obj), *args, **kwargs)

    def upload_object(
        self,
        file_path: str | os.PathLike[str],
        container: Container,
        object_name: str,
        extra: dict[str, Any] | None = None,
        verify_hash: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Object:
        self._check_container(container)
        key = self.key(object_name)
        return self._wrap(
            self.driver.upload_object(
                file_path, self._inner_container(), key, extra, verify_hash, headers, **kwargs
            )
        )

    def upload_object_via_stream(
        self,
        iterator: Any,
        container: Container,
        object_name: str,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Object:
        self._check_container(container)
        key = self.key(object_name)
        return self._wrap(
            self.driver.upload_object_via_stream(
                iterator, self._inner_container(), key, extra, headers, **kwargs
            )
        )

    def copy_object(
        self,
        obj: Object,
        container: Container,
        object_name: str,
        extra: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Object:
        self._check_container(container)
        key = self.key(object_name)
        source = self._unwrap(obj)
        return self._wrap(
            self.driver.copy_object(source, self._inner_container(), key, extra, **kwargs)
        )

    def delete_object(self, obj: Object) -> bool:
        return self.driver.delete_object(self._unwrap(obj))

    def download_object(
        self,
        obj: Object,
        destination_path: str | os.PathLike[str],
        overwrite_existing: bool = False,
        delete_on_failure: bool = True,
        **kwargs: Any,
    ) -> bool:
        return self.driver.download_object(
            self._unwrap(obj), destination_path, overwrite_existing, delete_on_failure, **kwargs
        )

    def download_object_range(
        self,
        obj: Object,
        destination_path: str | os.PathLike[str],
        start_bytes: int,
        end_bytes: int | None = None,
        overwrite_existing: bool = False,
        delete_on_failure: bool = True,
        **kwargs: Any,
    ) -> bool:
        return self.driver.download_object_range(
            self._unwrap(obj),
            destination_path,
            start_bytes,
            end_bytes,
            overwrite_existing,
            delete_on_failure,
            **kwargs,
        )

    def download_object_as_stream(
        self, obj: Object, chunk_size: int | None = None, **kwargs: Any
    ) -> Iterator[bytes]:
        return self.driver.download_object_as_stream(self._unwrap(obj), chunk_size, **kwargs)

    def download_object_range_as_stream(
        self,
        obj: Object,
        start_bytes: int,
        end_bytes: int | None = None,
        chunk_size: int | None = None,
        **kwargs: Any,
    ) -> Iterator[bytes]:
        return self.driver.download_object_range_as_stream(
            self._unwrap(obj), start_bytes, end_bytes, chunk_size, **kwargs
        )

    def _read_object(
        self, obj: Object, start_bytes: int, end_bytes: int | None
    ) -> Iterator[bytes | bytearray]:
        return self.driver._read_object(self._unwrap(obj), start_bytes, end_bytes)

    def _content_md5(self, obj: Object) -> str | None:
        return self.driver._content_md5(self._unwrap(obj))

    # -- presigning (drivers that have it) --------------------------------------------------------

    def _feature(self, name: str) -> Any:
        method = getattr(self.driver, name, None)
        if not callable(method):
            raise NotSupportedError(f"{self.driver.name} does not support {name}", self)
        return method

    def presign(self, method: str, object_name: str, *args: Any, **kwargs: Any) -> Any:
        """Presign a request on ``object_name`` (under the prefix); see the S3 driver's
        :meth:`~libstore.drivers.s3.S3StorageDriver.presign`."""
        return self._feature("presign")(
            method, self.container_name, self.key(object_name), *args, **kwargs
        )

    def presign_post(
        self,
        key: str | None = None,
        *,
        key_prefix: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """A browser upload form for ``key`` or any key under ``key_prefix`` (both under
        the prefix; neither: anything under the prefix); see the S3 driver's
        :meth:`~libstore.drivers.s3.S3StorageDriver.presign_post`."""
        if key is not None:
            key = self.key(key)
        if key_prefix is not None:
            if not isinstance(key_prefix, str):
                raise InvalidArgumentError("key_prefix must be a str")
            key_prefix = self.prefix + key_prefix
        elif key is None:
            key_prefix = self.prefix
        return self._feature("presign_post")(
            self.container_name, key, key_prefix=key_prefix, **kwargs
        )

    def list_names(self, prefix: str | None = None) -> list[str]:
        """The names (relative to the prefix) of the objects under ``prefix``."""
        return [obj.name for obj in self.iterate_container_objects(self.container, prefix)]
