"""The compiled receive loop: recvmmsg -> session and sequence checks -> book -> BBO ring.

One Numba nopython function (`rx_run`) per receiver thread calls the C library
directly, by symbol (`_libc_call`, so the compiled loop is cached on disk like every
other kernel): `recvmmsg` takes a batch of
datagrams with their kernel receive timestamps (``SO_TIMESTAMPNS`` or
``SO_TIMESTAMPING`` control messages), `clock_gettime` stamps each stage,
`poll` sleeps when the sockets are quiet (unless busy-polling) and `write`
wakes the ZeroMQ publisher thread through an eventfd. Per datagram it checks
the session and the sequence, applies the messages to the fast book straight
from the receive buffer (`tickaccel.book.fast.run_records`), writes the BBO
records into the ring (`tickaccel.live.shm_ring`) and the latencies into the
histograms. It runs without the GIL, and no Python bytecode runs per datagram.

It returns to its supervisor (`tickaccel.live.receiver.LiveReceiver`) after a
bounded number of batches and whenever a datagram needs it: no session yet,
a gap opening, a datagram ahead of the sequence or behind a held one, an
end-of-session packet, a heartbeat past what was seen, the book needing to
grow, the ring full up to the Parquet spool's cursor, or a quiet socket.
Everything it keeps between calls is in arrays (`state`, indexed by the
``S_*`` constants), so the supervisor reads and sets it between calls.

The datagram validation kernels (`scan_datagrams`, `first_plausible`,
`block_offset`) live here too, shared with the portable loop.
"""
from __future__ import annotations

import ctypes
import logging
import platform
import sys

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from tickaccel.book.fast import DONE, OUTPUT_FULL, RENAME, run_records
from tickaccel.feed.moldudp64 import HEADER_LENGTH
from tickaccel.live.metrics import record_latency
from tickaccel.live.shm_ring import ring_put
from tickaccel.live.sockets import SLOT_BYTES
from tickaccel.live.wire import fill_wire_records
from tickaccel.jit import materialize
from tickaccel.schema.itch import LENGTH_BY_TYPE

materialize()  # this module's Numba code calls the book's kernel: make it real first

log = logging.getLogger("tickaccel.live.rx_loop")

# ---- datagram validation ----

OK, HEARTBEAT, END, MALFORMED, WRONG_SESSION = 0, 1, 2, 3, 4
_MAX_SEQ = np.uint64(2**64 - 1)  # MoldUDP64 sequence numbers are unsigned 64-bit
_ITCH_LENGTH = LENGTH_BY_TYPE  # a compile-time constant of the kernels


@njit(cache=True, inline="always")
def _classify(buf, i, size, session):
    """(status, sequence, count) of datagram `i` of `buf`; a data packet must be exact.

    A data packet is well formed when its `count` message blocks end exactly
    at the end of the datagram and its last message's sequence still fits in
    64 bits; anything else is malformed and skipped whole.
    """
    if size < HEADER_LENGTH or size > buf.shape[1]:
        return MALFORMED, np.uint64(0), np.int64(0)
    same = True
    for k in range(10):
        if buf[i, k] != session[k]:
            same = False
    seq = np.uint64(0)
    for k in range(10, 18):
        seq = (seq << np.uint64(8)) | np.uint64(buf[i, k])
    count = (np.int64(buf[i, 18]) << 8) | np.int64(buf[i, 19])
    if not same:
        return WRONG_SESSION, seq, count
    if count == 0:
        return HEARTBEAT, seq, count
    if count == 0xFFFF:
        return END, seq, count
    if seq == 0 or seq > _MAX_SEQ - np.uint64(count):
        return MALFORMED, seq, count
    pos = HEADER_LENGTH
    k = 0
    while k < count and pos + 2 <= size:
        pos += 2 + ((np.int64(buf[i, pos]) << 8) | np.int64(buf[i, pos + 1]))
        k += 1
    return (OK if (k == count and pos == size) else MALFORMED), seq, count


@njit(cache=True)
def scan_datagrams(buf, lengths, n, session, status, seqs, counts):
    """Classify each of the first `n` datagrams (`_classify`) into `status`, `seqs`, `counts`."""
    for i in range(n):
        status[i], seqs[i], counts[i] = _classify(buf, i, lengths[i], session)


