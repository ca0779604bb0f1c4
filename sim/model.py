"""Host-side reference of the RTL feed handler: frames in, book-event records and counters out.

`FeedHandlerModel` follows the hardware's policies stage by stage (see the
header comments of hw/rtl/*.v) in plain Python: the Ethernet/IPv4/UDP checks
in the same priority order, MoldUDP64 sequencing with one active session,
block extraction, and the records built by `tickaccel.schema.records` from
`itch.decode_message`. The RTL testbenches hold the hardware to it, record
for record and counter for counter.

`build_frames` and `inject_faults` make the stimulus: a generated feed packed
by `moldudp64.build_packets` into `capture.udp_frame`s, then packets dropped,
duplicated, overlapped, reordered, corrupted and truncated, and foreign
frames (garbage, other ports, ARP, fragments, VLAN-tagged, MAC errors) mixed in.
"""
from __future__ import annotations

import pickle
import random
import struct
from dataclasses import dataclass, field

from tickaccel.schema import csr, itch, records

from tickaccel.feed import generator, moldudp64
from tickaccel.feed.capture import ipv4_checksum, udp_frame
from tickaccel.feed.framing import DEST_IP, DEST_PORT, SESSION, ip_to_int


@dataclass
class Frame:
    """One Ethernet frame as it enters s_axis; ``error`` is tuser on its last beat."""

    data: bytes
    error: bool = False


@dataclass
class ExpectedRecord:
    word: int
    frame_index: int
    last_byte: int  # frame offset of the message's last byte


@dataclass
class ModelResult:
    records: list[ExpectedRecord] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=lambda: {name: 0 for name in csr.COUNTERS})
    gaps: list[tuple[int, int]] = field(default_factory=list)
    expected_seq: int = 0
    # what leaves each stage, for the per-module testbenches
    udp_payloads: list[tuple[bytes, bool]] = field(default_factory=list)  # payload, tuser
    # blocks, seq, skip, tuser, drop (a duplicate: its beats leave moldudp64_rx, marked)
    mold_packets: list[tuple[bytes, int, int, bool, bool]] = field(default_factory=list)
    messages: list[tuple[bytes, int]] = field(default_factory=list)  # message, seq


# ---- stimulus ----

def build_frames(feed: bytes, first_seq: int = 1, max_payload: int = 1400, vlan_every: int = 0,
                 session: str = SESSION) -> list[Frame]:
    """MoldUDP64 packets of a length-prefixed feed, each in an Ethernet/IPv4/UDP frame."""
    packets = moldudp64.build_packets(bytes(feed), session, first_seq=first_seq, max_payload=max_payload)
    return [Frame(udp_frame(p, dst_ip=DEST_IP, dst_port=DEST_PORT,
                            vlan=(5 if vlan_every and i % vlan_every == 0 else None), ident=i))
            for i, p in enumerate(packets)]


def feed_frames(n_messages: int, seed: int = 1, fault_rate: float = 0.0, n_symbols: int = 20,
                vlan_every: int = 7, max_payload: int = 1400) -> list[Frame]:
    """Frames of a generated feed, with faults injected at ``fault_rate`` of the packets."""
    feed = generator.generate(n_messages, n_symbols, seed)
    frames = build_frames(feed.tobytes(), max_payload=max_payload, vlan_every=vlan_every)
    return inject_faults(frames, seed, fault_rate) if fault_rate else frames


def write_stimulus(path, frames: list[Frame]) -> None:
    with open(path, "wb") as out:
        pickle.dump([(f.data, f.error) for f in frames], out)


def read_stimulus(path) -> list[Frame]:
    with open(path, "rb") as stream:
        return [Frame(data, error) for data, error in pickle.load(stream)]


def _with_ip_field(frame: bytes, offset: int, value: bytes, fix_checksum: bool = True) -> bytes:
    """The frame with bytes at IP-header ``offset`` replaced (untagged frames only)."""
    ip = bytearray(frame[14:34])
    ip[offset:offset + len(value)] = value
    if fix_checksum:
        ip[10:12] = ipv4_checksum(bytes(ip)).to_bytes(2, "big")
    return frame[:14] + bytes(ip) + frame[34:]


def _split_packet(payload: bytes, keep_from: int) -> bytes:
    """A packet carrying the blocks of ``payload`` from block ``keep_from`` on (a partial resend)."""
    session, seq, count = moldudp64.HEADER.unpack(payload[:20])
    pos = 20
    for _ in range(keep_from):
        pos += 2 + int.from_bytes(payload[pos:pos + 2], "big")
    return moldudp64.HEADER.pack(session, seq + keep_from, count - keep_from) + payload[pos:]


