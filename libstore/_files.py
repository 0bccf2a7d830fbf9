"""Private helpers for safe local files: atomic writes and object-name-to-path mapping."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from libstore.types import InvalidObjectNameError, LibstoreError

#: Suffix of the temporary files written beside a destination before the final rename.
PARTIAL_SUFFIX = ".libstore-partial"

_O_BINARY: int = getattr(os, "O_BINARY", 0)


def safe_join(directory: str | os.PathLike[str], object_name: str) -> Path:
    """Map an object name to a path inside ``directory``, refusing any escape.

    Leading slashes are dropped (an absolute key from a listing stays inside the
    directory); empty and ``.`` segments are ignored; ``..`` segments, NUL bytes and
    names that end in ``/`` are refused.

    Raises:
        InvalidObjectNameError: The name cannot be placed safely inside ``directory``.
    """
    if "\x00" in object_name:
        raise InvalidObjectNameError("object name contains a NUL byte", object_name=object_name)
    if object_name.endswith("/") or not object_name.strip("/"):
        raise InvalidObjectNameError(
            "object name does not name a file (it is empty or ends with '/')",
            object_name=object_name,
        )
    parts = [p for p in object_name.replace(os.sep, "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidObjectNameError(
            "object name has a '..' segment and would leave the destination directory",
            object_name=object_name,
        )
    base = Path(directory).resolve()
    target = base.joinpath(*parts)
    # Belt and braces: a symlink inside the directory must not lead outside it either.
    if not target.parent.resolve().is_relative_to(base):
        raise InvalidObjectNameError(
            "object name resolves outside the destination directory", object_name=object_name
        )
    return target


def _create_temp(directory: Path, name: str) -> tuple[int, Path]:
    """Create a new, empty temporary file honouring the umask (``mkstemp`` forces 0600)."""
    for _ in range(100):
        path = directory / f".{name[:64]}.{secrets.token_hex(6)}{PARTIAL_SUFFIX}"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
        except FileExistsError:
            continue
        return fd, path
    raise FileExistsError(f"could not create a temporary file in {directory}")


def _place_without_overwrite(tmp: Path, dest: Path) -> None:
    """Move ``tmp`` to ``dest`` atomically, refusing to replace an existing ``dest``."""
    try:
        os.link(tmp, dest)  # fails if dest appeared meanwhile: no silent overwrite
    except FileExistsError:
        raise LibstoreError(f"{str(dest)!r} appeared during the download; not replaced") from None
    except OSError:
        # No hard links here (vfat, some network file systems): claim the name first.
        try:
            os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            raise LibstoreError(
                f"{str(dest)!r} appeared during the download; not replaced"
            ) from None
        os.replace(tmp, dest)
        return
    tmp.unlink()


@contextlib.contextmanager
def atomic_write(
    destination: str | os.PathLike[str], *, overwrite: bool = True, keep_on_failure: bool = False
) -> Iterator[BinaryIO]:
    """Write a file beside ``destination`` and rename it into place only on success.

    The body of the ``with`` block writes to a temporary file in the same
    directory. When the block raises, the temporary file is removed (unless
    ``keep_on_failure``), and ``destination`` is left exactly as it was.

    Raises:
        LibstoreError: ``overwrite`` is false and ``destination`` exists at rename time.
    """
    dest = Path(destination)
    fd, tmp = _create_temp(dest.parent, dest.name)
    ok = False
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, dest)
        else:
            _place_without_overwrite(tmp, dest)
        ok = True
    finally:
        if not ok and not keep_on_failure:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
