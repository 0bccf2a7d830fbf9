"""Unit tests of the transfer engine: part sizing, memory budget, CRC32 combining, concurrency."""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
import zlib
from collections.abc import Sequence

import pytest

from libstore.transfer.checksums import (
    Crc32Accumulator,
    crc32_b64,
    crc32_combine,
    crc32_from_b64,
)
from libstore.transfer.config import (
    MAX_OBJECT_SIZE,
    MAX_PART_SIZE,
    MIN_PART_SIZE,
    MemoryBudget,
    PartSizer,
    TransferConfig,
)
from libstore.transfer.multipart import UploadedPart, upload_multipart
from libstore.types import MultipartUploadError, ServerError

MiB = 1024 * 1024


# -- part sizing ---------------------------------------------------------------------------


def test_growing_sizes_reach_five_tib_within_ten_thousand_parts() -> None:
    sizer = PartSizer(MIN_PART_SIZE)
    assert sizer.size_for(1) == MIN_PART_SIZE
    assert sizer.size_for(900) == MIN_PART_SIZE
    assert sizer.size_for(901) == 2 * MIN_PART_SIZE
    assert max(sizer.size_for(n) for n in range(1, 10_001)) == MAX_PART_SIZE
    assert sizer.capacity() >= MAX_OBJECT_SIZE


def test_equal_parts_never_grow() -> None:
    sizer = PartSizer(8 * MiB, equal_parts=True)
    assert {sizer.size_for(n) for n in (1, 901, 5000, 10_000)} == {8 * MiB}
    assert sizer.capacity() == 8 * MiB * 10_000


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (0, MIN_PART_SIZE),
        (100 * MiB, MIN_PART_SIZE),
        (MIN_PART_SIZE * 10_000, MIN_PART_SIZE),
        (MIN_PART_SIZE * 10_000 + 1, 6 * MiB),
        (MAX_OBJECT_SIZE, 525 * MiB),
    ],
)
def test_size_hint_picks_one_size_that_fits(hint: int, expected: int) -> None:
    sizer = PartSizer(MIN_PART_SIZE, size_hint=hint)
    assert sizer.size_for(1) == sizer.size_for(9_999) == expected
    assert expected * 10_000 >= hint


def test_transfer_config_validates() -> None:
    with pytest.raises(ValueError, match="part_size"):
        TransferConfig(part_size=MiB)
    with pytest.raises(ValueError, match="concurrency"):
        TransferConfig(concurrency=0)
    with pytest.raises(ValueError, match="memory_limit"):
        TransferConfig(memory_limit=MiB)
    assert TransferConfig().new(concurrency=8).concurrency == 8


# -- memory budget -------------------------------------------------------------------------


def test_budget_blocks_until_released() -> None:
    budget = MemoryBudget(10)
    assert budget.acquire(6)
    assert not budget.acquire(6, timeout=0.05)
    released = threading.Timer(0.05, budget.release, args=(6,))
    released.start()
    assert budget.acquire(6, timeout=5)
    released.join()
    assert budget.in_use == 6


def test_budget_grants_an_oversized_request_when_idle() -> None:
    budget = MemoryBudget(10)
    assert budget.acquire(50, timeout=0.05)
    assert not budget.acquire(1, timeout=0.05)
    budget.release(50)
    assert budget.in_use == 0


# -- CRC32 ---------------------------------------------------------------------------------


def test_crc32_combine_matches_zlib() -> None:
    rng = random.Random(7)
    for _ in range(200):
        a = rng.randbytes(rng.randint(0, 5000))
        b = rng.randbytes(rng.randint(0, 5000))
        assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_accumulator_over_many_parts() -> None:
    parts = [os.urandom(n) for n in (1, 4096, 70_000, 3, 0, 12_345)]
    acc = Crc32Accumulator()
    assert acc.add_all((zlib.crc32(p), len(p)) for p in parts) == zlib.crc32(b"".join(parts))
    assert acc.length == sum(map(len, parts))


def test_crc32_base64_round_trip() -> None:
    assert crc32_b64(zlib.crc32(b"hello world")) == "DUoRhQ=="  # S3's documented form
    assert crc32_from_b64("DUoRhQ==") == zlib.crc32(b"hello world")
    assert crc32_from_b64("not base64!") is None
    assert crc32_from_b64("AAAAAAA=") is None  # five bytes: not a CRC32


# -- concurrent multipart ------------------------------------------------------------------


class SlowTarget:
    """A thread-safe fake target whose parts take a while, so several run at once."""

    def __init__(self, fail_part: int | None = None, delay: float = 0.02) -> None:
        self.fail_part = fail_part
        self.delay = delay
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.finished: list[int] = []
        self.events: list[str] = []

    def initiate(self) -> str:
        self.events.append("initiate")
        return "UP"

    def upload_part(self, upload_id: str, number: int, data: bytes) -> UploadedPart:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            time.sleep(self.delay)
            if number == self.fail_part:
                raise ServerError("boom", http_status=500)
            return UploadedPart(number, f'"{number}"', len(data), hashlib.md5(data).hexdigest())
        finally:
            with self.lock:
                self.active -= 1
                self.finished.append(number)

    def complete(self, upload_id: str, parts: Sequence[UploadedPart]) -> list[int]:
        self.events.append("complete")
        return [p.number for p in parts]

    def abort(self, upload_id: str) -> None:
        with self.lock:
            self.events.append(f"abort(active={self.active})")


def test_parts_run_concurrently_and_complete_in_order() -> None:
    target = SlowTarget()
    parts = iter([bytes([n]) * 10 for n in range(12)])
    result, done = upload_multipart(target, parts, object_name="k", concurrency=4)
    assert result == list(range(1, 13))
    assert [p.number for p in done] == list(range(1, 13))
    assert 1 < target.peak <= 4


def test_failed_part_waits_for_running_parts_then_aborts() -> None:
    target = SlowTarget(fail_part=3)
    with pytest.raises(MultipartUploadError) as info:
        upload_multipart(target, iter([b"x"] * 20), object_name="k", concurrency=4)
    assert info.value.part_number == 3
    assert info.value.http_status == 500
    assert target.events[-1] == "abort(active=0)"  # nothing still running at abort time
    assert "complete" not in target.events
    assert len(target.finished) < 20  # reading stopped soon after the failure


def test_source_error_with_parts_in_flight_aborts() -> None:
    target = SlowTarget(delay=0.05)

    def source() -> object:
        yield b"a"
        yield b"b"
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        upload_multipart(target, source(), object_name="k", concurrency=4)  # type: ignore[arg-type]
    assert target.events[-1] == "abort(active=0)"


def test_budget_limits_parts_held_at_once() -> None:
    budget = MemoryBudget(30)
    target = SlowTarget()
    held: list[int] = []
    original = budget.acquire

    def watch(count: int, timeout: float | None = None) -> bool:
        granted = original(count, timeout)
        held.append(budget.in_use)
        return granted

    budget.acquire = watch  # type: ignore[method-assign]
    upload_multipart(
        target,
        iter([b"z" * 10] * 15),
        object_name="k",
        concurrency=8,
        budget=budget,
        next_part_size=lambda _n: 10,
    )
    assert max(held) <= 30
    assert target.peak <= 3
    assert budget.in_use == 0
