"""Play a feed file as a MoldUDP64 stream over UDP, with a re-request server and fault injection.

The packets are cut straight out of the feed's chunks: a MoldUDP64 message
block (2-byte length, message) has the same layout as a BinaryFILE record, so
a packet is a 20-byte header followed by a slice of the chunk. The last
`retransmit_capacity` messages stay in a retransmission buffer that answers
MoldUDP64 request packets (session, first sequence, count) on the re-request
port; requests reaching past the buffer are answered as far as possible and
counted.

The re-request server is not an amplifier: it answers only requesters inside
its allow list (default: loopback and this host's own IPv4 subnets, see
`local_networks`), at most `max_request` messages per request, and each
requester address at most `rerequest_rate` messages per second after a burst
of `rerequest_burst` (a token bucket). A forged request naming a third party
as its source is refused, and counted.
"""
from __future__ import annotations

import bisect
import ipaddress
import logging
import random
import select
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba import njit

from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.chunk import FeedChunk
from tickaccel.feed.endpoints import SESSION
from tickaccel.feed.faults import parse_faults
from tickaccel.feed.source import open_feed
from tickaccel.feed.moldudp64 import (
    END_OF_SESSION,
    HEADER,
    MAX_MESSAGES_PER_PACKET,
    parse_request,
    session_bytes,
)
from tickaccel.live.sockets import AddressFilter, local_networks

# 1500-byte Ethernet MTU less IPv4 (20), UDP (8) and MoldUDP64 (20) headers.
DEFAULT_MAX_PAYLOAD = 1452
DEFAULT_SESSION = SESSION.encode()
# Re-request limits: what one request may ask for (the live receiver asks for at most 8192),
# and each requester's sustained rate and burst in messages.
DEFAULT_MAX_REQUEST = 8192
DEFAULT_REREQUEST_RATE = 1_000_000.0
DEFAULT_REREQUEST_BURST = 250_000

log = logging.getLogger("tickaccel.live.player")


def parse_address(text: str) -> tuple[str, int]:
    """'HOST:PORT' to (host, port); a clear error for anything else."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise TickaccelError(f"not HOST:PORT: {text!r}")
    return host, int(port)


LIVE_FAULTS = ("drop", "duplicate", "reorder", "seed")  # what a live player injects


@dataclass
class FaultSpec:
    """Per-packet probabilities of dropping, duplicating and reordering (swap with the next)."""

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    seed: int = 0

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        """Parse 'drop=0.01,duplicate=0.005,reorder=0.01,seed=7' (any subset, any order): the
        names `tickaccel generate --faults` uses for the same faults."""
        faults = parse_faults(text)
        unknown = sorted(set(faults) - set(LIVE_FAULTS))
        if unknown:
            raise TickaccelError(f"fault(s) {', '.join(unknown)} cannot be played live; use "
                                 "drop=P,duplicate=P,reorder=P,seed=N")
        for name, value in faults.items():
            if name != "seed" and not 0.0 <= value <= 1.0:
                raise TickaccelError(f"fault probability outside [0, 1]: {name}={value:g}")
        if "seed" in faults and faults["seed"] != int(faults["seed"]):
            raise TickaccelError(f"a fault seed is a whole number, not {faults['seed']:g}")
        return cls(**{name: int(v) if name == "seed" else v for name, v in faults.items()})

    def active(self) -> bool:
        return bool(self.drop or self.duplicate or self.reorder)


@njit(cache=True)
def _packet_bounds(data: np.ndarray, seqs: np.ndarray, max_payload: int):
    """Group the chunk's records into packets of whole, consecutively numbered messages.

    Returns (start, end, count) per packet; a record longer than `max_payload`
    travels alone. A trailing partial record is left out.
    """
    n = len(seqs)
    starts = np.empty(n, np.int64)
    ends = np.empty(n, np.int64)
    counts = np.empty(n, np.int64)
    packets = 0
    pos = 0
    size = len(data)
    i = 0
    while i < n and pos + 2 <= size:
        start = pos
        count = 0
        while i < n and pos + 2 <= size:
            rec_end = pos + 2 + ((np.int64(data[pos]) << 8) | np.int64(data[pos + 1]))
            if rec_end > size:
                i = n  # truncated record: the rest is not a message
                break
            if count > 0 and (rec_end - start > max_payload or count == MAX_MESSAGES_PER_PACKET
                              or seqs[i] != seqs[i - 1] + 1):
                break
            pos = rec_end
            count += 1
            i += 1
        if count == 0:
            break
        starts[packets] = start
        ends[packets] = pos
        counts[packets] = count
        packets += 1
    return starts[:packets], ends[:packets], counts[:packets]


@njit(cache=True)
def _message_offsets(payload: np.ndarray, count: int) -> np.ndarray:
    """Start offset of each of the `count` message blocks of a packet payload (plus the end)."""
    offsets = np.empty(count + 1, np.int64)
    pos = 0
    for k in range(count):
        offsets[k] = pos
        pos += 2 + ((np.int64(payload[pos]) << 8) | np.int64(payload[pos + 1]))
    offsets[count] = pos
    return offsets


def _chunk_seqs(chunk: FeedChunk) -> np.ndarray:
    if chunk.seqs is not None:
        return np.asarray(chunk.seqs, np.uint64)
    # BinaryFILE: the n-th record is message first_seq + n; at most one record per 3 bytes.
    return np.arange(chunk.first_seq, chunk.first_seq + len(chunk.data) // 2 + 1, dtype=np.uint64)


@njit(cache=True)
def _timestamps(data: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """ITCH timestamp of the first message of each packet (0 where the record is too short)."""
    out = np.zeros(len(starts), np.int64)
    for k in range(len(starts)):
        p = starts[k] + 2
        length = (np.int64(data[p - 2]) << 8) | np.int64(data[p - 1])
        if length >= 11:
            t = np.int64(0)
            for b in range(5, 11):
                t = (t << 8) | np.int64(data[p + b])
            out[k] = t
    return out


@dataclass
class Packet:
    """One MoldUDP64 packet's messages: first sequence, message count, message blocks."""

    first_seq: int
    count: int
    payload: bytes
    timestamp: int = 0


