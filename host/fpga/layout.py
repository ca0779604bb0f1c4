"""How frames and records lie in DMA buffers: the contract between the driver and the DMA-facing RTL.

Send side (MM2S → ``dma_frame_splitter.v``): each Ethernet frame is one
``STREAM_BYTES`` header beat (bits 15:0 the frame length, bit 16 the MAC
error flag that becomes ``tuser``) followed by the frame bytes, zero-padded to
a whole beat. Frames are packed back to back into batches of at most
``max_bytes`` so one DMA transfer carries many frames. Frames come in blocks
(`tickaccel.feed.framing.FrameBlock`) and a compiled pass copies them in, so
packing costs no Python code per frame.

Receive side (``bbo_dma_packetizer.v`` → S2MM): each BBO update record
(`tickaccel.schema.bbo_records`) fills a ``RECORD_SLOT_BYTES`` slot, its bytes first
and zero padding after; a DMA packet holds up to ``records_per_packet`` slots.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from numba import njit

from tickaccel.feed.framing import FrameBlock
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


def slot_bytes(frame_length: int | np.ndarray) -> int | np.ndarray:
    """Bytes a frame of `frame_length` takes in a send buffer, header included (each of an array's)."""
    return FRAME_HEADER_BYTES + -(-frame_length // STREAM_BYTES) * STREAM_BYTES


def pack_frames(frames: Sequence[bytes], errors: Sequence[bool] | None = None) -> np.ndarray:
    """The frames as one send buffer (uint8), header beat before each frame."""
    return pack_block(FrameBlock.from_frames(frames), errors)


def pack_block(block: FrameBlock, errors: Sequence[bool] | np.ndarray | None = None) -> np.ndarray:
    """The block's frames as one send buffer (uint8), header beat before each frame; `errors`:
    the MAC error flag of each frame (none set without it)."""
    slots = _slot_sizes(block)
    out = np.zeros(int(slots.sum()), np.uint8)
    flags = np.zeros(len(block), np.uint8) if errors is None else np.asarray(errors, np.uint8)
    _pack(out, 0, block.data, block.offsets, flags)
    return out


def batch_frames(blocks: Iterable[FrameBlock], max_bytes: int) -> Iterator[tuple[np.ndarray, int]]:
    """(send buffer, frame count) batches of whole frames, each buffer at most `max_bytes`.

    A batch closes when the next frame would not fit, wherever the blocks begin and end.
    """
    pending: list[FrameBlock] = []
    size = 0
    for block in blocks:
        slots = _slot_sizes(block)
        too_big = np.flatnonzero(slots > max_bytes)
        if too_big.size:
            raise ValueError(f"a {int(np.diff(block.offsets)[too_big[0]])}-byte frame does not fit "
                             f"a {max_bytes}-byte batch")
        starts = _batch_starts(slots, size, max_bytes)
        for first, start in zip([0, *starts.tolist()], starts.tolist()):
            pending.append(block[first:start])
            yield _pack_pending(pending), sum(map(len, pending))
            pending = []
        tail_from = int(starts[-1]) if starts.size else 0
        if starts.size:
            size = 0
        pending.append(block[tail_from:])
        size += int(slots[tail_from:].sum())
    if any(map(len, pending)):
        yield _pack_pending(pending), sum(map(len, pending))


def _slot_sizes(block: FrameBlock) -> np.ndarray:
    """Bytes each frame of `block` takes in a send buffer; refuses a frame the header cannot describe."""
    lengths = np.diff(block.offsets)
    bad = np.flatnonzero((lengths < 1) | (lengths > MAX_FRAME_BYTES))
    if bad.size:
        raise ValueError(f"frame {int(bad[0])}: {int(lengths[bad[0]])} bytes; a frame is 1..{MAX_FRAME_BYTES} bytes")
    return slot_bytes(lengths)


def _pack_pending(pending: list[FrameBlock]) -> np.ndarray:
    """One send buffer of the frames of `pending`'s blocks, in order."""
    sizes = [_slot_sizes(b) for b in pending]
    out = np.zeros(sum(int(s.sum()) for s in sizes), np.uint8)
    pos = 0
    for block in pending:
        pos = _pack(out, pos, block.data, block.offsets, np.zeros(len(block), np.uint8))
    return out


@njit(cache=True)
def _pack(out, pos, data, offsets, errors):
    """Write each frame's header beat and bytes into `out` (zeroed) from byte `pos`; the end."""
    for k in range(len(offsets) - 1):
        length = offsets[k + 1] - offsets[k]
        header = length | np.int64(errors[k]) << FRAME_ERROR_BIT
        for b in range(FRAME_HEADER_BYTES):
            out[pos + b] = (header >> 8 * b) & 0xFF
        out[pos + FRAME_HEADER_BYTES:pos + FRAME_HEADER_BYTES + length] = data[offsets[k]:offsets[k + 1]]
        pos += FRAME_HEADER_BYTES + (length + STREAM_BYTES - 1) // STREAM_BYTES * STREAM_BYTES
    return pos


@njit(cache=True)
def _batch_starts(slots, filled, max_bytes):
    """Frames that open a new batch, for frames of `slots` bytes after a batch `filled` bytes full."""
    starts = np.empty(len(slots), np.int64)
    count = 0
    for k in range(len(slots)):
        if filled + slots[k] > max_bytes:
            starts[count] = k
            count += 1
            filled = 0
        filled += slots[k]
    return starts[:count]


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
