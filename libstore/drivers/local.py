"""The local-filesystem driver: containers are directories and objects are files under a base path.

Layout under the base directory given as ``key``::

    <base>/<container>/<a>/<b>/<c.txt>     object "a/b/c.txt", a plain file (browse it with ls)
    <base>/.libstore/meta/<container>/<h[:2]>/<h>.json
                                           its sidecar: content type, user metadata, the other
                                           stored attributes, size and content MD5
                                           (h = SHA-256 of the object name)
    <base>/.libstore/tmp/                  temporary files, renamed into place on success
    <base>/.libstore/lock                  lock file serialising commits across processes

Container names cannot start with ``.``, so ``.libstore`` never clashes with a container,
and nothing internal lives inside a container directory. Sidecar paths are hashed so that
no object name can make two sidecars clash (object ``x`` and ``x.json/y`` both exist
happily) and no sidecar file name exceeds the file system's limit.

Rules the driver keeps:

* No container or object name reaches outside the base directory: names are validated
  (no ``..``/``.``/empty segments, no absolute paths, NUL bytes, over-long names or
  segments) and symbolic links are never followed inside the base directory: a path
  leading through one is refused.
* Uploads are written to a temporary file under ``.libstore/tmp`` (same file system) while
  their MD5 is computed, then data and sidecar are renamed into place while holding a
  lock (a thread lock plus ``flock`` where available); readers take the same lock, so
  nobody sees new data with old metadata, a partial file, or a temporary file.
* Files put into a container by hand (no sidecar) are objects too: their content type is
  guessed from the name and their hash is ``None``, so downloads check only the size.
* An :class:`Object` remembers which file it was read from; reading it after the file was
  replaced raises :class:`PreconditionFailedError` rather than mixing two versions.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import mimetypes
import os
import re
import shutil
import stat
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from libstore._extra import UploadOptions, parse_upload_extra
from libstore._progress import ProgressFn, ProgressTracker
from libstore.base import Container, Object, StorageDriver
from libstore.http.observe import observed
from libstore.http.options import ClientOptions, driver_options
from libstore.types import (
    AccessDeniedError,
    ContainerAlreadyExistsError,
    ContainerDoesNotExistError,
    ContainerError,
    ContainerIsNotEmptyError,
    InvalidArgumentError,
    InvalidContainerNameError,
    InvalidObjectNameError,
    LibstoreError,
    ObjectDoesNotExistError,
    ObjectError,
    ObjectHashMismatchError,
    PreconditionFailedError,
)

if sys.platform == "win32":  # pragma: no cover - no flock on Windows: thread lock only
    _flock: Callable[[int, int], None] | None = None
    _LOCK_EX = _LOCK_UN = 0
else:
    import fcntl

    _flock = fcntl.flock
    _LOCK_EX = fcntl.LOCK_EX
    _LOCK_UN = fcntl.LOCK_UN

__all__ = ["LocalStorageDriver"]

_log = logging.getLogger(__name__)

#: Size of the pieces read from and written to disk.
CHUNK_SIZE = 1024 * 1024
#: Longest object name, in bytes of UTF-8 (S3's limit).
MAX_OBJECT_NAME_BYTES = 1024
#: Longest container name or object name segment, in bytes of UTF-8 (NAME_MAX).
MAX_SEGMENT_BYTES = 255
#: Directory under the base path holding everything that is not user data.
INTERNAL_DIR = ".libstore"

_SIDECAR_VERSION = 1
_MAX_SIDECAR_BYTES = 64 * 1024
_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")
#: The ``UploadOptions.stored_attributes()`` names a sidecar may hold.
_STORED_ATTRIBUTES = frozenset(
    {"cache_control", "content_disposition", "content_encoding", "content_language", "expires"}
)
_WINDOWS = os.name == "nt"

_O_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW: int = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK: int = getattr(os, "O_NONBLOCK", 0)
_O_BINARY: int = getattr(os, "O_BINARY", 0)

_BytesLike = bytes | bytearray | memoryview


# -- names ------------------------------------------------------------------------------------


def _utf8_len(text: str) -> int | None:
    """Return the UTF-8 length of ``text``, or ``None`` when it cannot be encoded."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def _container_name_problem(name: str) -> str | None:
    """Say why ``name`` cannot be a container name, or return ``None`` when it can."""
    if not name:
        return "it is empty"
    size = _utf8_len(name)
    if size is None:
        return "it is not valid Unicode text (it holds a lone surrogate)"
    if size > MAX_SEGMENT_BYTES:
        return f"it is {size} bytes long in UTF-8; the limit is {MAX_SEGMENT_BYTES}"
    if "\x00" in name:
        return "it contains a NUL byte"
    if "/" in name or "\\" in name:
        return "it contains a path separator ('/' or '\\')"
    if name in (".", ".."):
        return f"{name!r} is not a directory name"
    if name.startswith("."):
        return "names starting with '.' are reserved for the driver's internal use"
    if _WINDOWS and ":" in name:  # pragma: no cover
        return "it contains ':'"
    return None


