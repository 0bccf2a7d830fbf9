"""Turn any stream of bytes into parts of an exact size, with bounded memory.

The input may yield chunks of any size (one byte or hundreds of megabytes),
empty chunks (which are skipped, never taken as the end), ``bytearray`` and
``memoryview`` chunks that the producer may reuse after yielding them, or be a
file-like object. Every input byte is copied once into its part; nothing is
quadratic in the number of input chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from libstore.types import InvalidArgumentError

__all__ = ["iter_parts", "iter_source"]

#: Read size used when the source is a file-like object.
FILE_READ_SIZE = 1024 * 1024


def iter_source(source: Any, read_size: int = FILE_READ_SIZE) -> Iterator[Any]:
    """Return an iterator of byte chunks from an iterable or a file-like object.

    Raises:
        InvalidArgumentError: ``source`` is ``str``/``bytes`` text or not iterable.
    """
    if isinstance(source, str):
        raise InvalidArgumentError("the stream must yield bytes, not a str")
    if isinstance(source, bytes | bytearray | memoryview):
        return iter((source,))
    read = getattr(source, "read", None)
    if callable(read):

        def from_file() -> Iterator[Any]:
            while True:
                chunk = read(read_size)
                if not chunk:
                    return
                yield chunk

        return from_file()
    try:
        return iter(source)
    except TypeError:
        raise InvalidArgumentError(
            f"expected an iterator of bytes or a file-like object, not {type(source).__name__}"
        ) from None


def iter_parts(chunks: Iterable[Any], part_size: int | Callable[[int], int]) -> Iterator[bytes]:
    """Yield the stream's bytes as parts of exactly ``part_size`` bytes; the last may be shorter.

    ``part_size`` may be a function of the 1-based part number, for part sizes that
    grow along a stream of unknown length. An empty stream yields one empty part,
    so callers always get at least one.

    Raises:
        InvalidArgumentError: A chunk is not bytes-like (a ``str`` chunk, say).
    """
    size_of = part_size if callable(part_size) else (lambda _number: part_size)
    number = 1
    target = size_of(number)
    if target <= 0:
        raise ValueError("part_size must be positive")
    pieces: list[bytes | memoryview] = []
    filled = 0
    produced = False
    for chunk in chunks:
        if isinstance(chunk, bytes):
            owned = True  # immutable: slices may be kept across yields
        elif isinstance(chunk, bytearray | memoryview):
            owned = False  # the producer may refill or resize it once resumed
        else:
            raise InvalidArgumentError(
                f"the stream yielded {type(chunk).__name__}; only bytes-like chunks are accepted"
            )
        # Views of a mutable chunk are released before the producer runs again.
        with memoryview(chunk) as base, base.cast("B") as view:
            offset, size = 0, len(view)
            while offset < size:
                take = min(target - filled, size - offset)
                if owned:
                    pieces.append(view[offset : offset + take])
                else:  # copied now: no view of the producer's buffer outlives this loop
                    pieces.append(view[offset : offset + take].tobytes())
                filled += take
                offset += take
                if filled == target:
                    part = b"".join(pieces)
                    pieces = []
                    filled = 0
                    produced = True
                    number += 1
                    target = size_of(number)
                    yield part
    if filled or not produced:
        yield b"".join(pieces)
