"""What the CLI prints: human lines, ``--json`` records, errors, and the progress display."""

from __future__ import annotations

import json
import sys
import threading
from datetime import datetime
from typing import Any, TextIO

from libstore.cli._errors import KIND_NAMES, describe, label
from libstore.cli._progress import Display

__all__ = ["Output"]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class Output:
    """Routes every line the CLI prints.

    Args:
        json_mode: Print one JSON object per line on standard output.
        quiet: Print nothing but errors.
        progress: ``"auto"`` (bars when standard error is a terminal), ``"always"``
            or ``"never"``.
    """

    def __init__(
        self,
        *,
        json_mode: bool,
        quiet: bool,
        progress: str = "auto",
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.json = json_mode
        self.quiet = quiet
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        #: Set while standard output carries data (``cp SRC -``, ``cat``).
        self.stdout_is_data = False
        self._lock = threading.Lock()
        wanted = progress == "always" or (progress == "auto" and _isatty(self.stderr))
        self.display = Display(self.stderr, wanted and not quiet and not json_mode)

    @property
    def _records(self) -> TextIO:
        return self.stderr if self.stdout_is_data else self.stdout

    def record(self, data: dict[str, Any]) -> None:
        """Print one ``--json`` record."""
        line = json.dumps(data, default=_json_default, ensure_ascii=False, sort_keys=False)
        self._emit(line, self._records)

    def line(self, text: str) -> None:
        """Print a result line (not in ``--quiet`` mode, nor while stdout carries data)."""
        if not self.quiet and not self.stdout_is_data:
            self._emit(text, self.stdout)

    def data_line(self, text: str) -> None:
        """Print output that is the command's result (``ls``, ``stat``, ``presign``)."""
        self._emit(text, self.stdout)

    def note(self, text: str) -> None:
        """Print a remark on standard error (not in ``--quiet`` mode)."""
        if not self.quiet:
            self._emit(f"libstore: {text}", self.stderr)

    def action(self, data: dict[str, Any], human: str) -> None:
        """Report one action: a JSON record, or a human line."""
        if self.json:
            self.record(data)
        else:
            self.line(human)

    def error(self, exc: BaseException, code: int, *, context: str | None = None) -> None:
        """Print one clear line about ``exc`` on standard error."""
        message = describe(exc)
        if context and context not in message:
            message = f"{context}: {message}"
        self._emit(f"libstore: {label(code)}: {message}", self.stderr)

    def error_line(self, text: str) -> None:
        """Print an error summary line on standard error (even in ``--quiet`` mode)."""
        self._emit(f"libstore: error: {text}", self.stderr)

    def error_record(self, data: dict[str, Any], exc: BaseException, code: int) -> None:
        """In ``--json`` mode, also report a failure as a record."""
        if self.json:
            record = dict(data)
            record.update(
                status="error",
                error=describe(exc),
                error_kind=KIND_NAMES.get(code, "failed"),
                exit_code=code,
            )
            self.record(record)

    def _emit(self, text: str, stream: TextIO) -> None:
        with self._lock:
            if self.display.enabled:
                self.display.log(text, stream)
            else:
                stream.write(text + "\n")
                stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False
