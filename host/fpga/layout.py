"""How frames and records lie in DMA buffers: the contract between the driver and the DMA-facing RTL.

Send side (MM2S → ``dma_frame_splitter.v``): each Ethernet frame is one
``STREAM_BYTES`` header beat (bits 15:0 the frame length, bit 16 the MAC
error flag that becomes ``tuser``) followed by the frame bytes, zero-padded to
a whole beat. Frames are packed back to back into batches of at most
``max_bytes`` so one DMA transfer carries many frames.

Receive side (``bbo_dma_packetizer.v`` → S2MM): each BBO update record
(`tickaccel.schema.bbo_records`) fills a ``RECORD_SLOT_BYTES`` slot, its bytes first
and zero padding after; a DMA packet holds up to ``records_per_packet`` slots.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from tickaccel.schema import bbo_records

STREAM_WIDTH = 64  # bits: the DMA streams and feed_to_book's s_axis
STREAM_BYTES = STREAM_WIDTH // 8
FRAME_HEADER_BYTES = STREAM_BYTES
MAX_FRAME_BYTES = 0xFFFF  # the header's 16-bit length
FRAME_ERROR_BIT = 16
RECORD_BEATS = -(-bbo_records.RECORD_WIDTH // STREAM_WIDTH)
RECORD_SLOT_BYTES = RECORD_BEATS * STREAM_BYTES
DMA_LENGTH_WIDTH = 26  # AXI DMA c_sg_length_width in the block design: one transfer < 64 MiB
DMA_MAX_TRANSFER_BYTES = (1 << DMA_LENGTH_WIDTH) - 1


def slot_bytes(frame_length: int) -> int:
    """Bytes a frame of `frame_length` takes in a send buffer, header included."""
    return FRAME_HEADER_BYTES + -(-frame_length // STREAM_BYTES) * STREAM_BYTES


def pack_frames(frames: Sequence[bytes], errors: Sequence[bool] | None = None) -> np.ndarray:
    """The frames as one send buffer (uint8), header beat before each frame."""
    total = sum(slot_bytes(len(f)) for f in frames)
    out = np.zeros(total, np.uint8)
    pos = 0
    for i, frame in enumerate(frames):
        n = len(frame)
        if not 0 < n <= MAX_FRAME_BYTES:
            raise ValueError(f"frame {i}: {n} bytes; a frame is 1..{MAX_FRAME_BYTES} bytes")
        flag = 1 << FRAME_ERROR_BIT if errors is not None and errors[i] else 0
        out[pos:pos + FRAME_HEADER_BYTES] = np.frombuffer(
            (n | flag).to_bytes(FRAME_HEADER_BYTES, "little"), np.uint8)
        out[pos + FRAME_HEADER_BYTES:pos + FRAME_HEADER_BYTES + n] = np.frombuffer(frame, np.uint8)
        pos += slot_bytes(n)
    return out


def batch_frames(frames: Iterable[bytes], max_bytes: int) -> Iterator[tuple[np.ndarray, int]]:
    """(send buffer, frame count) batches of whole frames, each buffer at most `max_bytes`."""
    pending: list[bytes] = []
    size = 0
    for frame in frames:
        need = slot_bytes(len(frame))
        if need > max_bytes:
            raise ValueError(f"a {len(frame)}-byte frame does not fit a {max_bytes}-byte batch")
        if size + need > max_bytes:
            yield pack_frames(pending), len(pending)
            pending, size = [], 0
        pending.append(frame)
        size += need
    if pending:
        yield pack_frames(pending), len(pending)


def unpack_frames(buffer: bytes | np.ndarray) -> list[tuple[bytes, bool]]:
    """(frame, error flag) of a send buffer: what dma_frame_splitter emits, for tests and tools."""
    data = bytes(buffer)
    out, pos = [], 0
    while pos + FRAME_HEADER_BYTES <= len(data):
        header = int.from_bytes(data[pos:pos + FRAME_HEADER_BYTES], "little")
        length = header & MAX_FRAME_BYTES
        pos += FRAME_HEADER_BYTES
        if length:
            out.append((data[pos:pos + length], bool(header >> FRAME_ERROR_BIT & 1)))
            pos += -(-length // STREAM_BYTES) * STREAM_BYTES
    return out


def records_from_slots(data: bytes | np.ndarray) -> bytes:
    """Concatenated BBO records (as `bbo_records.to_bytes`) from received record slots."""
    raw = np.frombuffer(bytes(data), np.uint8)
    if raw.size % RECORD_SLOT_BYTES:
        raise ValueError(f"{raw.size} bytes received is not a whole number of "
                         f"{RECORD_SLOT_BYTES}-byte record slots")
    return raw.reshape(-1, RECORD_SLOT_BYTES)[:, :bbo_records.RECORD_BYTES].tobytes()
