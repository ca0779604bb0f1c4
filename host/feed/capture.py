"""Packet captures (pcap, pcapng) of Ethernet/IPv4/UDP frames carrying MoldUDP64.

Frames are parsed one by one (a packet holds tens of messages); the messages
of many packets are put back in sequence order and delivered as one
`FeedChunk` with a ``seqs`` column. Every frame that is not a usable
MoldUDP64 datagram is counted by kind at its 1-based frame number.
"""
from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterable, Iterator
from decimal import Decimal

import dpkt
import numpy as np

from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.chunk import FeedChunk
from tickaccel.feed.moldudp64 import Run, SequenceTracker, parse_packet

PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_VLAN = 0x8100
IPPROTO_UDP = 17
_ETH = struct.Struct(">6s6sH")
_VLAN = struct.Struct(">HH")
_IPV4 = struct.Struct(">BBHHHBBH4s4s")
_UDP = struct.Struct(">HHHH")


def capture_format(head: bytes) -> str | None:
    """'pcap' or 'pcapng' from a file's first four bytes, None for anything else."""
    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if head[:4] == PCAPNG_MAGIC:
        return "pcapng"
    return None


def _ones_complement_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def ipv4_checksum(header: bytes) -> int:
    """The IPv4 header checksum of ``header`` (its checksum field taken as zero)."""
    return ~_ones_complement_sum(header[:10] + b"\0\0" + header[12:]) & 0xFFFF


def udp_payload(frame: bytes, udp_port: int | None = None) -> tuple[str | None, bytes]:
    """The UDP payload of an Ethernet frame, or the error kind that rules it out.

    Returns ``(None, payload)`` for a usable datagram, else ``(kind, b"")``
    with kind one of ``non_ip_frame``, ``non_udp_frame``, ``ip_fragment``,
    ``bad_ip_checksum``, ``malformed_frame``, ``wrong_port``.
    """
    if len(frame) < _ETH.size:
        return "malformed_frame", b""
    ethertype = _ETH.unpack_from(frame)[2]
    ip_start = _ETH.size
    if ethertype == ETHERTYPE_VLAN:
        if len(frame) < ip_start + _VLAN.size:
            return "malformed_frame", b""
        ethertype = _VLAN.unpack_from(frame, ip_start)[1]
        ip_start += _VLAN.size
    if ethertype != ETHERTYPE_IPV4:
        return "non_ip_frame", b""
    if len(frame) < ip_start + _IPV4.size:
        return "malformed_frame", b""
    ver_ihl, _, total_length, _, flags_fragment, _, protocol, _, _, _ = _IPV4.unpack_from(frame, ip_start)
    header_length = (ver_ihl & 0x0F) * 4
    available = len(frame) - ip_start
    # Ethernet pads short frames, so the frame may be longer than the IP packet, never shorter.
    if ver_ihl >> 4 != 4 or header_length < _IPV4.size or total_length < header_length \
            or total_length > available:
        return "malformed_frame", b""
    if _ones_complement_sum(frame[ip_start:ip_start + header_length]) != 0xFFFF:
        return "bad_ip_checksum", b""
    if flags_fragment & 0x3FFF:  # more-fragments flag or a fragment offset
        return "ip_fragment", b""
    if protocol != IPPROTO_UDP:
        return "non_udp_frame", b""
    udp_start = ip_start + header_length
    ip_end = ip_start + total_length
    if ip_end - udp_start < _UDP.size:
        return "malformed_frame", b""
    _, dst_port, udp_length, _ = _UDP.unpack_from(frame, udp_start)
    if udp_length < _UDP.size or udp_start + udp_length > ip_end:
        return "malformed_frame", b""
    if udp_port is not None and dst_port != udp_port:
        return "wrong_port", b""
    return None, frame[udp_start + _UDP.size:udp_start + udp_length]