def inject_faults(frames: list[Frame], seed: int, rate: float = 0.08) -> list[Frame]:
    """The frames with faults of every kind the hardware must count and survive."""
    rng = random.Random(seed)
    out: list[Frame] = []
    held: Frame | None = None
    for i, frame in enumerate(frames):
        data = frame.data
        tagged = data[12:14] == b"\x81\x00"
        payload = data[(46 if tagged else 42):]
        session, seq, count = moldudp64.HEADER.unpack(payload[:20])
        kind = rng.choice([
            "drop", "duplicate", "overlap", "reorder", "checksum", "truncate", "payload_cut",
            "length_error", "mac_error", "garbage", "wrong_port", "arp", "fragment", "heartbeat",
            "padding_runt", "ip_options", "runt",
        ]) if rng.random() < rate else None
        if kind == "drop":
            continue
        if kind == "reorder" and held is None:
            held = frame
            continue
        if kind == "checksum" and not tagged:
            data = data[:24] + bytes([data[24] ^ 0x40]) + data[25:]
        elif kind == "truncate":
            data = data[:rng.randrange(1, len(data))]
        elif kind == "payload_cut" and count > 1:
            # headers rewritten to a shorter datagram: the last message is cut inside
            cut = payload[:-rng.randrange(1, 10)]
            data = udp_frame(cut, dst_ip=DEST_IP, dst_port=DEST_PORT, ident=i)
        elif kind == "length_error" and count > 1:
            blocks = bytearray(payload)
            pos = 20 + 2 + int.from_bytes(blocks[20:22], "big")
            blocks[pos + 1] ^= 0x01
            data = udp_frame(bytes(blocks), dst_ip=DEST_IP, dst_port=DEST_PORT, ident=i)
        elif kind == "mac_error":
            out.append(Frame(data, error=True))
            data = frame.data  # the retransmission arrives intact
        elif kind == "ip_options" and not tagged:
            options = b"\x01\x01\x01\x00" * rng.randrange(1, 11)
            ip = bytearray(data[14:34])
            ip[0] = 0x45 + len(options) // 4
            ip[2:4] = (20 + len(options) + len(data) - 34).to_bytes(2, "big")
            ip[10:12] = b"\0\0"
            header = bytes(ip) + options
            header = header[:10] + ipv4_checksum(header).to_bytes(2, "big") + header[12:]
            data = data[:14] + header + data[34:]
        out.append(Frame(data))
        if kind == "duplicate":
            out.append(Frame(data))
        elif kind == "overlap" and count > 2:
            out.append(Frame(udp_frame(_split_packet(payload, rng.randrange(1, count)),
                                       dst_ip=DEST_IP, dst_port=DEST_PORT, ident=i)))
        elif kind == "garbage":
            out.append(Frame(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 120)))))
        elif kind == "wrong_port":
            out.append(Frame(udp_frame(payload, dst_ip=DEST_IP, dst_port=DEST_PORT + 1)))
        elif kind == "arp":
            out.append(Frame(b"\xff" * 6 + b"\x02" * 6 + b"\x08\x06" + bytes(46)))
        elif kind == "fragment" and not tagged:
            out.append(Frame(_with_ip_field(data, 6, b"\x20\x00")))
        elif kind == "heartbeat":
            out.append(Frame(udp_frame(moldudp64.heartbeat(session, seq + count),
                                       dst_ip=DEST_IP, dst_port=DEST_PORT)))
        elif kind == "padding_runt":
            out.append(Frame(udp_frame(moldudp64.heartbeat(session, seq + count)[:8],
                                       dst_ip=DEST_IP, dst_port=DEST_PORT) + bytes(12)))
        elif kind == "runt":
            out.append(Frame(data[:40]))
        if held is not None and kind != "reorder":
            out.append(held)
            held = None
    if held is not None:
        out.append(held)
    return out


# ---- reference ----

_HEADER_REASONS = ("drop_not_ipv4", "drop_fragment", "drop_checksum", "drop_not_udp",
                   "drop_length", "drop_filtered")


