"""The multipart upload state machine, provider-neutral and concurrent.

A driver supplies a :class:`MultipartTarget` (initiate, upload one part,
complete, abort); :func:`upload_multipart` reads parts from the source in the
calling thread and uploads up to ``concurrency`` of them at once in worker
threads. Memory stays bounded: at most ``concurrency`` parts are in flight and
one is being filled, and an optional :class:`~libstore.transfer.config.MemoryBudget`
caps the part buffers of all transfers of a driver together.

On *every* failure path — a part that failed after its retries, a failing
completion, a source stream that raised, an interrupt — the parts still running
are allowed to finish, then the upload is aborted: no object appears under the
target name and no upload is left behind.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from libstore._progress import ProgressTracker
from libstore.http.events import bind_context, part_completed
from libstore.transfer.config import MAX_PARTS, MemoryBudget
from libstore.transfer.journal import JournalState, UploadJournal
from libstore.types import LibstoreError, MultipartUploadError

__all__ = [
    "MAX_PARTS",
    "MultipartTarget",
    "Resume",
    "UploadedPart",
    "multipart_etag",
    "upload_multipart",
]

logger = logging.getLogger("libstore.transfer")

ResultT = TypeVar("ResultT", covariant=True)

#: How often (seconds) a reader blocked on the memory budget checks its own finished parts.
_BUDGET_POLL = 0.05


@dataclass(frozen=True)
class UploadedPart:
    """One uploaded part: its number, the store's ETag, its size and checksums.

    ``md5`` (hex) is set when the part was sent with ``Content-MD5``; ``crc32``
    when it was sent with a CRC32 checksum.
    """

    number: int
    etag: str
    size: int
    md5: str | None = None
    crc32: int | None = None


class MultipartTarget(Protocol, Generic[ResultT]):
    """What a driver provides to upload one object in parts.

    Contract:

    * :meth:`initiate` starts the upload and returns its id;
    * :meth:`upload_part` uploads part ``number`` (1-based), computing the
      checksums it sends itself (it runs in a worker thread, so hashing there runs
      in parallel), and retries transient failures through the HTTP layer; it must
      be safe to call from several threads at once;
    * :meth:`complete` finishes the upload from the parts, in order;
    * :meth:`abort` discards the upload; it must be safe to call more than once.
    """

    def initiate(self) -> str: ...

    def upload_part(self, upload_id: str, number: int, data: bytes) -> UploadedPart: ...

    def complete(self, upload_id: str, parts: Sequence[UploadedPart]) -> ResultT: ...

    def abort(self, upload_id: str) -> None: ...


def multipart_etag(parts: Sequence[UploadedPart]) -> str | None:
    """The ETag S3 gives a multipart object (MD5 of the parts' MD5s, ``-N``), when computable."""
    digest = hashlib.md5(usedforsecurity=False)
    for part in parts:
        if part.md5 is None:
            return None
        digest.update(bytes.fromhex(part.md5))
    return f"{digest.hexdigest()}-{len(parts)}"


@dataclass
class Resume:
    """A journaled upload: where to record parts, and the parts already stored.

    ``known`` holds parts that the journal recorded and the store still lists;
    a part is skipped when ``matches(known_part, data)`` says the data read again
    is the same.
    """

    journal: UploadJournal
    state: JournalState
    known: dict[int, UploadedPart]
    matches: Callable[[UploadedPart, bytes], bool]

    def record(self, part: UploadedPart) -> None:
        self.state.parts[part.number] = {
            "size": part.size,
            "etag": part.etag,
            "md5": part.md5,
            "crc32": part.crc32,
        }
        self.journal.save(self.state)


class _PartFailed(Exception):
    def __init__(self, number: int, cause: BaseException) -> None:
        super().__init__(number)
        self.number = number
        self.cause = cause


def upload_multipart(
    target: MultipartTarget[ResultT],
    parts: Iterator[bytes],
    *,
    object_name: str,
    concurrency: int = 1,
    max_parts: int = MAX_PARTS,
    budget: MemoryBudget | None = None,
    next_part_size: Callable[[int], int] | None = None,
    progress: ProgressTracker | None = None,
    resume: Resume | None = None,
) -> tuple[ResultT, list[UploadedPart]]:
    """Upload ``parts`` through ``target`` with up to ``concurrency`` parts in flight.

    Args:
        target: The driver's multipart operations for one object.
        parts: The parts, in order; reading it may raise (a failing source stream).
        object_name: For error messages.
        concurrency: Parts uploaded at once.
        max_parts: Refuse to upload more parts than this.
        budget: A memory budget to reserve each part's bytes from before reading it.
        next_part_size: Size of part ``n`` (for budget reservations).
        progress: Counts the bytes of every part that finished.
        resume: Make the upload resumable: parts are recorded in its journal, parts
            it already holds are skipped, and a failure keeps the upload (and the
            journal) for the next attempt instead of aborting it.

    Returns:
        What ``target.complete`` returned, and the uploaded parts in order.

    Raises:
        MultipartUploadError: A part or the completion failed; the upload was aborted.
            The original exception is chained.
        BaseException: An exception raised by the source stream (or an interrupt)
            propagates unchanged, after the upload was aborted.
    """
    if resume is not None and resume.state.upload_id:
        upload_id = resume.state.upload_id
    else:
        upload_id = target.initiate()
        if resume is not None:
            resume.state.upload_id = upload_id
            resume.state.parts.clear()
            resume.journal.save(resume.state)
    record_lock = threading.Lock()
    done: dict[int, UploadedPart] = {}
    pending: set[cf.Future[UploadedPart]] = set()
    executor = cf.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="libstore-part")

    def send(number: int, data: bytes, reserved: int) -> UploadedPart:
        started = time.monotonic()
        try:
            part = target.upload_part(upload_id, number, data)
        except BaseException as exc:
            raise _PartFailed(number, exc) from exc
        finally:
            if budget is not None and reserved:
                budget.release(reserved)
        if resume is not None:
            with record_lock:
                resume.record(part)
        part_completed(number, part.size, time.monotonic() - started, method="PUT")
        if progress is not None:
            progress.add(part.size)
        return part

    def harvest(finished: set[cf.Future[UploadedPart]]) -> None:
        for future in finished:
            pending.discard(future)
            try:
                part = future.result()
            except _PartFailed as failure:
                error = _part_error(failure, object_name, upload_id)
                if error is failure.cause:
                    raise error from None
                raise error from failure.cause
            done[part.number] = part

    try:
        number = 0
        while True:
            while len(pending) >= concurrency:
                finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                harvest(finished)
            reserved = 0
            if budget is not None:
                reserved = next_part_size(number + 1) if next_part_size else 0
                while reserved and not budget.acquire(reserved, timeout=_BUDGET_POLL):
                    harvest({f for f in pending if f.done()})
            try:
                data = next(parts)
            except StopIteration:
                if budget is not None and reserved:
                    budget.release(reserved)
                break
            except BaseException:
                if budget is not None and reserved:
                    budget.release(reserved)
                raise
            number += 1
            if number > max_parts:
                if budget is not None and reserved:
                    budget.release(reserved)
                raise MultipartUploadError(
                    f"the stream needs more than {max_parts} parts; pass a size hint or use "
                    "a larger part size",
                    object_name=object_name,
                    upload_id=upload_id,
                    part_number=number,
                )
            known = resume.known.get(number) if resume is not None else None
            if known is not None and resume is not None and resume.matches(known, data):
                done[number] = known  # stored by an earlier attempt: skip it
                if budget is not None and reserved:
                    budget.release(reserved)
                if progress is not None:
                    progress.add(known.size)
                del data
                continue
            # bind_context: the worker's requests count into this transfer's statistics
            pending.add(executor.submit(bind_context(send), number, data, reserved))
            del data  # the worker owns the part now: keep no second reference
        while pending:
            finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            harvest(finished)
        ordered = [done[n] for n in sorted(done)]
        try:
            result = target.complete(upload_id, ordered)
        except LibstoreError as exc:
            raise MultipartUploadError(
                f"completing the upload of {len(ordered)} parts failed: {exc}",
                exc.driver,
                object_name,
                container_name=exc.container_name,
                upload_id=upload_id,
                http_status=exc.http_status,
                code=exc.code,
                request_id=exc.request_id,
            ) from exc
    except BaseException as exc:
        for future in pending:
            future.cancel()
        # Parts still running must finish before the abort, or they could outlive it.
        cf.wait(pending)
        executor.shutdown(wait=True)
        if resume is None:
            _abort_quietly(target, upload_id, exc)
        else:
            with contextlib.suppress(Exception):
                exc.add_note(
                    f"libstore: multipart upload {upload_id} was kept for resumption; call "
                    "the upload again with the same journal, or abort it"
                )
        raise
    executor.shutdown(wait=True)
    if resume is not None:
        resume.journal.clear()
    return result, ordered


def _part_error(failure: _PartFailed, object_name: str, upload_id: str) -> BaseException:
    cause = failure.cause
    if not isinstance(cause, LibstoreError):
        return cause  # a bug or an interrupt in the worker: let it through as it is
    return MultipartUploadError(
        f"uploading part {failure.number} failed: {cause}",
        cause.driver,
        object_name,
        container_name=cause.container_name,
        upload_id=upload_id,
        part_number=failure.number,
        http_status=cause.http_status,
        code=cause.code,
        request_id=cause.request_id,
    )


def _abort_quietly(target: MultipartTarget[object], upload_id: str, cause: BaseException) -> None:
    try:
        target.abort(upload_id)
    except Exception as abort_exc:  # the original failure matters more; record this one
        logger.warning("aborting multipart upload failed: %s", abort_exc)
        with contextlib.suppress(Exception):
            cause.add_note(
                f"libstore: aborting multipart upload {upload_id} also failed ({abort_exc}); "
                "it may need to be aborted by hand"
            )