def packets_from_chunks(chunks: Iterable[FeedChunk],
                        max_payload: int = DEFAULT_MAX_PAYLOAD) -> Iterator[Packet]:
    """Cut feed chunks into MoldUDP64 packet bodies, keeping each record's feed sequence."""
    for chunk in chunks:
        data = np.ascontiguousarray(chunk.data, dtype=np.uint8)
        seqs = _chunk_seqs(chunk)
        starts, ends, counts = _packet_bounds(data, seqs, max_payload)
        stamps = _timestamps(data, starts)
        raw = data.tobytes()
        first = 0
        for start, end, count, stamp in zip(starts.tolist(), ends.tolist(), counts.tolist(),
                                            stamps.tolist()):
            yield Packet(int(seqs[first]), count, raw[start:end], stamp)
            first += count


class RetransmissionBuffer:
    """The most recent messages sent, kept as packets, bounded by a message count."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._firsts: list[int] = []
        self._packets: list[Packet] = []
        self._head = 0  # index of the oldest kept packet
        self.messages = 0

    def add(self, packet: Packet) -> None:
        self._firsts.append(packet.first_seq)
        self._packets.append(packet)
        self.messages += packet.count
        while self.messages > self.capacity and self._head < len(self._packets):
            self.messages -= self._packets[self._head].count
            self._packets[self._head] = None  # type: ignore[call-overload]
            self._head += 1
        if self._head > 4096 and self._head * 2 > len(self._packets):
            del self._firsts[:self._head], self._packets[:self._head]
            self._head = 0

    @property
    def oldest(self) -> int | None:
        return self._firsts[self._head] if self._head < len(self._firsts) else None

    def lookup(self, first: int, count: int) -> tuple[list[Packet], int]:
        """Packets covering as much of [first, first+count) as kept; and how many are not."""
        end = first + count
        out: list[Packet] = []
        i = max(bisect.bisect_right(self._firsts, first, lo=self._head) - 1, self._head)
        found = 0
        while i < len(self._packets) and self._firsts[i] < end:
            p = self._packets[i]
            i += 1
            lo, hi = max(first, p.first_seq), min(end, p.first_seq + p.count)
            if hi <= lo:
                continue
            if lo == p.first_seq and hi == p.first_seq + p.count:
                out.append(p)
            else:
                offs = _message_offsets(np.frombuffer(p.payload, np.uint8), p.count)
                out.append(Packet(lo, hi - lo,
                                  p.payload[offs[lo - p.first_seq]:offs[hi - p.first_seq]]))
            found += hi - lo
        return out, count - found


class RequestLimiter:
    """A token bucket of messages per requester address: `rate` a second, at most `burst` saved."""

    _REMEMBERED = 4096  # requesters tracked; a forgotten one starts again with a full bucket

    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise TickaccelError("re-request rate and burst must be positive")
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # host -> (tokens, when)

    def take(self, host: str, wanted: int, now: float) -> int:
        """Messages `host` may be sent now, at most `wanted`; they are taken from its bucket."""
        tokens, when = self._buckets.get(host, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - when) * self.rate)
        granted = min(wanted, int(tokens))
        if host not in self._buckets and len(self._buckets) >= self._REMEMBERED:
            self._buckets.clear()
        self._buckets[host] = (tokens - granted, now)
        return granted


@dataclass
class PublishStats:
    """What a publisher did: packets and messages sent, faults injected, re-requests served."""

    packets: int = 0
    messages: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    heartbeats: int = 0
    rerequests: int = 0
    bad_rerequests: int = 0
    refused_rerequests: int = 0  # from a source outside the allow list: nothing sent
    capped_rerequests: int = 0  # asked for more than max_request: cut to it
    rate_limited_rerequests: int = 0  # answered in part, or not at all, by the rate limit
    messages_rate_limited: int = 0
    messages_resent: int = 0
    messages_unavailable: int = 0
    next_seq: int = 1
    seconds: float = 0.0  # sending the feed, without the linger after the end
    cpu_seconds: float = 0.0  # CPU time of the sending thread over `seconds`
    feed_errors: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(vars(self))


class Publisher:
    """Sends one feed as a MoldUDP64 session to a UDP destination (unicast or multicast)."""

    def __init__(self, chunks: Iterable[FeedChunk], dest: tuple[str, int], *,
                 rate: float | None = None, realtime: bool = False, speed: float = 1.0,
                 faults: FaultSpec | None = None, rerequest_port: int | None = None,
                 rerequest_host: str = "127.0.0.1", session: str | bytes = DEFAULT_SESSION,
                 max_payload: int = DEFAULT_MAX_PAYLOAD, retransmit_capacity: int = 1_000_000,
                 linger: float = 0.0, heartbeat_interval: float = 0.5,
                 multicast_ttl: int = 1, feed_errors: ErrorLog | None = None,
                 burst_seconds: float = 0.001, allow: str | None = None,
                 max_request: int = DEFAULT_MAX_REQUEST,
                 rerequest_rate: float = DEFAULT_REREQUEST_RATE,
                 rerequest_burst: int = DEFAULT_REREQUEST_BURST) -> None:
        if rate is not None and rate <= 0:
            raise TickaccelError("--rate must be positive")
        if rate is not None and realtime:
            raise TickaccelError("--rate and --realtime exclude each other")
        self.chunks = chunks
        self.dest = dest
        self.rate = rate
        self.realtime = realtime
        self.speed = speed
        self.faults = faults or FaultSpec()
        try:
            self.session = session_bytes(session)
        except ValueError as exc:
            raise TickaccelError(str(exc)) from None
        self.max_payload = max_payload
        self.linger = linger
        self.heartbeat_interval = heartbeat_interval
        self.burst_seconds = burst_seconds
        self.buffer = RetransmissionBuffer(retransmit_capacity)
        self.stats = PublishStats()
        self.feed_errors = feed_errors
        self._rng = random.Random(self.faults.seed)
        self._held: bytes | None = None
        self._stop = False
        self._last_send = 0.0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
        if ipaddress.ip_address(socket.gethostbyname(dest[0])).is_multicast:
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, multicast_ttl)
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        if not 0 < max_request <= MAX_MESSAGES_PER_PACKET:
            raise TickaccelError(f"max re-request must be 1..{MAX_MESSAGES_PER_PACKET}")
        self.max_request = max_request
        self.allow = AddressFilter(allow if allow is not None else local_networks())
        self.limiter = RequestLimiter(rerequest_rate, rerequest_burst)
        self.request_sock: socket.socket | None = None
        if rerequest_port is not None:
            self.request_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.request_sock.bind((rerequest_host, rerequest_port))
            self.request_sock.setblocking(False)

    @classmethod
    def from_file(cls, path: str | Path, dest: tuple[str, int], **options) -> Publisher:
        """A publisher of the feed file at `path` (BinaryFILE, gzip or pcap), read as it goes."""
        errors = ErrorLog()
        return cls(open_feed(path, errors=errors), dest, feed_errors=errors, **options)

    @property
    def rerequest_address(self) -> tuple[str, int] | None:
        """Where the re-request server listens (its port is known after binding port 0)."""
        return None if self.request_sock is None else self.request_sock.getsockname()

    def stop(self) -> None:
        """Ask `run` to finish: stop sending data, send end of session, return."""
        self._stop = True

    # ---- sending ----

    def _send(self, packet: bytes) -> None:
        self.sock.sendto(packet, self.dest)
        self._last_send = time.monotonic()

    def _emit(self, packet: bytes) -> None:
        """Send one data packet through the fault injector."""
        f = self.faults
        if f.active():
            r = self._rng.random()
            if r < f.drop:
                self.stats.dropped += 1
                return
            if self._held is None and r < f.drop + f.reorder:
                self._held = packet  # goes out after the next packet
                self.stats.reordered += 1
                return
            if r < f.drop + f.reorder + f.duplicate:
                self._send(packet)
                self.stats.duplicated += 1
        self._send(packet)
        if self._held is not None:
            held, self._held = self._held, None
            self._send(held)

    def _control(self, count: int) -> None:
        self._send(HEADER.pack(self.session, self.stats.next_seq, count))
        self.stats.heartbeats += 1

    # ---- re-requests ----

    def serve_requests(self, timeout_ms: float = 0) -> None:
        """Answer every re-request waiting on the request socket (waiting up to `timeout_ms`)."""
        if self.request_sock is None:
            if timeout_ms:
                time.sleep(timeout_ms / 1000)
            return
        # select, not poll: it sleeps with microsecond resolution, poll in whole milliseconds.
        if not select.select([self.request_sock], [], [], timeout_ms / 1000)[0]:
            return
        while True:
            try:
                request, addr = self.request_sock.recvfrom(64)
            except BlockingIOError:
                return
            if not self.allow(addr[0]):
                self.stats.refused_rerequests += 1
                continue
            parsed = parse_request(request)
            if parsed is None or parsed[0] != self.session or parsed[1] == 0:
                self.stats.bad_rerequests += 1
                continue
            _, first, count = parsed
            self.stats.rerequests += 1
            if count > self.max_request:
                self.stats.capped_rerequests += 1
                count = self.max_request
            # Never answer beyond what was sent; those sequences do not exist yet.
            available = max(0, min(count, self.stats.next_seq - first))
            granted = self.limiter.take(addr[0], available, time.monotonic())
            if granted < available:
                self.stats.rate_limited_rerequests += 1
                self.stats.messages_rate_limited += available - granted
            packets, missing = self.buffer.lookup(first, granted)
            self.stats.messages_unavailable += missing + (count - available)
            for p in packets:
                self.request_sock.sendto(
                    HEADER.pack(self.session, p.first_seq, p.count) + p.payload, addr)
                self.stats.messages_resent += p.count

    # ---- pacing ----

    def _wait_until(self, deadline: float) -> None:
        """Sleep until `deadline` (perf_counter seconds), serving re-requests and heartbeats.

        Never spins: where publisher and receiver share a few cores, a
        spinning publisher takes a core the receiver needs.
        """
        while not self._stop:
            left = deadline - time.perf_counter()
            if left <= 0:
                return
            self.serve_requests(min(left, self.heartbeat_interval) * 1000)
            if time.monotonic() - self._last_send >= self.heartbeat_interval:
                self._control(0)

    def run(self) -> PublishStats:
        """Send the whole feed (or until `stop`), then end of session and the linger period.

        Paced sending (`rate`, `realtime`) goes in bursts: every packet due
        within the next `burst_seconds` goes at once, then the sender sleeps
        until the next one is due. The average rate is exact; the sender never
        spins.
        """
        t0 = time.perf_counter()
        cpu0 = time.thread_time()
        first_stamp: int | None = None
        sent_messages = 0
        for index, p in enumerate(packets_from_chunks(self.chunks, self.max_payload)):
            if self._stop:
                break
            if index == 0:  # the clock starts with the first packet, not with reading the feed
                t0 = time.perf_counter()
                cpu0 = time.thread_time()
            due = None
            if self.rate is not None:
                due = t0 + sent_messages / self.rate
            elif self.realtime:
                if first_stamp is None:
                    first_stamp = p.timestamp
                due = t0 + max(0, p.timestamp - first_stamp) / 1e9 / self.speed
            if due is not None and due - time.perf_counter() > self.burst_seconds:
                self._wait_until(due)
            elif index % 16 == 0:
                self.serve_requests()
            if p.first_seq != self.stats.next_seq:
                log.info("feed sequence jumps", extra={"expected": self.stats.next_seq,
                                                       "got": p.first_seq})
            self.buffer.add(p)
            self._emit(HEADER.pack(self.session, p.first_seq, p.count) + p.payload)
            self.stats.packets += 1
            self.stats.messages += p.count
            sent_messages += p.count
            self.stats.next_seq = p.first_seq + p.count
        if self._held is not None:
            held, self._held = self._held, None
            self._send(held)
        self._control(END_OF_SESSION)
        self.stats.seconds = time.perf_counter() - t0
        self.stats.cpu_seconds = time.thread_time() - cpu0
        end = time.monotonic() + self.linger
        while not self._stop and time.monotonic() < end:
            self.serve_requests(int(min(self.heartbeat_interval, max(end - time.monotonic(), 0))
                                    * 1000) + 1)
            if time.monotonic() - self._last_send >= self.heartbeat_interval:
                self._control(END_OF_SESSION)
        if self.feed_errors is not None:
            self.stats.feed_errors = self.feed_errors.to_dict()
        return self.stats

    def close(self) -> None:
        self.sock.close()
        if self.request_sock is not None:
            self.request_sock.close()

