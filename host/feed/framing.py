"""A feed as the wire carries it: Ethernet/IPv4/UDP frames of MoldUDP64 packets, and their destination.

feed_to_book, simulated or on a board, takes frames, not files. A capture's frames go as
they are, to the destination its first UDP frame names; a BinaryFILE's messages are
packed into MoldUDP64 packets of session `SESSION` in UDP frames to `DEST_IP`:`DEST_PORT`,
the constants the RTL testbenches build their stimulus with too.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np

from tickaccel.errors import ErrorLog
from tickaccel.feed.endpoints import DEST_IP, DEST_PORT, SESSION
from tickaccel.feed.capture import ETHERTYPE_IPV4, ETHERTYPE_VLAN, IPPROTO_UDP, open_reader, udp_frame
from tickaccel.feed.moldudp64 import HEADER, HEADER_LENGTH, build_packets
from tickaccel.feed.source import open_feed

_ETH_HEADER = 14  # destination and source MAC, ethertype
_VLAN_TAG = 4


class WireFrames(NamedTuple):
    """The frames of a feed, drawn lazily, and the UDP destination the feed handler must accept."""

    frames: Iterator[bytes]
    dest_ip: str
    dest_port: int


def ip_to_int(address: str) -> int:
    """A dotted IPv4 address as the 32-bit number the filter registers hold."""
    return int.from_bytes(bytes(int(p) for p in address.split(".")), "big")


def capture_destination(frames: Iterable[bytes]) -> tuple[str, int]:
    """Destination IPv4 address and UDP port of the first IPv4/UDP frame; `DEST_IP`, `DEST_PORT` if none."""
    for frame in frames:  # offsets below: IPv4 protocol +9, destination +16; 28 = IPv4 + UDP headers
        tagged = frame[12:_ETH_HEADER] == ETHERTYPE_VLAN.to_bytes(2, "big")
        ip = _ETH_HEADER + (_VLAN_TAG if tagged else 0)
        if len(frame) >= ip + 28 and frame[ip - 2:ip] == ETHERTYPE_IPV4.to_bytes(2, "big") \
                and frame[ip + 9] == IPPROTO_UDP:
            udp = ip + 4 * (frame[ip] & 0x0F)
            return ".".join(str(b) for b in frame[ip + 16:ip + 20]), int.from_bytes(frame[udp + 2:udp + 4], "big")
    return DEST_IP, DEST_PORT


def feed_frames(feed_path: str | os.PathLike, fmt: str, errors: ErrorLog) -> WireFrames:
    """The Ethernet frames of the feed file `feed_path` (of format `fmt`, `feed_format`'s answer).

    BinaryFILE input problems are counted in `errors` as the frames are drawn.
    """
    if fmt.startswith("pcap"):
        return WireFrames(_capture_frames(feed_path), *capture_destination(_capture_frames(feed_path)))
    return WireFrames(_binaryfile_frames(feed_path, errors), DEST_IP, DEST_PORT)


def _capture_frames(path: str | os.PathLike) -> Iterator[bytes]:
    with open(path, "rb") as stream:
        for _, frame in open_reader(stream, path):
            yield bytes(frame)


def _binaryfile_frames(path: str | os.PathLike, errors: ErrorLog) -> Iterator[bytes]:
    """MoldUDP64 packets in UDP frames, packed as if the file were one buffer.

    The last packet of each read chunk is held back and packed again with the next
    chunk's messages, so no packet ends early at a chunk's edge — unless the reader
    dropped a damaged record between the two, when the packet goes as it is and the next
    starts at the next chunk's own sequence number.
    """
    ident = 0
    held: bytes | None = None
    for chunk in open_feed(path, errors=errors):
        if held is not None:
            _, held_seq, held_count = HEADER.unpack_from(held)
            if chunk.first_seq != held_seq + held_count:
                yield udp_frame(held, dst_ip=DEST_IP, dst_port=DEST_PORT, ident=ident)
                ident += 1
                held = None
        if held is None:
            messages, first_seq = chunk.data, chunk.first_seq
        else:
            messages = np.concatenate((np.frombuffer(held, np.uint8, offset=HEADER_LENGTH), chunk.data))
            first_seq = HEADER.unpack_from(held)[1]
        *ready, held = build_packets(messages, SESSION, first_seq=first_seq)
        for packet in ready:
            yield udp_frame(packet, dst_ip=DEST_IP, dst_port=DEST_PORT, ident=ident)
            ident += 1
    if held is not None:
        yield udp_frame(held, dst_ip=DEST_IP, dst_port=DEST_PORT, ident=ident)
