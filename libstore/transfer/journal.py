"""Journals that make multipart uploads resumable after a crash or a kill.

A journal records the upload id and, for every part that finished, its number,
size and checksum. Calling the same upload again with the same journal
reconciles it with the store's list of parts, skips the parts whose checksum
matches the data read again, and finishes the upload.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = ["FileJournal", "JournalState", "UploadJournal"]


@dataclass
class JournalState:
    """What a journal holds about one multipart upload."""

    container: str
    object_name: str
    upload_id: str
    part_size: int
    #: part number -> {"size": int, "etag": str, "md5": hex or None, "crc32": int or None}
    parts: dict[int, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        data["parts"] = {str(k): v for k, v in self.parts.items()}
        data["version"] = 1
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> JournalState:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not a libstore upload journal")
        return cls(
            container=str(data["container"]),
            object_name=str(data["object_name"]),
            upload_id=str(data["upload_id"]),
            part_size=int(data["part_size"]),
            parts={int(k): dict(v) for k, v in data["parts"].items()},
        )


@runtime_checkable
class UploadJournal(Protocol):
    """Where an upload's progress is kept. Implementations must be thread-safe.

    Contract: :meth:`load` returns the saved state or ``None``; :meth:`save`
    replaces it atomically (a crash mid-save leaves the previous state);
    :meth:`clear` forgets it once the upload completed.
    """

    def load(self) -> JournalState | None: ...

    def save(self, state: JournalState) -> None: ...

    def clear(self) -> None: ...


class FileJournal:
    """A JSON journal in a local file, written atomically (temp file + rename)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def load(self) -> JournalState | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return JournalState.from_json(text)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{self.path} is not a valid upload journal: {exc}") from exc

    def save(self, state: JournalState) -> None:
        text = state.to_json()
        with self._lock:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise

    def clear(self) -> None:
        with self._lock, contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __repr__(self) -> str:
        return f"FileJournal({str(self.path)!r})"
