"""Live MoldUDP64 receiver: in-order book updates, gap recovery, BBO publishing and Parquet segments.

The hot path moves buffers, not messages: each loop iteration drains the
sockets (up to `max_batch` datagrams) with non-blocking ``recvmsg_into`` into
preallocated slots, one Numba pass validates every header and message block
of the batch, the in-sequence message blocks are copied back to back into one
`FeedChunk`, the fast book applies the chunk in one call and hands back raw
NumPy columns, and one more Numba pass writes them as published records into
a reused buffer. Python touches each datagram a few times and each message
never. Parquet is written by a child process from shared memory, so it never
holds this process's GIL; the garbage collector only runs when the loop is idle.

Messages are applied strictly in sequence. Datagrams ahead of the expected
sequence wait in a bounded reorder buffer while the missing range is
re-requested; when it is not recovered within `recovery_timeout`, the gap is
given up, counted and logged, and from then on the whole book is marked stale
(which symbols the lost messages touched is unknowable), so every later BBO
record carries the STALE flag — never a silently wrong book.
"""
from __future__ import annotations

import gc
import heapq
import ipaddress
import json
import logging
import mmap
import os
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numba import njit

from tickaccel.schema import itch
from tickaccel.feed.binaryfile import frame_messages
from tickaccel.book.fast import N_LOCATES, FastBook
from tickaccel.errors import ErrorLog
from tickaccel.feed.chunk import FeedChunk
from tickaccel.live.metrics import STAGES, LiveMetrics
from tickaccel.feed.moldudp64 import (
    HEADER_LENGTH,
    MAX_MESSAGES_PER_PACKET,
    build_request,
    session_bytes,
)
from tickaccel.schema.tables import BBO_SCHEMA

log = logging.getLogger("tickaccel.live.receiver")

# ---- the published record (documented in docs/live.md) ----

MAGIC = b"TKBB"
VERSION = 1
KIND_BBO, KIND_END = 0, 1
FLAG_STALE = 1
# Every ZeroMQ message: this header, then `count` BBO records, all little-endian.
FRAME_HEADER = struct.Struct("<4sHHQII")  # magic, version, kind, batch, count, flags
BBO_RECORD = np.dtype({
    "names": ["seq", "timestamp", "bid_price", "ask_price", "bid_size", "ask_size",
              "stock_locate", "flags", "symbol"],
    "formats": ["<u8", "<u8", "<u4", "<u4", "<u8", "<u8", "<u2", "<u2", "S8"],
    "offsets": [0, 8, 16, 20, 24, 32, 40, 42, 48],
    "itemsize": 56,
})
_AT = {name: BBO_RECORD.fields[name][1] for name in BBO_RECORD.names}
_SEQ_AT, _TS_AT, _BPX_AT, _APX_AT, _BSZ_AT, _ASZ_AT, _LOC_AT, _FLAGS_AT, _SYMBOL_AT = (
    _AT[name] for name in BBO_RECORD.names)

# ---- datagram validation ----

_OK, _HEARTBEAT, _END, _MALFORMED, _WRONG_SESSION = 0, 1, 2, 3, 4
SLOT_BYTES = 2048
# Young objects allowed to pile up before an idle loop collects them (CPython's default gen-0 threshold).
_GC_YOUNG_LIMIT = 700


@njit(cache=True)
def _scan_datagrams(buf, lengths, n, session, status, seqs, counts):
    """Classify each received datagram and read its header; data packets must be exact.

    A data packet is well formed when its `count` message blocks end exactly
    at the end of the datagram; anything else is malformed and skipped whole.
    """
    for i in range(n):
        size = lengths[i]
        if size < 20 or size > buf.shape[1]:
            status[i] = _MALFORMED
            continue
        same = True
        for k in range(10):
            if buf[i, k] != session[k]:
                same = False
        seq = np.uint64(0)
        for k in range(10, 18):
            seq = (seq << np.uint64(8)) | np.uint64(buf[i, k])
        count = (np.int64(buf[i, 18]) << 8) | np.int64(buf[i, 19])
        seqs[i] = seq
        counts[i] = count
        if not same:
            status[i] = _WRONG_SESSION
        elif count == 0:
            status[i] = _HEARTBEAT
        elif count == 0xFFFF:
            status[i] = _END
        elif seq == 0:
            status[i] = _MALFORMED
        else:
            pos = 20
            k = 0
            while k < count and pos + 2 <= size:
                pos += 2 + ((np.int64(buf[i, pos]) << 8) | np.int64(buf[i, pos + 1]))
                k += 1
            status[i] = _OK if (k == count and pos == size) else _MALFORMED


@njit(cache=True)
def _block_offset(body, skip):
    """Byte offset just past the first `skip` message blocks of a packet body."""
    pos = 0
    for _ in range(skip):
        pos += 2 + ((np.int64(body[pos]) << 8) | np.int64(body[pos + 1]))
    return pos


# ---- records for subscribers ----

_R_TYPE = ord("R")
_R_LENGTH = int(itch.LENGTH_BY_TYPE[_R_TYPE])
_R_LOCATE = itch.field_offsets("R")["stock_locate"][0]
_R_STOCK = itch.field_offsets("R")["stock"][0]


@njit(cache=True, inline="always")
def _put_le(out, row, at, value, nbytes):
    for k in range(nbytes):
        out[row, at + k] = np.uint8((np.uint64(value) >> np.uint64(8 * k)) & np.uint64(0xFF))