def udp_frame(
    payload: bytes,
    *,
    src_mac: bytes = b"\x02\x00\x00\x00\x00\x01",
    dst_mac: bytes = b"\x01\x00\x5e\x00\x00\x01",
    src_ip: str = "10.0.0.1",
    dst_ip: str = "233.54.12.111",
    src_port: int = 26400,
    dst_port: int = 26400,
    vlan: int | None = None,
    ident: int = 0,
    ttl: int = 64,
    protocol: int = IPPROTO_UDP,
) -> bytes:
    """An Ethernet II (optionally 802.1Q tagged) / IPv4 / UDP frame around ``payload``.

    The IPv4 checksum is correct and the UDP checksum is 0 (allowed over IPv4).
    """
    udp = _UDP.pack(src_port, dst_port, _UDP.size + len(payload), 0) + payload
    header = _IPV4.pack(0x45, 0, _IPV4.size + len(udp), ident & 0xFFFF, 0x4000, ttl, protocol, 0,
                        socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    header = header[:10] + ipv4_checksum(header).to_bytes(2, "big") + header[12:]
    eth = dst_mac + src_mac
    if vlan is not None:
        eth += _VLAN.pack(ETHERTYPE_VLAN, vlan & 0x0FFF)
    eth += ETHERTYPE_IPV4.to_bytes(2, "big")
    return eth + header + udp


def write_pcap(
    path: str | os.PathLike,
    frames: Iterable[bytes],
    timestamps_ns: Iterable[int] | None = None,
    *,
    pcapng: bool = False,
) -> int:
    """Write Ethernet frames to a pcap (nanosecond timestamps) or pcapng (microsecond) file.

    ``timestamps_ns`` are nanoseconds since the Unix epoch, one per frame;
    without them frames are 1 µs apart from the epoch. Returns the frame count.
    """
    count = 0
    with open(path, "wb") as out:
        if pcapng:
            writer = dpkt.pcapng.Writer(out, snaplen=65535)
        else:
            writer = dpkt.pcap.Writer(out, snaplen=65535, nano=True)
        times = iter(timestamps_ns) if timestamps_ns is not None else None
        for frame in frames:
            ns = next(times) if times is not None else count * 1000
            # Decimal keeps every nanosecond that a float of epoch seconds would round away.
            writer.writepkt(frame, ts=ns / 1e9 if pcapng else Decimal(ns) / 1_000_000_000)
            count += 1
    return count


def open_reader(stream, path: str | os.PathLike):
    """A dpkt reader of the pcap or pcapng capture open as binary `stream`, yielding (time, frame).

    Raises `TickaccelError` naming `path` when the capture is unreadable or not Ethernet.
    """
    kind = capture_format(stream.read(4))
    stream.seek(0)
    try:
        reader = dpkt.pcapng.Reader(stream) if kind == "pcapng" else dpkt.pcap.Reader(stream)
    except (ValueError, dpkt.dpkt.NeedData, dpkt.dpkt.UnpackError) as exc:
        raise TickaccelError(f"not a readable capture: {os.fspath(path)} ({exc})") from None
    if reader.datalink() != dpkt.pcap.DLT_EN10MB:
        raise TickaccelError(f"capture link type {reader.datalink()} is not Ethernet: {os.fspath(path)}")
    return reader


class _ChunkBuilder:
    """Collects released runs into FeedChunks of about ``chunk_bytes``."""

    def __init__(self, chunk_bytes: int) -> None:
        self.chunk_bytes = chunk_bytes
        self.parts: list[bytes] = []
        self.seqs: list[np.ndarray] = []
        self.size = 0

    def add(self, runs: list[Run]) -> None:
        for first, count, blocks in runs:
            self.parts.append(blocks)
            self.seqs.append(np.arange(first, first + count, dtype=np.uint64))
            self.size += len(blocks)

    @property
    def full(self) -> bool:
        return self.size >= self.chunk_bytes

    def take(self) -> FeedChunk:
        seqs = np.concatenate(self.seqs)
        chunk = FeedChunk(data=np.frombuffer(b"".join(self.parts), dtype=np.uint8),
                          first_seq=int(seqs[0]), seqs=seqs, base_offset=-1)
        self.parts, self.seqs, self.size = [], [], 0
        return chunk


def read_capture(
    path: str | os.PathLike,
    *,
    errors: ErrorLog,
    chunk_bytes: int = 32 << 20,
    udp_port: int | None = None,
    window: int = 4096,
) -> Iterator[FeedChunk]:
    """Stream the MoldUDP64 messages of a pcap/pcapng capture in sequence order.

    Frames that are not usable UDP datagrams (or not to ``udp_port`` when
    given) are counted at their frame number; sequence gaps, duplicates and
    reordering are handled by a `SequenceTracker` with a ``window``-message
    reorder buffer.
    """
    tracker = SequenceTracker(errors, window=window)
    builder = _ChunkBuilder(chunk_bytes)
    with open(path, "rb") as stream:
        reader = open_reader(stream, path)
        frame_number = 0
        for _, frame in reader:
            frame_number += 1
            kind, payload = udp_payload(frame, udp_port)
            if kind is not None:
                errors.add(kind, frame_number)
                continue
            packet = parse_packet(payload, errors, frame_number)
            if packet is None:
                continue
            builder.add(tracker.push(packet))
            if builder.full:
                yield builder.take()
    builder.add(tracker.finish())
    if builder.parts:
        yield builder.take()
