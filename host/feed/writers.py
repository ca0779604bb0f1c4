"""Writing a generated feed: BinaryFILE (plain or gzip) or MoldUDP64-in-UDP pcap, and the faults sidecar.

Each writer injects the faults asked for on the way (`tickaccel.feed.faults`) and
returns what it adds to `write_feed`'s summary and to the sidecar.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable

import numpy as np

from tickaccel.feed.binaryfile import record_offsets, write_binaryfile
from tickaccel.feed.capture import udp_frame, write_pcap
from tickaccel.feed.endpoints import DEST_PORT
from tickaccel.feed.faults import PacketFaults, inject_binaryfile_faults
from tickaccel.feed.moldudp64 import HEADER, build_packets, end_of_session, heartbeat
from tickaccel.schema.units import NS_PER_SECOND

FEED_FORMATS = ("itch", "itch.gz", "pcap")
DEFAULT_UDP_PORT = DEST_PORT
TRADE_DATE_NS = 1_704_171_600 * NS_PER_SECOND  # 2024-01-02 00:00 New York time, as Unix time


def feed_format_for(path: str | os.PathLike) -> str:
    """The output format a file name asks for (``.itch``, ``.itch.gz`` or ``.pcap``)."""
    name = os.fspath(path)
    if name.endswith(".pcap"):
        return "pcap"
    if name.endswith(".gz"):
        return "itch.gz"
    return "itch"


def _message_timestamps(framed: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """ITCH timestamp of each record (6 bytes at offset 2 + 5)."""
    ts = np.zeros(len(offsets), dtype=np.int64)
    for i in range(6):
        ts = (ts << 8) | framed[offsets + 7 + i]
    return ts


def write_binaryfile_feed(out_path: str | os.PathLike, framed: np.ndarray, faults: dict[str, float],
                          rng: np.random.Generator, *, gzip: bool,
                          say: Callable[[str], None]) -> tuple[dict, dict]:
    """Write length-prefixed messages as BinaryFILE with `faults` injected; returns (summary, sidecar) fields."""
    records, expected = [], {}
    if faults:
        framed, records, expected = inject_binaryfile_faults(framed, faults, rng)
    say("writing")
    written = write_binaryfile(out_path, framed, gzip=gzip)
    return {"bytes": written}, {"faults": records, "expected_errors": expected,
                                "bad_messages": [[r["seq"], r["kind"]] for r in records if r["kind"] != "truncate"]}


def write_pcap_feed(out_path: str | os.PathLike, framed: np.ndarray, faults: dict[str, float],
                    rng: np.random.Generator, *, session: str, udp_port: int, packet_messages: int | None,
                    packet_bytes: int, heartbeat_every: int, say: Callable[[str], None]) -> tuple[dict, dict]:
    """Write length-prefixed messages as a MoldUDP64-in-UDP pcap with `faults` injected.

    Packets are stamped with their first message's time on the trade date; a heartbeat
    goes out every `heartbeat_every` packets and an end of session last. Returns
    (summary, sidecar) fields.
    """
    say("packing")
    packets = build_packets(framed, session, 1, max_payload=packet_bytes, max_messages=packet_messages)
    offsets = record_offsets(framed)
    stamps = _message_timestamps(framed, offsets)
    firsts = [HEADER.unpack_from(p)[1] - 1 for p in packets]
    packet_ts = (TRADE_DATE_NS + stamps[firsts]).tolist()
    injected = PacketFaults(packets, faults, rng, udp_port)
    frames: list[bytes] = []
    times: list[int] = []
    for position, index in enumerate(injected.order):
        sent = []
        if position and position % heartbeat_every == 0:
            sent.append(udp_frame(heartbeat(session, HEADER.unpack_from(packets[index])[1]), dst_port=udp_port))
        sent += injected.frames(position, len(frames) + len(sent) + 1)
        frames += sent
        times += [packet_ts[index]] * len(sent)
    frames.append(udp_frame(end_of_session(session, len(offsets) + 1), dst_port=udp_port))
    times.append(times[-1] if times else 0)
    say("writing")
    write_pcap(out_path, frames, times)
    return {"packets": len(packets), "frames": len(frames)}, {
        "session": session, "udp_port": udp_port, "frames": len(frames), "faults": injected.records,
        "expected_errors": injected.expected_errors,
        "expected_errors_port_filter": injected.expected_errors_port_filter,
        "bad_messages": injected.bad_messages, "lost": injected.lost}


def write_sidecar(out_path: str | os.PathLike, sidecar: dict) -> str:
    """Write the faults sidecar beside `out_path` as ``<out>.faults.json``; returns its path."""
    path = os.fspath(out_path) + ".faults.json"
    with open(path, "w") as f:
        json.dump(sidecar, f, indent=1)
    return path