def _object_name_problem(name: str) -> str | None:
    """Say why ``name`` cannot be an object name, or return ``None`` when it can.

    Backslashes are ordinary characters on POSIX (S3 allows them in keys, and a file
    name may hold them), so they are accepted there; on Windows they are separators
    and are refused, as is ``:`` (drive letters, alternate data streams).
    """
    if not name:
        return "it is empty"
    size = _utf8_len(name)
    if size is None:
        return "it is not valid Unicode text (it holds a lone surrogate)"
    if size > MAX_OBJECT_NAME_BYTES:
        return f"it is {size} bytes long in UTF-8; the limit is {MAX_OBJECT_NAME_BYTES}"
    if "\x00" in name:
        return "it contains a NUL byte"
    if name.startswith("/"):
        return "it is an absolute path (it starts with '/')"
    if name.endswith("/"):
        return "it ends with '/', so it names a directory, not a file"
    if _WINDOWS and ("\\" in name or ":" in name):  # pragma: no cover
        return "it contains '\\' or ':', which are path syntax on Windows"
    for segment in name.split("/"):
        if not segment:
            return "it has an empty path segment ('//')"
        if segment in (".", ".."):
            return f"it has a {segment!r} path segment"
        seg_size = len(segment.encode("utf-8"))
        if seg_size > MAX_SEGMENT_BYTES:
            return (
                f"a path segment is {seg_size} bytes long in UTF-8; "
                f"the limit is {MAX_SEGMENT_BYTES}"
            )
    return None


def _sort_key(name: str) -> bytes:
    return name.encode("utf-8")


def _datetime(ns: int) -> datetime:
    """An aware UTC datetime from nanoseconds since the epoch (microsecond precision)."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=rest // 1000)


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    """What tells one version of a file from another: device, inode, size, mtime."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _guess_content_type(name: str) -> str:
    guessed, _encoding = mimetypes.guess_type(name.rsplit("/", 1)[-1])
    return guessed or "application/octet-stream"


def _lstat(path: str) -> os.stat_result | None:
    """``os.lstat``, with ``None`` for a path that does not exist."""
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        os.unlink(path)


def _prune_empty_dirs(start: str, stop: str) -> None:
    """Remove ``start`` and its parents while they are empty, never ``stop`` or above it."""
    current = start
    while current != stop and current.startswith(stop + os.sep):
        try:
            os.rmdir(current)
        except OSError:
            return
        current = os.path.dirname(current)


# -- sidecars ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sidecar:
    """The metadata stored beside an object's data."""

    name: str
    size: int
    md5: str
    content_type: str
    meta_data: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        payload = {
            "version": _SIDECAR_VERSION,
            "name": self.name,
            "size": self.size,
            "md5": self.md5,
            "content_type": self.content_type,
            "meta_data": self.meta_data,
            "attributes": self.attributes,
        }
        return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes, name: str) -> _Sidecar | None:
        """Parse a sidecar; ``None`` when it is malformed or describes another name."""
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        if not isinstance(data, dict) or data.get("version") != _SIDECAR_VERSION:
            return None
        size, md5, content_type = data.get("size"), data.get("md5"), data.get("content_type")
        meta, attributes = data.get("meta_data"), data.get("attributes")
        if (
            data.get("name") != name
            or not isinstance(size, int)
            or isinstance(size, bool)
            or size < 0
            or not isinstance(md5, str)
            or not _MD5_HEX.match(md5)
            or not isinstance(content_type, str)
        ):
            return None
        meta_data = _str_dict(meta)
        attribute_map = _str_dict(attributes)
        if (
            meta_data is None
            or attribute_map is None
            or not set(attribute_map) <= _STORED_ATTRIBUTES
        ):
            return None
        return cls(name, size, md5, content_type, meta_data, attribute_map)


def _str_dict(value: Any) -> dict[str, str] | None:
    """``value`` as a ``dict[str, str]``, or ``None`` when it is not one."""
    if not isinstance(value, dict):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return {str(k): str(v) for k, v in value.items()}


# -- locking ----------------------------------------------------------------------------------


class _StoreLock:
    """Serialises commits and metadata reads on one base directory.

    A thread lock shared by every driver instance of the process on that directory,
    plus an exclusive ``flock`` on ``.libstore/lock`` so other processes using the same
    directory are serialised too. When the lock file cannot be opened (a read-only
    store) or ``flock`` is unsupported, only the thread lock is used.
    """

    def __init__(self, internal_dir: str) -> None:
        self._dir = internal_dir
        self._path = os.path.join(internal_dir, "lock")
        self._mutex = threading.Lock()
        self._fd: int | None = None
        self._held: int | None = None

    def _open(self) -> int | None:
        if self._fd is not None or _flock is None:
            return self._fd
        try:
            if os.path.realpath(self._dir) != self._dir:
                return None  # a symlinked internal dir: writes refuse it with a clear error
            os.makedirs(self._dir, exist_ok=True)
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | _O_CLOEXEC | _O_NOFOLLOW, 0o666)
        except OSError:
            with contextlib.suppress(OSError):
                self._fd = os.open(self._path, os.O_RDONLY | _O_CLOEXEC | _O_NOFOLLOW)
        return self._fd

    def __enter__(self) -> None:
        self._mutex.acquire()
        try:
            fd = self._open()
            if fd is not None and _flock is not None:
                try:
                    _flock(fd, _LOCK_EX)
                    self._held = fd
                except OSError as exc:  # e.g. ENOLCK on some network file systems
                    _log.debug(
                        "flock on %s failed (%s); using the thread lock only", self._path, exc
                    )
        except BaseException:
            self._mutex.release()
            raise

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._held is not None and _flock is not None:
                with contextlib.suppress(OSError):
                    _flock(self._held, _LOCK_UN)
        finally:
            self._held = None
            self._mutex.release()

    def reset_after_fork(self) -> None:
        """In a forked child: fresh thread lock, and an own lock file description."""
        self._mutex = threading.Lock()
        self._held = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None


