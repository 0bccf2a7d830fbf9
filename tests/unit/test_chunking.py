"""Tests for libstore.transfer.chunking: exact parts from any stream, bounded and linear."""

from __future__ import annotations

import array
import io
import random
from collections.abc import Iterator
from typing import Any

import pytest

from libstore.transfer.chunking import FILE_READ_SIZE, iter_parts, iter_source
from libstore.types import InvalidArgumentError


def check_parts(parts: list[bytes], data: bytes, part_size: int) -> None:
    assert b"".join(parts) == data
    assert all(isinstance(p, bytes) for p in parts)
    assert all(len(p) == part_size for p in parts[:-1])
    assert 0 < len(parts[-1]) <= part_size or (data == b"" and parts == [b""])
    assert len(parts) == max(1, -(-len(data) // part_size))


def random_chunks(rng: random.Random, data: bytes, max_chunk: int) -> Iterator[bytes]:
    pos = 0
    while pos < len(data):
        size = rng.choice([0, 1, rng.randint(1, max_chunk), max_chunk])
        yield data[pos : pos + size]
        pos += size


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("part_size", [1, 7, 64, 1000])
def test_random_chunk_sizes(seed: int, part_size: int) -> None:
    rng = random.Random(seed * 1000 + part_size)
    data = rng.randbytes(rng.randint(0, 20 * part_size + 3))
    parts = list(iter_parts(random_chunks(rng, data, 3 * part_size), part_size))
    check_parts(parts, data, part_size)


@pytest.mark.parametrize("length", [0, 1, 99, 100, 101, 199, 200, 201, 1000])
def test_boundaries(length: int) -> None:
    data = bytes(i % 251 for i in range(length))
    for chunk in (1, 3, 100, 150, 1000, 5000):
        chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
        check_parts(list(iter_parts(chunks, 100)), data, 100)


def test_exact_multiple_has_no_trailing_empty_part() -> None:
    parts = list(iter_parts([b"a" * 300], 100))
    assert parts == [b"a" * 100] * 3


def test_empty_chunks_are_not_eof() -> None:
    chunks = [b"", b"ab", b"", b"", b"cd", b"", b"e", b""]
    assert list(iter_parts(chunks, 2)) == [b"ab", b"cd", b"e"]


def test_only_empty_chunks_give_one_empty_part() -> None:
    assert list(iter_parts([b"", b"", bytearray(), memoryview(b"")], 5)) == [b""]


def test_empty_iterator_gives_one_empty_part() -> None:
    assert list(iter_parts(iter([]), 5)) == [b""]


def test_one_big_chunk_split_into_many_parts() -> None:
    data = random.Random(7).randbytes(1_000_003)
    check_parts(list(iter_parts([data], 4096)), data, 4096)


def test_bytearray_overwritten_in_place_by_the_producer() -> None:
    rng = random.Random(42)
    data = rng.randbytes(9_990)

    def producer() -> Iterator[bytearray]:
        buffer = bytearray(333)
        for i in range(0, len(data), 333):
            buffer[:] = data[i : i + 333]
            yield buffer
            buffer[:] = b"\xee" * 333  # scribble over it once the consumer resumes us

    check_parts(list(iter_parts(producer(), 1000)), data, 1000)


def test_bytearray_cleared_and_refilled_by_the_producer() -> None:
    data = random.Random(5).randbytes(10_000)

    def producer() -> Iterator[bytearray]:
        buffer = bytearray()
        for i in range(0, len(data), 333):
            buffer += data[i : i + 333]
            yield buffer
            buffer.clear()

    check_parts(list(iter_parts(producer(), 1000)), data, 1000)


def test_memoryview_over_reused_buffer() -> None:
    data = bytes(range(256)) * 10
    backing = bytearray(100)

    def producer() -> Iterator[memoryview]:
        for i in range(0, len(data), 100):
            piece = data[i : i + 100]
            backing[: len(piece)] = piece
            yield memoryview(backing)[: len(piece)]
            backing[:] = bytes(100)

    check_parts(list(iter_parts(producer(), 256)), data, 256)


def test_non_byte_memoryview_is_taken_as_raw_bytes() -> None:
    values = array.array("H", [1, 2, 3, 0xFFFF])
    parts = list(iter_parts([memoryview(values)], 3))
    assert b"".join(parts) == values.tobytes()
    assert [len(p) for p in parts] == [3, 3, 2]


def test_bytes_subclass_is_accepted() -> None:
    class Tagged(bytes):
        pass

    assert list(iter_parts([Tagged(b"abc")], 2)) == [b"ab", b"c"]


@pytest.mark.parametrize("bad", ["text", 5, None, [1, 2], array.array("B", [1])])
def test_non_bytes_chunk_is_refused(bad: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        list(iter_parts([b"ok", bad], 4))
    assert type(bad).__name__ in str(info.value)


def test_str_chunk_refused_after_full_parts_were_yielded() -> None:
    parts = iter_parts([b"abcd", "efgh"], 2)
    assert next(parts) == b"ab"
    assert next(parts) == b"cd"
    with pytest.raises(InvalidArgumentError):
        next(parts)


@pytest.mark.parametrize("size", [0, -1])
def test_part_size_must_be_positive(size: int) -> None:
    with pytest.raises(ValueError):
        list(iter_parts([b"x"], size))


def test_parts_are_produced_lazily() -> None:
    pulled: list[int] = []

    def producer() -> Iterator[bytes]:
        for i in range(10):
            pulled.append(i)
            yield b"x" * 10

    parts = iter_parts(producer(), 25)
    assert next(parts) == b"x" * 25
    assert pulled == [0, 1, 2]  # no read-ahead past the first full part


def test_source_exception_propagates_after_full_parts() -> None:
    def producer() -> Iterator[bytes]:
        yield b"a" * 10
        raise OSError("disk gone")

    parts = iter_parts(producer(), 4)
    assert next(parts) == b"aaaa"
    assert next(parts) == b"aaaa"
    with pytest.raises(OSError, match="disk gone"):
        next(parts)


@pytest.mark.timeout(20)
def test_many_one_byte_chunks_are_not_quadratic() -> None:
    count = 200_000
    parts = list(iter_parts((b"x" for _ in range(count)), 64 * 1024))
    assert [len(p) for p in parts] == [65536, 65536, 65536, count - 3 * 65536]


@pytest.mark.timeout(20)
def test_many_tiny_chunks_into_one_part() -> None:
    data = random.Random(3).randbytes(100_000)
    parts = list(iter_parts((data[i : i + 1] for i in range(len(data))), 1_000_000))
    assert parts == [data]


# -- iter_source ---------------------------------------------------------------------------


def test_source_file_like_read_in_read_size_pieces() -> None:
    data = bytes(range(256)) * 40
    chunks = list(iter_source(io.BytesIO(data), 1000))
    assert b"".join(chunks) == data
    assert [len(c) for c in chunks] == [1000] * 10 + [240]


def test_source_file_like_default_read_size() -> None:
    assert FILE_READ_SIZE == 1024 * 1024
    data = b"z" * (FILE_READ_SIZE + 5)
    assert [len(c) for c in iter_source(io.BytesIO(data))] == [FILE_READ_SIZE, 5]


def test_source_file_like_with_short_reads() -> None:
    class Trickle(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = data

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            out, self.data = self.data[:3], self.data[3:]
            return out

    data = bytes(range(100))
    assert b"".join(iter_source(Trickle(data), 50)) == data
    check_parts(list(iter_parts(iter_source(Trickle(data), 50), 30)), data, 30)


def test_source_file_is_read_lazily() -> None:
    handle = io.BytesIO(b"a" * 100)
    chunks = iter_source(handle, 10)
    assert handle.tell() == 0
    next(chunks)
    assert handle.tell() == 10


def test_source_text_file_yields_str_which_iter_parts_refuses() -> None:
    with pytest.raises(InvalidArgumentError):
        list(iter_parts(iter_source(io.StringIO("text")), 4))


@pytest.mark.parametrize("value", [b"abc", bytearray(b"abc"), memoryview(b"abc")])
def test_source_single_bytes_like_is_one_chunk(value: Any) -> None:
    assert [bytes(c) for c in iter_source(value)] == [b"abc"]


def test_source_iterables() -> None:
    assert list(iter_source([b"a", b"b"])) == [b"a", b"b"]
    assert list(iter_source(c for c in (b"x", b"y"))) == [b"x", b"y"]


def test_source_str_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="str"):
        iter_source("not bytes")


@pytest.mark.parametrize("value", [5, 1.0, None, object()])
def test_source_non_iterable_refused(value: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        iter_source(value)
    assert type(value).__name__ in str(info.value)
