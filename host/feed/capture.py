"""Packet captures (pcap, pcapng) of Ethernet/IPv4/UDP frames carrying MoldUDP64.

Captures are read by `CaptureReader`, which finds the record boundaries again
after damage (a bad pcap record header, a pcapng block whose lengths disagree)
so that damage costs only the damaged records. Frames are parsed one by one (a
packet holds tens of messages); the messages of many packets are put back in
sequence order and delivered as one `FeedChunk` with a ``seqs`` column. Every
frame that is not a usable MoldUDP64 datagram is counted by kind at its
1-based frame number.
"""
from __future__ import annotations

import contextlib
import mmap
import os
import socket
import struct
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import NamedTuple

import numpy as np

from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.chunk import FeedChunk
from tickaccel.feed.moldudp64 import HEADER_LENGTH, Run, SequenceTracker, parse_packet
from tickaccel.schema.units import NS_PER_SECOND

PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_VLAN = 0x8100
IPPROTO_UDP = 17
LINKTYPE_ETHERNET = 1  # a capture's link type for Ethernet frames (pcap and pcapng alike)
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


def udp_payload(frame: bytes, udp_port: int | None = None,
                wire_length: int | None = None) -> tuple[str | None, bytes]:
    """The UDP payload of an Ethernet frame, or the error kind that rules it out.

    Returns ``(None, payload)`` for a usable datagram, else ``(kind, b"")``
    with kind one of ``non_ip_frame``, ``non_udp_frame``, ``ip_fragment``,
    ``bad_ip_checksum``, ``malformed_frame``, ``wrong_port``,
    ``truncated_frame``. A frame shorter than its ``wire_length`` was cut by
    the capture: its payload is what was captured of it (shorter than the UDP
    length says), and ``truncated_frame`` when the cut falls before the
    payload begins.
    """
    cut = wire_length is not None and wire_length > len(frame)
    too_short = "truncated_frame" if cut else "malformed_frame"
    if len(frame) < _ETH.size:
        return too_short, b""
    ethertype = _ETH.unpack_from(frame)[2]
    ip_start = _ETH.size
    if ethertype == ETHERTYPE_VLAN:
        if len(frame) < ip_start + _VLAN.size:
            return too_short, b""
        ethertype = _VLAN.unpack_from(frame, ip_start)[1]
        ip_start += _VLAN.size
    if ethertype != ETHERTYPE_IPV4:
        return "non_ip_frame", b""
    if len(frame) < ip_start + _IPV4.size:
        return too_short, b""
    ver_ihl, _, total_length, _, flags_fragment, _, protocol, _, _, _ = _IPV4.unpack_from(frame, ip_start)
    header_length = (ver_ihl & 0x0F) * 4
    # Ethernet pads short frames, so the frame may be longer than the IP packet, never
    # shorter unless the capture cut it.
    available = (wire_length if cut else len(frame)) - ip_start
    if ver_ihl >> 4 != 4 or header_length < _IPV4.size or total_length < header_length \
            or total_length > available:
        return "malformed_frame", b""
    if len(frame) < ip_start + header_length:
        return too_short, b""
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
    if len(frame) < udp_start + _UDP.size:
        return too_short, b""
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
    import dpkt  # only writers need it: a reader's start stays short

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


class CaptureRecord(NamedTuple):
    """One frame of a capture: where its record starts in the file, when it was captured,
    the bytes captured and the frame's length on the wire (more when the capture cut it)."""

    offset: int
    time_ns: int
    frame: bytes
    wire_length: int