@njit(cache=True)
def first_plausible(buf, lengths, n):
    """Index of the first datagram that is a whole MoldUDP64 data packet of ITCH messages, or -1.

    Every block's length must be the ITCH length of its message type, and the
    blocks must end exactly at the datagram's end: stray bytes almost never do.
    """
    for i in range(n):
        size = lengths[i]
        if size <= HEADER_LENGTH or size > buf.shape[1]:
            continue
        seq = np.uint64(0)
        for k in range(10, 18):
            seq = (seq << np.uint64(8)) | np.uint64(buf[i, k])
        count = (np.int64(buf[i, 18]) << 8) | np.int64(buf[i, 19])
        if seq == 0 or count == 0 or count == 0xFFFF or seq > _MAX_SEQ - np.uint64(count):
            continue
        pos = HEADER_LENGTH
        k = 0
        while k < count and pos + 3 <= size:
            length = (np.int64(buf[i, pos]) << 8) | np.int64(buf[i, pos + 1])
            if length == 0 or _ITCH_LENGTH[buf[i, pos + 2]] != length:
                break
            pos += 2 + length
            k += 1
        if k == count and pos == size:
            return i
    return -1


@njit(cache=True)
def block_offset(body, skip):
    """Byte offset just past the first `skip` message blocks of a packet body."""
    pos = 0
    for _ in range(skip):
        pos += 2 + ((np.int64(body[pos]) << 8) | np.int64(body[pos + 1]))
    return pos


# ---- the C library ----

_MSG_DONTWAIT, _MSG_TRUNC = 0x40, 0x20
_SOL_SOCKET, _SCM_TIMESTAMPNS, _SCM_TIMESTAMPING = 1, 35, 37
_CLOCK_REALTIME = 0
_POLLIN = 1
# struct mmsghdr on 64-bit Linux, as 8 u64 words: msg_name, msg_namelen (u32), msg_iov,
# msg_iovlen, msg_control, msg_controllen, msg_flags (u32), msg_len (u32).
MMSG_WORDS = 8
NAME_BYTES = 16  # struct sockaddr_in
CONTROL_WORDS = 16  # 128 bytes: one timestamp control message, either kind
# The most message blocks a datagram can hold (2 bytes each at least): rows of scratch.
MAX_BLOCKS = SLOT_BYTES // 2


def _libc_call(name: str, ret, params: tuple):
    """The code of a call to the C library's `name` (``ret name(params)``), by symbol: the
    loader finds it when the compiled code is loaded, so that code caches like any other."""

    def codegen(context, builder, signature, values):
        fnty = ir.FunctionType(_LLVM_INT[ret], [_LLVM_INT[p] for p in params])
        fn = cgutils.get_or_insert_function(builder.module, fnty, name)
        return builder.call(fn, [context.cast(builder, v, t, p)
                                 for v, t, p in zip(values, signature.args, params)])

    return ret(*params), codegen


_LLVM_INT = {types.int32: ir.IntType(32), types.int64: ir.IntType(64),
             types.uint32: ir.IntType(32), types.uint64: ir.IntType(64)}
# Pointers travel as uint64 addresses of NumPy arrays.
_RECVMMSG = ("recvmmsg", types.int32, (types.int32, types.uint64, types.uint32, types.int32, types.uint64))
_CLOCK_GETTIME = ("clock_gettime", types.int32, (types.int32, types.uint64))
_POLL = ("poll", types.int32, (types.uint64, types.uint64, types.int32))
_WRITE = ("write", types.int64, (types.int32, types.uint64, types.uint64))


@intrinsic
def _recvmmsg(typingctx, fd, msgvec, vlen, flags, timeout):
    return _libc_call(*_RECVMMSG)


@intrinsic
def _clock_gettime(typingctx, clock_id, timespec):
    return _libc_call(*_CLOCK_GETTIME)


@intrinsic
def _poll(typingctx, fds, nfds, timeout_ms):
    return _libc_call(*_POLL)


@intrinsic
def _write(typingctx, fd, buffer, count):
    return _libc_call(*_WRITE)


