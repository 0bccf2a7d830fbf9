"""Private helpers shared by the core and the drivers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def rechunk(chunks: Iterable[bytes | bytearray], max_size: int) -> Iterator[bytes]:
    """Yield the bytes of ``chunks`` in pieces of at most ``max_size`` bytes, never empty ones.

    Pieces are sliced from a ``memoryview`` so a large input chunk is not copied
    more than once, and small input chunks are joined up to ``max_size``.
    """
    if max_size <= 0:
        raise ValueError("chunk size must be a positive integer")
    pending = bytearray()
    for chunk in chunks:
        if not chunk:
            continue
        if not pending and len(chunk) == max_size:
            yield bytes(chunk)
            continue
        view = memoryview(chunk)
        offset = 0
        if pending:
            take = min(max_size - len(pending), len(view))
            pending += view[:take]
            offset = take
            if len(pending) < max_size:
                continue
            yield bytes(pending)
            pending.clear()
        while len(view) - offset >= max_size:
            yield bytes(view[offset : offset + max_size])
            offset += max_size
        if offset < len(view):
            pending += view[offset:]
    if pending:
        yield bytes(pending)


def human_size(num_bytes: int) -> str:
    """Return ``num_bytes`` as a short human-readable string (``"5.0 MiB"``)."""
    value = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