@njit(cache=True, inline="always")
def _put_record(out, r, seq, ts, loc, bpx, apx, bsz, asz, names, stale):
    _put_le(out, r, _SEQ_AT, seq[r], 8)
    _put_le(out, r, _TS_AT, ts[r], 8)
    _put_le(out, r, _BPX_AT, bpx[r], 4)
    _put_le(out, r, _APX_AT, apx[r], 4)
    _put_le(out, r, _BSZ_AT, bsz[r], 8)
    _put_le(out, r, _ASZ_AT, asz[r], 8)
    _put_le(out, r, _LOC_AT, loc[r], 2)
    _put_le(out, r, _FLAGS_AT, FLAG_STALE if stale else 0, 2)
    for k in range(8):
        out[r, _SYMBOL_AT + k] = names[loc[r], k]


@njit(cache=True)
def _fill_records(data, seqs, names, seq, ts, loc, bpx, apx, bsz, asz, stale, out):
    """Write the book's BBO rows as published records (`out`: rows x 56 bytes).

    Walks the chunk's messages in order beside the rows, taking each stock
    directory (R) message's name into `names` as it passes, so every row
    carries its symbol as named when the row was made, as a replay's table does.
    """
    n = seq.shape[0]
    r = 0
    pos = 0
    end = data.shape[0]
    for index in range(seqs.shape[0]):
        if pos + 2 > end:
            break
        length = (np.int64(data[pos]) << 8) | np.int64(data[pos + 1])
        p = pos + 2
        if length == _R_LENGTH and p + length <= end and data[p] == _R_TYPE:
            locate = (np.int64(data[p + _R_LOCATE]) << 8) | np.int64(data[p + _R_LOCATE + 1])
            for k in range(8):
                names[locate, k] = data[p + _R_STOCK + k]
        while r < n and seq[r] <= seqs[index]:
            _put_record(out, r, seq, ts, loc, bpx, apx, bsz, asz, names, stale)
            r += 1
        pos = p + length
    while r < n:
        _put_record(out, r, seq, ts, loc, bpx, apx, bsz, asz, names, stale)
        r += 1


def bbo_records(table: pa.Table, stale: bool) -> np.ndarray:
    """The BBO table as the published record array."""
    n = table.num_rows
    rec = np.zeros(n, BBO_RECORD)
    if n == 0:
        return rec
    for name in ("seq", "timestamp", "bid_price", "ask_price", "bid_size", "ask_size",
                 "stock_locate"):
        rec[name] = table.column(name).to_numpy()
    symbols = pc.utf8_rpad(table.column("symbol"), 8, " ").cast(pa.binary()).cast(pa.binary(8))
    symbols = symbols.combine_chunks()
    rec["symbol"] = np.frombuffer(symbols.buffers()[1], "S8", count=n, offset=symbols.offset * 8)
    if stale:
        rec["flags"] = FLAG_STALE
    return rec


def records_table(records: np.ndarray) -> pa.Table:
    """Published records back as the BBO table (`BBO_SCHEMA`); the flags are not in it."""
    packed = np.ascontiguousarray(records["symbol"]).view("<u8")
    distinct, which = np.unique(packed, return_inverse=True)
    names = pa.array([int(v).to_bytes(8, "little").decode("latin-1").rstrip(" ")
                      for v in distinct.tolist()], pa.string())
    columns = {name: np.ascontiguousarray(records[name]) for name in BBO_SCHEMA.names
               if name != "symbol"}
    columns["symbol"] = names.take(pa.array(which.astype(np.int32)))
    return pa.Table.from_arrays([pa.array(columns[f.name], f.type) for f in BBO_SCHEMA],
                                schema=BBO_SCHEMA)


def _record_bytes(records: np.ndarray) -> np.ndarray:
    """Contiguous records as a (rows, 56) byte array: copying those is one memcpy, while
    copying a structured array with padding goes field by field."""
    return records.view(np.uint8).reshape(len(records), BBO_RECORD.itemsize)


def decode_frame(frame: bytes) -> tuple[dict, np.ndarray]:
    """A published ZeroMQ message as (header fields, BBO record array)."""
    magic, version, kind, batch, count, flags = FRAME_HEADER.unpack_from(frame)
    if magic != MAGIC or version != VERSION:
        raise ValueError(f"not a tickaccel BBO frame: {bytes(frame[:6])!r}")
    records = np.frombuffer(frame, BBO_RECORD, count=count, offset=FRAME_HEADER.size)
    return {"kind": kind, "batch": batch, "count": count, "flags": flags}, records


class BboPublisher:
    """ZeroMQ PUB of BBO batches; never blocks: a slow subscriber loses batches past its HWM.

    Each frame carries a batch number, so a subscriber counts what it lost.
    Frames are assembled in one reused buffer (header, then records) and
    copied once into ZeroMQ.
    """

    def __init__(self, endpoint: str, hwm: int = 1000) -> None:
        import zmq

        self._zmq = zmq
        self.socket = zmq.Context.instance().socket(zmq.PUB)
        self.socket.setsockopt(zmq.SNDHWM, hwm)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind(endpoint)
        self.endpoint = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.batch = 0
        self.dropped = 0
        self._grow(1024)

    def _grow(self, rows: int) -> None:
        self._frame = np.zeros(FRAME_HEADER.size + rows * BBO_RECORD.itemsize, np.uint8)
        self._frame_records = self._frame[FRAME_HEADER.size:].reshape(rows, BBO_RECORD.itemsize)

    def send(self, records: np.ndarray, stale: bool, kind: int = KIND_BBO) -> None:
        n = len(records)
        if n > len(self._frame_records):
            self._grow(2 * n)
        self.batch += 1
        FRAME_HEADER.pack_into(self._frame, 0, MAGIC, VERSION, kind, self.batch, n,
                               FLAG_STALE if stale else 0)
        self._frame_records[:n] = _record_bytes(records)
        size = FRAME_HEADER.size + n * BBO_RECORD.itemsize
        try:
            self.socket.send(self._frame.data[:size], self._zmq.NOBLOCK, copy=True)
        except self._zmq.Again:
            self.dropped += 1

    def close(self) -> None:
        self.socket.close(linger=0)