def _libc_has_recvmmsg() -> bool:
    """Whether recvmmsg is there with the mmsghdr layout above: Linux, 64-bit."""
    if not sys.platform.startswith("linux") or ctypes.sizeof(ctypes.c_void_p) != 8 \
            or platform.machine() not in ("x86_64", "aarch64"):
        return False
    return hasattr(ctypes.CDLL(None), "recvmmsg")


AVAILABLE = _libc_has_recvmmsg()


def compiled_loop_available() -> bool:
    """Whether the compiled loop can run here; says so in a log line when it cannot."""
    if not AVAILABLE:
        log.warning("recvmmsg not available: the live receiver runs its portable loop",
                    extra={"platform": sys.platform, "machine": platform.machine()})
    return AVAILABLE


# ---- the loop's state ----

(S_EXPECTED, S_KNOWN_END, S_SHOWN_TOP, S_CONFIRMED, S_END_SEQ, S_HELD, S_STALE, S_SESSION,
 S_PACKETS, S_HEARTBEATS, S_MESSAGES, S_MALFORMED, S_WRONG_SESSION, S_DUPLICATES, S_FOREIGN,
 S_BBO_ROWS, S_FIRST_NS, S_LAST_APPLY_NS, S_LAST_PACKET_NS,
 S_BATCH_N, S_BATCH_NEXT, S_APPLYING, S_APPLY_START, S_APPLY_POS, S_APPLY_INDEX,
 S_HANDOFF_STATUS, S_HANDOFF_SEQ, S_HANDOFF_COUNT, S_RING_LIMIT, S_GROWTH, S_BATCHES,
 N_STATE) = range(32)
# Counters the supervisor moves into its statistics (and zeroes) after each call.
COUNTERS = {"packets": S_PACKETS, "heartbeats": S_HEARTBEATS, "messages": S_MESSAGES,
            "malformed_packets": S_MALFORMED, "wrong_session_packets": S_WRONG_SESSION,
            "duplicate_messages": S_DUPLICATES, "foreign_datagrams": S_FOREIGN,
            "bbo_rows": S_BBO_ROWS, "receive_batches": S_BATCHES}
# Why `rx_run` returned.
(RET_IDLE, RET_BATCHES, RET_HANDOFF, RET_GROW, RET_RING_FULL, RET_END_REACHED) = range(6)
# The hand-off status of a datagram that arrived before any session was adopted.
NO_SESSION = 5


@njit(cache=True, inline="always")
def _shown(state, seq):
    """A datagram shows that every sequence below `seq` exists; a second one confirms it."""
    if seq >= state[S_SHOWN_TOP]:
        state[S_CONFIRMED] = state[S_SHOWN_TOP]
        state[S_SHOWN_TOP] = seq
    elif seq > state[S_CONFIRMED]:
        state[S_CONFIRMED] = seq


@njit(cache=True, nogil=True)
def now_ns(clock):
    """CLOCK_REALTIME in nanoseconds (`clock`: a 2-word scratch timespec)."""
    _clock_gettime(np.int32(_CLOCK_REALTIME), clock.ctypes.data)
    return clock[0] * 1_000_000_000 + clock[1]


@njit(cache=True, nogil=True)
def book_records(data, row, start, size, seqs, pos, index,
                 orders, books, levels, locates, tally, errors, type_counts,
                 bbo, depth, depth_levels, trades, filter_on, wanted,
                 names, seq, ts, loc, bpx, apx, bsz, asz, stale, out):
    """Apply the blocks ``data[row, start:size]`` from byte `pos` and message `index` on
    (message k has sequence ``seqs[k]``); their BBO rows become records in `out`.

    Returns (kernel status, pos, index, records written): DONE, or GROW_ORDERS /
    GROW_LEVELS to resume at (pos, index) once `FastBook.make_room` did its part.
    """
    blocks = data[row, start:size]
    n_out = 0
    pending = tally[0].pending_rows
    while True:
        first_pos, first_index = pos, index
        status, pos, index = run_records(blocks, seqs, 0, -1, pos, index, orders, books,
                                         levels, locates, tally, errors, type_counts, bbo,
                                         depth, depth_levels, trades, filter_on, wanted)
        rows = pending[0]
        # The rows of the messages just applied; names walked from the first of them.
        fill_wire_records(blocks[first_pos:pos], seqs[first_index:index], names, seq[:rows],
                          ts[:rows], loc[:rows], bpx[:rows], apx[:rows], bsz[:rows],
                          asz[:rows], stale, out[n_out:])
        n_out += rows
        pending[0], pending[1], pending[2] = 0, 0, 0  # only BBO rows are published
        if status != OUTPUT_FULL and status != RENAME:
            return status, pos, index, n_out