_PCAP_FILE_HEADER = "4sHHiIII"  # magic, version (2), time zone, sigfigs, snaplen, link type
_PCAP_FILE_HEADER_LENGTH = struct.calcsize("<" + _PCAP_FILE_HEADER)
_PCAP_LITTLE_ENDIAN_FIRST_BYTES = (0xD4, 0x4D)  # of the microsecond and nanosecond magics
_PCAP_NANO_MAGICS = (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
_PCAP_RECORD_LENGTH = 16  # seconds, fraction, captured length, wire length
_DEFAULT_SNAPLEN = 65535
_MAX_SNAPLEN = 262144  # libpcap's largest: a snaplen above it is damage, 65 535 is used instead
# How far a record's time may go back from the one before (captures from several queues
# interleave a little) and forward (a quiet night). A record outside both is still taken
# when its frame parses and the record after it is plausible: a clock step, not damage.
_TIME_BACK_TOLERANCE_NS = 60 * NS_PER_SECOND
_TIME_FORWARD_LIMIT_NS = 86_400 * NS_PER_SECOND
# udp_payload's verdicts that vouch for a frame: its IPv4 header and checksum are right.
_IP_FRAME_VERDICTS = (None, "wrong_port", "non_udp_frame", "ip_fragment")

_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_IDB, _PCAPNG_PB, _PCAPNG_SPB, _PCAPNG_NRB, _PCAPNG_ISB, _PCAPNG_EPB = 1, 2, 3, 4, 5, 6
# Block types a resynchronisation may land on: section header, interface, packet (obsolete,
# simple, enhanced), name resolution and interface statistics blocks.
_PCAPNG_KNOWN_TYPES = frozenset((_PCAPNG_SHB, _PCAPNG_IDB, _PCAPNG_PB, _PCAPNG_SPB, _PCAPNG_NRB,
                                 _PCAPNG_ISB, _PCAPNG_EPB))
_PCAPNG_BYTE_ORDER = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
_PCAPNG_MIN_BLOCK = 12  # type, total length, total length again
_PCAPNG_BLOCK_HEADER = 8  # type, total length: a block's body starts after them
_PCAPNG_TRAILER = 4  # the total length again
_PCAPNG_SPB_DATA = 12  # the simple packet block's frame: after its header and wire length
# The (obsolete and enhanced) packet block's frame: after its header, interface, time
# (two words), captured and wire lengths.
_PCAPNG_PACKET_DATA = 28
_PCAPNG_IDB_OPTIONS = 16  # an interface block's options: after its header, link type, snaplen
_PCAPNG_MAX_BLOCK = 1 << 24  # a longer block is a damaged length, not a packet
_PCAPNG_OPT_TSRESOL = 9
_PCAPNG_DEFAULT_TSRESOL = 6  # microseconds


def _frame_parses(frame: bytes, wire_length: int) -> bool:
    """Whether ``frame`` is an Ethernet frame with a right IPv4 header: evidence of a record boundary."""
    return udp_payload(frame, wire_length=wire_length)[0] in _IP_FRAME_VERDICTS


class CaptureReader:
    """The frames of a pcap or pcapng capture, found again after damage.

    Iterating gives (seconds since the epoch, frame) as dpkt's readers did;
    `records` gives `CaptureRecord`s. Damage never raises: bytes that are no
    record (a bad pcap record header, a pcapng block whose two lengths
    disagree) are counted as ``bytes_skipped`` at the file offset where they
    start, up to where a plausible record follows; a record cut short by the
    end of the file as ``truncated_record`` at its offset, its captured bytes
    still delivered.
    """

    def __init__(self, data, kind: str, errors: ErrorLog | None = None) -> None:
        self._data = data
        self.kind = kind
        self.errors = errors if errors is not None else ErrorLog()
        if kind == "pcap":
            order = "<" if data[0] in _PCAP_LITTLE_ENDIAN_FIRST_BYTES else ">"
            magic, _, _, _, _, snaplen, linktype = struct.unpack_from(order + _PCAP_FILE_HEADER, data)
            self._record = struct.Struct(order + "IIII")
            self._fraction_ns = 1 if magic in _PCAP_NANO_MAGICS else 1000
            self._max_caplen = snaplen if 0 < snaplen <= _MAX_SNAPLEN else _DEFAULT_SNAPLEN
            self._linktype = linktype & 0xFFFF  # the upper bits say whether frames carry an FCS
        else:
            self._linktype = self._pcapng_first_linktype()

    def close(self) -> None:
        """Let go of the file's mapping; frames already read stay valid."""
        self._data.close()

    def datalink(self) -> int:
        """The link type of the capture (of its first interface for pcapng)."""
        return self._linktype

    def __iter__(self) -> Iterator[tuple[float, bytes]]:
        for record in self.records():
            yield record.time_ns / NS_PER_SECOND, record.frame

    def records(self) -> Iterator[CaptureRecord]:
        """Every frame of the capture in file order, damage counted in ``errors``."""
        return self._pcap_records() if self.kind == "pcap" else self._pcapng_records()

    # ---- pcap ----

    def _pcap_header(self, pos: int) -> tuple[int, int, int] | None:
        """(time in ns, captured length, wire length) of the record header at ``pos`` if plausible."""
        seconds, fraction, caplen, wire_length = self._record.unpack_from(self._data, pos)
        time_ns = seconds * NS_PER_SECOND + fraction * self._fraction_ns
        if caplen > self._max_caplen or caplen > wire_length or wire_length > _MAX_SNAPLEN \
                or fraction * self._fraction_ns >= NS_PER_SECOND:
            return None
        return time_ns, caplen, wire_length

    @staticmethod
    def _in_time(time_ns: int, previous_ns: int | None) -> bool:
        """Whether a record of ``time_ns`` may follow one of ``previous_ns`` (None: any may)."""
        return previous_ns is None or \
            previous_ns - _TIME_BACK_TOLERANCE_NS <= time_ns <= previous_ns + _TIME_FORWARD_LIMIT_NS

    def _pcap_vouched(self, pos: int, previous_ns: int | None) -> tuple[int, int, int] | None:
        """The header at ``pos`` if a record starts there: a plausible header (in time with
        ``previous_ns`` when given), a frame that parses, and a plausible record or the end
        of the file after it."""
        size = len(self._data)
        if pos + _PCAP_RECORD_LENGTH > size:
            return None
        header = self._pcap_header(pos)
        if header is None or not self._in_time(header[0], previous_ns):
            return None
        time_ns, caplen, wire_length = header
        start = pos + _PCAP_RECORD_LENGTH
        if not _frame_parses(self._data[start:start + caplen], wire_length):
            return None
        end = start + caplen
        if end + _PCAP_RECORD_LENGTH > size:
            return header
        following = self._pcap_header(end)
        return header if following is not None and self._in_time(following[0], time_ns) else None

    def _pcap_records(self) -> Iterator[CaptureRecord]:
        data, size, errors = self._data, len(self._data), self.errors
        pos = _PCAP_FILE_HEADER_LENGTH
        previous_ns = None
        while pos < size:
            if pos + _PCAP_RECORD_LENGTH > size:
                errors.add("truncated_record", pos)
                return
            header = self._pcap_header(pos)
            if header is None or not self._in_time(header[0], previous_ns):
                header = self._pcap_vouched(pos, None)  # a clock step, if frame and next record agree
            if header is None:
                resume = pos + 1
                while resume < size and self._pcap_vouched(resume, previous_ns) is None:
                    resume += 1
                errors.add("bytes_skipped", pos, resume - pos)
                pos = resume
                continue
            time_ns, caplen, wire_length = header
            start = pos + _PCAP_RECORD_LENGTH
            if start + caplen > size:
                errors.add("truncated_record", pos)
            yield CaptureRecord(pos, time_ns, data[start:start + caplen], wire_length)
            previous_ns = time_ns
            pos = start + caplen

    # ---- pcapng ----

    def _pcapng_block(self, pos: int, order: str, resyncing: bool) -> tuple[str, int, int] | None:
        """(byte order, type, total length) of a whole block at ``pos`` whose two lengths agree.

        A section header block brings its own byte order. When ``resyncing``,
        only block types tickaccel knows are taken.
        """
        data = self._data
        if pos + _PCAPNG_MIN_BLOCK > len(data):
            return None
        if data[pos:pos + len(PCAPNG_MAGIC)] == PCAPNG_MAGIC:
            body = pos + _PCAPNG_BLOCK_HEADER
            order = _PCAPNG_BYTE_ORDER.get(bytes(data[body:body + 4]))
            if order is None:
                return None
        block_type, length = struct.unpack_from(order + "II", data, pos)
        if length < _PCAPNG_MIN_BLOCK or length % 4 or length > _PCAPNG_MAX_BLOCK \
                or pos + length > len(data) or (resyncing and block_type not in _PCAPNG_KNOWN_TYPES):
            return None
        if struct.unpack_from(order + "I", data, pos + length - _PCAPNG_TRAILER)[0] != length:
            return None
        return order, block_type, length

    def _pcapng_first_linktype(self) -> int:
        """The link type of the first interface block, if the blocks lead to one in order."""
        pos, order = 0, "<"
        while (block := self._pcapng_block(pos, order, False)) is not None:
            order, block_type, length = block
            if block_type == _PCAPNG_IDB:
                return struct.unpack_from(order + "H", self._data, pos + _PCAPNG_BLOCK_HEADER)[0]
            pos += length
        return LINKTYPE_ETHERNET  # none found whole: the frames will show what they are

    def _pcapng_interface(self, pos: int, order: str, length: int) -> tuple[int, int, int]:
        """(snaplen, ns multiplier, divisor) of the interface block at ``pos``."""
        data = self._data
        # The snaplen follows the 2-byte link type and two reserved bytes.
        snaplen = struct.unpack_from(order + "I", data, pos + _PCAPNG_BLOCK_HEADER + 4)[0]
        resolution = _PCAPNG_DEFAULT_TSRESOL
        option, end = pos + _PCAPNG_IDB_OPTIONS, pos + length - _PCAPNG_TRAILER
        while option + 4 <= end:
            code, size = struct.unpack_from(order + "HH", data, option)
            if code == 0:  # the end of the options
                break
            if code == _PCAPNG_OPT_TSRESOL and size >= 1 and option + 5 <= end:
                resolution = data[option + 4]
            option += 4 + (size + 3) // 4 * 4  # code, size, the value padded to 32 bits
        if resolution & 0x80:  # a power of two
            return snaplen, NS_PER_SECOND, 1 << (resolution & 0x7F)
        return snaplen, NS_PER_SECOND, 10 ** resolution

    def _pcapng_packet(self, pos: int, order: str, block_type: int, length: int,
                       interfaces: list[tuple[int, int, int]]) -> CaptureRecord | None:
        """The frame of a packet block, or None when its lengths do not fit the block."""
        data, body = self._data, pos + _PCAPNG_BLOCK_HEADER
        if block_type == _PCAPNG_SPB:  # no time, and the captured length is implied
            wire_length = struct.unpack_from(order + "I", data, body)[0]
            snaplen = interfaces[0][0] if interfaces else 0
            caplen = min(wire_length, length - _PCAPNG_SPB_DATA - _PCAPNG_TRAILER, snaplen or wire_length)
            start = pos + _PCAPNG_SPB_DATA
            return CaptureRecord(pos, 0, data[start:start + caplen], wire_length)
        if block_type == _PCAPNG_EPB:
            interface, high, low, caplen, wire_length = struct.unpack_from(order + "IIIII", data, body)
        else:  # the obsolete packet block: a 2-byte interface and a drop count
            interface, _, high, low, caplen, wire_length = struct.unpack_from(order + "HHIIII", data, body)
        if caplen > length - _PCAPNG_PACKET_DATA - _PCAPNG_TRAILER or caplen > wire_length:
            return None
        _, multiplier, divisor = interfaces[interface] if interface < len(interfaces) \
            else (0, NS_PER_SECOND, 10 ** _PCAPNG_DEFAULT_TSRESOL)
        time_ns = ((high << 32) | low) * multiplier // divisor
        start = pos + _PCAPNG_PACKET_DATA
        return CaptureRecord(pos, time_ns, data[start:start + caplen], wire_length)

    def _pcapng_records(self) -> Iterator[CaptureRecord]:
        size, errors = len(self._data), self.errors
        pos, order = 0, "<"
        interfaces: list[tuple[int, int, int]] = []
        while pos < size:
            block = self._pcapng_block(pos, order, False)
            if block is None:
                resume = pos + 1
                while resume < size and self._pcapng_block(resume, order, True) is None:
                    resume += 1
                if resume == size and self._cut_by_end(pos, order):
                    errors.add("truncated_record", pos)
                else:
                    errors.add("bytes_skipped", pos, resume - pos)
                pos = resume
                continue
            order, block_type, length = block
            if block_type == _PCAPNG_SHB:
                interfaces = []
            elif block_type == _PCAPNG_IDB:
                interfaces.append(self._pcapng_interface(pos, order, length))
            elif block_type in (_PCAPNG_EPB, _PCAPNG_PB, _PCAPNG_SPB):
                record = self._pcapng_packet(pos, order, block_type, length, interfaces)
                if record is None:
                    errors.add("bytes_skipped", pos, length)
                else:
                    yield record
            pos += length

    def _cut_by_end(self, pos: int, order: str) -> bool:
        """Whether the block at ``pos`` looks whole but for the end of the file coming first."""
        if pos + _PCAPNG_BLOCK_HEADER > len(self._data):
            return True
        block_type, length = struct.unpack_from(order + "II", self._data, pos)
        return block_type in _PCAPNG_KNOWN_TYPES and _PCAPNG_MIN_BLOCK <= length <= _PCAPNG_MAX_BLOCK \
            and pos + length > len(self._data)


def open_reader(stream, path: str | os.PathLike, errors: ErrorLog | None = None) -> CaptureReader:
    """A `CaptureReader` of the pcap or pcapng capture open as binary ``stream``.

    Damage met while reading is counted in ``errors`` (a private log when
    None); a damaged pcapng section header is skipped like any bad block.
    Raises `TickaccelError` naming ``path`` when a pcap file header is cut
    short or the capture is not Ethernet.
    """
    name = os.fspath(path)
    stream.seek(0)
    head = stream.read(_PCAP_FILE_HEADER_LENGTH)
    kind = capture_format(head)
    if kind is None or len(head) < (_PCAP_FILE_HEADER_LENGTH if kind == "pcap" else _PCAPNG_MIN_BLOCK):
        raise TickaccelError(f"not a readable capture: {name} (no pcap or pcapng file header)")
    data = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    reader = CaptureReader(data, kind, errors)
    if reader.datalink() != LINKTYPE_ETHERNET:
        raise TickaccelError(f"capture link type {reader.datalink()} is not Ethernet: {name}")
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
            # Added, not np.arange's stop: one past the last sequence may be 2**64.
            self.seqs.append(np.arange(count, dtype=np.uint64) + np.uint64(first))
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
    file_read: Callable[[int], None] | None = None,
) -> Iterator[FeedChunk]:
    """Stream the MoldUDP64 messages of a pcap/pcapng capture in sequence order.

    Damage to the capture's own records is counted at file offsets (see
    `CaptureReader`). Frames that are not usable UDP datagrams (or not to
    ``udp_port`` when given) are counted at their frame number; of a frame
    the capture cut short, the whole messages captured are kept and the first
    one lost is counted as ``truncated_message`` (``truncated_frame`` when
    the cut leaves no MoldUDP64 header). Sequence gaps, duplicates and
    reordering are handled by a `SequenceTracker` with a ``window``-message
    reorder buffer. ``file_read`` gets the bytes of the file read so far before
    each chunk and at the end.
    """
    tracker = SequenceTracker(errors, window=window)
    builder = _ChunkBuilder(chunk_bytes)
    with open(path, "rb") as stream, contextlib.closing(open_reader(stream, path, errors)) as reader:
        frame_number = 0
        for record in reader.records():
            frame_number += 1
            frame = record.frame
            kind, payload = udp_payload(frame, udp_port, record.wire_length)
            if kind is None and len(payload) < HEADER_LENGTH and len(frame) < record.wire_length:
                kind = "truncated_frame"
            if kind is not None:
                errors.add(kind, frame_number)
                continue
            packet = parse_packet(payload, errors, frame_number)
            if packet is None:
                continue
            builder.add(tracker.push(packet))
            if builder.full:
                if file_read is not None:
                    file_read(record.offset)
                yield builder.take()
        if file_read is not None:
            file_read(os.fstat(stream.fileno()).st_size)
    builder.add(tracker.finish())
    if builder.parts:
        yield builder.take()
