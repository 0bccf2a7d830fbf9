"""Transfer settings, part sizing and the memory budget shared by a driver's transfers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

__all__ = [
    "MAX_OBJECT_SIZE",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MIN_PART_SIZE",
    "MemoryBudget",
    "PartSizer",
    "TransferConfig",
]

MiB = 1024 * 1024

#: Smallest part S3 accepts (every part but the last).
MIN_PART_SIZE = 5 * MiB
#: Largest part S3 accepts.
MAX_PART_SIZE = 5 * 1024 * MiB
#: Most parts one multipart upload may have.
MAX_PARTS = 10_000
#: Largest object S3 stores.
MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MiB

#: Parts of a stream of unknown length keep one size for this many parts, then double.
GROWTH_INTERVAL = 900


@dataclass(frozen=True)
class TransferConfig:
    """How a driver moves data; immutable, set per driver and overridable per call.

    Args:
        part_size: Size of upload parts (default 5 MiB, S3's minimum). Streams of
            unknown length start here and grow (see :class:`PartSizer`).
        concurrency: Parts uploaded, or ranges downloaded, at once per transfer
            (default 4).
        multipart_threshold: Files larger than this are uploaded in parts (default 8 MiB).
        download_part_size: Size of the ranges of a parallel download (default 8 MiB).
        download_threshold: Objects larger than this are downloaded as parallel
            ranges (default 16 MiB).
        memory_limit: Most bytes of part buffers all transfers of one driver hold at
            once; ``None`` (default) means ``part_size * (concurrency + 1)`` per transfer
            with no sharing.
        copy_threshold: Server-side copies of larger objects use parallel part copies
            (default 5 GiB, the most one copy request may move).
        copy_part_size: Size of those parts (default 512 MiB).
        crc32_metadata: On a store that takes no checksum headers, keep a multipart
            upload's whole-object CRC32 in its metadata, so downloads can verify it
            (default ``True``). It costs one server-side copy of the new object
            (up to ``copy_threshold``), and a second version in a versioned bucket.
    """

    part_size: int = MIN_PART_SIZE
    concurrency: int = 4
    multipart_threshold: int = 8 * MiB
    download_part_size: int = 8 * MiB
    download_threshold: int = 16 * MiB
    memory_limit: int | None = None
    copy_threshold: int = MAX_PART_SIZE
    copy_part_size: int = 512 * MiB
    crc32_metadata: bool = True

    def __post_init__(self) -> None:
        for name in ("part_size", "concurrency", "multipart_threshold", "download_part_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, not {value!r}")
        if not MIN_PART_SIZE <= self.part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be between {MIN_PART_SIZE} and {MAX_PART_SIZE} bytes")
        if self.concurrency > 64:
            raise ValueError("concurrency above 64 is not supported")
        if not MIN_PART_SIZE <= self.copy_part_size <= MAX_PART_SIZE:
            raise ValueError("copy_part_size must be between 5 MiB and 5 GiB")
        if not 0 < self.copy_threshold <= MAX_PART_SIZE:
            raise ValueError("copy_threshold must be positive and at most 5 GiB")
        if not isinstance(self.crc32_metadata, bool):
            raise ValueError("crc32_metadata must be True or False")
        if self.memory_limit is not None and self.memory_limit < self.part_size:
            raise ValueError("memory_limit must hold at least one part")

    def new(self, **changes: object) -> TransferConfig:
        """Return a copy with some fields changed (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]


class PartSizer:
    """Chooses the size of each part so an upload never needs more than ``max_parts`` parts.

    * With a size hint, every part has one size: ``max(part_size, hint / max_parts)``.
    * With ``equal_parts`` (stores that demand equal-sized parts) and no hint, the
      size never changes; the upload fails clearly past ``max_parts * part_size``.
    * Otherwise the size doubles every :data:`GROWTH_INTERVAL` parts (capped at 5 GiB),
      so 10,000 parts starting at 5 MiB reach more than S3's 5 TiB object limit.
    """

    def __init__(
        self,
        part_size: int,
        *,
        size_hint: int | None = None,
        equal_parts: bool = False,
        max_parts: int = MAX_PARTS,
    ) -> None:
        self.max_parts = max_parts
        self.growing = size_hint is None and not equal_parts
        if size_hint is not None:
            needed = -(-max(size_hint, 0) // max_parts)
            part_size = max(part_size, -(-needed // MiB) * MiB)
        self.base = min(part_size, MAX_PART_SIZE)

    def size_for(self, number: int) -> int:
        """Size of part ``number`` (1-based)."""
        if not self.growing:
            return self.base
        doublings = min((number - 1) // GROWTH_INTERVAL, 20)
        return min(self.base << doublings, MAX_PART_SIZE)

    def capacity(self) -> int:
        """Bytes the sizing can hold in ``max_parts`` parts."""
        return sum(self.size_for(n) for n in range(1, self.max_parts + 1))


class MemoryBudget:
    """A byte budget for part buffers, shared by concurrent transfers of one driver.

    :meth:`acquire` blocks until the bytes are free. A request larger than the
    whole budget is granted once nothing else is held, so it cannot deadlock.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be positive")
        self.limit = limit
        self.in_use = 0
        self._cond = threading.Condition()

    def acquire(self, count: int, timeout: float | None = None) -> bool:
        """Reserve ``count`` bytes; return ``False`` if ``timeout`` passed first."""
        with self._cond:
            granted = self._cond.wait_for(
                lambda: self.in_use == 0 or self.in_use + count <= self.limit, timeout
            )
            if granted:
                self.in_use += count
            return granted

    def release(self, count: int) -> None:
        """Give ``count`` bytes back."""
        with self._cond:
            self.in_use = max(0, self.in_use - count)
            self._cond.notify_all()