@njit(cache=True, nogil=True)
def apply_datagram(data, row, start, size, first, count, arrived, read, state, clock, seqs,
                   orders, books, levels, locates, tally, errors, type_counts,
                   bbo, depth, depth_levels, trades, filter_on, wanted,
                   names, seq, ts, loc, bpx, apx, bsz, asz, out,
                   ring_header, ring_words, ring_bytes, lat_counts, lat_extremes):
    """Apply `count` messages, numbered from `first` (the next expected), from the blocks at
    ``data[row, start:size]``; publish their records into the ring and their latencies.

    Returns DONE, or the kernel's growth status with the place to resume in `state`
    (S_APPLYING set): call again after `FastBook.make_room` with the same arguments.
    """
    if state[S_APPLYING]:
        pos, index = np.int64(state[S_APPLY_POS]), np.int64(state[S_APPLY_INDEX])
    else:
        pos, index = 0, 0
        for k in range(count):
            seqs[k] = first + np.uint64(k)
    status, pos, index, n_out = book_records(
        data, row, start, size, seqs[:count], pos, index, orders, books, levels, locates,
        tally, errors, type_counts, bbo, depth, depth_levels, trades, filter_on, wanted,
        names, seq, ts, loc, bpx, apx, bsz, asz, state[S_STALE] != 0, out)
    book_ns = now_ns(clock)
    ring_put(ring_header, ring_words, ring_bytes, out, n_out)
    publish_ns = now_ns(clock)
    state[S_BBO_ROWS] += n_out
    if status != DONE:
        state[S_APPLYING] = 1
        state[S_APPLY_POS], state[S_APPLY_INDEX] = pos, index
        return status
    state[S_APPLYING] = 0
    record_latency(lat_counts, lat_extremes, 0, read - arrived, count)
    record_latency(lat_counts, lat_extremes, 1, book_ns - arrived, count)
    record_latency(lat_counts, lat_extremes, 2, publish_ns - arrived, count)
    state[S_EXPECTED] = first + np.uint64(count)
    state[S_MESSAGES] += count
    state[S_LAST_APPLY_NS] = publish_ns
    return DONE


@njit(cache=True, nogil=True)
def _wake(event_fd, event, wake):
    """Tell the publisher thread (its eventfd) that records were written."""
    if wake and event_fd >= 0:
        _write(np.int32(event_fd), event.ctypes.data, np.uint64(8))