class BboSubscriber:
    """Receives published BBO frames; counts batches lost to the publisher's HWM."""

    def __init__(self, endpoint: str, hwm: int = 1000) -> None:
        import zmq

        self._zmq = zmq
        self.socket = zmq.Context.instance().socket(zmq.SUB)
        self.socket.setsockopt(zmq.RCVHWM, hwm)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.SUBSCRIBE, MAGIC)
        self.socket.connect(endpoint)
        self.last_batch = 0
        self.lost_batches = 0
        self.ended = False

    def receive(self, timeout_ms: int) -> np.ndarray | None:
        """The next batch's records, or None when nothing came within `timeout_ms`."""
        if not self.socket.poll(timeout_ms):
            return None
        header, records = decode_frame(self.socket.recv(copy=True))
        if self.last_batch and header["batch"] > self.last_batch + 1:
            self.lost_batches += header["batch"] - self.last_batch - 1
        self.last_batch = header["batch"]
        self.ended = header["kind"] == KIND_END
        return records

    def close(self) -> None:
        self.socket.close(linger=0)


# ---- Parquet segments ----

def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _spool(fd: int, rows: int, writable: bool) -> tuple[mmap.mmap, np.ndarray]:
    """The two spools of `rows` records in the shared memory file `fd`, as a (2, rows) array."""
    memory = mmap.mmap(fd, 2 * rows * BBO_RECORD.itemsize,
                       prot=mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0))
    return memory, np.frombuffer(memory, BBO_RECORD).reshape(2, rows)


def _write_segments(fd: int, rows: int) -> None:
    """The segment writer process: turn each spool it is handed into a Parquet file.

    Reads jobs ``spool count path`` from stdin, one a line, and answers each
    with ``done spool`` when the file is complete; at the end of its input it
    answers with ``cpu SECONDS``. Runs at the lowest CPU priority, so on a busy
    machine it writes in the receiver's idle time.
    """
    os.nice(19)
    memory, spools = _spool(fd, rows, writable=False)
    out = sys.stdout.buffer
    try:
        for line in sys.stdin.buffer:
            index, count, path = line.decode().rstrip("\n").split(" ", 2)
            part = path + ".part"  # readers of the folder never see half a segment
            pq.write_table(records_table(spools[int(index)][:int(count)]), part)
            os.replace(part, path)
            out.write(f"done {index}\n".encode())
            out.flush()
        out.write(f"cpu {_cpu_seconds()}\n".encode())
        out.flush()
    except BrokenPipeError:  # the receiver is gone (killed): nothing left to report
        pass
    finally:
        del spools  # the view must go before the mapping closes
        memory.close()


_WRITER_COMMAND = ("import sys; from tickaccel.live.receiver import _write_segments; "
                   "_write_segments(int(sys.argv[1]), int(sys.argv[2]))")


