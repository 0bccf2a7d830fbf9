"""Running the planned operations: N at once, with progress, reports and clean interruption.

On Ctrl-C (or SIGTERM) no new operation starts, and the running ones are cancelled
through their progress callbacks: the SDK then aborts multipart uploads and removes
temporary files, so nothing is left under a final name.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from libstore.cli._errors import EXIT_FAILED, EXIT_OK, Interrupted, classify
from libstore.cli._output import Output
from libstore.cli._progress import Transfer

__all__ = ["Cancelled", "Outcome", "Runner", "Task"]

ProgressFn = Callable[[int, int | None], None]

#: How long running operations get to wind down after an interruption.
_CANCEL_GRACE_SECONDS = 15.0


class Cancelled(Exception):
    """Raised from a progress callback to stop a transfer after an interruption."""


@dataclass
class Task:
    """One operation: an upload, download, copy or delete."""

    action: str
    source: str
    destination: str | None
    size: int | None
    run: Callable[[ProgressFn], None]
    #: Runs after ``run`` succeeded (``mv``: delete the source).
    then: Callable[[], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        data: dict[str, Any] = {"action": self.action, "source": self.source}
        if self.destination is not None:
            data["destination"] = self.destination
        if self.size is not None:
            data["size"] = self.size
        data.update(self.extra)
        return data

    def human(self) -> str:
        if self.destination is None:
            return f"{self.action}: {self.source}"
        return f"{self.action}: {self.source} to {self.destination}"


@dataclass
class Outcome:
    """What a run did."""

    done: int = 0
    failed: int = 0
    bytes: int = 0
    codes: list[int] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if not self.failed else EXIT_FAILED


class Runner:
    """Runs tasks ``jobs`` at a time and reports each one."""

    def __init__(self, out: Output, jobs: int = 1) -> None:
        self.out = out
        self.jobs = max(1, jobs)
        self._cancel = threading.Event()
        self._lock = threading.Lock()

    def plan(self, tasks: list[Task]) -> None:
        """``--dry-run``: print what would be done."""
        for task in tasks:
            record = task.record()
            record["status"] = "dry-run"
            self.out.action(record, f"(dry run) {task.human()}")

    def run(self, tasks: list[Task]) -> Outcome:
        outcome = Outcome()
        if not tasks:
            return outcome
        sizes = [t.size for t in tasks if t.action != "delete"]
        total = sum(s or 0 for s in sizes) if all(s is not None for s in sizes) else None
        self.out.display.set_totals(len(tasks), total)
        pool = concurrent.futures.ThreadPoolExecutor(self.jobs, thread_name_prefix="libstore")
        futures = [pool.submit(self._one, task, outcome) for task in tasks]
        try:
            pending: set[concurrent.futures.Future[None]] = set(futures)
            while pending:
                _done, pending = concurrent.futures.wait(pending, timeout=0.2)
        except (KeyboardInterrupt, Interrupted) as exc:
            self._cancel.set()
            for future in futures:
                future.cancel()
            concurrent.futures.wait(futures, timeout=_CANCEL_GRACE_SECONDS)
            pool.shutdown(wait=False, cancel_futures=True)
            if isinstance(exc, Interrupted):
                raise
            raise Interrupted() from None
        pool.shutdown(wait=True)
        for future in futures:
            future.result()  # a bug in _one itself surfaces here
        return outcome

    def _one(self, task: Task, outcome: Outcome) -> None:
        if self._cancel.is_set():
            return
        display = self.out.display
        shown: Transfer | None = None
        if display.enabled and task.action != "delete":
            shown = display.start(task.destination or task.source, task.size)

        def progress(done: int, total: int | None) -> None:
            if self._cancel.is_set():
                raise Cancelled("interrupted")
            if shown is not None:
                shown.update(done, total)

        started = time.monotonic()
        try:
            task.run(progress)
            if self._cancel.is_set():
                raise Cancelled("interrupted")
            if task.then is not None:
                task.then()
        except BrokenPipeError:
            if shown is not None:
                display.finish(shown, ok=False)
            raise
        except Exception as exc:
            if shown is not None:
                display.finish(shown, ok=False)
            if isinstance(exc, Cancelled) or self._cancel.is_set():
                return
            code = classify(exc)
            with self._lock:
                outcome.failed += 1
                outcome.codes.append(code)
            self.out.error(exc, code, context=f"{task.action} {task.source}")
            self.out.error_record(task.record(), exc, code)
            return
        if shown is not None:
            display.finish(shown, ok=True)
        with self._lock:
            outcome.done += 1
            outcome.bytes += task.size or 0
        record = task.record()
        record["status"] = "ok"
        record["seconds"] = round(time.monotonic() - started, 3)
        self.out.action(record, task.human())