@njit(cache=True, nogil=True)
def _receive(fd, at, room, hdr, hdr32, control, names, lengths, arrived, read, clock,
             networks, masks, state):
    """Take up to `room` datagrams off socket `fd`, without waiting, into the slots from
    `at` on, with their kernel receive times; a sender outside `networks` (when any) is
    counted and its slot's length set to -1. Returns how many slots were filled."""
    for i in range(at, at + room):
        hdr32[i, 2] = NAME_BYTES
        hdr[i, 5] = CONTROL_WORDS * 8
        hdr32[i, 12] = 0
    got = _recvmmsg(np.int32(fd), hdr.ctypes.data + np.uint64(at * MMSG_WORDS * 8),
                    np.uint32(room), np.int32(_MSG_DONTWAIT), np.uint64(0))
    if got <= 0:
        return 0
    read_ns = now_ns(clock)
    for i in range(at, at + got):
        lengths[i] = SLOT_BYTES + 1 if hdr32[i, 12] & _MSG_TRUNC else hdr32[i, 14]
        arrived[i] = read_ns
        read[i] = read_ns
        # Walk the control messages: a timestamp (software, or hardware when the NIC gave one).
        w = 0
        end = np.int64(hdr[i, 5] // np.uint64(8))
        while w + 2 <= end:
            length = control[i, w]
            level_type = control[i, w + 1]
            if length < 16:
                break
            kind = level_type >> np.uint64(32)
            if (level_type & np.uint64(0xFFFFFFFF)) == _SOL_SOCKET:
                if kind == _SCM_TIMESTAMPNS and w + 4 <= end:
                    arrived[i] = np.int64(control[i, w + 2]) * 1_000_000_000 \
                        + np.int64(control[i, w + 3])
                elif kind == _SCM_TIMESTAMPING and w + 8 <= end:
                    at_ts = w + 6 if control[i, w + 6] or control[i, w + 7] else w + 2
                    arrived[i] = np.int64(control[i, at_ts]) * 1_000_000_000 \
                        + np.int64(control[i, at_ts + 1])
            w += (np.int64(length) + 7) // 8
        if networks.shape[0]:
            host = ((np.uint32(names[i, 4]) << np.uint32(24)) | (np.uint32(names[i, 5]) << 16)
                    | (np.uint32(names[i, 6]) << 8) | np.uint32(names[i, 7]))
            admitted = False
            for k in range(networks.shape[0]):
                if (host & masks[k]) == networks[k]:
                    admitted = True
            if not admitted:
                lengths[i] = -1
                state[S_FOREIGN] += 1
    return got


@njit(cache=True, nogil=True)
def rx_run(request_fd, feed_fd, event_fd, pollfds, spin_ns, idle_return_ns, busy_return_ns,
           max_batches,
           hdr, hdr32, control, names, data, lengths, arrived, read, networks, masks,
           session, state, clock, seqs, event,
           orders, books, levels, locates, tally, errors, type_counts,
           bbo, depth, depth_levels, trades, filter_on, wanted,
           names_table, seq, ts, loc, bpx, apx, bsz, asz, out,
           ring_header, ring_words, ring_bytes, lat_counts, lat_extremes):
    """Receive, check and apply datagrams until the supervisor is needed; returns why (RET_*).

    A batch is what one round of `recvmmsg` gives, retransmissions (`request_fd`) first;
    the batch being worked through survives a return (S_BATCH_N, S_BATCH_NEXT), so the
    supervisor handles datagram S_BATCH_NEXT (RET_HANDOFF) or grows the book (RET_GROW)
    and calls again to go on from there. With nothing to read it spins `spin_ns`, then
    sleeps in poll (never, when busy-polling), and returns after `idle_return_ns` idle;
    busy, it returns after `max_batches` batches or `busy_return_ns`, whichever comes first.
    """
    capacity = data.shape[0]
    started = now_ns(clock)
    batches = 0
    idle_since = 0
    wake = False
    while True:
        n = np.int64(state[S_BATCH_N])
        i = np.int64(state[S_BATCH_NEXT])
        while i < n:
            size = lengths[i]
            if size < 0:  # refused by the source filter
                i += 1
                continue
            if state[S_APPLYING]:
                status, first = OK, state[S_HANDOFF_SEQ]
                count = np.int64(state[S_HANDOFF_COUNT])
            elif not state[S_SESSION]:
                status, first, count = NO_SESSION, np.uint64(0), np.int64(0)
            else:
                status, first, count = _classify(data, i, size, session)
                state[S_PACKETS] += 1  # once a session is known, as the portable loop counts
            if status == MALFORMED:
                state[S_MALFORMED] += 1
                i += 1
                continue
            if status == WRONG_SESSION:
                state[S_WRONG_SESSION] += 1
                i += 1
                continue
            end = first + np.uint64(count)
            expected = state[S_EXPECTED]
            if status == HEARTBEAT and first <= state[S_KNOWN_END]:
                state[S_HEARTBEATS] += 1
                _shown(state, first)
                i += 1
                continue
            # In sequence (or a duplicate), inside what was seen, nothing held: the loop's.
            if status == OK and (state[S_APPLYING] or (
                    first <= expected and first <= state[S_KNOWN_END]
                    and (state[S_HELD] == 0 or end <= expected))):
                if end <= expected:
                    _shown(state, first)
                    state[S_DUPLICATES] += count
                    i += 1
                    continue
                if not state[S_APPLYING]:
                    if ring_header[3] + np.uint64(count) > state[S_RING_LIMIT]:
                        state[S_BATCH_NEXT] = i
                        _wake(event_fd, event, wake)
                        return RET_RING_FULL
                    _shown(state, first)
                    if end > state[S_KNOWN_END]:
                        state[S_KNOWN_END] = end
                    skip = np.int64(expected - first)  # partly seen already: the new part
                    state[S_DUPLICATES] += skip
                    state[S_APPLY_START] = HEADER_LENGTH + block_offset(
                        data[i, HEADER_LENGTH:size], skip)
                    state[S_HANDOFF_SEQ], state[S_HANDOFF_COUNT] = expected, count - skip
                grown = apply_datagram(
                    data, i, np.int64(state[S_APPLY_START]), size, state[S_HANDOFF_SEQ],
                    np.int64(state[S_HANDOFF_COUNT]), arrived[i], read[i], state, clock, seqs,
                    orders, books, levels, locates, tally, errors, type_counts,
                    bbo, depth, depth_levels, trades, filter_on, wanted,
                    names_table, seq, ts, loc, bpx, apx, bsz, asz, out,
                    ring_header, ring_words, ring_bytes, lat_counts, lat_extremes)
                wake = True
                if grown != DONE:
                    state[S_BATCH_NEXT] = i
                    state[S_GROWTH] = grown
                    _wake(event_fd, event, wake)
                    return RET_GROW
                i += 1
                continue
            # Anything else is the supervisor's: say which datagram, as classified.
            state[S_BATCH_NEXT] = i
            state[S_HANDOFF_STATUS] = status
            state[S_HANDOFF_SEQ], state[S_HANDOFF_COUNT] = first, count
            _wake(event_fd, event, wake)
            return RET_HANDOFF
        state[S_BATCH_N], state[S_BATCH_NEXT] = 0, 0
        _wake(event_fd, event, wake)
        wake = False
        if state[S_END_SEQ] and state[S_EXPECTED] >= state[S_END_SEQ]:
            return RET_END_REACHED
        if batches >= max_batches or (batches and now_ns(clock) - started >= busy_return_ns):
            return RET_BATCHES
        got = _receive(request_fd, 0, capacity, hdr, hdr32, control, names, lengths,
                       arrived, read, clock, networks[:0], masks[:0], state)
        got += _receive(feed_fd, got, capacity - got, hdr, hdr32, control, names, lengths,
                        arrived, read, clock, networks, masks, state)
        if got == 0:
            t = now_ns(clock)
            if idle_since == 0:
                idle_since = t
            elif t - idle_since >= idle_return_ns:
                return RET_IDLE
            elif t - idle_since >= spin_ns:
                pollfds[0, 1] = _POLLIN
                pollfds[1, 1] = _POLLIN
                wait_ms = (idle_return_ns - (t - idle_since)) // 1_000_000 + 1
                if _poll(pollfds.ctypes.data, np.uint64(2), np.int32(wait_ms)) <= 0:
                    return RET_IDLE
            continue
        idle_since = 0
        batches += 1
        state[S_BATCHES] += 1
        state[S_LAST_PACKET_NS] = read[0]
        if state[S_FIRST_NS] == 0:
            state[S_FIRST_NS] = arrived[0]
        state[S_BATCH_N], state[S_BATCH_NEXT] = got, 0


# ---- the supervisor's handle ----

_BBO_COLUMNS = ("seq", "timestamp", "stock_locate", "bid_price", "ask_price", "bid_size",
                "ask_size")


class CompiledLoop:
    """The preallocated arrays of one compiled receive loop, and the calls into it.

    `data`, `lengths`, `arrived_ns` and `read_ns` are the receive slots (as in
    `tickaccel.live.sockets.DatagramSlots`, a refused sender's length is -1);
    `state` the loop's state (S_*), `session` the session's 10 bytes.

    `sink` is the receiver's `BookSink` (its fast book and symbol names), `ring`
    the `BboRing` the records go to, `latency` the `LatencyRecorder`. `spin`
    busy-polls (no sleep in poll at all); otherwise the loop spins `spin_seconds`
    after the last datagram before it sleeps. It returns to the supervisor at
    least every `idle_return` seconds when idle, and every `busy_return` seconds or
    `max_batches` batches when busy (so the supervisor's timers and signals keep up).
    """

    def __init__(self, capacity: int, request_sock, feed_sock, networks, sink, ring, latency,
                 *, spin: bool = False, spin_seconds: float = 50e-6,
                 idle_return: float = 0.01, busy_return: float = 0.001,
                 max_batches: int = 256) -> None:
        self.sink, self.ring, self.latency = sink, ring, latency
        self.data = np.zeros((capacity, SLOT_BYTES), np.uint8)
        self.lengths = np.zeros(capacity, np.int64)
        self.arrived_ns = np.zeros(capacity, np.int64)
        self.read_ns = np.zeros(capacity, np.int64)
        self.hdr = np.zeros((capacity, MMSG_WORDS), np.uint64)
        self.hdr32 = self.hdr.view(np.uint32)
        self._iov = np.zeros((capacity, 2), np.uint64)
        self.control = np.zeros((capacity, CONTROL_WORDS), np.uint64)
        self.names = np.zeros((capacity, NAME_BYTES), np.uint8)
        for i in range(capacity):
            self._iov[i] = (self.data.ctypes.data + i * SLOT_BYTES, SLOT_BYTES)
            self.hdr[i, 0] = self.names.ctypes.data + i * NAME_BYTES
            self.hdr[i, 2] = self._iov.ctypes.data + i * self._iov.strides[0]
            self.hdr[i, 3] = 1
            self.hdr[i, 4] = self.control.ctypes.data + i * self.control.strides[0]
        self.state = np.zeros(N_STATE, np.uint64)
        self.session = np.zeros(10, np.uint8)
        self._clock = np.zeros(2, np.int64)
        self._seqs = np.zeros(MAX_BLOCKS, np.uint64)
        self._event = np.ones(1, np.uint64)
        self._out = np.zeros((MAX_BLOCKS, 56), np.uint8)
        self._held_row = np.zeros((1, SLOT_BYTES), np.uint8)  # a held datagram's blocks
        self._pollfds = np.array([[request_sock.fileno(), _POLLIN],
                                  [feed_sock.fileno(), _POLLIN]], np.int32)
        self._fds = (request_sock.fileno(), feed_sock.fileno())
        self._networks = np.array([int(n.network_address) for n in networks], np.uint32)
        self._masks = np.array([int(n.netmask) for n in networks], np.uint32)
        busy = 2**62
        self._spin_ns = busy if spin else int(spin_seconds * 1e9)
        self._idle_return_ns = int(idle_return * 1e9)
        self._busy_return_ns = int(busy_return * 1e9)
        self._max_batches = max_batches
        self.event_fd = -1

    def _book_args(self) -> tuple:
        """The book's arrays, then the record writer's (`apply_datagram` order): fresh each
        call, as growing the book replaces arrays."""
        state = self.sink.book.kernel_state()
        bbo = state[7]
        return (*state, self.sink.names, *(bbo[name] for name in _BBO_COLUMNS), self._out,
                self.ring.header, self.ring.slot_words, self.ring.slot_bytes,
                self.latency.counts, self.latency.extremes)

    def run(self, max_batches: int | None = None) -> int:
        """Run the loop until it needs the supervisor; returns why (RET_*)."""
        return rx_run(*self._fds, self.event_fd, self._pollfds, self._spin_ns,
                      self._idle_return_ns, self._busy_return_ns,
                      self._max_batches if max_batches is None else max_batches,
                      self.hdr, self.hdr32, self.control, self.names, self.data, self.lengths,
                      self.arrived_ns, self.read_ns, self._networks, self._masks, self.session,
                      self.state, self._clock, self._seqs, self._event, *self._book_args())

    def warm_up(self) -> None:
        """Compile the loop now (a call that receives nothing), so the first datagrams do not
        wait for the compiler."""
        self.run(max_batches=0)

    def apply(self, blocks: np.ndarray, first: int, count: int, arrived_ns: int,
              read_ns: int) -> None:
        """Apply message blocks the supervisor holds (a released datagram), numbered from
        `first`, exactly as the loop applies a datagram."""
        size = len(blocks)
        self._held_row[0, :size] = blocks
        args = (self._held_row, np.int64(0), np.int64(0), np.int64(size), np.uint64(first),
                np.int64(count), np.int64(arrived_ns), np.int64(read_ns), self.state,
                self._clock, self._seqs)
        while (status := apply_datagram(*args, *self._book_args())) != DONE:
            self.sink.book.make_room(status)

    def grow_book(self) -> None:
        """Make the room the loop asked for (RET_GROW)."""
        self.sink.book.make_room(int(self.state[S_GROWTH]))
