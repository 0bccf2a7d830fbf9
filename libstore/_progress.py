"""Private: thread-safe progress reporting shared by every transfer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

_Chunk = TypeVar("_Chunk", bytes, bytearray, memoryview, bytes | bytearray | memoryview)

#: A progress callback: ``(bytes_done, bytes_total_or_None)``.
ProgressFn = Callable[[int, int | None], None]


class ProgressTracker:
    """Counts transferred bytes and reports them to a callback, one call at a time.

    Workers of a concurrent transfer call :meth:`add` from their own threads; the
    callback never runs concurrently with itself and always sees a growing count.
    """

    def __init__(self, callback: ProgressFn | None, total: int | None) -> None:
        self._callback = callback
        self.total = total
        self.done = 0
        self._lock = threading.Lock()

    def add(self, count: int) -> None:
        """Record ``count`` more bytes and report the new total."""
        if count <= 0:
            return
        with self._lock:
            self.done += count
            if self._callback is not None:
                self._callback(self.done, self.total)

    def wrap(self, chunks: Iterable[_Chunk]) -> Iterator[_Chunk]:
        """Yield ``chunks`` unchanged, counting each as it passes."""
        for chunk in chunks:
            self.add(len(chunk))
            yield chunk
