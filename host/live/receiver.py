"""Live MoldUDP64 receiver: in-order book updates, gap recovery, BBO publishing and Parquet segments.

On Linux the per-datagram path is one compiled loop (`tickaccel.live.rx_loop`):
`recvmmsg` with kernel timestamps, session and sequence checks, the fast book
applied straight from the receive buffer, the BBO records written into the BBO
ring (`tickaccel.live.shm_ring`), latencies into the histograms, all without
the interpreter or the GIL. This class supervises it: the loop hands back
whatever needs judgement (no session yet, gaps, datagrams ahead of the
sequence, end of session), and the supervisor re-requests, holds and
releases, gives up and marks stale, copies the ring into the Parquet spool,
exports metrics and shuts down. The ZeroMQ publisher reads the same ring from
a thread of its own (`zmq_bus.RingPublisher`); local processes may read it
from shared memory (`shm_ring.BboRingReader`).

Elsewhere, or with a book stage other than `BookSink`, the portable loop runs
instead: each iteration drains the sockets (up to `max_batch` datagrams) with
non-blocking ``recvmsg_into`` into preallocated slots, one Numba pass
validates the batch, the in-sequence message blocks are copied back to back
into one `FeedChunk`, the book stage applies it, and its records go into the
same ring. Parquet is written by a child process from shared memory, so it never
holds this process's GIL; the garbage collector only runs when the loop is idle.

Messages are applied strictly in sequence. Datagrams ahead of the expected
sequence wait in a bounded reorder buffer while the missing range is
re-requested; when it is not recovered within `recovery_timeout`, the gap is
given up, counted and logged, and from then on the whole book is marked stale
(which symbols the lost messages touched is unknowable), so every later BBO
record carries the STALE flag — never a silently wrong book.

The network is not trusted: the session is adopted only from a datagram that
parses completely as MoldUDP64 carrying plausible ITCH messages (or given as
`session`); a gap is given up only as far as a second datagram confirms the
sender really went past it, so one stray datagram with a far-future sequence
can never make the real messages after it look like duplicates; a sequence
that would pass 2^64 - 1 is malformed; and whatever goes wrong in the loop,
the segments are flushed and summary.json says what failed.

This module is the supervision and sequencing; the stages live beside it:
`rx_loop` (the compiled loop and datagram validation), `sockets` (UDP
sockets, receive slots, kernel timestamps), `sinks` (the book stage),
`shm_ring` (the BBO ring), `zmq_bus` (publishing), `segments` (Parquet) and
`wire` (the published record).
"""
from __future__ import annotations

import gc
import heapq
import ipaddress
import json
import logging
import os
import select
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tickaccel.errors import TickaccelError
from tickaccel.feed.chunk import FeedChunk
from tickaccel.feed.moldudp64 import (
    HEADER_LENGTH,
    MAX_MESSAGES_PER_PACKET,
    build_request,
    session_bytes,
)
from tickaccel.live import rx_loop
from tickaccel.live.metrics import LiveMetrics
from tickaccel.live.rx_loop import (
    END,
    HEARTBEAT,
    MALFORMED,
    NO_SESSION,
    OK,
    CompiledLoop,
    block_offset,
    compiled_loop_available,
    first_plausible,
    scan_datagrams,
)
from tickaccel.live.segments import SegmentWriter
from tickaccel.live.shm_ring import DEFAULT_CAPACITY, BboRing
from tickaccel.live.sinks import BookSink, TableSink
from tickaccel.live.sockets import (
    SLOT_BYTES,
    AddressFilter,
    Arrivals,
    DatagramSlots,
    interface_of,
    receive_timestamps,
    timestamped,
    udp_socket,
)
from tickaccel.live.wire import BBO_RECORD
from tickaccel.live.zmq_bus import BboPublisher, RingPublisher

log = logging.getLogger("tickaccel.live.receiver")

# Young objects allowed to pile up before an idle loop collects them (CPython's default gen-0 threshold).
_GC_YOUNG_LIMIT = 700

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
    before_session_packets: int = 0  # skipped while no session was adopted yet
    foreign_datagrams: int = 0  # refused by --source
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
    timestamps: str = "kernel"  # receive timestamps: "kernel", or "hardware" (the NIC's)
    receive_batches: int = 0  # recvmmsg rounds that brought datagrams (compiled loop)
    cpu_seconds: float = 0.0  # the receive loop's thread
    busy_seconds: float = 0.0  # from the first datagram to the last batch applied


