"""Private helpers for safe local files: atomic writes and object-name-to-path mapping."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from libstore.types import InvalidObjectNameError

#: Suffix of the temporary files written beside a destination before the final rename.
PARTIAL_SUFFIX = ".libstore-partial"


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


@contextlib.contextmanager
def atomic_write(
    destination: str | os.PathLike[str], *, overwrite: bool = True, keep_on_failure: bool = False
) -> Iterator[BinaryIO]:
    """Write a file beside ``destination`` and rename it into place only on success.

    The body of the ``with`` block writes to a temporary file in the same
    directory. When the block raises, the temporary file is removed (unless
    ``keep_on_failure``), and ``destination`` is left exactly as it was.

    Raises:
        FileExistsError: ``overwrite`` is false and ``destination`` exists at rename time.
    """
    dest = Path(destination)
    fd, tmp_name = tempfile.mkstemp(
        dir=dest.parent, prefix=f".{dest.name[:64]}.", suffix=PARTIAL_SUFFIX
    )
    tmp = Path(tmp_name)
    ok = False
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, dest)
        else:
            # link() fails if the destination appeared meanwhile: no silent overwrite.
            os.link(tmp, dest)
            tmp.unlink()
        ok = True
    finally:
        if not ok and not keep_on_failure:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
