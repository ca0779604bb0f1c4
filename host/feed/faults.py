"""Fault injection for generated feeds: what goes wrong on a real wire or disk, on purpose.

A BinaryFILE gets bad records (zero length, unknown type, wrong length) and a
truncated tail; a MoldUDP64 capture gets dropped, duplicated, reordered,
corrupted and truncated packets and junk frames. Every fault is recorded with
where it is and the errors a reader must count, for the ``<out>.faults.json``
sidecar, so tests can hold readers to it.
"""
from __future__ import annotations

import numpy as np

from tickaccel.errors import TickaccelError
from tickaccel.feed.binaryfile import record_offsets
from tickaccel.feed.capture import ipv4_checksum, udp_frame
from tickaccel.feed.moldudp64 import HEADER, HEADER_LENGTH
from tickaccel.schema.itch import LENGTH_BY_TYPE

ITCH_FAULTS = ("zero_length", "unknown_type", "bad_length", "truncate")
PCAP_FAULTS = ("drop", "duplicate", "reorder", "corrupt", "truncate", "junk")
_UNKNOWN_TYPES = bytes(b for b in range(33, 127) if not LENGTH_BY_TYPE[b])
_CLEAN_HEAD = 16  # leading records never faulted, so the file still reads as a feed
_JUNK_KINDS = ("non_ip_frame", "non_udp_frame", "bad_ip_checksum", "ip_fragment", "malformed_frame", "wrong_port")
_CORRUPT_KINDS = ("unknown_type", "bad_length", "length_overrun", "payload_noise", "junk")
_TRUNCATE_KINDS = ("cut_in_message", "cut_in_header", "cut_frame")
_REORDER_SPAN = 3  # a packet swaps with one of the next this many
_CLEAN_PACKETS = 4  # leading and trailing packets never faulted


def parse_faults(spec: str | None) -> dict[str, float]:
    """``"drop=0.01,corrupt=0.005"`` → ``{"drop": 0.01, "corrupt": 0.005}``."""
    faults: dict[str, float] = {}
    for item in (spec or "").split(","):
        if not item.strip():
            continue
        name, _, value = item.partition("=")
        try:
            faults[name.strip()] = float(value)
        except ValueError:
            raise TickaccelError(f"bad fault {item.strip()!r}: expected NAME=RATE") from None
    return faults


def check_faults(faults: dict[str, float], format: str) -> None:
    """Refuse fault kinds that a feed format (``pcap`` or BinaryFILE) cannot carry."""
    allowed = PCAP_FAULTS if format == "pcap" else ITCH_FAULTS + ("corrupt",)
    unknown = sorted(set(faults) - set(allowed))
    if unknown:
        raise TickaccelError(f"fault(s) {', '.join(unknown)} do not apply to {format}; "
                             f"use {', '.join(allowed)}")


