"""NASDAQ BinaryFILE: ITCH messages each preceded by a 2-byte big-endian length.

Files are read in bounded memory as `FeedChunk`s of whole records, plain or
gzip-compressed (told apart by their magic bytes, not their names).
"""
from __future__ import annotations

import gzip as _gzip
import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import numpy as np
from numba import njit

from tickaccel.errors import ErrorLog
from tickaccel.feed.chunk import FeedChunk

GZIP_MAGIC = b"\x1f\x8b"
_WRITE_BATCH = 1 << 16  # messages joined per write: big enough to amortise, small enough to stream
_NO_LIMIT = 1 << 62
_PREFIXES = [n.to_bytes(2, "big") for n in range(1 << 16)]


@njit(cache=True)
def whole_records_end(buf: np.ndarray, max_records: int) -> tuple[int, int]:
    """Byte length and number of the whole length-prefixed records (at most
    ``max_records``) at the start of ``buf``."""
    pos = 0
    count = 0
    n = buf.shape[0]
    while pos + 2 <= n and count < max_records:
        end = pos + 2 + ((np.int64(buf[pos]) << 8) | np.int64(buf[pos + 1]))
        if end > n:
            break
        pos = end
        count += 1
    return pos, count


@njit(cache=True)
def record_offsets(buf: np.ndarray) -> np.ndarray:
    """Offset of each whole record's length prefix in a length-prefixed buffer."""
    n = buf.shape[0]
    out = np.empty(n // 2 + 1, dtype=np.int64)
    pos = 0
    count = 0
    while pos + 2 <= n:
        end = pos + 2 + ((np.int64(buf[pos]) << 8) | np.int64(buf[pos + 1]))
        if end > n:
            break
        out[count] = pos
        count += 1
        pos = end
    return out[:count]


def open_stream(path: str | os.PathLike) -> BinaryIO:
    """Open a file for reading, transparently decompressing gzip (detected by magic bytes)."""
    raw = open(path, "rb")
    if raw.read(2) == GZIP_MAGIC:
        raw.seek(0)
        return _gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    raw.seek(0)
    return raw


def _read_full(stream: BinaryIO, view: memoryview) -> int:
    """Fill ``view`` from ``stream`` until it is full or the stream ends; bytes read."""
    got = 0
    while got < len(view):
        n = stream.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def read_chunks(
    path: str | os.PathLike, chunk_bytes: int = 32 << 20, *, errors: ErrorLog
) -> Iterator[FeedChunk]:
    """Stream a BinaryFILE (plain or gzip) as chunks of whole records in bounded memory.

    A record cut short by the end of the file is counted as
    ``truncated_message`` at the offset of its length prefix; everything
    before it is delivered.
    """
    if chunk_bytes < 1:
        raise ValueError("chunk_bytes must be positive")
    next_seq = 1
    offset = 0  # stream offset of the first byte not yet delivered
    carry = np.empty(0, dtype=np.uint8)
    with open_stream(path) as stream:
        while True:
            buf = np.empty(len(carry) + chunk_bytes, dtype=np.uint8)
            buf[: len(carry)] = carry
            got = _read_full(stream, memoryview(buf)[len(carry):])
            filled = len(carry) + got
            end, count = whole_records_end(buf[:filled], _NO_LIMIT)
            if count:
                yield FeedChunk(data=buf[:end], first_seq=next_seq, seqs=None, base_offset=offset)
                next_seq += count
                offset += end
            # Copy the tail so the delivered chunk does not pin a second buffer.
            carry = buf[end:filled].copy()
            if got == 0:
                break
    if len(carry):
        errors.add("truncated_message", offset)


def frame_messages(messages: Iterable[bytes]) -> bytes:
    """Messages joined into one buffer, each preceded by its 2-byte big-endian length."""
    return b"".join(_framed_batches(messages))


def _framed_batches(messages: Iterable[bytes]) -> Iterator[bytes]:
    batch: list[bytes] = []
    prefixes = _PREFIXES
    for message in messages:
        if len(message) > 0xFFFF:
            raise ValueError(f"message of {len(message)} bytes does not fit a 2-byte length")
        batch.append(prefixes[len(message)])
        batch.append(message)
        if len(batch) >= 2 * _WRITE_BATCH:
            yield b"".join(batch)
            batch.clear()
    if batch:
        yield b"".join(batch)


def write_binaryfile(
    path: str | os.PathLike,
    messages: Iterable[bytes] | bytes | bytearray | memoryview | np.ndarray,
    gzip: bool | None = None,
    compresslevel: int = 1,
) -> int:
    """Write messages as a BinaryFILE; returns the uncompressed byte count.

    ``messages`` is either an iterable of message byte strings (each gets its
    length prefix) or one bytes-like buffer that is already length-prefixed
    (as made by the generator), written as it is. ``gzip`` defaults to whether
    the name ends in ``.gz``; the gzip header carries no name or time so equal
    input gives equal files.
    """
    if gzip is None:
        gzip = os.fspath(path).endswith(".gz")
    with open(path, "wb") as raw:
        out: BinaryIO = raw
        if gzip:
            out = _gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                 compresslevel=compresslevel)  # type: ignore[assignment]
        try:
            if isinstance(messages, (bytes, bytearray, memoryview, np.ndarray)):
                data = memoryview(np.ascontiguousarray(messages, dtype=np.uint8)
                                  if isinstance(messages, np.ndarray) else messages)
                out.write(data)
                return data.nbytes
            written = 0
            for block in _framed_batches(messages):
                out.write(block)
                written += len(block)
            return written
        finally:
            if out is not raw:
                out.close()