class LiveReceiver:
    """Receives one MoldUDP64 session and keeps its book in sequence; see the module doc.

    `sink` is the book stage: a `BookSink` (default) or anything whose
    ``process(chunk)`` returns BBO tables, such as `cluster.ShardedSink` (which
    runs the portable loop). `compiled` chooses the loop: None for the compiled
    one where it can run, False for the portable one. `spin` busy-polls the
    sockets instead of sleeping in poll; `cpu` pins the loop's thread to that
    core while it runs. `shm` is the path of a shared BBO ring for local
    readers (a file under /dev/shm); without it the ring is private memory.
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
                 spin_seconds: float = 50e-6, source: str | None = None,
                 compiled: bool | None = None, spin: bool = False, cpu: int | None = None,
                 shm: str | Path | None = None, ring_capacity: int = DEFAULT_CAPACITY) -> None:
        try:
            self.session = session_bytes(session) if session is not None else None
        except ValueError as exc:
            raise TickaccelError(str(exc)) from None
        if cpu is not None and cpu not in getattr(os, "sched_getaffinity", lambda _: ())(0):
            raise TickaccelError(f"CPU {cpu} is not one this process may run on")
        if ring_capacity < rx_loop.MAX_BLOCKS:  # one datagram's records must always fit
            raise TickaccelError(f"ring capacity must be at least {rx_loop.MAX_BLOCKS} records")
        self.source = AddressFilter(source) if source is not None else None
        self.outdir = Path(outdir)
        self.outdir.mkdir(parents=True, exist_ok=True)
        self.sock = udp_socket(listen, rcvbuf, interface)
        self.request_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        timestamped(self.request_sock, rcvbuf)
        self.request_sock.bind(("0.0.0.0" if rerequest and rerequest[0] not in
                                ("127.0.0.1", "localhost") else "127.0.0.1", 0))
        self.rerequest = rerequest
        if sink is None:
            sink = BookSink()
        self.sink = sink if hasattr(sink, "records") else TableSink(sink)
        self.metrics = metrics or LiveMetrics()
        self.ring = BboRing(shm, ring_capacity)
        self._spooled = 0  # ring records copied into the Parquet spool
        self.publisher = RingPublisher(BboPublisher(pub, pub_hwm), self.ring) if pub else None
        self.cpu = cpu
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
        # The two highest sequences datagrams have shown (a data packet's first, a heartbeat's
        # next): the second is confirmed by another datagram, so everything below it exists.
        self._shown_top = 0
        self._confirmed = 0
        self._held: list[_Held] = []
        self._held_messages = 0
        self._gap_since: float | None = None
        self._gap_expected = first_seq
        self._open_gaps: deque[tuple[int, int]] = deque()  # (first, end) of gaps not yet closed
        self._last_request = (0.0, 0, 0)  # when, first sequence asked for, one past the last
        self._stop = threading.Event()
        self._first_packet_ns = 0
        self._last_apply_ns = 0
        self._loop: CompiledLoop | None = None
        if compiled is not False and isinstance(self.sink, BookSink) \
                and compiled_loop_available():
            self._loop = CompiledLoop(
                max_batch, self.request_sock, self.sock,
                self.source.networks if self.source else [], self.sink, self.ring,
                self.metrics.latency, spin=spin, spin_seconds=spin_seconds)
            if self.publisher is not None:
                self._loop.event_fd = self.publisher.event_fd
            if self.session is not None:
                self._loop.session[:] = np.frombuffer(self.session, np.uint8)
            bound = self.sock.getsockname()[0]
            self.stats.timestamps = receive_timestamps(self.sock, interface_of(
                interface if ipaddress.ip_address(bound).is_multicast else bound))
        # Receive slots (the compiled loop's own, for what it hands over) and scratch arrays.
        self._datagrams = self._loop if self._loop is not None else DatagramSlots(max_batch)
        self._status = np.zeros(max_batch, np.int8)
        self._seqs = np.zeros(max_batch, np.uint64)
        self._counts = np.zeros(max_batch, np.int64)
        self._session_arr = np.zeros(10, np.uint8)
        self._acc_len = 0
        if self._loop is None:  # the portable loop: its sockets, and the chunk it builds
            # Retransmissions first; only the feed socket is filtered by source.
            self._sockets = ((self.request_sock, None), (self.sock, self.source))
            self._acc = np.zeros(max_batch * SLOT_BYTES * 2, np.uint8)
            self._acc_first = first_seq
            self._ramp = np.arange(max_batch * 128, dtype=np.uint64)  # 0, 1, 2, ...
            self._acc_seqs = np.zeros(len(self._ramp), np.uint64)  # the chunk's sequence numbers
            self._arrivals = Arrivals(2 * max_batch)
            self._poller = select.poll()
            for s in (self.sock, self.request_sock):
                self._poller.register(s, select.POLLIN)
        self.metrics.attach(self._metrics_snapshot)
        self._warm_up()

    def _warm_up(self) -> None:
        """Compile the Numba paths now, so the first packets do not wait for the compiler."""
        datagrams = self._datagrams
        scan_datagrams(datagrams.data, datagrams.lengths, 0, self._session_arr, self._status,
                       self._seqs, self._counts)
        block_offset(datagrams.data[0], 0)
        first_plausible(datagrams.data, datagrams.lengths, 0)
        if self._loop is not None:
            self._loop.warm_up()
            return
        self.sink.records(FeedChunk(np.zeros(0, np.uint8), self.expected,
                                    np.zeros(0, np.uint64), -1), False)
        a = self._arrivals
        self.metrics.latency.record_batch(a.times[1:], a.times[0], a.counts, 0)
        self.ring.put(np.zeros(0, BBO_RECORD))

    @property
    def address(self) -> tuple[str, int]:
        return self.sock.getsockname()

    def stop(self) -> None:
        """Ask `run` to finish after the current batch (safe from signal handlers and threads)."""
        self._stop.set()

    # ---- receiving ----

    def _adopt_session(self, n: int, first: int = 0) -> None:
        """Take the session of the first datagram (of slots `first` .. `first + n - 1`) that is
        a whole packet of ITCH messages."""
        datagrams = self._datagrams
        i = first_plausible(datagrams.data[first:], datagrams.lengths[first:], n)
        if i >= 0:
            self.session = bytes(datagrams.data[first + i, :10])
            log.info("session", extra={"session": self.session.decode("latin-1")})

    def _handle_batch(self, n: int) -> None:
        if self.session is None:
            self._adopt_session(n)
            if self.session is None:
                self.stats.before_session_packets += n
                return
        self._session_arr[:] = np.frombuffer(self.session, np.uint8)
        datagrams = self._datagrams
        scan_datagrams(datagrams.data, datagrams.lengths, n, self._session_arr, self._status,
                       self._seqs, self._counts)
        status, seqs, counts = self._status.tolist(), self._seqs.tolist(), self._counts.tolist()
        for i in range(n):
            self._datagram(i, status[i], seqs[i], counts[i])
        self.stats.packets += n
        self.stats.last_packet_time = time.time()
        if not self._first_packet_ns:
            self._first_packet_ns = datagrams.arrived_ns[0]

    def _datagram(self, i: int, status: int, seq: int, count: int) -> None:
        """Sequence datagram `i` of the slots, as classified (`rx_loop.scan_datagrams`)."""
        if status == OK:
            self._data(i, seq, count)
        elif status == HEARTBEAT:
            self.stats.heartbeats += 1
            self._shown(seq)
            self._sent_until(seq)
        elif status == END:
            self.stats.heartbeats += 1
            self._end_seq = seq
            self._shown(seq)
            # The session's own end needs no second witness: without a re-request server,
            # a lost last packet would otherwise keep the receiver waiting for ever.
            self._confirmed = max(self._confirmed, seq)
            self._sent_until(seq)
        elif status == MALFORMED:
            self.stats.malformed_packets += 1
        else:
            self.stats.wrong_session_packets += 1

    def _shown(self, seq: int) -> None:
        """A datagram shows that every sequence below `seq` exists; a second one confirms it."""
        if seq >= self._shown_top:
            self._confirmed, self._shown_top = self._shown_top, seq
        elif seq > self._confirmed:
            self._confirmed = seq

    def _sent_until(self, end: int) -> None:
        """The sender has shown sequences up to `end`; a jump past what we had opens a gap."""
        if end > self._known_end:
            self._open_gaps.append((self._known_end, end))
            self.stats.gaps_detected += 1
            self._known_end = end

    def _data(self, i: int, seq: int, count: int) -> None:
        end = seq + count
        self._shown(seq)
        if seq > self._known_end:
            self._sent_until(seq)
        self._known_end = max(self._known_end, end)
        if end <= self.expected:
            self.stats.duplicate_messages += count
            return
        datagrams = self._datagrams
        size = int(datagrams.lengths[i])
        if seq > self.expected:
            self._hold(_Held(seq, count, datagrams.data[i, HEADER_LENGTH:size].tobytes(),
                             datagrams.arrived_ns[i], datagrams.read_ns[i]))
            return
        start = HEADER_LENGTH
        if seq < self.expected:  # partly seen already: keep only the new messages
            skip = self.expected - seq
            self.stats.duplicate_messages += skip
            start += block_offset(datagrams.data[i, HEADER_LENGTH:size], skip)
        self._append(datagrams.data[i, start:size], self.expected, end - self.expected,
                     datagrams.arrived_ns[i], datagrams.read_ns[i])
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
                body = body[block_offset(body, skip):]
            self._append(body, self.expected, end - self.expected, held.arrived_ns,
                         held.read_ns)

    def _append(self, blocks: np.ndarray, first: int, count: int, arrived_ns: int,
                read_ns: int) -> None:
        """Apply in-order message blocks: at once with the compiled loop's own apply, else
        gathered into the chunk `_apply` applies."""
        if self._loop is not None:
            self._loop.state[rx_loop.S_STALE] = self.stale
            self._loop.apply(blocks, first, count, arrived_ns, read_ns)
            self.expected = first + count
            return
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
        """Run the accumulated in-order messages through the book and out to subscribers;
        spool what the ring holds."""
        if not self._acc_len:
            self._spool()
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
        self.ring.put(records)
        if self.publisher is not None and len(records):
            self.publisher.notify()
        publish_ns = time.time_ns()
        arrivals = self._arrivals
        arrivals.times[2, :arrivals.n] = book_ns
        arrivals.times[3, :arrivals.n] = publish_ns
        self.metrics.latency.record_batch(arrivals.times[1:], arrivals.times[0], arrivals.counts,
                                          arrivals.n)
        self._spool()
        self.stats.messages += count
        self.stats.bbo_rows += len(records)
        self._acc_len = 0
        arrivals.n = 0
        self._last_apply_ns = publish_ns

    def _spool(self) -> None:
        """Copy the records the ring holds and the spool does not into the Parquet spool."""
        written = self.ring.written
        for rows in self.ring.record_bytes(self._spooled, written):
            self.segments.add(rows)
        self._spooled = written

    # ---- gaps ----

    def _missing(self) -> tuple[int, int] | None:
        """The first missing range (first, count), or None when nothing is known missing."""
        until = self._held[0].seq if self._held else self._known_end
        return (self.expected, until - self.expected) if until > self.expected else None

    def _confirmed_missing(self) -> tuple[int, int] | None:
        """The first range (first, count) that a second datagram confirms is missing, or None.

        A lone datagram far ahead (stray, or forged) confirms nothing: giving its
        gap up would drop every real message before it as already applied.
        """
        until = self._confirmed
        if self._held and self._held[0].seq < until:
            until = self._held[0].seq
        return (self.expected, until - self.expected) if until > self.expected else None

    def _check_gap(self, now: float) -> None:
        """Count closed gaps; re-request the first missing range, or give it up after the limit.

        Re-requests ask for what looks missing; a give-up skips only what is
        confirmed missing, unless the reorder buffer is full.
        """
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
        if self._held_messages > self.max_held_messages:
            self._give_up(missing, now)
            return
        if now - self._gap_since > self.recovery_timeout:
            confirmed = self._confirmed_missing()
            if confirmed is not None:
                self._give_up(confirmed, now)
                return
        asked_at, asked_first, asked_end = self._last_request
        # Ask at once for a range not asked for yet; ask again when an answer seems lost. A gap
        # wider than one request is asked for once confirmed: a lone far packet is no reason.
        if self.rerequest is not None and (now - asked_at >= self.rerequest_interval
                                           or not asked_first <= missing[0] < asked_end) \
                and (missing[1] <= self.max_request or self._confirmed_missing() is not None):
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
        return (self._end_seq is not None and self.expected >= self._end_seq
                and (not self._held or self._held[0].seq >= self._end_seq))

    def run(self, duration: float | None = None) -> dict:
        """Receive until end of session, `duration` seconds, or `stop`; then flush and report.

        The collector is off while the loop runs (everything older is frozen
        out of its way); young objects are collected only when the loop is idle.
        With `cpu`, the calling thread (the loop's) is pinned to that core meanwhile.
        """
        collecting = gc.isenabled()
        gc.collect()
        gc.freeze()
        gc.disable()
        deadline = None if duration is None else time.monotonic() + duration
        host, port = self.address
        log.info("listening", extra={"host": host, "port": port,
                                     "loop": "portable" if self._loop is None else "compiled"})
        affinity = os.sched_getaffinity(0) if self.cpu is not None else None
        cpu_start = time.thread_time()
        failed = None
        try:
            if affinity is not None:
                os.sched_setaffinity(0, {self.cpu})  # 0: this thread
            if self._loop is None:
                self._run_portable(deadline)
            else:
                self._run_compiled(deadline)
        except BaseException as exc:
            failed = _describe(exc)
            log.exception("receive loop failed")
            raise
        finally:
            self.stats.cpu_seconds = time.thread_time() - cpu_start
            if affinity is not None:
                os.sched_setaffinity(0, affinity)
            gc.unfreeze()
            if collecting:
                gc.enable()
            self.stats.end_of_session = self.finished()
            summary = self.close(failed)
        return summary

    def _housekeeping(self, now: float) -> None:
        """What an idle loop does: cut an old segment, collect young objects."""
        self.segments.cut_if_due(now)
        if gc.get_count()[0] >= _GC_YOUNG_LIMIT:
            gc.collect(1)

    def _run_portable(self, deadline: float | None) -> None:
        idle_since = None
        while not self._stop.is_set():
            n = self._datagrams.receive(self._sockets)
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
            self._housekeeping(now)
            self._poller.poll(10)

    def _run_compiled(self, deadline: float | None) -> None:
        loop = self._loop
        while not self._stop.is_set():
            self._to_loop()
            why = loop.run()
            while why == rx_loop.RET_GROW:  # mid-datagram: nothing else until it is applied
                loop.grow_book()
                why = loop.run()
            self._from_loop()
            if why == rx_loop.RET_HANDOFF:
                self._hand_off()
            self._spool()  # also what a full ring (RET_RING_FULL) waits for
            now = time.monotonic()
            if self.session is not None:
                self._check_gap(now)
                self._spool()
            if self.finished() or (deadline is not None and now >= deadline):
                break
            if why == rx_loop.RET_IDLE:
                self._housekeeping(now)

    def _to_loop(self) -> None:
        """Hand the sequencing state to the compiled loop."""
        state = self._loop.state
        state[rx_loop.S_EXPECTED] = self.expected
        state[rx_loop.S_KNOWN_END] = self._known_end
        state[rx_loop.S_SHOWN_TOP] = self._shown_top
        state[rx_loop.S_CONFIRMED] = self._confirmed
        state[rx_loop.S_END_SEQ] = self._end_seq or 0
        state[rx_loop.S_HELD] = self._held_messages or len(self._held)
        state[rx_loop.S_STALE] = self.stale
        state[rx_loop.S_SESSION] = self.session is not None
        state[rx_loop.S_RING_LIMIT] = self._spooled + self.ring.capacity

    def _from_loop(self) -> None:
        """Take the sequencing state and the counts back from the compiled loop."""
        state = self._loop.state
        self.expected = int(state[rx_loop.S_EXPECTED])
        self._known_end = int(state[rx_loop.S_KNOWN_END])
        self._shown_top = int(state[rx_loop.S_SHOWN_TOP])
        self._confirmed = int(state[rx_loop.S_CONFIRMED])
        self._collect_counts()

    def _collect_counts(self) -> None:
        """Move the counts of the compiled loop (and of its apply) into the statistics."""
        state = self._loop.state
        stats = self.stats
        for name, index in rx_loop.COUNTERS.items():
            if state[index]:
                setattr(stats, name, getattr(stats, name) + int(state[index]))
                state[index] = 0
        if state[rx_loop.S_LAST_PACKET_NS]:
            stats.last_packet_time = int(state[rx_loop.S_LAST_PACKET_NS]) / 1e9
        self._first_packet_ns = int(state[rx_loop.S_FIRST_NS])
        self._last_apply_ns = int(state[rx_loop.S_LAST_APPLY_NS])

    def _hand_off(self) -> None:
        """Sequence the datagram the compiled loop handed over, then let it go on after it."""
        state = self._loop.state
        i = int(state[rx_loop.S_BATCH_NEXT])
        status = int(state[rx_loop.S_HANDOFF_STATUS])
        if status == NO_SESSION:
            self._adopt_session(1, i)
            if self.session is None:
                self.stats.before_session_packets += 1
            else:  # the loop classifies it again, now in its session
                self._loop.session[:] = np.frombuffer(self.session, np.uint8)
                return
        else:
            self._datagram(i, status, int(state[rx_loop.S_HANDOFF_SEQ]),
                           int(state[rx_loop.S_HANDOFF_COUNT]))
            if self.publisher is not None:
                self.publisher.notify()
        state[rx_loop.S_BATCH_NEXT] = i + 1

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
                         "wrong_session": st.wrong_session_packets,
                         "before_session": st.before_session_packets,
                         "foreign": self._datagrams.foreign if self._loop is None
                         else st.foreign_datagrams}),
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

    def close(self, failed: str | None = None) -> dict:
        """Apply what is pending, flush the segments, publish the end, write summary.json.

        `failed` says why the loop ended early; when applying the pending
        messages fails too, they are dropped and the rest is still written.
        """
        try:
            self._apply()
        except Exception as exc:
            failed = failed or _describe(exc)
            log.exception("applying the last batch failed")
        try:
            self.ring.set_flags(stale=self.stale, ended=True)
            if self.publisher is not None:
                self.publisher.close(self.stale)
        finally:
            self.segments.close()
            summary = self.summary(failed)
            self.sink.close()
            self.sock.close()
            self.request_sock.close()
            (self.outdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            self.ring.close()
        return summary

    def summary(self, failed: str | None = None) -> dict:
        if self._first_packet_ns and self._last_apply_ns:
            self.stats.busy_seconds = (self._last_apply_ns - self._first_packet_ns) / 1e9
        if self._loop is None:
            self.stats.foreign_datagrams = self._datagrams.foreign
        else:
            self._collect_counts()
        counts = dict(vars(self.stats))
        # Rows as a replay's summary names them: {"bbo": n}.
        rows = {"bbo": counts.pop("bbo_rows")}
        return {
            **counts,
            "rows": rows,
            "failed": failed,
            "loop": "portable" if self._loop is None else "compiled",
            "held_packets": len(self._held),
            "next_seq": self.expected,
            "stale": self.stale,
            "unrecovered": [list(r) for r in self.unrecovered[:100]],
            "publish_dropped": self.publisher.dropped if self.publisher else 0,
            "published_batches": self.publisher.batch if self.publisher else 0,
            "publish_overrun_records": self.publisher.overrun_records if self.publisher else 0,
            "ring_records": self.ring.written,
            "segments": list(self.segments.files),
            "segment_writer_cpu_seconds": self.segments.cpu_seconds,
            "book_errors": self.sink.errors.to_dict(),
            "message_counts": self.sink.message_counts,
            "latency": self.metrics.latency.summary(),
        }


def _describe(exc: BaseException) -> str:
    """An exception as one line for summary.json."""
    return f"{type(exc).__name__}: {exc}"


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