def inject_binaryfile_faults(framed: np.ndarray, faults: dict[str, float], rng: np.random.Generator
                             ) -> tuple[np.ndarray, list[dict], dict[str, int]]:
    """Apply BinaryFILE faults to length-prefixed messages.

    Returns the new buffer, the sidecar's fault records and the error counts a reader must report.
    """
    offsets = record_offsets(framed)
    n = len(offsets)
    picks: dict[int, str] = {}
    for kind in ("zero_length", "unknown_type", "bad_length"):
        rate = faults.get(kind, 0.0) + faults.get("corrupt", 0.0) / 3
        if rate <= 0 or n <= _CLEAN_HEAD:
            continue
        for index in rng.choice(np.arange(_CLEAN_HEAD, n), size=max(1, round(rate * n)), replace=False):
            picks.setdefault(int(index), kind)
    parts, records, shift, inserted = [], [], 0, 0
    cursor = 0
    for index in sorted(picks):
        kind = picks[index]
        start = int(offsets[index])
        parts.append(framed[cursor:start])
        length = (int(framed[start]) << 8) | int(framed[start + 1])
        record = framed[start:start + 2 + length].copy()
        position = start + shift
        if kind == "zero_length":
            parts.append(np.zeros(2, np.uint8))  # a record of its own before this message
            shift += 2
            inserted += 1
            records.append({"kind": kind, "offset": position, "seq": index + inserted, "errors": {}})
            parts.append(record)
        elif kind == "unknown_type":
            record[2] = _UNKNOWN_TYPES[int(rng.integers(len(_UNKNOWN_TYPES)))]
            records.append({"kind": kind, "offset": position, "seq": index + 1 + inserted, "errors": {}})
            parts.append(record)
        else:  # bad_length: one byte short or one byte long
            longer = bool(rng.random() < 0.5)
            record = np.concatenate([record, [0]]).astype(np.uint8) if longer else record[:-1]
            record[0], record[1] = (length + (1 if longer else -1)).to_bytes(2, "big")
            shift += 1 if longer else -1
            records.append({"kind": kind, "offset": position, "seq": index + 1 + inserted, "errors": {}})
            parts.append(record)
        cursor = start + 2 + length
    parts.append(framed[cursor:])
    out = np.concatenate(parts)
    expected: dict[str, int] = {}
    if faults.get("truncate", 0.0) > 0:
        tail = framed[int(offsets[-1]):]
        cut = tail[: max(3, len(tail) // 2)]  # the length prefix promises more than follows
        records.append({"kind": "truncate", "offset": len(out), "seq": n + 1 + inserted,
                        "errors": {"truncated_message": 1}})
        expected["truncated_message"] = 1
        out = np.concatenate([out, cut])
    return out, records, expected


def _junk_frame(kind: str, rng: np.random.Generator, port: int) -> bytes:
    """A frame that is not usable MoldUDP64, of the given kind."""
    payload = rng.integers(0, 256, size=40, dtype=np.uint8).tobytes()
    if kind == "non_ip_frame":  # an ARP request
        return b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x02" + b"\x08\x06" + payload[:28]
    if kind == "malformed_frame":  # a runt
        return b"\xff" * 6 + b"\x02\x00\x00"
    frame = bytearray(udp_frame(payload[:8], dst_port=port + 1 if kind == "wrong_port" else port,
                                protocol=6 if kind == "non_udp_frame" else 17))
    if kind == "bad_ip_checksum":
        frame[24] ^= 0xFF
    elif kind == "ip_fragment":  # more-fragments set; checksum redone so only the flag is wrong
        frame[20] = 0x20
        frame[24:26] = b"\0\0"
        header = bytes(frame[14:34])
        frame[24:26] = ipv4_checksum(header).to_bytes(2, "big")
    return bytes(frame)


def _block_offsets(payload: bytes) -> list[int]:
    """Offset of each message block in a MoldUDP64 payload (per packet, tens of blocks)."""
    offsets, pos = [], HEADER_LENGTH
    while pos + 2 <= len(payload):
        offsets.append(pos)
        pos += 2 + int.from_bytes(payload[pos:pos + 2], "big")
    return offsets


class PacketFaults:
    """Faults planned over a capture's MoldUDP64 packets, and the frames that carry each packet.

    The packets are sent in `order` (a reorder swaps near neighbours); `frames` gives
    what the wire carries for each. What a reader must then report is gathered for
    the sidecar: `records` (one per fault), `expected_errors` (without a UDP port
    filter) and `expected_errors_port_filter`, `bad_messages` ([seq, kind]) and
    `lost` ([first seq, count]).
    """

    def __init__(self, packets: list[bytes], faults: dict[str, float], rng: np.random.Generator,
                 port: int) -> None:
        self._packets = packets
        self._heads = [HEADER.unpack_from(p) for p in packets]
        self._rng = rng
        self._port = port
        self.order = list(range(len(packets)))
        self._plan = self._planned(faults)
        self.records: list[dict] = []
        self.expected_errors: dict[str, int] = {}
        self.expected_errors_port_filter: dict[str, int] = {}
        self.bad_messages: list[list] = []
        self.lost: list[list[int]] = []

    def _planned(self, faults: dict[str, float]) -> dict[int, str]:
        """The fault at each position of `order` that has one (a reorder also swaps its two packets in `order`),
        spaced out so that every fault's effect stays separate."""
        n = len(self._packets)
        kinds = [k for k in PCAP_FAULTS if faults.get(k, 0.0) > 0]
        rates = np.array([faults[k] for k in kinds])
        plan: dict[int, str] = {}
        i = _CLEAN_PACKETS
        while i < n - _CLEAN_PACKETS - _REORDER_SPAN:
            u = self._rng.random()
            chosen = next((k for k, edge in zip(kinds, np.cumsum(rates)) if u < edge), None)
            if chosen is None:
                i += 1
                continue
            plan[i] = chosen
            if chosen == "reorder":
                partner = i + int(self._rng.integers(1, _REORDER_SPAN + 1))
                self.order[i], self.order[partner] = self.order[partner], self.order[i]
                plan[i] = f"reorder:{partner}"
            i += _REORDER_SPAN + 3  # the next fault starts after this one's effect ends
        return plan

    def _count(self, kind: str, number: int) -> None:
        """Expect `number` more errors of `kind`, with or without a port filter."""
        self.expected_errors[kind] = self.expected_errors.get(kind, 0) + number
        self.expected_errors_port_filter[kind] = self.expected_errors_port_filter.get(kind, 0) + number

    def frames(self, position: int, first_frame: int) -> list[bytes]:
        """The frames that carry the packet sent at `position` of `order`, its fault applied (none if dropped).

        `first_frame` is the number the first of them gets in the capture, for the sidecar.
        """
        rng, port = self._rng, self._port
        index = self.order[position]
        payload = self._packets[index]
        _, seq, msgs = self._heads[index]
        fault = self._plan.get(position, "")
        if fault.startswith("reorder"):
            partner = int(fault.split(":")[1])
            late = sum(self._heads[self.order[k]][2] for k in range(position + 1, partner + 1))
            _, late_seq, late_msgs = self._heads[self.order[partner]]
            self.records.append({"kind": "reorder", "frame": first_frame, "seq": late_seq, "count": late_msgs,
                                 "swapped_with_seq": seq, "errors": {"out_of_order": late}})
            self._count("out_of_order", late)
            return [udp_frame(payload, dst_port=port)]
        if fault == "drop":
            self.records.append({"kind": "drop", "frame": None, "seq": seq, "count": msgs,
                                 "errors": {"sequence_gap": msgs}})
            self._count("sequence_gap", msgs)
            self.lost.append([seq, msgs])
            return []
        if fault == "duplicate":
            self.records.append({"kind": "duplicate", "frame": first_frame + 1, "seq": seq, "count": msgs,
                                 "errors": {"duplicate": msgs}})
            self._count("duplicate", msgs)
            return [udp_frame(payload, dst_port=port)] * 2
        if fault == "corrupt":
            fault = _CORRUPT_KINDS[int(rng.integers(len(_CORRUPT_KINDS)))]
            if fault == "junk":
                junk = _JUNK_KINDS[int(rng.integers(len(_JUNK_KINDS)))]
                frame = _junk_frame(junk, rng, port)
                if junk == "wrong_port":  # without a port filter its 8-byte payload is bad MoldUDP64
                    self.expected_errors["bad_moldudp64"] = self.expected_errors.get("bad_moldudp64", 0) + 1
                    self.expected_errors_port_filter["wrong_port"] = \
                        self.expected_errors_port_filter.get("wrong_port", 0) + 1
                    errors = {"bad_moldudp64": 1}
                else:
                    self._count(junk, 1)
                    errors = {junk: 1}
                self.records.append({"kind": f"junk:{junk}", "frame": first_frame, "seq": None, "count": 0,
                                     "errors": errors})
                return [frame, udp_frame(payload, dst_port=port)]
            blocks = _block_offsets(payload)
            data = bytearray(payload)
            errors = {}
            if fault == "length_overrun":
                m = int(rng.integers(len(blocks)))
                data[blocks[m]:blocks[m] + 2] = b"\xff\xff"
                errors = {"truncated_message": 1, "sequence_gap": msgs - m}
                self.lost.append([seq + m, msgs - m])
            else:
                m = len(blocks) - 1 if fault == "bad_length" else int(rng.integers(len(blocks)))
                start = blocks[m]
                length = int.from_bytes(payload[start:start + 2], "big")
                if fault == "unknown_type":
                    data[start + 2] = _UNKNOWN_TYPES[int(rng.integers(len(_UNKNOWN_TYPES)))]
                elif fault == "bad_length":  # the last block only, so the blocks still line up
                    data[start:start + 2] = (length - int(rng.integers(1, length))).to_bytes(2, "big")
                else:
                    data[start + 3 + int(rng.integers(length - 1))] ^= int(rng.integers(1, 256))
                self.bad_messages.append([seq + m, fault])
            for kind, number_lost in errors.items():
                self._count(kind, number_lost)
            self.records.append({"kind": f"corrupt:{fault}", "frame": first_frame, "seq": seq + m, "count": msgs,
                                 "errors": errors})
            return [udp_frame(bytes(data), dst_port=port)]
        if fault == "truncate":
            fault = _TRUNCATE_KINDS[int(rng.integers(len(_TRUNCATE_KINDS)))]
            blocks = _block_offsets(payload)
            if fault == "cut_in_message":
                m = int(rng.integers(len(blocks)))
                length = int.from_bytes(payload[blocks[m]:blocks[m] + 2], "big")
                frame = udp_frame(payload[:blocks[m] + 1 + int(rng.integers(length + 1))], dst_port=port)
                errors = {"truncated_message": 1, "sequence_gap": msgs - m}
                self.lost.append([seq + m, msgs - m])
            else:
                m = 0
                if fault == "cut_in_header":
                    frame = udp_frame(payload[:int(rng.integers(HEADER_LENGTH))], dst_port=port)
                    errors = {"bad_moldudp64": 1, "sequence_gap": msgs}
                else:  # the capture lost the frame's tail; IP and UDP lengths still claim it
                    frame = udp_frame(payload, dst_port=port)
                    frame = frame[: len(frame) - 1 - int(rng.integers(len(payload) - HEADER_LENGTH))]
                    errors = {"malformed_frame": 1, "sequence_gap": msgs}
                self.lost.append([seq, msgs])
            for kind, number_lost in errors.items():
                self._count(kind, number_lost)
            self.records.append({"kind": f"truncate:{fault}", "frame": first_frame, "seq": seq + m, "count": msgs,
                                 "errors": errors})
            return [frame]
        return [udp_frame(payload, dst_port=port)]
