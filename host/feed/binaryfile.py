"""NASDAQ BinaryFILE: ITCH messages each preceded by a 2-byte big-endian length.

Files are read in bounded memory as `FeedChunk`s of whole records, plain or
gzip-compressed (told apart by their magic bytes, not their names). Damage
costs only the damaged bytes: the reader finds the record boundaries again
after a damaged length prefix or a stretch of garbage, and a damaged gzip
stream keeps everything decoded before the damage.
"""
from __future__ import annotations

import gzip as _gzip
import io
import os
import zlib
from functools import cache
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

import numpy as np

from tickaccel.native import compiled, register
from tickaccel.jit import kernel
from tickaccel.errors import ErrorLog
from tickaccel.feed.chunk import FeedChunk
from tickaccel.schema.itch import LENGTH_BY_TYPE, MAX_MESSAGE_LENGTH, MESSAGE_LENGTHS

GZIP_MAGIC = b"\x1f\x8b"
_WRITE_BATCH = 1 << 16  # messages joined per write: big enough to amortise, small enough to stream


@register
@kernel(cache=True)
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


@register
@kernel(cache=True)
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


# ---- framing: find record boundaries again after damage ----

_RESYNC_RUN = 4  # well-formed records in a row that show the framing is right
_BAD_RECORDS_PASSED = 2  # bad but framed records a framing check may pass on the way
# Fewer stray bytes than this after a record were inserted into it, rather than being what
# is left of a damaged next record: half the shortest record (length prefix and message).
_SHORTEST_REMNANT = (2 + min(MESSAGE_LENGTHS.values())) // 2
_LOOKAHEAD = 3  # bytes read past a buffer: the length and type of the record after its last

# `_framing_holds` verdicts.
_BROKEN, _HOLDS_THROUGH_BAD, _HOLDS, _UNDECIDED = 0, 1, 2, 3

# What ends a run of records in `_frame`.
(_END, _NEED_MORE, _TRUNCATED, _LENGTH_DAMAGED, _SKIPPED,
 _SKIPPED_UNDECIDED) = range(6)

_LENGTH_BY_TYPE = LENGTH_BY_TYPE  # a compile-time constant of the kernels


@kernel(cache=True)
def _framing_holds(buf, pos, at_eof, bad_allowed, jumped):
    """Whether records framed from ``buf[pos]`` on look right.

    They do when `_RESYNC_RUN` well-formed records (known type, its length)
    come one after another, or they reach the end of the file, passing at most
    ``bad_allowed`` records that are bad but lead on to the next record. A bad
    one longer than any ITCH message is a wild jump: after one (or when
    ``jumped``: ``pos`` was reached by one) only reaching the end of the file
    before `_RESYNC_RUN` good records will do. A record cut short by the end
    of the file counts as consistent (after a jump only if its length and type
    are there to agree). Returns `_HOLDS`, `_HOLDS_THROUGH_BAD` (bad records
    passed), `_BROKEN`, or `_UNDECIDED` when ``buf`` ends first and more of
    the file follows (``at_eof`` false).
    """
    n = buf.shape[0]
    good = 0
    bad = 0
    while good < _RESYNC_RUN:
        if pos + 3 > n:  # at the end of the data, or inside a prefix or before a type byte
            if not at_eof:
                return _UNDECIDED
            if pos > n or (pos < n and (jumped or (good == 0 and bad_allowed == 0))):
                return _BROKEN
            return _HOLDS if bad == 0 else _HOLDS_THROUGH_BAD
        length = (np.int64(buf[pos]) << 8) | np.int64(buf[pos + 1])
        end = pos + 2 + length
        if length > 0 and _LENGTH_BY_TYPE[buf[pos + 2]] == length:
            if end > n:
                if not at_eof:
                    return _UNDECIDED
                return _HOLDS if bad == 0 else _HOLDS_THROUGH_BAD
            good += 1
            pos = end
            continue
        if bad == bad_allowed:
            return _BROKEN
        bad += 1
        jumped = jumped or length > MAX_MESSAGE_LENGTH
        pos = end
    return _BROKEN if jumped else (_HOLDS if bad == 0 else _HOLDS_THROUGH_BAD)


@kernel(cache=True)
def _skip_to_records(buf, scan, broken, last, count, at_eof):
    """End a run of ``count`` records broken at ``buf[broken]``: skip to where records hold again.

    The search starts at ``scan``. ``last`` is the start of the run's last
    record (-1 for none): if records hold again within its span, or fewer
    than `_SHORTEST_REMNANT` bytes after it, its length was wrong (bytes lost
    or inserted inside it) and it is skipped with the rest. Returns what
    `_frame` returns.
    """
    n = buf.shape[0]
    while scan < n:
        verdict = _framing_holds(buf, scan, at_eof, 0, False)
        if verdict == _BROKEN:
            scan += 1
            continue
        last_damaged = last >= 0 and scan < broken + _SHORTEST_REMNANT
        if verdict == _UNDECIDED:
            if last_damaged:  # perhaps: judge the last record again with more of the file
                return last, count - 1, _NEED_MORE, last
            return broken, count, _SKIPPED_UNDECIDED, scan
        if last_damaged:
            return last, count - 1, _SKIPPED, scan
        return broken, count, _SKIPPED, scan
    return broken, count, (_SKIPPED if at_eof else _SKIPPED_UNDECIDED), n