_locks: dict[str, _StoreLock] = {}
_locks_guard = threading.Lock()


def _lock_for(base: str) -> _StoreLock:
    with _locks_guard:
        lock = _locks.get(base)
        if lock is None:
            lock = _locks[base] = _StoreLock(os.path.join(base, INTERNAL_DIR))
        return lock


def _reset_locks_after_fork() -> None:  # pragma: no cover - runs in forked children
    global _locks_guard
    _locks_guard = threading.Lock()
    for lock in _locks.values():
        lock.reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_locks_after_fork)


# -- objects ----------------------------------------------------------------------------------


class _LocalObject(Object):
    """An :class:`Object` that remembers which file (and which content MD5) it describes."""

    _identity: tuple[int, int, int, int] | None = None
    _md5: str | None = None


@dataclass(frozen=True)
class _Location:
    """Where an object's data and sidecar live."""

    container_name: str
    name: str
    container_dir: str
    parts: tuple[str, ...]
    path: str
    meta_path: str


# -- stream sources ---------------------------------------------------------------------------


def _bytes_chunk(chunk: Any, what: str) -> _BytesLike:
    if isinstance(chunk, bytes | bytearray):
        return chunk
    if isinstance(chunk, memoryview):
        return chunk.tobytes()
    hint = "; encode text first (e.g. text.encode('utf-8'))" if isinstance(chunk, str) else ""
    raise InvalidArgumentError(
        f"{what} must be bytes, bytearray or memoryview, not {type(chunk).__name__}{hint}"
    )


def _iterate_chunks(iterable: Iterable[Any]) -> Iterator[_BytesLike]:
    for chunk in iterable:
        yield _bytes_chunk(chunk, "stream chunks")


def _read_chunks(read: Callable[[int], Any]) -> Iterator[_BytesLike]:
    while True:
        data = read(CHUNK_SIZE)
        if data is None:
            raise InvalidArgumentError(
                "read() returned None (a non-blocking stream with no data ready)"
            )
        chunk = _bytes_chunk(data, "read() results")
        if not chunk:
            return
        yield chunk


def _stream_source(iterator: Any) -> Iterator[_BytesLike]:
    """Turn what ``upload_object_via_stream`` accepts into an iterator of bytes-like chunks.

    Raises:
        InvalidArgumentError: ``iterator`` is text, or neither iterable nor file-like.
    """
    if isinstance(iterator, bytes | bytearray | memoryview):
        return iter([_bytes_chunk(iterator, "the stream")])
    if isinstance(iterator, str):
        raise InvalidArgumentError(
            "upload_object_via_stream needs bytes, not str; encode the text first"
        )
    read = getattr(iterator, "read", None)
    if callable(read):
        return _read_chunks(read)
    try:
        it = iter(iterator)
    except TypeError:
        raise InvalidArgumentError(
            "iterator must be an iterable of bytes or a file-like object with read(), "
            f"not {type(iterator).__name__}"
        ) from None
    return _iterate_chunks(it)


# -- the driver -------------------------------------------------------------------------------