def _checksum_ok(header: bytes) -> bool:
    total = sum(struct.unpack(f">{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


class FeedHandlerModel:
    """The RTL feed handler's behaviour, frame by frame, for one DATA_WIDTH."""

    def __init__(self, data_width: int = 64, dest_ip: str = DEST_IP, dest_port: int = DEST_PORT,
                 enable: bool = True) -> None:
        self.keep = data_width // 8
        self.dest_ip = ip_to_int(dest_ip)
        self.dest_port = dest_port
        self.enable = enable
        self.result = ModelResult()
        self.session: bytes | None = None
        self.expected = 0
        self._frame_index = -1

    def _count(self, name: str, amount: int = 1) -> None:
        self.result.counters[name] += amount

    def run(self, frames: list[Frame]) -> ModelResult:
        for frame in frames:
            self.frame(frame)
        self.result.expected_seq = self.expected
        return self.result

    # Ethernet / IPv4 / UDP: the first failing check among those whose bytes are there.
    def _header_verdict(self, f: bytes) -> tuple[str | None, int, int]:
        n = len(f)
        vlan = n >= 14 and f[12:14] == b"\x81\x00"
        eth = 18 if vlan else 14
        if n >= eth and int.from_bytes(f[eth - 2:eth], "big") != 0x0800:
            return "drop_not_ipv4", 0, 0
        if n < eth + 20:
            return None, 0, 0
        version, ihl = f[eth] >> 4, f[eth] & 15
        if version != 4 or ihl < 5:
            return "drop_not_ipv4", 0, 0
        udp = eth + 4 * ihl
        if n < udp:
            return None, 0, 0
        ip = f[eth:udp]
        total = int.from_bytes(ip[2:4], "big")
        frag = int.from_bytes(ip[6:8], "big")
        if frag & 0x3FFF:
            return "drop_fragment", 0, 0
        if not _checksum_ok(ip):
            return "drop_checksum", 0, 0
        if ip[9] != 17:
            return "drop_not_udp", 0, 0
        if total < 4 * ihl + 8:
            return "drop_length", 0, 0
        if n < udp + 8:
            return None, 0, 0
        if int.from_bytes(f[udp + 4:udp + 6], "big") != total - 4 * ihl:
            return "drop_length", 0, 0
        if not (self.enable and int.from_bytes(ip[16:20], "big") == self.dest_ip
                and int.from_bytes(f[udp + 2:udp + 4], "big") == self.dest_port):
            return "drop_filtered", 0, 0
        return "pass", udp + 8, eth + total

    def frame(self, frame: Frame) -> None:
        self._frame_index += 1
        f = frame.data
        self._count("frames_in")
        verdict, start, end = self._header_verdict(f)
        if verdict is None:
            self._count("drop_frame_error" if frame.error else "drop_runt")
            return
        if verdict != "pass":
            self._count(verdict)
            return
        received_end = min(len(f), end)
        bad = frame.error or len(f) < end
        self._count("drop_frame_error" if frame.error else "drop_truncated" if len(f) < end
                    else "frames_passed")
        self.result.udp_payloads.append((f[start:received_end], bad))
        if bad:
            # the beat holding the last payload byte is marked and discarded downstream
            received_end = max(start, (received_end - 1) // self.keep * self.keep)
        self._mold(f, start, received_end, bad)

    def _mold(self, f: bytes, start: int, end: int, aborted: bool) -> None:
        if end - start < 20:
            if not aborted:
                self._count("packets_short")
            return
        session, seq, count = moldudp64.HEADER.unpack(f[start:start + 20])
        self._count("packets")
        if session != self.session:
            self._count("sessions")
            self.session = session
            self.expected = seq
        if seq > self.expected:
            self._count("gaps")
            self._count("gap_messages", min(seq - self.expected, 0xFFFFFFFF))
            self.result.gaps.append((self.expected, seq - self.expected))
        if count in (moldudp64.HEARTBEAT, moldudp64.END_OF_SESSION):
            self._count("heartbeats" if count == moldudp64.HEARTBEAT else "end_of_session")
            self.expected = max(self.expected, seq)
            return
        if seq + count <= self.expected:
            self._count("dup_packets")
            self._count("dup_messages", count)
            self.result.mold_packets.append((f[start + 20:end], seq, 0, aborted, True))
            return
        skip = max(self.expected - seq, 0)
        self._count("dup_messages", skip)
        self.expected = seq + count
        self.result.mold_packets.append((f[start + 20:end], seq, skip, aborted, False))
        self._extract(f, start + 20, end, seq, skip, aborted)

    def _extract(self, f: bytes, pos: int, end: int, seq: int, skip: int, aborted: bool) -> None:
        while pos < end:
            if end - pos < 3:
                self._count("truncated_messages", not aborted)
                return
            length = int.from_bytes(f[pos:pos + 2], "big")
            table = int(itch.LENGTH_BY_TYPE[f[pos + 2]])
            if table == 0 or length != table:
                self._count("length_errors")
                return
            if end - pos < 2 + table:
                self._count("truncated_messages", not aborted)
                return
            if skip:
                skip -= 1
            else:
                self._decode(f[pos + 2:pos + 2 + table], seq, pos + 1 + table)
            seq += 1
            pos += 2 + table

    def _decode(self, message: bytes, seq: int, last_byte: int) -> None:
        self._count(csr.MESSAGE_COUNTER[chr(message[0])])
        self.result.messages.append((message, seq))
        word = records.from_message(message, seq)
        if word is not None:
            self.result.records.append(ExpectedRecord(word, self._frame_index, last_byte))