class SegmentWriter:
    """Numbered Parquet segments of the published records, written by a child process.

    The receiver copies each batch's records into one of two spools in shared
    memory; a full spool (or one open `segment_seconds`) goes to the writer
    process, which builds the BBO table and writes it, while the receiver
    fills the other. Writing never holds the receiver's GIL. When both spools
    wait for the writer, the receiver waits: the segments are the record of
    the session and are never dropped. The memory is an anonymous memfd
    handed to the child, so a killed receiver leaves nothing behind.
    """

    def __init__(self, outdir: Path, segment_rows: int, segment_seconds: float) -> None:
        self.outdir = outdir
        self.segment_rows = segment_rows
        self.segment_seconds = segment_seconds
        self.files: list[str] = []
        self.rows = 0
        self.cpu_seconds = 0.0
        fd = os.memfd_create("tickaccel-segments")
        try:
            os.ftruncate(fd, 2 * segment_rows * BBO_RECORD.itemsize)
            self._memory, spools = _spool(fd, segment_rows, writable=True)
            self._spools = spools.view(np.uint8).reshape(2, segment_rows, BBO_RECORD.itemsize)
            self._process = subprocess.Popen(
                [sys.executable, "-c", _WRITER_COMMAND, str(fd), str(segment_rows)],
                pass_fds=(fd,), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        finally:
            os.close(fd)  # the mappings keep the memory
        self._busy = [False, False]
        self._current = 0
        self._filled = 0
        self._started = time.monotonic()

    def add(self, records: np.ndarray) -> None:
        done = 0
        while done < len(records):
            if self._filled == self.segment_rows:
                self.cut()
            k = min(len(records) - done, self.segment_rows - self._filled)
            self._spools[self._current, self._filled:self._filled + k] = \
                _record_bytes(records[done:done + k])
            self._filled += k
            done += k

    def cut_if_due(self, now: float) -> None:
        """Cut the segment when it has been open `segment_seconds` (`now`: time.monotonic)."""
        if now - self._started >= self.segment_seconds:
            self.cut()

    def cut(self) -> None:
        """Hand the filled spool to the writer as the next segment; wait for the other one."""
        self._started = time.monotonic()
        if not self._filled:
            return
        path = self.outdir / f"bbo-{len(self.files):06d}.parquet"
        self.files.append(path.name)
        self.rows += self._filled
        self._process.stdin.write(f"{self._current} {self._filled} {path}\n".encode())
        self._process.stdin.flush()
        self._busy[self._current] = True
        self._current ^= 1
        self._filled = 0
        while self._busy[self._current]:  # answers come in order: the older spool's first
            self._answer()

    def _answer(self) -> str:
        """Read one answer of the writer; a finished spool is free again."""
        line = self._process.stdout.readline().decode()
        if not line:
            raise RuntimeError(f"segment writer died (exit code {self._process.wait()})")
        kind, value = line.split()
        if kind == "done":
            self._busy[int(value)] = False
        return line

    @property
    def depth(self) -> int:
        """Segments handed to the writer and not known to be written yet."""
        return sum(self._busy)

    def close(self) -> None:
        """Write everything pending, wait for the writer, release the spools."""
        try:
            self.cut()
            self._process.stdin.close()
            while not (answer := self._answer()).startswith("cpu"):
                pass
            self.cpu_seconds = float(answer.split()[1])
            # Every segment is written; what is left is the exit of a nice-19 process, which
            # a loaded machine can hold up for many seconds: wait long, then end it.
            try:
                self._process.wait(60)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        finally:
            del self._spools  # the view must go before the mapping closes
            self._memory.close()


def read_segments(outdir: str | Path) -> pa.Table:
    """All BBO segments of a live run, in order, as one table."""
    files = sorted(Path(outdir).glob("bbo-*.parquet"))
    if not files:
        return BBO_SCHEMA.empty_table()
    return pa.concat_tables([pq.read_table(f) for f in files])


# ---- the receiver ----

@dataclass(order=True)
class _Held:
    """A datagram's messages waiting for the gap before them to close."""

    seq: int
    count: int = field(compare=False)
    body: bytes = field(compare=False)
    arrived_ns: int = field(compare=False)
    read_ns: int = field(compare=False)


@dataclass
class LiveStats:
    """Counts of one live session, reported in summary.json and to Prometheus."""

    packets: int = 0
    heartbeats: int = 0
    messages: int = 0
    malformed_packets: int = 0
    wrong_session_packets: int = 0
    duplicate_messages: int = 0
    out_of_order_packets: int = 0
    gaps_detected: int = 0
    gaps_recovered: int = 0
    gaps_unrecovered: int = 0
    messages_lost: int = 0
    rerequests: int = 0
    bbo_rows: int = 0
    last_packet_time: float = 0.0
    end_of_session: bool = False
    rcvbuf_bytes: int = 0  # what the kernel granted the feed socket
    cpu_seconds: float = 0.0  # the receive loop's thread
    busy_seconds: float = 0.0  # from the first datagram to the last batch applied


def _warm_up_book_growth() -> None:
    """Make a tiny book grow its order table and compact its level pool once.

    Numba loads those paths on first use, which takes tens to hundreds of
    milliseconds; without this, the first growth of a live session stalls the loop.
    """
    adds = [itch.encode_message(itch.make("A", stock_locate=locate, order_ref=ref, side="B",
                                          shares=1, price=ref))
            for ref, locate in enumerate((1, 2, 3, 4, 5, 1, 2, 3), 1)]
    data = np.frombuffer(frame_messages(adds), np.uint8)
    tiny = FastBook(order_capacity=2, level_pool=8)
    tiny.process_columns(FeedChunk(data, 1, np.arange(1, len(adds) + 1, dtype=np.uint64), -1))


class BookSink:
    """The in-process book stage: applies in-order chunks to one fast book.

    `records` hands back the published records of a chunk, built in Numba
    from the book's raw columns into a reused buffer. The book keeps its
    small starting order table: presized to 2**21 slots (48 MiB), back-to-back
    runs at 200 k msg/s on the bench VM had p99 174-224 ms instead of 4-21 ms
    (likely the table's fresh pages faulted in mid-session, a new order landing
    on an untouched page), far worse than the few rehashes of growing it.
    """

    def __init__(self, depth: int = 0, symbols: Iterable[str] | None = None) -> None:
        self.book = FastBook(depth=depth, trades=False, symbols=symbols)
        self._names = np.full((N_LOCATES, 8), ord(" "), np.uint8)  # symbol bytes per locate
        self._grow(1024)
        _warm_up_book_growth()

    def _grow(self, rows: int) -> None:
        self._records = np.zeros(rows, BBO_RECORD)

    def records(self, chunk: FeedChunk, stale: bool) -> np.ndarray:
        """The BBO records of `chunk` (its `seqs` set, as live numbers every message): a view
        of a reused buffer, valid until the next call."""
        bbo = self.book.process_columns(chunk)["bbo"]
        n = len(bbo["seq"])
        if n > len(self._records):
            self._grow(2 * n)
        _fill_records(chunk.data, chunk.seqs, self._names, bbo["seq"], bbo["timestamp"],
                      bbo["stock_locate"], bbo["bid_price"], bbo["ask_price"], bbo["bid_size"],
                      bbo["ask_size"], stale, _record_bytes(self._records))
        return self._records[:n]

    @property
    def errors(self) -> ErrorLog:
        return self.book.errors

    @property
    def message_counts(self) -> dict[str, int]:
        return self.book.message_counts

    def close(self) -> None:
        """Nothing to release for an in-process book."""


class TableSink:
    """A book stage whose `process(chunk)` returns BBO tables (`cluster.ShardedSink`), as records."""

    def __init__(self, stage) -> None:
        self.stage = stage

    def records(self, chunk: FeedChunk, stale: bool) -> np.ndarray:
        return bbo_records(self.stage.process(chunk), stale)

    @property
    def errors(self) -> ErrorLog:
        return self.stage.errors

    @property
    def message_counts(self) -> dict[str, int]:
        return self.stage.message_counts

    def close(self) -> None:
        self.stage.close()


# Linux: the kernel's receive time of each datagram, as ancillary data (struct timespec).
_SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("=qq")
_ANCILLARY_BYTES = socket.CMSG_SPACE(_TIMESPEC.size)


def _udp_socket(addr: tuple[str, int], rcvbuf: int, interface: str = "0.0.0.0") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    _timestamped(sock, rcvbuf)
    host = socket.gethostbyname(addr[0])
    sock.bind((host, addr[1]))
    if ipaddress.ip_address(host).is_multicast:
        mreq = socket.inet_aton(host) + socket.inet_aton(interface)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    return sock


def _timestamped(sock: socket.socket, rcvbuf: int) -> None:
    """A big receive buffer, kernel receive timestamps, non-blocking."""
    try:  # root (CAP_NET_ADMIN) may exceed net.core.rmem_max; others get at most that
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUFFORCE, rcvbuf)
    except (OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    sock.setblocking(False)


class _Arrivals:
    """Per datagram in the chunk being built: kernel receive time, stage times, message count.

    Row 0 of `times` is the kernel's receive time, rows 1.. the time each
    `STAGES` stage was reached; all CLOCK_REALTIME nanoseconds, the kernel's clock.
    """

    def __init__(self, capacity: int) -> None:
        self.times = np.zeros((1 + len(STAGES), capacity), np.int64)
        self.counts = np.zeros(capacity, np.int64)
        self.n = 0

    def add(self, arrived_ns: int, read_ns: int, count: int) -> None:
        if self.n == self.counts.shape[0]:
            times, counts = self.times, self.counts
            self.times = np.zeros((times.shape[0], 2 * times.shape[1]), np.int64)
            self.counts = np.zeros(2 * len(counts), np.int64)
            self.times[:, :self.n] = times
            self.counts[:self.n] = counts
        self.times[0, self.n] = arrived_ns
        self.times[1, self.n] = read_ns
        self.counts[self.n] = count
        self.n += 1


class LiveReceiver:
    """Receives one MoldUDP64 session and keeps its book in sequence; see the module doc.

    `sink` is the book stage: a `BookSink` (default) or anything whose
    ``process(chunk)`` returns BBO tables, such as `cluster.ShardedSink`.
    """

    def __init__(self, listen: tuple[str, int], outdir: str | Path, *,
                 rerequest: tuple[str, int] | None = None, session: str | None = None,
                 pub: str | None = None, pub_hwm: int = 1000,
                 sink=None, metrics: LiveMetrics | None = None,
                 first_seq: int = 1, recovery_timeout: float = 2.0,
                 rerequest_interval: float = 0.02, max_request: int = 8192,
                 max_held_messages: int = 4_000_000, max_batch: int = 256,
                 segment_rows: int = 1_000_000, segment_seconds: float = 10.0,
                 rcvbuf: int = 64 << 20, interface: str = "0.0.0.0",
                 spin_seconds: float = 50e-6) -> None:
        self.outdir = Path(outdir)
        self.outdir.mkdir(parents=True, exist_ok=True)
        self.sock = _udp_socket(listen, rcvbuf, interface)
        self.request_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        _timestamped(self.request_sock, rcvbuf)
        self.request_sock.bind(("0.0.0.0" if rerequest and rerequest[0] not in
                                ("127.0.0.1", "localhost") else "127.0.0.1", 0))
        self.rerequest = rerequest
        self.session = session_bytes(session) if session is not None else None
        if sink is None:
            sink = BookSink()
        self.sink = sink if hasattr(sink, "records") else TableSink(sink)
        self.metrics = metrics or LiveMetrics()
        self.publisher = BboPublisher(pub, pub_hwm) if pub else None
        self.segments = SegmentWriter(self.outdir, segment_rows, segment_seconds)
        self.stats = LiveStats(rcvbuf_bytes=self.sock.getsockopt(socket.SOL_SOCKET,
                                                                 socket.SO_RCVBUF))
        if self.stats.rcvbuf_bytes < rcvbuf:  # Linux reports twice the size it set
            log.warning("socket receive buffer capped by net.core.rmem_max",
                        extra={"requested": rcvbuf, "granted": self.stats.rcvbuf_bytes})
        self.expected = first_seq
        self.recovery_timeout = recovery_timeout
        self.rerequest_interval = rerequest_interval
        self.max_request = min(max_request, MAX_MESSAGES_PER_PACKET)
        self.max_held_messages = max_held_messages
        self.max_batch = max_batch
        self.spin_seconds = spin_seconds
        self.stale = False
        self.unrecovered: list[tuple[int, int]] = []  # (first sequence, count) given up
        self._end_seq: int | None = None
        self._known_end = first_seq  # one past the highest sequence the sender has shown
        self._held: list[_Held] = []
        self._held_messages = 0
        self._gap_since: float | None = None
        self._gap_expected = first_seq
        self._open_gaps: deque[tuple[int, int]] = deque()  # (first, end) of gaps not yet closed
        self._last_request = (0.0, 0, 0)  # when, first sequence asked for, one past the last
        self._stop = threading.Event()
        self._first_packet_ns = 0
        self._last_apply_ns = 0
        # Preallocated receive slots and per-batch scratch arrays.
        self._slots = np.zeros((max_batch, SLOT_BYTES), np.uint8)
        self._views = [[memoryview(self._slots[i])] for i in range(max_batch)]
        self._lengths = np.zeros(max_batch, np.int64)
        self._arrived_ns = [0] * max_batch
        self._read_ns = [0] * max_batch
        self._status = np.zeros(max_batch, np.int8)
        self._seqs = np.zeros(max_batch, np.uint64)
        self._counts = np.zeros(max_batch, np.int64)
        self._session_arr = np.zeros(10, np.uint8)
        self._acc = np.zeros(max_batch * SLOT_BYTES * 2, np.uint8)
        self._acc_len = 0
        self._acc_first = first_seq
        self._ramp = np.arange(max_batch * 128, dtype=np.uint64)  # 0, 1, 2, ...
        self._acc_seqs = np.zeros(len(self._ramp), np.uint64)  # the chunk's sequence numbers
        self._arrivals = _Arrivals(2 * max_batch)
        self._poller = select.poll()
        for s in (self.sock, self.request_sock):
            self._poller.register(s, select.POLLIN)
        self.metrics.attach(self._metrics_snapshot)
        self._warm_up()

    def _warm_up(self) -> None:
        """Compile the Numba paths now, so the first packets do not wait for the compiler."""
        _scan_datagrams(self._slots, self._lengths, 0, self._session_arr, self._status,
                        self._seqs, self._counts)
        _block_offset(self._slots[0], 0)
        self.sink.records(FeedChunk(np.zeros(0, np.uint8), self.expected,
                                    np.zeros(0, np.uint64), -1), False)
        a = self._arrivals
        self.metrics.latency.record_batch(a.times[1:], a.times[0], a.counts, 0)

    @property
    def address(self) -> tuple[str, int]:
        return self.sock.getsockname()

    def stop(self) -> None:
        """Ask `run` to finish after the current batch (safe from signal handlers and threads)."""
        self._stop.set()

    # ---- receiving ----

    def _receive(self) -> int:
        """Drain up to `max_batch` datagrams, retransmissions first; returns how many."""
        n = 0
        unpack = _TIMESPEC.unpack
        for sock in (self.request_sock, self.sock):
            recvmsg_into = sock.recvmsg_into
            while n < self.max_batch:
                try:
                    size, ancillary, flags, _ = recvmsg_into(self._views[n], _ANCILLARY_BYTES)
                except BlockingIOError:
                    break
                read_ns = time.time_ns()
                self._lengths[n] = SLOT_BYTES + 1 if flags & socket.MSG_TRUNC else size
                if ancillary:
                    seconds, nanoseconds = unpack(ancillary[0][2])
                    self._arrived_ns[n] = seconds * 1_000_000_000 + nanoseconds
                else:
                    self._arrived_ns[n] = read_ns
                self._read_ns[n] = read_ns
                n += 1
        return n

    def _adopt_session(self, n: int) -> None:
        """Take the session of the first datagram that looks like MoldUDP64."""
        for i in range(n):
            if self._lengths[i] >= HEADER_LENGTH:
                self.session = bytes(self._slots[i, :10])
                log.info("session", extra={"session": self.session.decode("latin-1")})
                return

    def _handle_batch(self, n: int) -> None:
        if self.session is None:
            self._adopt_session(n)
            if self.session is None:
                self.stats.malformed_packets += n
                return
        self._session_arr[:] = np.frombuffer(self.session, np.uint8)
        _scan_datagrams(self._slots, self._lengths, n, self._session_arr, self._status,
                        self._seqs, self._counts)
        status, seqs, counts = self._status.tolist(), self._seqs.tolist(), self._counts.tolist()
        for i in range(n):
            s = status[i]
            if s == _OK:
                self._data(i, seqs[i], counts[i])
            elif s == _HEARTBEAT:
                self.stats.heartbeats += 1
                self._sent_until(seqs[i])
            elif s == _END:
                self.stats.heartbeats += 1
                self._end_seq = seqs[i]
                self._sent_until(seqs[i])
            elif s == _MALFORMED:
                self.stats.malformed_packets += 1
            else:
                self.stats.wrong_session_packets += 1
        self.stats.packets += n
        self.stats.last_packet_time = time.time()
        if not self._first_packet_ns:
            self._first_packet_ns = self._arrived_ns[0]

    def _sent_until(self, end: int) -> None:
        """The sender has shown sequences up to `end`; a jump past what we had opens a gap."""
        if end > self._known_end:
            self._open_gaps.append((self._known_end, end))
            self.stats.gaps_detected += 1
            self._known_end = end

    def _data(self, i: int, seq: int, count: int) -> None:
        end = seq + count
        if seq > self._known_end:
            self._sent_until(seq)
        self._known_end = max(self._known_end, end)
        if end <= self.expected:
            self.stats.duplicate_messages += count
            return
        size = int(self._lengths[i])
        if seq > self.expected:
            self._hold(_Held(seq, count, self._slots[i, HEADER_LENGTH:size].tobytes(),
                             self._arrived_ns[i], self._read_ns[i]))
            return
        start = HEADER_LENGTH
        if seq < self.expected:  # partly seen already: keep only the new messages
            skip = self.expected - seq
            self.stats.duplicate_messages += skip
            start += _block_offset(self._slots[i, HEADER_LENGTH:size], skip)
        self._append(self._slots[i, start:size], self.expected, end - self.expected,
                     self._arrived_ns[i], self._read_ns[i])
        self._release_held()

    def _hold(self, held: _Held) -> None:
        self.stats.out_of_order_packets += 1
        heapq.heappush(self._held, held)
        self._held_messages += held.count

    def _release_held(self) -> None:
        """Apply held datagrams that now continue the sequence."""
        while self._held and self._held[0].seq <= self.expected:
            held = heapq.heappop(self._held)
            self._held_messages -= held.count
            end = held.seq + held.count
            if end <= self.expected:
                self.stats.duplicate_messages += held.count
                continue
            body = np.frombuffer(held.body, np.uint8)
            skip = self.expected - held.seq
            if skip:
                self.stats.duplicate_messages += skip
                body = body[_block_offset(body, skip):]
            self._append(body, self.expected, end - self.expected, held.arrived_ns,
                         held.read_ns)

    def _append(self, blocks: np.ndarray, first: int, count: int, arrived_ns: int,
                read_ns: int) -> None:
        if self._acc_len == 0:
            self._acc_first = first
        need = self._acc_len + len(blocks)
        if need > len(self._acc):
            grown = np.zeros(max(need, 2 * len(self._acc)), np.uint8)
            grown[:self._acc_len] = self._acc[:self._acc_len]
            self._acc = grown
        self._acc[self._acc_len:need] = blocks
        self._acc_len = need
        self._arrivals.add(arrived_ns, read_ns, count)
        self.expected = first + count

    # ---- applying ----

    def _apply(self) -> None:
        """Run the accumulated in-order messages through the book and out to subscribers."""
        if not self._acc_len:
            return
        count = self.expected - self._acc_first
        if count > len(self._ramp):
            self._ramp = np.arange(2 * count, dtype=np.uint64)
            self._acc_seqs = np.zeros(2 * count, np.uint64)
        seqs = np.add(self._ramp[:count], np.uint64(self._acc_first), out=self._acc_seqs[:count])
        chunk = FeedChunk(data=self._acc[:self._acc_len], first_seq=self._acc_first, seqs=seqs,
                          base_offset=-1)
        records = self.sink.records(chunk, self.stale)
        book_ns = time.time_ns()
        if self.publisher is not None and len(records):
            self.publisher.send(records, self.stale)
        publish_ns = time.time_ns()
        arrivals = self._arrivals
        arrivals.times[2, :arrivals.n] = book_ns
        arrivals.times[3, :arrivals.n] = publish_ns
        self.metrics.latency.record_batch(arrivals.times[1:], arrivals.times[0], arrivals.counts,
                                          arrivals.n)
        self.segments.add(records)
        self.stats.messages += count
        self.stats.bbo_rows += len(records)
        self._acc_len = 0
        arrivals.n = 0
        self._last_apply_ns = publish_ns

    # ---- gaps ----

    def _missing(self) -> tuple[int, int] | None:
        """The first missing range (first, count), or None when nothing is known missing."""
        until = self._held[0].seq if self._held else self._known_end
        return (self.expected, until - self.expected) if until > self.expected else None

    def _check_gap(self, now: float) -> None:
        """Count closed gaps; re-request the first missing range, or give it up after the limit."""
        while self._open_gaps and self._open_gaps[0][1] <= self.expected:
            self._open_gaps.popleft()
            self.stats.gaps_recovered += 1
        missing = self._missing()
        if missing is None:
            self._gap_since = None
            return
        if self._gap_since is None or self.expected != self._gap_expected:
            # The time limit counts from the last progress, so a slow but steady recovery goes on.
            self._gap_since, self._gap_expected = now, self.expected
        if now - self._gap_since > self.recovery_timeout or \
                self._held_messages > self.max_held_messages:
            self._give_up(missing, now)
            return
        asked_at, asked_first, asked_end = self._last_request
        # Ask at once for a range not asked for yet; ask again when an answer seems lost.
        if self.rerequest is not None and (now - asked_at >= self.rerequest_interval
                                           or not asked_first <= missing[0] < asked_end):
            first, count = missing[0], min(missing[1], self.max_request)
            self.request_sock.sendto(build_request(self.session, first, count), self.rerequest)
            self._last_request = (now, first, first + count)
            self.stats.rerequests += 1

    def _give_up(self, missing: tuple[int, int], now: float) -> None:
        first, count = missing
        self._apply()
        self.stats.messages_lost += count
        self.unrecovered.append((first, count))
        while self._open_gaps and self._open_gaps[0][0] < first + count:
            self._open_gaps.popleft()
            self.stats.gaps_unrecovered += 1
        if not self.stale:
            self.stale = True
            log.error("gap not recovered: book marked stale",
                      extra={"first_seq": first, "count": count})
        self.expected = first + count
        self._gap_since = None
        self._release_held()

    # ---- the loop ----

    def finished(self) -> bool:
        """End of session seen and every message up to it applied (or given up)."""
        return self._end_seq is not None and self.expected >= self._end_seq and not self._held

    def run(self, duration: float | None = None) -> dict:
        """Receive until end of session, `duration` seconds, or `stop`; then flush and report.

        The collector is off while the loop runs (everything older is frozen
        out of its way); young objects are collected only when the loop is idle.
        """
        collecting = gc.isenabled()
        gc.collect()
        gc.freeze()
        gc.disable()
        deadline = None if duration is None else time.monotonic() + duration
        host, port = self.address
        log.info("listening", extra={"host": host, "port": port})
        cpu_start = time.thread_time()
        try:
            idle_since = None
            while not self._stop.is_set():
                n = self._receive()
                if n:
                    self._handle_batch(n)
                    self._apply()
                now = time.monotonic()
                if self.session is not None:
                    self._check_gap(now)
                    self._apply()
                if self.finished() or (deadline is not None and now >= deadline):
                    break
                if n:
                    idle_since = None
                    continue
                # Idle: spin a little (the next datagram of a burst is usually microseconds
                # away and a wake-up from poll costs tens), then do the housekeeping and sleep.
                if idle_since is None:
                    idle_since = now
                if now - idle_since < self.spin_seconds:
                    continue
                self.segments.cut_if_due(now)
                if gc.get_count()[0] >= _GC_YOUNG_LIMIT:
                    gc.collect(1)
                self._poller.poll(10)
        finally:
            self.stats.cpu_seconds = time.thread_time() - cpu_start
            gc.unfreeze()
            if collecting:
                gc.enable()
            self.stats.end_of_session = self.finished()
            summary = self.close()
        return summary

    def _metrics_snapshot(self) -> dict:
        """The statistics Prometheus reads at each scrape (see `LiveMetrics.attach`)."""
        st = self.stats
        counts = self.sink.message_counts
        good = st.packets - st.malformed_packets - st.wrong_session_packets - st.heartbeats
        return {
            "messages": ("counter", "ITCH messages applied to the book, by type", "type",
                         counts),
            "packets": ("counter", "MoldUDP64 datagrams received, by outcome", "outcome",
                        {"data": good, "heartbeat": st.heartbeats,
                         "malformed": st.malformed_packets,
                         "wrong_session": st.wrong_session_packets}),
            "duplicate_messages": ("counter", "Messages received more than once", None,
                                   st.duplicate_messages),
            "gaps_detected": ("counter", "Sequence gaps detected", None, st.gaps_detected),
            "gaps_recovered": ("counter", "Gaps closed by retransmission or late packets", None,
                               st.gaps_recovered),
            "gaps_unrecovered": ("counter", "Gaps given up after the recovery time limit", None,
                                 st.gaps_unrecovered),
            "messages_lost": ("counter", "Messages inside unrecovered gaps", None,
                              st.messages_lost),
            "rerequests": ("counter", "Retransmission requests sent", None, st.rerequests),
            "bbo_rows": ("counter", "BBO updates produced", None, st.bbo_rows),
            "publish_dropped": ("counter", "BBO batches the publisher could not queue", None,
                                self.publisher.dropped if self.publisher else 0),
            "stale_symbols": ("gauge", "Symbols whose book may be wrong after an unrecovered gap",
                              None, counts.get("R", 0) if self.stale else 0),
            "queue_depth": ("gauge", "Items waiting in a bounded queue", "queue",
                            {"reorder_messages": self._held_messages,
                             "parquet_segments": self.segments.depth}),
            "next_sequence": ("gauge", "Next MoldUDP64 sequence expected", None, self.expected),
            "last_packet_timestamp_seconds": ("gauge", "Unix time of the last datagram received",
                                              None, st.last_packet_time),
        }

    def close(self) -> dict:
        """Apply what is pending, flush the segments, publish the end, write summary.json."""
        self._apply()
        if self.publisher is not None:
            self.publisher.send(np.zeros(0, BBO_RECORD), self.stale, KIND_END)
            self.publisher.close()
        self.segments.close()
        summary = self.summary()
        self.sink.close()
        self.sock.close()
        self.request_sock.close()
        (self.outdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary

    def summary(self) -> dict:
        if self._first_packet_ns and self._last_apply_ns:
            self.stats.busy_seconds = (self._last_apply_ns - self._first_packet_ns) / 1e9
        return {
            **vars(self.stats),
            "next_seq": self.expected,
            "stale": self.stale,
            "unrecovered": [list(r) for r in self.unrecovered[:100]],
            "publish_dropped": self.publisher.dropped if self.publisher else 0,
            "published_batches": self.publisher.batch if self.publisher else 0,
            "segments": list(self.segments.files),
            "segment_writer_cpu_seconds": self.segments.cpu_seconds,
            "book_errors": self.sink.errors.to_dict(),
            "message_counts": self.sink.message_counts,
            "latency": self.metrics.latency.summary(),
        }


def run_live(receiver: LiveReceiver, duration: float | None = None,
             on_signal: Callable[[int], None] | None = None) -> dict:
    """Run a receiver with SIGINT/SIGTERM stopping it gracefully (flushing everything)."""
    def handler(signum: int, _frame) -> None:
        receiver.stop()
        if on_signal is not None:
            on_signal(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return receiver.run(duration)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def format_latency(summary: dict) -> str:
    """One line per stage: p50/p99/p99.9/max in microseconds."""
    lines = []
    for stage, row in summary["latency"].items():
        lines.append(f"arrival->{stage}: n={row['count']} p50={row['p50_us']:.1f}us "
                     f"p99={row['p99_us']:.1f}us p99.9={row['p99.9_us']:.1f}us "
                     f"max={row['max_us']:.1f}us")
    return "\n".join(lines)