class LocalStorageDriver(StorageDriver):
    """Containers as directories and objects as files under a base directory.

    Args:
        key: The base directory (libcloud passes the path as ``key``). It must exist.
        secret: Ignored (libcloud's signature).
        secure: Ignored.
        host: Ignored.
        port: Ignored.
        options: A :class:`~libstore.http.options.ClientOptions`; its network settings
            are ignored, its ``hooks`` receive the ``transfer_finished`` events.
        **kwargs: Ignored, so code written for other libcloud drivers still constructs it.

    Raises:
        LibstoreError: The base directory does not exist or is not a directory.
        InvalidArgumentError: ``key`` is not a text path.
    """

    name: ClassVar[str] = "Local Storage"
    website: ClassVar[str] = ""

    def __init__(
        self,
        key: str | os.PathLike[str],
        secret: str | None = None,
        secure: bool = True,
        host: str | None = None,
        port: int | None = None,
        *,
        options: ClientOptions | None = None,
        **kwargs: Any,
    ) -> None:
        #: The driver's options; only ``hooks`` matter here (there is no network).
        self.options = driver_options(options)
        #: The driver's event hooks (:class:`~libstore.http.events.EventHooks`).
        self.hooks = self.options.hooks
        raw: Any = os.fspath(key) if isinstance(key, os.PathLike) else key
        if not isinstance(raw, str):
            raise InvalidArgumentError(
                f"key must be the base directory as a str or os.PathLike[str], "
                f"not {type(raw).__name__}",
                self,
            )
        if not raw or "\x00" in raw:
            raise LibstoreError(f"invalid base directory path {raw!r}", self)
        base = os.path.realpath(raw)
        if not os.path.exists(base):
            raise LibstoreError(f"base directory {raw!r} does not exist", self)
        if not os.path.isdir(base):
            raise LibstoreError(f"base directory {raw!r} is not a directory", self)
        self._base = base
        self._internal = os.path.join(base, INTERNAL_DIR)
        self._tmp_dir = os.path.join(self._internal, "tmp")
        self._meta_dir = os.path.join(self._internal, "meta")
        self._lock = _lock_for(base)

    @property
    def base_path(self) -> str:
        """The base directory, absolute and with symbolic links resolved."""
        return self._base

    def __repr__(self) -> str:
        return f"<LocalStorageDriver: base_path={self._base!r}>"

    # -- errors -----------------------------------------------------------------------------

    def _os_error(
        self,
        exc: OSError,
        action: str,
        container_name: str | None = None,
        object_name: str | None = None,
    ) -> LibstoreError:
        where = f" ({exc.filename})" if exc.filename else ""
        message = f"could not {action}{where}: {exc.strerror or exc}"
        if isinstance(exc, PermissionError):
            return AccessDeniedError(
                message, self, container_name=container_name, object_name=object_name
            )
        if object_name is not None:
            if exc.errno == errno.ENAMETOOLONG:
                return InvalidObjectNameError(
                    f"object name gives a path too long for the file system: {message}",
                    self,
                    object_name,
                    container_name=container_name,
                )
            return ObjectError(message, self, object_name, container_name=container_name)
        if container_name is not None:
            return ContainerError(message, self, container_name)
        return LibstoreError(message, self)

    @contextlib.contextmanager
    def _fs(
        self, action: str, container_name: str | None = None, object_name: str | None = None
    ) -> Iterator[None]:
        """Turn ``OSError`` into the matching :class:`LibstoreError`."""
        try:
            yield
        except LibstoreError:
            raise
        except OSError as exc:
            raise self._os_error(exc, action, container_name, object_name) from exc

    # -- names and paths --------------------------------------------------------------------

    def _check_container_name(self, name: Any) -> str:
        if not isinstance(name, str):
            raise InvalidContainerNameError(
                f"container name must be a str, not {type(name).__name__}", self
            )
        problem = _container_name_problem(name)
        if problem is not None:
            raise InvalidContainerNameError(f"invalid container name: {problem}", self, name)
        return name

    def _locate(self, container_name: Any, object_name: Any) -> _Location:
        cname = self._check_container_name(container_name)
        if not isinstance(object_name, str):
            raise InvalidObjectNameError(
                f"object name must be a str, not {type(object_name).__name__}",
                self,
                container_name=cname,
            )
        problem = _object_name_problem(object_name)
        if problem is not None:
            raise InvalidObjectNameError(
                f"invalid object name: {problem}", self, object_name, container_name=cname
            )
        container_dir = os.path.join(self._base, cname)
        parts = tuple(object_name.split("/"))
        digest = hashlib.sha256(object_name.encode("utf-8")).hexdigest()
        return _Location(
            container_name=cname,
            name=object_name,
            container_dir=container_dir,
            parts=parts,
            path=os.path.join(container_dir, *parts),
            meta_path=os.path.join(self._meta_dir, cname, digest[:2], f"{digest}.json"),
        )

    def _container_stat(self, cname: str) -> os.stat_result:
        """Stat a container directory, which must be a real directory (not a symlink)."""
        path = os.path.join(self._base, cname)
        st = _lstat(path)
        if st is None:
            raise ContainerDoesNotExistError(f"container {cname!r} does not exist", self, cname)
        if stat.S_ISLNK(st.st_mode):
            raise ContainerDoesNotExistError(
                f"{path!r} is a symbolic link, not a container: the local driver only uses "
                "real directories inside the base directory",
                self,
                cname,
            )
        if not stat.S_ISDIR(st.st_mode):
            raise ContainerDoesNotExistError(
                f"{path!r} is not a directory, so it is not a container", self, cname
            )
        return st

    def _check_no_symlinks(self, loc: _Location) -> None:
        """Refuse an object path that goes through a symbolic link inside the container.

        The base directory is stored resolved, so any difference between the path and
        its resolution comes from a link below it.
        """
        if os.path.realpath(loc.path) == loc.path:
            return
        current = loc.container_dir
        link = loc.path
        for part in loc.parts:
            current = os.path.join(current, part)
            if os.path.islink(current):
                link = current
                break
        raise InvalidObjectNameError(
            f"object path leads through the symbolic link {link!r}; the local driver does "
            "not follow symbolic links inside containers",
            self,
            loc.name,
            container_name=loc.container_name,
        )

    def _ensure_real_dir(self, path: str) -> None:
        """Create an internal directory; refuse one reached through a symbolic link."""
        for _ in range(2):  # before creating anything, and after
            if os.path.realpath(path) != path:
                raise LibstoreError(
                    f"internal directory {path!r} is reached through a symbolic link; "
                    "refusing to use it",
                    self,
                )
            os.makedirs(path, exist_ok=True)

    def _conflict(self, loc: _Location) -> str | None:
        """Say why ``loc`` cannot hold a file because of what is on disk, else ``None``."""
        current = loc.container_dir
        for index, part in enumerate(loc.parts[:-1]):
            current = os.path.join(current, part)
            st = _lstat(current)
            if st is None:
                return None
            if not stat.S_ISDIR(st.st_mode):
                prefix = "/".join(loc.parts[: index + 1])
                return (
                    f"{prefix!r} is an object (a file), so it cannot also be a directory "
                    f"holding {loc.name!r}"
                )
        st = _lstat(loc.path)
        if st is not None and stat.S_ISDIR(st.st_mode):
            return (
                f"{loc.name!r} is a directory holding other objects (names starting with "
                f"{loc.name + '/'!r}); delete those first"
            )
        if st is not None and not stat.S_ISREG(st.st_mode):
            return f"{loc.path!r} exists and is not a regular file"
        return None

    def _raise_conflict(self, loc: _Location) -> None:
        problem = self._conflict(loc)
        if problem is not None:
            raise InvalidObjectNameError(
                f"cannot store object: {problem}", self, loc.name, container_name=loc.container_name
            )

    # -- containers -------------------------------------------------------------------------

    def _container_extra(self, st: os.stat_result) -> dict[str, Any]:
        # Linux does not expose a directory's birth time; the modification time stands in.
        return {"creation_time": _datetime(st.st_mtime_ns)}

    def iterate_containers(self) -> Iterator[Container]:
        """Iterate over the containers (real directories with valid names), sorted by name."""
        with self._fs("list containers"), os.scandir(self._base) as entries:
            names = [
                e.name
                for e in entries
                if _container_name_problem(e.name) is None and e.is_dir(follow_symlinks=False)
            ]
        names.sort(key=_sort_key)
        return self._containers(names)

    def _containers(self, names: list[str]) -> Iterator[Container]:
        for cname in names:
            try:
                with self._fs("list containers", cname):
                    st = self._container_stat(cname)
            except ContainerDoesNotExistError:
                continue  # removed meanwhile
            yield Container(cname, self._container_extra(st), self)

    def get_container(self, container_name: str) -> Container:
        """Return one container.

        Raises:
            InvalidContainerNameError: The name breaks the naming rules.
            ContainerDoesNotExistError: There is no such container.
        """
        cname = self._check_container_name(container_name)
        with self._fs("get container", cname):
            st = self._container_stat(cname)
        return Container(cname, self._container_extra(st), self)

    def create_container(self, container_name: str) -> Container:
        """Create a container directory and return the container.

        Raises:
            InvalidContainerNameError: The name breaks the naming rules.
            ContainerAlreadyExistsError: The container, or some other entry of that
                name, exists already.
        """
        cname = self._check_container_name(container_name)
        path = os.path.join(self._base, cname)
        with self._lock, self._fs("create container", cname):
            st = _lstat(path)
            if st is not None:
                if stat.S_ISDIR(st.st_mode):
                    raise ContainerAlreadyExistsError(
                        f"container {cname!r} already exists", self, cname
                    )
                raise ContainerAlreadyExistsError(
                    f"the name {cname!r} is taken by an entry in the base directory that "
                    "is not a container (a file or a symbolic link)",
                    self,
                    cname,
                )
            try:
                os.mkdir(path)
            except FileExistsError:
                raise ContainerAlreadyExistsError(
                    f"container {cname!r} already exists", self, cname
                ) from None
            # Sidecars left behind by a container removed by hand must not apply to new files.
            self._remove_meta_tree(cname)
            st = os.lstat(path)
        return Container(cname, self._container_extra(st), self)

    def _remove_meta_tree(self, cname: str) -> None:
        meta = os.path.join(self._meta_dir, cname)
        if os.path.realpath(self._meta_dir) != self._meta_dir:
            return  # never delete through a symlinked internal directory
        st = _lstat(meta)
        if st is None:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(meta)
        else:
            os.unlink(meta)

    def delete_container(self, container: Container) -> bool:
        """Delete an empty container directory.

        A container holding only empty directories counts as empty (they are removed);
        any file, symbolic link or other entry, object or not, keeps it.

        Raises:
            ContainerIsNotEmptyError: The container holds objects or other files.
            ContainerDoesNotExistError: There is no such container.
        """
        cname = self._check_container_name(container.name)
        path = os.path.join(self._base, cname)
        with self._lock, self._fs("delete container", cname):
            self._container_stat(cname)
            dirs: list[str] = []
            pending = [path]
            while pending:
                current = pending.pop()
                dirs.append(current)
                with os.scandir(current) as entries:
                    for entry in entries:
                        if entry.is_dir(follow_symlinks=False):
                            pending.append(entry.path)
                            continue
                        relative = os.path.relpath(entry.path, path).replace(os.sep, "/")
                        raise ContainerIsNotEmptyError(
                            f"container {cname!r} is not empty (it holds {relative!r})",
                            self,
                            cname,
                        )
            for directory in reversed(dirs):  # children were appended after their parents
                os.rmdir(directory)
            self._remove_meta_tree(cname)
        return True

    # -- objects ----------------------------------------------------------------------------

    def _read_sidecar(self, loc: _Location) -> _Sidecar | None:
        try:
            fd = os.open(loc.meta_path, os.O_RDONLY | _O_CLOEXEC | _O_NOFOLLOW | _O_BINARY)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            _log.warning("cannot read metadata of %r: %s", loc.name, exc)
            return None
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(_MAX_SIDECAR_BYTES + 1)
        sidecar = None if len(raw) > _MAX_SIDECAR_BYTES else _Sidecar.from_json(raw, loc.name)
        if sidecar is None:
            _log.warning(
                "ignoring malformed metadata file %s of object %r in container %r",
                loc.meta_path,
                loc.name,
                loc.container_name,
            )
        return sidecar

    def _make_object(
        self, container: Container, name: str, st: os.stat_result, sidecar: _Sidecar | None
    ) -> _LocalObject:
        md5 = sidecar.md5 if sidecar is not None else None
        extra: dict[str, Any] = {
            "content_type": (
                sidecar.content_type if sidecar is not None else _guess_content_type(name)
            ),
            "last_modified": _datetime(st.st_mtime_ns),
            "etag": md5,
            "md5": md5,
        }
        meta_data: dict[str, str] = {}
        if sidecar is not None:
            extra.update(sidecar.attributes)
            meta_data = dict(sidecar.meta_data)
        # The size is the file's: when it differs from the recorded one the content
        # changed on disk, and the recorded MD5 makes a download report it.
        obj = _LocalObject(name, st.st_size, md5, extra, meta_data, container, self)
        obj._identity = _identity(st)
        obj._md5 = md5
        return obj

    def _stat_object(self, loc: _Location) -> tuple[os.stat_result, _Sidecar | None]:
        """Stat an object and read its sidecar; call with the lock held."""
        self._check_no_symlinks(loc)
        st = _lstat(loc.path)
        if st is None or not stat.S_ISREG(st.st_mode):
            what = "is a directory of other objects, not an object" if st else "does not exist"
            raise ObjectDoesNotExistError(
                f"object {loc.name!r} {what}", self, loc.name, container_name=loc.container_name
            )
        return st, self._read_sidecar(loc)

    def iterate_container_objects(
        self, container: Container, prefix: str | None = None
    ) -> Iterator[Object]:
        """Iterate over the objects of ``container``, sorted by the UTF-8 bytes of their names.

        Every regular file below the container directory is an object, named by its
        path relative to the container with ``/`` separators. Directories whose names
        cannot lead to ``prefix`` are not descended into; empty directories, symbolic
        links and files whose path is not a valid object name are skipped.

        Raises:
            ContainerDoesNotExistError: There is no such container (raised at once).
            InvalidArgumentError: ``prefix`` is not a string.
        """
        cname = self._check_container_name(container.name)
        if prefix is not None and not isinstance(prefix, str):
            raise InvalidArgumentError(f"prefix must be a str, not {type(prefix).__name__}", self)
        with self._fs("list objects", cname):
            self._container_stat(cname)
        return self._iterate_objects(container, cname, prefix or "")

    def _iterate_objects(self, container: Container, cname: str, prefix: str) -> Iterator[Object]:
        container_dir = os.path.join(self._base, cname)
        for name in self._walk(container_dir, prefix):
            loc = self._locate(cname, name)
            with self._lock, self._fs("list objects", cname, name):
                try:
                    st, sidecar = self._stat_object(loc)
                except (ObjectDoesNotExistError, InvalidObjectNameError):
                    continue  # deleted or replaced meanwhile
            yield self._make_object(container, name, st, sidecar)

    def _walk(self, container_dir: str, prefix: str) -> Iterator[str]:
        """Yield the object names under ``container_dir`` in UTF-8 byte order.

        Sorting each directory's entries with directories keyed as ``name + "/"`` and
        walking depth-first gives the global byte order: ``/`` separates a directory's
        keys from its siblings exactly as it does in the full names.
        """
        stack = [iter(self._sorted_entries(container_dir, "", prefix))]
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            name, path, is_dir = entry
            if is_dir:
                stack.append(iter(self._sorted_entries(path, name + "/", prefix)))
            else:
                yield name

    def _sorted_entries(
        self, directory: str, relative: str, prefix: str
    ) -> list[tuple[str, str, bool]]:
        found: list[tuple[bytes, str, str, bool]] = []
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    name = relative + entry.name
                    try:
                        key = entry.name.encode("utf-8")
                    except UnicodeEncodeError:
                        continue  # not valid UTF-8 on disk: no object name can reach it
                    if entry.is_dir(follow_symlinks=False):
                        as_prefix = name + "/"
                        if len(as_prefix.encode("utf-8")) < MAX_OBJECT_NAME_BYTES and (
                            as_prefix.startswith(prefix) or prefix.startswith(as_prefix)
                        ):
                            found.append((key + b"/", name, entry.path, True))
                    elif (
                        entry.is_file(follow_symlinks=False)
                        and name.startswith(prefix)
                        and _object_name_problem(name) is None
                    ):
                        found.append((key, name, entry.path, False))
        except (FileNotFoundError, NotADirectoryError):
            return []  # removed while we were walking
        except OSError as exc:
            raise self._os_error(exc, "list objects") from exc
        found.sort(key=lambda item: item[0])
        return [(name, path, is_dir) for _, name, path, is_dir in found]

    def get_object(self, container_name: str, object_name: str) -> Object:
        """Return one object.

        Raises:
            InvalidContainerNameError: The container name breaks the naming rules.
            InvalidObjectNameError: The object name is invalid or leads through a symlink.
            ContainerDoesNotExistError: There is no such container.
            ObjectDoesNotExistError: There is no such object.
        """
        loc = self._locate(container_name, object_name)
        with self._lock, self._fs("get object", loc.container_name, loc.name):
            cst = self._container_stat(loc.container_name)
            st, sidecar = self._stat_object(loc)
        container = Container(loc.container_name, self._container_extra(cst), self)
        return self._make_object(container, loc.name, st, sidecar)

    @observed("delete")
    def delete_object(self, obj: Object) -> bool:
        """Delete an object's file and sidecar, then remove the directories left empty.

        Raises:
            ObjectDoesNotExistError: There is no such object.
            ContainerDoesNotExistError: There is no such container.
        """
        loc = self._locate(obj.container.name, obj.name)
        with self._lock, self._fs("delete object", loc.container_name, loc.name):
            self._container_stat(loc.container_name)
            self._stat_object(loc)
            # Sidecar first: interrupted here, the object just loses its metadata.
            _unlink_quietly(loc.meta_path)
            os.unlink(loc.path)
            _prune_empty_dirs(os.path.dirname(loc.path), loc.container_dir)
            _prune_empty_dirs(
                os.path.dirname(loc.meta_path), os.path.join(self._meta_dir, loc.container_name)
            )
        return True

    # -- uploads ----------------------------------------------------------------------------

    @observed("upload")
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
        """Copy a local file into the container as ``object_name``.

        The file is copied into ``.libstore/tmp`` while its MD5 is computed, then
        renamed into place together with its sidecar. ``headers`` are accepted for
        libcloud compatibility and ignored: there is no request to put them on.

        Args:
            file_path: The file to upload.
            container: The destination container.
            object_name: The object's name; ``/`` makes subdirectories.
            extra: Upload options, validated as for every driver (``acl`` and
                ``storage_class`` are accepted but have no local meaning and are not kept).
            verify_hash: Read the copy back and compare its MD5 with the source's
                before committing it.
            headers: Ignored.
            progress: Called with ``(bytes_done, file_size)`` as data is copied.

        Raises:
            InvalidObjectNameError: The name is invalid or clashes with existing objects.
            InvalidArgumentError: A bad ``extra`` value, or ``file_path`` is not a file.
            ContainerDoesNotExistError: There is no such container.
            ObjectHashMismatchError: ``verify_hash`` is set and the copy differs.
        """
        loc = self._locate(container.name, object_name)
        options = parse_upload_extra(extra)
        source = os.fspath(file_path)
        try:
            source_stat = os.stat(source)
        except (OSError, ValueError) as exc:
            raise InvalidArgumentError(
                f"cannot upload {source!r}: {getattr(exc, 'strerror', None) or exc}",
                self,
                object_name=loc.name,
            ) from exc
        if not stat.S_ISREG(source_stat.st_mode):
            raise InvalidArgumentError(
                f"cannot upload {source!r}: not a regular file", self, object_name=loc.name
            )
        self._precheck(loc)
        with self._fs(f"read {source!r}", loc.container_name, loc.name), open(source, "rb") as f:
            chunks = ProgressTracker(progress, source_stat.st_size).wrap(_read_chunks(f.read))
            return self._store(loc, options, chunks, verify=verify_hash)

    @observed("upload")
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
        """Store the bytes of an iterator, or of a file-like object, as ``object_name``.

        Accepts an iterable of ``bytes``/``bytearray``/``memoryview`` chunks (empty
        ones are skipped; an empty iterable stores an empty object), a file-like
        object with ``read()``, or a single bytes-like value. The name, ``extra`` and
        the container are checked before anything is read. If the stream raises or
        yields something other than bytes, nothing is stored, a previous object of
        that name is untouched, no temporary file remains, and the stream's own
        exception propagates. ``headers`` and ``size_hint`` are accepted and ignored;
        ``progress`` is called with ``(bytes_done, size_hint)`` as chunks are written.

        Raises:
            InvalidObjectNameError: The name is invalid or clashes with existing objects.
            InvalidArgumentError: A bad ``extra`` value, or the stream yields non-bytes.
            ContainerDoesNotExistError: There is no such container.
        """
        loc = self._locate(container.name, object_name)
        options = parse_upload_extra(extra)
        chunks = ProgressTracker(progress, size_hint).wrap(_stream_source(iterator))
        self._precheck(loc)
        return self._store(loc, options, chunks, verify=False)

    def _precheck(self, loc: _Location) -> None:
        """Fail fast, before reading any data, on what the commit would refuse anyway."""
        with self._lock, self._fs("upload object", loc.container_name, loc.name):
            self._container_stat(loc.container_name)
            self._check_no_symlinks(loc)
            self._raise_conflict(loc)

    def _new_temp_file(self) -> tuple[str, int]:
        self._ensure_real_dir(self._tmp_dir)
        path = os.path.join(self._tmp_dir, f"{uuid.uuid4().hex}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC | _O_NOFOLLOW | _O_BINARY
        return path, os.open(path, flags, 0o666)

    def _store(
        self, loc: _Location, options: UploadOptions, chunks: Iterator[_BytesLike], verify: bool
    ) -> Object:
        """Write ``chunks`` to a temporary file, then commit data and sidecar together."""
        action = "upload object"
        temps: list[str] = []
        try:
            with self._fs(action, loc.container_name, loc.name):
                data_tmp, fd = self._new_temp_file()
                temps.append(data_tmp)
                out = os.fdopen(fd, "wb")
            digest = hashlib.md5(usedforsecurity=False)
            size = 0
            with out:
                for chunk in chunks:  # the caller's exceptions propagate unchanged
                    if not chunk:
                        continue
                    with self._fs(action, loc.container_name, loc.name):
                        out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                with self._fs(action, loc.container_name, loc.name):
                    out.flush()
                    os.fsync(out.fileno())
            md5 = digest.hexdigest()
            with self._fs(action, loc.container_name, loc.name):
                if verify:
                    self._verify_copy(loc, data_tmp, md5)
                sidecar = _Sidecar(
                    name=loc.name,
                    size=size,
                    md5=md5,
                    content_type=options.content_type or _guess_content_type(loc.name),
                    meta_data=dict(options.meta_data),
                    attributes=options.stored_attributes(),
                )
                meta_tmp, meta_fd = self._new_temp_file()
                temps.append(meta_tmp)
                with os.fdopen(meta_fd, "wb") as meta_out:
                    meta_out.write(sidecar.to_json())
                    meta_out.flush()
                    os.fsync(meta_out.fileno())
            with self._lock, self._fs(action, loc.container_name, loc.name):
                cst = self._container_stat(loc.container_name)
                st = self._commit(loc, data_tmp, meta_tmp)
        finally:
            for path in temps:  # committed ones were renamed away already
                with contextlib.suppress(OSError):
                    _unlink_quietly(path)
        container = Container(loc.container_name, self._container_extra(cst), self)
        return self._make_object(container, loc.name, st, sidecar)

    def _verify_copy(self, loc: _Location, path: str, expected: str) -> None:
        digest = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as handle:
            while block := handle.read(CHUNK_SIZE):
                digest.update(block)
        if digest.hexdigest() != expected:
            raise ObjectHashMismatchError(
                f"the stored copy's MD5 ({digest.hexdigest()}) differs from the source's "
                f"({expected}); nothing was stored",
                self,
                loc.name,
                container_name=loc.container_name,
            )

    def _commit(self, loc: _Location, data_tmp: str, meta_tmp: str) -> os.stat_result:
        """Rename data and sidecar into place; call with the lock held."""
        self._check_no_symlinks(loc)
        self._raise_conflict(loc)
        created: list[str] = []
        try:
            current = loc.container_dir
            for part in loc.parts[:-1]:
                current = os.path.join(current, part)
                if _lstat(current) is None:
                    os.mkdir(current)
                    created.append(current)
            meta_parent = os.path.dirname(loc.meta_path)
            self._ensure_real_dir(meta_parent)
            # The old sidecar moves aside first: if the process dies before the new one is
            # in place, the object is consistent (old or new data, without metadata), never
            # new data with old metadata. If the data rename fails, it moves back.
            backup = loc.meta_path + ".old"
            try:
                os.replace(loc.meta_path, backup)
                had_sidecar = True
            except FileNotFoundError:
                had_sidecar = False
            try:
                os.replace(data_tmp, loc.path)
            except BaseException:
                if had_sidecar:
                    with contextlib.suppress(OSError):
                        os.replace(backup, loc.meta_path)
                raise
        except BaseException:
            if created:
                _prune_empty_dirs(created[-1], loc.container_dir)
            _prune_empty_dirs(
                os.path.dirname(loc.meta_path), os.path.join(self._meta_dir, loc.container_name)
            )
            raise
        os.replace(meta_tmp, loc.meta_path)
        _unlink_quietly(backup)
        return os.lstat(loc.path)

    # -- reading ----------------------------------------------------------------------------

    @observed("download")
    def _read_object(self, obj: Object, start_bytes: int, end_bytes: int | None) -> Iterator[bytes]:
        """Yield the object's bytes from ``start_bytes`` to ``end_bytes`` in 1 MiB chunks.

        Raises:
            ObjectDoesNotExistError: The file is gone.
            PreconditionFailedError: The file was replaced since ``obj`` was fetched.
        """
        loc = self._locate(obj.container.name, obj.name)
        with self._fs("read object", loc.container_name, loc.name):
            self._container_stat(loc.container_name)
            self._check_no_symlinks(loc)
            flags = os.O_RDONLY | _O_CLOEXEC | _O_NOFOLLOW | _O_NONBLOCK | _O_BINARY
            try:
                fd = os.open(loc.path, flags)
            except (FileNotFoundError, NotADirectoryError):
                raise ObjectDoesNotExistError(
                    f"object {loc.name!r} does not exist",
                    self,
                    loc.name,
                    container_name=loc.container_name,
                ) from None
            with os.fdopen(fd, "rb", buffering=0) as handle:
                st = os.fstat(handle.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise ObjectDoesNotExistError(
                        f"object {loc.name!r} does not exist (not a regular file)",
                        self,
                        loc.name,
                        container_name=loc.container_name,
                    )
                known = obj._identity if isinstance(obj, _LocalObject) else None
                if known is not None and _identity(st) != known:
                    raise PreconditionFailedError(
                        "the object was replaced or modified since this Object was fetched; "
                        "get it again",
                        self,
                        container_name=loc.container_name,
                        object_name=loc.name,
                    )
                handle.seek(start_bytes)
                remaining = None if end_bytes is None else end_bytes - start_bytes
                while remaining is None or remaining > 0:
                    want = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
                    data = handle.read(want)
                    if not data:
                        return
                    if remaining is not None:
                        remaining -= len(data)
                    yield data

    def _content_md5(self, obj: Object) -> str | None:
        """The content MD5 recorded at upload; ``None`` for files put there by hand."""
        if isinstance(obj, _LocalObject):
            return obj._md5
        value = obj.hash
        if isinstance(value, str) and _MD5_HEX.match(value.lower()):
            return value.lower()
        return None
