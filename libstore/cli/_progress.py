"""Progress bars on a terminal: one line per active transfer plus a total line.

The display draws on standard error, only when it is a terminal (and neither
``--quiet`` nor ``--json`` was given). Lines printed meanwhile (``upload: a to b``)
go above the bars through :meth:`Display.log`, so nothing is overwritten.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import TextIO

__all__ = ["Display", "Transfer", "human_size"]

_REFRESH_SECONDS = 0.2
_RATE_WINDOW_SECONDS = 5.0
_MAX_BAR_LINES = 8


def human_size(count: float) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds > 99 * 3600:
        return "--:--"
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class _Rate:
    """Bytes per second over the last few seconds."""

    def __init__(self) -> None:
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, done: int) -> None:
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > _RATE_WINDOW_SECONDS:
            self._samples.popleft()

    def value(self) -> float:
        if len(self._samples) < 2:
            return 0.0
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else 0.0


class Transfer:
    """One transfer's progress; :meth:`update` is the SDK's ``progress=`` callback."""

    def __init__(self, display: Display, label: str, total: int | None) -> None:
        self._display = display
        self.label = label
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self.rate = _Rate()
        self.rate.add(self.started, 0)

    def update(self, done: int, total: int | None) -> None:
        """Record that ``done`` bytes of ``total`` were transferred."""
        self._display._update(self, done, total)


class Display:
    """The terminal progress display (a no-op when disabled)."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self._stream = stream
        self.enabled = enabled
        self._lock = threading.RLock()
        self._active: list[Transfer] = []
        self._drawn = 0
        self._files_total: int | None = None
        self._bytes_total: int | None = None
        self._files_done = 0
        self._bytes_finished = 0
        self._rate = _Rate()
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Display:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="libstore-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def set_totals(self, files: int | None, size: int | None) -> None:
        with self._lock:
            self._files_total = files
            self._bytes_total = size

    def start(self, label: str, total: int | None) -> Transfer:
        transfer = Transfer(self, label, total)
        with self._lock:
            self._active.append(transfer)
            self._draw(force=True)
        return transfer

    def finish(self, transfer: Transfer, ok: bool) -> None:
        with self._lock:
            if transfer in self._active:
                self._active.remove(transfer)
            self._files_done += 1
            self._bytes_finished += transfer.done if ok else 0
            self._draw(force=True)

    def log(self, line: str, stream: TextIO) -> None:
        """Print ``line`` to ``stream`` above the bars."""
        with self._lock:
            self._clear()
            stream.write(line + "\n")
            stream.flush()
            self._draw(force=True)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        with self._lock:
            self._clear()
            self.enabled = False

    # -- drawing ----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(_REFRESH_SECONDS):
            with self._lock:
                self._draw(force=True)

    def _update(self, transfer: Transfer, done: int, total: int | None) -> None:
        with self._lock:
            transfer.done = max(transfer.done, done)
            if total is not None:
                transfer.total = total
            transfer.rate.add(time.monotonic(), transfer.done)
            self._draw(force=False)

    def _width(self) -> int:
        try:
            return max(40, os.get_terminal_size(self._stream.fileno()).columns)
        except (OSError, ValueError):
            return 80

    def _line(self, label: str, done: int, total: int | None, rate: float, width: int) -> str:
        if total:
            fraction = min(1.0, done / total)
            eta = (total - done) / rate if rate > 0 else None
            stats = (
                f" {fraction * 100:5.1f}% {human_size(done)}/{human_size(total)} "
                f"{human_size(rate)}/s ETA {_duration(eta)}"
            )
            bar_width = max(10, min(30, width // 4))
            filled = int(bar_width * fraction)
            bar = " [" + "#" * filled + "-" * (bar_width - filled) + "]"
        else:
            stats = f" {human_size(done)} {human_size(rate)}/s ETA --:--"
            bar = ""
        room = width - len(stats) - len(bar) - 1
        if room < 8:
            return (label[: max(0, width - len(stats) - 1)] + stats)[: width - 1]
        if len(label) > room:
            label = "…" + label[-(room - 1) :]
        return f"{label:<{room}}{bar}{stats}"

    def _clear(self) -> None:
        if not self.enabled or not self._drawn:
            return
        self._stream.write(f"\x1b[{self._drawn}F\x1b[J")
        self._stream.flush()
        self._drawn = 0

    def _draw(self, force: bool) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < _REFRESH_SECONDS:
            return
        self._last_draw = now
        width = self._width()
        lines = [
            self._line(t.label, t.done, t.total, t.rate.value(), width)
            for t in self._active[:_MAX_BAR_LINES]
        ]
        if len(self._active) > _MAX_BAR_LINES:
            lines.append(f"… and {len(self._active) - _MAX_BAR_LINES} more")
        done = self._bytes_finished + sum(t.done for t in self._active)
        self._rate.add(now, done)
        files = f"{self._files_done}/{self._files_total} files" if self._files_total else ""
        label = f"Total {files}".rstrip()
        total = self._bytes_total
        if total is None and self._active and all(t.total is not None for t in self._active):
            total = self._bytes_finished + sum(t.total or 0 for t in self._active)
        lines.append(self._line(label, done, total, self._rate.value(), width))
        self._clear()
        self._stream.write("".join(f"\x1b[2K{line}\n" for line in lines))
        self._stream.flush()
        self._drawn = len(lines)
