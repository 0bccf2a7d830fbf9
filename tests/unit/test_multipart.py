"""Tests for libstore.transfer.multipart: the provider-neutral state machine."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest

from libstore.transfer.multipart import (
    MAX_PARTS,
    UploadedPart,
    multipart_etag,
    upload_multipart,
)
from libstore.types import (
    AccessDeniedError,
    LibstoreError,
    MultipartUploadError,
    ServerError,
    TransportError,
)


@dataclass
class FakeTarget:
    """Records every call; fails where told to."""

    upload_id: str = "UP-1"
    fail_part: int | None = None
    part_error: BaseException | None = None
    complete_error: BaseException | None = None
    abort_error: BaseException | None = None
    initiate_error: BaseException | None = None
    calls: list[tuple[object, ...]] = field(default_factory=list)

    def initiate(self) -> str:
        self.calls.append(("initiate",))
        if self.initiate_error is not None:
            raise self.initiate_error
        return self.upload_id

    def upload_part(self, upload_id: str, number: int, data: bytes) -> UploadedPart:
        md5 = hashlib.md5(data)
        self.calls.append(("part", upload_id, number, data, md5.digest()))
        if number == self.fail_part and self.part_error is not None:
            raise self.part_error
        return UploadedPart(number, f'"etag-{number}"', len(data), md5.hexdigest())

    def complete(self, upload_id: str, parts: Sequence[UploadedPart]) -> str:
        self.calls.append(("complete", upload_id, list(parts)))
        if self.complete_error is not None:
            raise self.complete_error
        return "RESULT"

    def abort(self, upload_id: str) -> None:
        self.calls.append(("abort", upload_id))
        if self.abort_error is not None:
            raise self.abort_error

    @property
    def names(self) -> list[object]:
        return [c[0] if c[0] != "part" else ("part", c[2]) for c in self.calls]


PARTS = [b"a" * 10, b"b" * 10, b"c" * 3]


def test_success_uploads_parts_in_order_and_completes() -> None:
    target = FakeTarget()
    result, done = upload_multipart(target, iter(PARTS), object_name="obj")
    assert result == "RESULT"
    assert target.names == ["initiate", ("part", 1), ("part", 2), ("part", 3), "complete"]
    for call, data in zip(target.calls[1:4], PARTS, strict=True):
        assert call[1] == "UP-1"
        assert call[3] == data
        assert call[4] == hashlib.md5(data).digest()
    assert done == [
        UploadedPart(n, f'"etag-{n}"', len(d), hashlib.md5(d).hexdigest())
        for n, d in enumerate(PARTS, 1)
    ]
    assert target.calls[-1] == ("complete", "UP-1", done)


def test_parts_are_read_lazily_one_at_a_time() -> None:
    target = FakeTarget()
    seen: list[int] = []

    def source() -> Iterator[bytes]:
        for i, data in enumerate(PARTS, 1):
            # part i is read only after part i-1 was uploaded
            assert sum(1 for c in target.calls if c[0] == "part") == i - 1
            seen.append(i)
            yield data

    upload_multipart(target, source(), object_name="obj")
    assert seen == [1, 2, 3]


def test_part_failure_aborts_and_raises_multipart_error() -> None:
    cause = ServerError(
        "boom", None, http_status=503, code="SlowDown", request_id="RID", object_name="obj"
    )
    target = FakeTarget(fail_part=2, part_error=cause)
    with pytest.raises(MultipartUploadError) as info:
        upload_multipart(target, iter(PARTS), object_name="obj")
    exc = info.value
    assert exc.part_number == 2
    assert exc.upload_id == "UP-1"
    assert exc.object_name == "obj"
    assert (exc.http_status, exc.code, exc.request_id) == (503, "SlowDown", "RID")
    assert exc.__cause__ is cause
    assert "part 2" in str(exc)
    assert target.names == ["initiate", ("part", 1), ("part", 2), "abort"]


def test_non_libstore_error_from_a_part_propagates_unchanged_after_abort() -> None:
    cause = RuntimeError("driver bug")
    target = FakeTarget(fail_part=1, part_error=cause)
    with pytest.raises(RuntimeError) as info:
        upload_multipart(target, iter(PARTS), object_name="obj")
    assert info.value is cause
    assert target.names[-1] == "abort"
    assert "complete" not in target.names


def test_complete_failure_aborts() -> None:
    cause = AccessDeniedError("no", None, http_status=403, code="AccessDenied")
    target = FakeTarget(complete_error=cause)
    with pytest.raises(MultipartUploadError) as info:
        upload_multipart(target, iter(PARTS), object_name="obj")
    exc = info.value
    assert exc.part_number is None
    assert exc.upload_id == "UP-1"
    assert (exc.http_status, exc.code) == (403, "AccessDenied")
    assert exc.__cause__ is cause
    assert "3 parts" in str(exc)
    assert target.names[-2:] == ["complete", "abort"]


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_interrupt_from_the_source_aborts_and_propagates(interrupt: type[BaseException]) -> None:
    target = FakeTarget()

    def source() -> Iterator[bytes]:
        yield PARTS[0]
        yield PARTS[1]
        raise interrupt

    with pytest.raises(interrupt):
        upload_multipart(target, source(), object_name="obj")
    assert target.names == ["initiate", ("part", 1), ("part", 2), "abort"]


def test_source_error_propagates_unchanged() -> None:
    error = OSError(5, "I/O error")
    target = FakeTarget()

    def source() -> Iterator[bytes]:
        yield PARTS[0]
        raise error

    with pytest.raises(OSError) as info:
        upload_multipart(target, source(), object_name="obj")
    assert info.value is error
    assert target.names == ["initiate", ("part", 1), "abort"]


def test_abort_failure_adds_a_note_and_the_original_error_wins(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cause = ServerError("part failed", None, http_status=500)
    target = FakeTarget(
        fail_part=1, part_error=cause, abort_error=TransportError("abort failed: reset")
    )
    with (
        caplog.at_level(logging.WARNING, logger="libstore.transfer"),
        pytest.raises(MultipartUploadError) as info,
    ):
        upload_multipart(target, iter(PARTS), object_name="obj")
    assert info.value.__cause__ is cause
    notes = info.value.__notes__
    assert len(notes) == 1
    assert "UP-1" in notes[0]
    assert "abort failed: reset" in notes[0]
    assert any("abort failed: reset" in r.getMessage() for r in caplog.records)


def test_abort_failure_note_on_a_source_error() -> None:
    error = ValueError("bad data")
    target = FakeTarget(abort_error=RuntimeError("abort exploded"))

    def source() -> Iterator[bytes]:
        yield PARTS[0]
        raise error

    with pytest.raises(ValueError) as info:
        upload_multipart(target, source(), object_name="obj")
    assert info.value is error
    assert "abort exploded" in info.value.__notes__[0]


def test_initiate_failure_propagates_without_abort() -> None:
    cause = AccessDeniedError("denied")
    target = FakeTarget(initiate_error=cause)
    with pytest.raises(AccessDeniedError) as info:
        upload_multipart(target, iter(PARTS), object_name="obj")
    assert info.value is cause
    assert target.names == ["initiate"]


def test_max_parts_exceeded() -> None:
    target = FakeTarget()
    with pytest.raises(MultipartUploadError) as info:
        upload_multipart(target, iter([b"x"] * 5), object_name="obj", max_parts=3)
    assert info.value.part_number == 4
    assert info.value.upload_id == "UP-1"
    assert "3 parts" in str(info.value)
    assert target.names == ["initiate", ("part", 1), ("part", 2), ("part", 3), "abort"]


def test_exactly_max_parts_is_fine() -> None:
    target = FakeTarget()
    _, done = upload_multipart(target, iter([b"x"] * 3), object_name="obj", max_parts=3)
    assert len(done) == 3
    assert MAX_PARTS == 10_000


def test_multipart_error_is_an_object_error() -> None:
    target = FakeTarget(fail_part=1, part_error=ServerError("x"))
    with pytest.raises(LibstoreError):
        upload_multipart(target, iter(PARTS), object_name="obj")


# -- multipart_etag ------------------------------------------------------------------------


def _part(number: int, data: bytes) -> UploadedPart:
    return UploadedPart(number, f'"{number}"', len(data), hashlib.md5(data).hexdigest())


def test_multipart_etag_matches_s3s_formula() -> None:
    datas = [b"A" * 5 * 1024 * 1024, b"B" * 5 * 1024 * 1024, b"tail"]
    parts = [_part(n, d) for n, d in enumerate(datas, 1)]
    expected = hashlib.md5(b"".join(hashlib.md5(d).digest() for d in datas)).hexdigest()
    assert multipart_etag(parts) == f"{expected}-3"


def test_multipart_etag_known_values() -> None:
    # md5(md5(b"")) with one part, and md5(md5(b"a") + md5(b"b")) with two, as S3 computes.
    assert multipart_etag([_part(1, b"")]) == "59adb24ef3cdbe0297f05b395827453f-1"
    assert multipart_etag([_part(1, b"a"), _part(2, b"b")]) == (
        "96e024ba2074fe77e8e965ba43a704be-2"
    )


def test_multipart_etag_depends_on_order() -> None:
    a, b = _part(1, b"a"), _part(2, b"b")
    assert multipart_etag([a, b]) != multipart_etag([b, a])


def test_multipart_etag_of_no_parts() -> None:
    assert multipart_etag([]) == f"{hashlib.md5(b'').hexdigest()}-0"
