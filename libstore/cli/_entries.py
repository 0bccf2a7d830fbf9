"""Listing what a location holds, as entries with names relative to it.

Sources and destinations of ``cp -r``, ``sync`` and ``rm -r`` are listed the same
way whatever they are: a directory tree or a store prefix. Each entry carries a
name relative to the listed location (always with ``/`` separators), its size and
modification time, and what is needed to transfer it.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from libstore import Container, InvalidObjectNameError, Object
from libstore.cli._errors import CliError, UsageError
from libstore.cli._urls import FileLoc, StoreLoc

__all__ = [
    "PARTIAL_SUFFIX",
    "Entry",
    "Filters",
    "atomic_file",
    "list_dir",
    "list_prefix",
    "local_target",
    "object_mtime",
    "stale_partials",
]

#: Suffix of the temporary files written beside a destination before the final rename
#: (the SDK's downloads use the same one).
PARTIAL_SUFFIX = ".libstore-partial"


@dataclass
class Entry:
    """One file or object, named relative to the listed location."""

    rel: str
    size: int
    mtime: float | None
    path: str | None = None
    obj: Object | None = None
    #: ``obj`` came from ``get_object`` (full metadata), not from a listing.
    fetched: bool = False


def object_mtime(obj: Object) -> float | None:
    """The object's modification time (seconds since the epoch), when the store gives it."""
    value = obj.extra.get("last_modified")
    return value.timestamp() if isinstance(value, datetime) else None


class Filters:
    """``--include``/``--exclude`` globs, applied in order: the last match wins.

    A pattern matches the name relative to the source (``docs/*.md``); a pattern
    without ``/`` also matches the base name anywhere (``*.tmp``).
    """

    def __init__(self, rules: list[tuple[str, str]] | None) -> None:
        self.rules = list(rules or [])

    def __bool__(self) -> bool:
        return bool(self.rules)

    def allows(self, rel: str) -> bool:
        allowed = True
        base = rel.rsplit("/", 1)[-1]
        for kind, pattern in self.rules:
            if fnmatch.fnmatchcase(rel, pattern) or (
                "/" not in pattern and fnmatch.fnmatchcase(base, pattern)
            ):
                allowed = kind == "include"
        return allowed


def list_dir(root: str, filters: Filters) -> Iterator[Entry]:
    """The regular files below ``root`` (symbolic links to files followed, not to dirs)."""
    for current, dirs, files in os.walk(root, onerror=_raise):
        dirs.sort()
        relative_dir = os.path.relpath(current, root)
        for name in sorted(files):
            if name.endswith(PARTIAL_SUFFIX):
                continue  # another run's unfinished download: never a source
            path = os.path.join(current, name)
            rel = name if relative_dir == "." else os.path.join(relative_dir, name)
            rel = rel.replace(os.sep, "/")
            if not filters.allows(rel):
                continue
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue  # removed meanwhile, or a dangling link
            if stat.S_ISREG(st.st_mode):
                yield Entry(rel, st.st_size, st.st_mtime, path=path)


def stale_partials(root: str) -> Iterator[Entry]:
    """Unfinished downloads left below ``root`` by a run that was killed."""
    for current, _dirs, files in os.walk(root, onerror=_raise):
        for name in sorted(files):
            if name.startswith(".") and name.endswith(PARTIAL_SUFFIX):
                path = os.path.join(current, name)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                yield Entry(rel, 0, None, path=path)


def _raise(exc: OSError) -> None:
    raise exc


def list_prefix(loc: StoreLoc, prefix: str, filters: Filters) -> Iterator[Entry]:
    """The objects under ``prefix`` in ``loc``'s bucket (directory markers skipped)."""
    driver = loc.driver()
    container = Container(loc.need_container(), {}, driver)
    for obj in driver.iterate_container_objects(container, prefix=prefix or None):
        rel = obj.name[len(prefix) :]
        if not rel or obj.name.endswith("/") or not filters.allows(rel):
            continue
        yield Entry(rel, obj.size, object_mtime(obj), obj=obj)


def dir_prefix(key: str) -> str:
    """A key used as a directory: ``""`` or ending with ``/``."""
    return key if not key or key.endswith("/") else key + "/"


def local_target(root: str, rel: str) -> str:
    """Where ``rel`` goes below ``root``, never outside it.

    Empty and ``.`` segments are dropped; ``..`` segments and NUL bytes are refused.
    """
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or ".." in parts or "\x00" in rel:
        raise InvalidObjectNameError(
            f"object name {rel!r} cannot be placed safely below {root!r}", object_name=rel
        )
    return os.path.join(root, *parts)


def check_directory(loc: FileLoc, *, create: bool) -> str:
    """``loc`` as a directory path; refuse a file, optionally create a missing one.

    Raises:
        UsageError: ``loc`` (or one of its parents) is a file.
    """
    path = loc.path
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"destination {loc.text!r} is a file, but a directory is needed here")
    if create:
        try:
            os.makedirs(path, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise UsageError(
                f"cannot create directory {loc.text!r}: a part of the path is a file"
            ) from None
    return path


def prepare_parent(path: str, display: str) -> None:
    """Create the parent directories of ``path``; refuse when one is a file."""
    parent = os.path.dirname(path) or "."
    try:
        os.makedirs(parent, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(
            f"cannot write {display!r}: a part of its directory path is a file"
        ) from None
    if os.path.isdir(path):
        raise CliError(f"cannot write {display!r}: it is a directory", 2)


@contextlib.contextmanager
def atomic_file(path: str) -> Iterator[int]:
    """Yield a file descriptor of a temporary file renamed to ``path`` on success."""
    directory, name = os.path.split(path)
    directory = directory or "."
    for _ in range(100):
        tmp = os.path.join(directory, f".{name[:64]}.{secrets.token_hex(6)}{PARTIAL_SUFFIX}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        break
    else:  # pragma: no cover - 100 random collisions
        raise CliError(f"cannot create a temporary file in {directory!r}")
    ok = False
    try:
        yield fd
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
        ok = True
    finally:
        if fd >= 0:
            os.close(fd)
        if not ok:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