@register
@kernel(cache=True)
def _frame(buf, pos, limit, at_eof, resyncing):
    """One step of `read_chunks`: the run of records in a row from ``buf[pos]``, and what ends it.

    Returns (run_end, count, event, resume): ``buf[pos:run_end]`` holds
    ``count`` whole records, all ending by ``limit`` (bytes after it are only
    looked at), and `event` says what comes at ``run_end``:

    - `_END`: nothing, the file ends there; `_NEED_MORE`: what follows can
      only be judged with more of the file (``resume == run_end``);
    - `_TRUNCATED`: a record cut short by the end of the file;
    - `_LENGTH_DAMAGED`: a record whose length prefix alone is damaged: its
      type's length leads to records that hold, at ``resume``;
    - `_SKIPPED`: bytes that are no record, up to ``resume`` where records
      hold again (see `_skip_to_records`); `_SKIPPED_UNDECIDED`: the same, but
      whether records hold at ``resume`` needs more of the file.

    A bad record whose own length leads to records that hold stays in the run
    (the books count it). With ``resyncing``, ``buf[pos]`` is inside a
    skipped stretch: the search for records that hold starts there.
    """
    n = buf.shape[0]
    if resyncing:
        return _skip_to_records(buf, pos, pos, -1, 0, at_eof)
    count = 0
    last = -1  # start of the run's last record
    while True:
        if pos + 3 > n:  # at the end of the data, or inside a prefix or before a type byte
            if not at_eof:
                return pos, count, _NEED_MORE, pos
            if pos + 2 == n and buf[pos] == 0 and buf[pos + 1] == 0:
                return n, count + 1, _END, n  # a zero-length record ends the file
            return pos, count, (_END if pos == n else _TRUNCATED), n
        length = (np.int64(buf[pos]) << 8) | np.int64(buf[pos + 1])
        type_length = _LENGTH_BY_TYPE[buf[pos + 2]]
        end = pos + 2 + length
        if length > 0 and type_length == length:
            if end > limit:
                return pos, count, (_TRUNCATED if at_eof else _NEED_MORE), (n if at_eof else pos)
            last = pos
            pos = end
            count += 1
            continue
        # A bad record: framed (the books count it) or with a damaged length prefix?
        # Both leading on to good records is a coincidence for one of them; a damaged
        # length prefix is the likelier cause, so the type's length wins then.
        as_framed = _framing_holds(buf, end, at_eof, _BAD_RECORDS_PASSED,
                                   length > MAX_MESSAGE_LENGTH)
        by_type = _BROKEN
        if type_length > 0:
            by_type = _framing_holds(buf, pos + 2 + type_length, at_eof, _BAD_RECORDS_PASSED,
                                     False)
        if as_framed == _UNDECIDED or by_type == _UNDECIDED:
            # Judged with more of the file, and the run's last record with it.
            if last >= 0:
                return last, count - 1, _NEED_MORE, last
            return pos, count, _NEED_MORE, pos
        if by_type == _HOLDS or (by_type == _HOLDS_THROUGH_BAD and as_framed != _HOLDS):
            return pos, count, _LENGTH_DAMAGED, pos + 2 + type_length
        if as_framed == _BROKEN:
            return _skip_to_records(buf, last + 1 if last >= 0 else pos + 1, pos, last, count,
                                    at_eof)
        if end > limit:
            return pos, count, _NEED_MORE, pos
        last = pos
        pos = end
        count += 1


def _length_error(buf: np.ndarray, pos: int) -> str:
    """The error kind the books give a record with the length prefix at ``buf[pos]``."""
    length = (int(buf[pos]) << 8) | int(buf[pos + 1])
    if length == 0:
        return "zero_length"
    return "bad_length" if length > MAX_MESSAGE_LENGTH else "wrong_length"


