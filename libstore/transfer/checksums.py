"""Checksums for transfers: CRC32 of parts combined into a whole-object CRC32 without a second pass.

``zlib.crc32`` releases the GIL on large buffers, so part workers compute it in
parallel; :func:`crc32_combine` joins the parts' CRCs in order, the way zlib's
``crc32_combine`` does, so the whole-object CRC32 costs nothing extra.
"""

from __future__ import annotations

import base64
import functools
import zlib
from collections.abc import Iterable

__all__ = ["Crc32Accumulator", "crc32_b64", "crc32_combine", "crc32_from_b64"]

_POLY = 0xEDB88320  # CRC-32 (IEEE), reflected


def _gf2_times(matrix: list[int] | tuple[int, ...], vector: int) -> int:
    total = 0
    index = 0
    while vector:
        if vector & 1:
            total ^= matrix[index]
        vector >>= 1
        index += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, matrix[n]) for n in range(32)]


@functools.lru_cache(maxsize=64)
def _zeros_operator(length: int) -> tuple[int, ...]:
    """The GF(2) matrix that appends ``length`` zero bytes to a CRC32 register."""
    result = [1 << n for n in range(32)]  # identity
    square = [_POLY] + [1 << n for n in range(31)]  # one zero bit
    for _ in range(3):
        square = _gf2_square(square)  # eight zero bits: one zero byte
    while length:
        if length & 1:
            result = [_gf2_times(square, column) for column in result]
        length >>= 1
        if length:
            square = _gf2_square(square)
    return tuple(result)


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC32 of ``A + B`` from ``crc32(A)``, ``crc32(B)`` and ``len(B)``.

    The operator for ``len2`` zero bytes is cached: parts of one upload share sizes.
    """
    if len2 <= 0:
        return crc1
    return (_gf2_times(list(_zeros_operator(len2)), crc1) ^ crc2) & 0xFFFFFFFF


def crc32_b64(crc: int) -> str:
    """The base64 form S3's ``x-amz-checksum-crc32`` uses (4 big-endian bytes)."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")


def crc32_from_b64(text: str) -> int | None:
    """Parse S3's base64 CRC32, or ``None`` when it is not one."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        return None
    return int.from_bytes(raw, "big") if len(raw) == 4 else None


class Crc32Accumulator:
    """Combines the CRC32s of consecutive pieces (given in order) into the CRC32 of the whole."""

    def __init__(self) -> None:
        self.crc = 0
        self.length = 0

    def add(self, crc: int, length: int) -> None:
        """Append a piece of ``length`` bytes whose CRC32 is ``crc``."""
        self.crc = crc32_combine(self.crc, crc, length) if self.length else crc
        self.length += length

    def add_all(self, pieces: Iterable[tuple[int, int]]) -> int:
        """Append ``(crc, length)`` pieces in order and return the combined CRC32."""
        for crc, length in pieces:
            self.add(crc, length)
        return self.crc


def crc32(data: bytes | bytearray | memoryview) -> int:
    """``zlib.crc32`` (releases the GIL on large buffers)."""
    return zlib.crc32(data) & 0xFFFFFFFF
