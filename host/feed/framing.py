"""A feed as the wire carries it: Ethernet/IPv4/UDP frames of MoldUDP64 packets, and their destination.

feed_to_book, simulated or on a board, takes frames, not files. A capture's frames go as
they are, to the destination its first UDP frame names; a BinaryFILE's messages are
packed into MoldUDP64 packets of session `SESSION` in UDP frames to `DEST_IP`:`DEST_PORT`,
the constants the RTL testbenches build their stimulus with too. Frames come in blocks
(`FrameBlock`: one buffer and the frames' offsets), the shape the driver packs DMA
buffers from without touching each frame from Python.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from tickaccel.errors import ErrorLog
from tickaccel.feed.endpoints import DEST_IP, DEST_PORT, SESSION
from tickaccel.feed.capture import ETHERTYPE_IPV4, ETHERTYPE_VLAN, IPPROTO_UDP, open_reader, udp_frame
from tickaccel.feed.moldudp64 import HEADER, HEADER_LENGTH, build_packets
from tickaccel.feed.source import open_feed

_ETH_HEADER = 14  # destination and source MAC, ethertype
_VLAN_TAG = 4
_CAPTURE_BLOCK_FRAMES = 4096  # a capture's frames per block


@dataclass(frozen=True)
class FrameBlock:
    """Frames end to end in one buffer: frame k is ``data[offsets[k]:offsets[k + 1]]``."""

    data: np.ndarray     # uint8
    offsets: np.ndarray  # int64, ascending, one more than there are frames

    @classmethod
    def from_frames(cls, frames: Sequence[bytes]) -> FrameBlock:
        """The block of frames given one by one (a copy)."""
        offsets = np.zeros(len(frames) + 1, np.int64)
        np.cumsum(np.fromiter(map(len, frames), np.int64, len(frames)), out=offsets[1:])
        return cls(np.frombuffer(b"".join(frames), np.uint8), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, frames: slice) -> FrameBlock:
        """The frames `frames` (a step-1 slice), on the same buffer."""
        start, stop, _ = frames.indices(len(self))
        return FrameBlock(self.data, self.offsets[start:max(start, stop) + 1])

    def frames(self) -> Iterator[bytes]:
        data, offsets = self.data.tobytes(), self.offsets.tolist()
        return (data[a:b] for a, b in zip(offsets, offsets[1:]))


class WireFrames(NamedTuple):
    """The frames of a feed, drawn lazily in blocks, and the UDP destination the feed handler must accept."""

    blocks: Iterator[FrameBlock]
    dest_ip: str
    dest_port: int

    @property
    def frames(self) -> Iterator[bytes]:
        """The frames one by one (they come from `blocks`: draw one or the other)."""
        return (frame for block in self.blocks for frame in block.frames())


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
        return WireFrames(_capture_blocks(feed_path), *capture_destination(_capture_frames(feed_path)))
    return WireFrames(_binaryfile_blocks(feed_path, errors), DEST_IP, DEST_PORT)


def _capture_frames(path: str | os.PathLike) -> Iterator[bytes]:
    with open(path, "rb") as stream:
        for _, frame in open_reader(stream, path):
            yield bytes(frame)


def _capture_blocks(path: str | os.PathLike) -> Iterator[FrameBlock]:
    block: list[bytes] = []
    for frame in _capture_frames(path):
        block.append(frame)
        if len(block) == _CAPTURE_BLOCK_FRAMES:
            yield FrameBlock.from_frames(block)
            block = []
    if block:
        yield FrameBlock.from_frames(block)


def _binaryfile_blocks(path: str | os.PathLike, errors: ErrorLog) -> Iterator[FrameBlock]:
    """MoldUDP64 packets in UDP frames, packed as if the file were one buffer; a block per read chunk.

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
                yield _udp_frames([held], ident)
                ident += 1
                held = None
        if held is None:
            messages, first_seq = chunk.data, chunk.first_seq
        else:
            messages = np.concatenate((np.frombuffer(held, np.uint8, offset=HEADER_LENGTH), chunk.data))
            first_seq = HEADER.unpack_from(held)[1]
        *ready, held = build_packets(messages, SESSION, first_seq=first_seq)
        if ready:
            yield _udp_frames(ready, ident)
            ident += len(ready)
    if held is not None:
        yield _udp_frames([held], ident)


def _udp_frames(packets: list[bytes], ident: int) -> FrameBlock:
    """`udp_frame(packet, dst_ip=DEST_IP, dst_port=DEST_PORT, ident=ident + k)` of each packet, built
    as one block: the header of an empty frame, with the lengths, ident and IPv4 checksum of each."""
    template = np.frombuffer(udp_frame(b"", dst_ip=DEST_IP, dst_port=DEST_PORT), np.uint8)
    ip, udp = _ETH_HEADER, len(template) - 8  # offsets of the IPv4 and UDP headers
    lengths = np.fromiter(map(len, packets), np.int64, len(packets))
    headers = np.tile(template, (len(packets), 1))
    # what differs per frame: IPv4 total length and identification, UDP length, IPv4 checksum
    for at, values in ((ip + 2, lengths + len(template) - ip),
                       (ip + 4, (ident + np.arange(len(packets))) & 0xFFFF),
                       (udp + 4, lengths + 8)):
        headers[:, at:at + 2] = values.astype(">u2")[:, None].view(np.uint8)
    headers[:, ip + 10:ip + 12] = 0
    total = headers[:, ip:udp].copy().view(">u2").sum(axis=1, dtype=np.int64)
    for _ in range(2):  # ones' complement: fold the carries back in
        total = (total & 0xFFFF) + (total >> 16)
    headers[:, ip + 10:ip + 12] = (~total & 0xFFFF).astype(">u2")[:, None].view(np.uint8)
    offsets = np.zeros(len(packets) + 1, np.int64)
    np.cumsum(lengths + len(template), out=offsets[1:])
    data = np.empty(offsets[-1], np.uint8)
    _interleave(data, offsets, headers, np.frombuffer(b"".join(packets), np.uint8))
    return FrameBlock(data, offsets)


@njit(cache=True)
def _interleave(data, offsets, headers, payload):
    """Frame k into data[offsets[k]:offsets[k + 1]]: headers[k], then its share of `payload`, in order."""
    width = headers.shape[1]
    taken = 0
    for k in range(len(offsets) - 1):
        start, end = offsets[k], offsets[k + 1]
        data[start:start + width] = headers[k]
        data[start + width:end] = payload[taken:taken + end - start - width]
        taken += end - start - width