def count_good_records(head: bytes, max_records: int) -> tuple[int, int]:
    """(well-formed, seen) among the first ``max_records`` records of ``head``.

    ``head`` is framed as `read_chunks` frames a file that ends there; a
    record with a damaged length or a skipped stretch counts as one record
    seen, a record cut short by the end of ``head`` not at all.
    """
    buf = np.frombuffer(head, np.uint8)
    good = seen = 0
    pos = 0
    while seen < max_records:
        run_end, _, event, resume = compiled(_frame)(buf, pos, len(buf), True, False)
        for offset in (compiled(record_offsets)(buf[pos:run_end])[:max_records - seen] + pos).tolist():
            length = (int(buf[offset]) << 8) | int(buf[offset + 1])
            good += length > 0 and int(_LENGTH_BY_TYPE[buf[offset + 2]]) == length
            seen += 1
        if event in (_END, _TRUNCATED) or seen >= max_records:
            break
        seen += 1
        pos = resume
    return good, seen


# ---- gzip: keep everything that decodes ----

_GZIP_MEMBER_START = GZIP_MAGIC + b"\x08"  # magic, then deflate: where a gzip member can begin
_GZIP_READ = 1 << 16  # compressed bytes per inflate call; bounds the memory a call takes
_GZIP_WBITS = 31  # zlib: a gzip header and trailer around a deflate stream


def _inflate_until_error(inflater, piece: bytes) -> tuple[bytes, int]:
    """What ``inflater`` decodes of ``piece`` before the byte zlib fails at, and that byte's index.

    Halves the span fed until the failing byte is found, on copies of the
    inflater, so nothing decoded before the damage is lost.
    """
    decoded = []
    start, step = 0, len(piece)
    while step and start < len(piece):
        trial = inflater.copy()
        try:
            decoded.append(trial.decompress(piece[start:start + step]))
        except zlib.error:
            step //= 2
            continue
        inflater = trial
        start += step
    return b"".join(decoded), start


