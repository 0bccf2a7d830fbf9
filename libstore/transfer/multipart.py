"""The multipart upload state machine, provider-neutral.

A driver supplies a :class:`MultipartTarget` (initiate, upload one part,
complete, abort); :func:`upload_multipart` feeds it parts and guarantees that
on *every* failure path, interruptions included, the upload is aborted, so no
object appears under the target name and no upload is left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from libstore.types import LibstoreError, MultipartUploadError

__all__ = ["MAX_PARTS", "MultipartTarget", "UploadedPart", "multipart_etag", "upload_multipart"]

logger = logging.getLogger("libstore.transfer")

#: Most parts one S3 multipart upload may have.
MAX_PARTS = 10_000

ResultT = TypeVar("ResultT", covariant=True)


@dataclass(frozen=True)
class UploadedPart:
    """One uploaded part: its number, the store's ETag, its size and MD5 (hex)."""

    number: int
    etag: str
    size: int
    md5: str


class MultipartTarget(Protocol, Generic[ResultT]):
    """What a driver provides to upload one object in parts.

    Contract:

    * :meth:`initiate` starts the upload and returns its id;
    * :meth:`upload_part` uploads part ``number`` (1-based) and returns its ETag;
      it retries transient failures itself (through the HTTP layer);
    * :meth:`complete` finishes the upload from the list of parts, in order;
    * :meth:`abort` discards the upload; it must be safe to call more than once.
    """

    def initiate(self) -> str: ...

    def upload_part(self, upload_id: str, number: int, data: bytes, md5: bytes) -> str: ...

    def complete(self, upload_id: str, parts: Sequence[UploadedPart]) -> ResultT: ...

    def abort(self, upload_id: str) -> None: ...


def multipart_etag(parts: Sequence[UploadedPart]) -> str:
    """The ETag S3 gives a multipart object: MD5 of the parts' binary MD5s, ``-N``."""
    digest = hashlib.md5(usedforsecurity=False)
    for part in parts:
        digest.update(bytes.fromhex(part.md5))
    return f"{digest.hexdigest()}-{len(parts)}"


def upload_multipart(
    target: MultipartTarget[ResultT],
    parts: Iterator[bytes],
    *,
    object_name: str,
    max_parts: int = MAX_PARTS,
) -> tuple[ResultT, list[UploadedPart]]:
    """Upload ``parts`` through ``target`` and complete the upload.

    Args:
        target: The driver's multipart operations for one object.
        parts: The parts, in order; reading it may raise (a failing source stream).
        object_name: For error messages.
        max_parts: Refuse to upload more parts than this.

    Returns:
        What ``target.complete`` returned, and the uploaded parts.

    Raises:
        MultipartUploadError: A part or the completion failed; the upload was aborted.
            The original exception is chained.
        BaseException: An exception raised by the source stream (or an interrupt)
            propagates unchanged, after the upload was aborted.
    """
    upload_id = target.initiate()
    done: list[UploadedPart] = []
    number = 0
    try:
        for number, data in enumerate(parts, start=1):
            if number > max_parts:
                raise MultipartUploadError(
                    f"the stream needs more than {max_parts} parts; use a larger part size",
                    object_name=object_name,
                    upload_id=upload_id,
                    part_number=number,
                )
            md5 = hashlib.md5(data, usedforsecurity=False)
            try:
                etag = target.upload_part(upload_id, number, data, md5.digest())
            except LibstoreError as exc:
                raise MultipartUploadError(
                    f"uploading part {number} failed: {exc}",
                    exc.driver,
                    object_name,
                    container_name=exc.container_name,
                    upload_id=upload_id,
                    part_number=number,
                    http_status=exc.http_status,
                    code=exc.code,
                    request_id=exc.request_id,
                ) from exc
            done.append(UploadedPart(number, etag, len(data), md5.hexdigest()))
        try:
            result = target.complete(upload_id, done)
        except LibstoreError as exc:
            raise MultipartUploadError(
                f"completing the upload of {len(done)} parts failed: {exc}",
                exc.driver,
                object_name,
                container_name=exc.container_name,
                upload_id=upload_id,
                http_status=exc.http_status,
                code=exc.code,
                request_id=exc.request_id,
            ) from exc
    except BaseException as exc:
        _abort_quietly(target, upload_id, exc)
        raise
    return result, done


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