class _GzipMembers(io.RawIOBase):
    """The decompressed bytes of every gzip member of a file that decodes, in order.

    Damage never raises: decoding stops at the compressed offset where zlib
    fails (a bad block, a CRC or length mismatch in the trailer), counted as
    ``gzip_error`` with everything decoded before it kept, and goes on at the
    next member header. Junk between or after members (zero padding aside) and
    a member cut short by the end of the file are counted the same way.
    """

    def __init__(self, raw: BinaryIO, errors: ErrorLog) -> None:
        super().__init__()
        self._raw = raw
        self._errors = errors
        self._inflater = None  # the member being decoded; None between members
        self._pending = b""  # compressed bytes read but not yet decoded
        self._pending_offset = 0  # file offset of _pending[0]
        self._decoded = memoryview(b"")
        self._counted = False  # in junk already counted as an error
        self._raw_ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, view) -> int:
        while not self._decoded:
            if not self._decode_more():
                return 0
        n = min(len(view), len(self._decoded))
        view[:n] = self._decoded[:n]
        self._decoded = self._decoded[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()

    def _decode_more(self) -> bool:
        """Take one step through the compressed bytes; False once the file is used up."""
        if len(self._pending) < len(_GZIP_MEMBER_START) and not self._raw_ended:
            block = self._raw.read(_GZIP_READ)
            self._raw_ended = not block
            self._pending += block
            return True
        if not self._pending:
            if self._inflater is not None:  # the file ends inside a member
                self._errors.add("gzip_error", self._pending_offset)
                self._inflater = None
            return False
        if self._inflater is None:
            self._find_member()
            return True
        piece, inflater = self._pending, self._inflater
        before = inflater.copy()
        try:
            decoded = inflater.decompress(piece)
        except zlib.error:
            decoded, bad = _inflate_until_error(before, piece)
            self._errors.add("gzip_error", self._pending_offset + bad)
            self._inflater, self._counted = None, True
            self._consume(bad + 1)
        else:
            if inflater.eof:
                self._inflater = None
                self._consume(len(piece) - len(inflater.unused_data))
            else:
                self._consume(len(piece))
        self._decoded = memoryview(decoded)
        return True

    def _find_member(self) -> None:
        """Start the member the pending bytes begin with, or drop what comes before the next."""
        data = self._pending
        start = data.find(_GZIP_MEMBER_START)
        if start == 0:
            self._inflater, self._counted = zlib.decompressobj(_GZIP_WBITS), False
            return
        if start < 0:  # keep a tail that may begin a member header cut by the read
            start = len(data) if self._raw_ended else len(data) - len(_GZIP_MEMBER_START) + 1
        junk = data[:start]
        padding = len(junk) - len(junk.lstrip(b"\0"))  # zero padding after a member is allowed
        if padding < len(junk) and not self._counted:
            self._errors.add("gzip_error", self._pending_offset + padding)
            self._counted = True
        self._consume(start)

    def _consume(self, n: int) -> None:
        self._pending = self._pending[n:]
        self._pending_offset += n


def open_stream(path: str | os.PathLike, *, errors: ErrorLog) -> BinaryIO:
    """Open a file for reading, decompressing gzip (detected by magic bytes).

    A damaged gzip file reads as everything that decodes, its damage counted
    in ``errors`` as ``gzip_error`` at the compressed offset (see `_GzipMembers`).
    """
    raw = open(path, "rb")
    if raw.read(2) == GZIP_MAGIC:
        raw.seek(0)
        members = _GzipMembers(raw, errors)
        return io.BufferedReader(members, _GZIP_READ)  # type: ignore[return-value]
    raw.seek(0)
    return raw


def _file_position(stream: BinaryIO) -> int:
    """Bytes of the file an `open_stream` stream has read: compressed bytes for gzip."""
    members = getattr(stream, "raw", None)
    if isinstance(members, _GzipMembers):
        return members._raw.tell()
    return stream.tell()


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
    path: str | os.PathLike, chunk_bytes: int = 32 << 20, *, errors: ErrorLog,
    file_read: Callable[[int], None] | None = None,
) -> Iterator[FeedChunk]:
    """Stream a BinaryFILE (plain or gzip) as chunks of whole records in bounded memory.

    Damage costs the damaged bytes only; each is counted in ``errors`` at the
    offset, in the (decompressed) stream, where it starts:

    - a bad record whose own length leads on to good records (an unknown type,
      a length its type does not have, a zero length) is delivered, for the
      books to count;
    - a record whose length prefix alone is damaged (its type's length leads
      on to good records) is counted as the books would count it
      (``zero_length``, ``bad_length`` or ``wrong_length``) and dropped;
    - other bytes that are no record are counted as ``bytes_skipped``, up to
      where `_RESYNC_RUN` well-formed records follow one another again; the
      record before them goes too when its length no longer fits what
      follows (bytes lost or inserted inside it);
    - a record cut short by the end of the file is counted as
      ``truncated_message``, after everything before it is delivered.

    Each chunk holds records in a row, so ``seqs`` is None and record ``n``
    of a chunk is message ``first_seq + n``: the 1-based index of the message
    in the feed as far as it can be recovered. A dropped record keeps its
    number, so later numbers stay exact; a skipped stretch counts as one
    message, which is exact when one record was damaged. ``file_read`` gets the
    bytes of the file read so far (compressed bytes for gzip) after each read.
    """
    if chunk_bytes < 1:
        raise ValueError("chunk_bytes must be positive")
    next_seq = 1
    offset = 0  # stream offset of carry[0]
    limit_at = 0  # stream offset that the records of a buffer end by: the reads asked for
    read_to = 0  # stream offset of the end of what was read
    carry = np.empty(0, dtype=np.uint8)
    resyncing = False  # the carry starts inside a skipped stretch
    at_eof = False
    with open_stream(path, errors=errors) as stream:
        while not at_eof:
            # A carry longer than a read (a damaged length being judged) at least doubles.
            limit_at += max(chunk_bytes, len(carry))
            wanted = limit_at + _LOOKAHEAD - read_to
            buf = np.empty(len(carry) + wanted, dtype=np.uint8)
            buf[: len(carry)] = carry
            got = _read_full(stream, memoryview(buf)[len(carry):])
            read_to += got
            if file_read is not None:
                file_read(_file_position(stream))
            at_eof = got < wanted
            data = buf[: len(carry) + got]
            limit = len(data) if at_eof else limit_at - offset
            pos = 0
            while True:
                run_end, count, event, resume = compiled(_frame)(data, pos, limit, at_eof, resyncing)
                if count:
                    yield FeedChunk(data=data[pos:run_end], first_seq=next_seq, seqs=None,
                                    base_offset=offset + pos)
                    next_seq += count
                if event == _LENGTH_DAMAGED:
                    errors.add(_length_error(data, run_end), offset + run_end)
                    next_seq += 1
                elif event in (_SKIPPED, _SKIPPED_UNDECIDED):
                    errors.add("bytes_skipped", offset + run_end, resume - run_end)
                    if not resyncing:
                        next_seq += 1  # a skipped stretch counts as one message
                    resyncing = event == _SKIPPED_UNDECIDED
                elif event == _TRUNCATED:
                    errors.add("truncated_message", offset + run_end)
                pos = resume
                if event in (_END, _NEED_MORE, _TRUNCATED, _SKIPPED_UNDECIDED):
                    break
            # Copy the tail so the delivered chunks do not pin a second buffer.
            carry = data[pos:].copy()
            offset += pos


def frame_messages(messages: Iterable[bytes]) -> bytes:
    """Messages joined into one buffer, each preceded by its 2-byte big-endian length."""
    return b"".join(_framed_batches(messages))


@cache
def _length_prefixes() -> list[bytes]:
    """Every 2-byte length prefix, made when first framing (20 ms no reader should pay)."""
    return [n.to_bytes(2, "big") for n in range(1 << 16)]


def _framed_batches(messages: Iterable[bytes]) -> Iterator[bytes]:
    batch: list[bytes] = []
    prefixes = _length_prefixes()
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
