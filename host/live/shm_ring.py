"""The BBO ring: published records in memory that local subscribers read directly.

The receive loop writes every published record (`tickaccel.live.wire.BBO_RECORD`,
the 56 bytes of the ZeroMQ frames) into a ring of 64-byte slots; the ZeroMQ
publisher thread, the Parquet spool and any local process read it from
there. With a path (a file under /dev/shm is memory, never written to disk)
the ring is a shared file that `BboRingReader` maps read-only; without one it
is private memory of the receiver.

Layout, all little-endian (documented in docs/live.md):

- header, 64 bytes: magic ``TKRING01`` (8 bytes); u32 version (1); u32 slot
  size (64); u64 capacity (slots, a power of two); u64 write index (records
  written since the start: record k is complete when k < write index); u64
  flags (bit 0 ended, bit 1 stale); 24 bytes reserved.
- ``capacity`` slots of 64 bytes: u64 ring sequence (k, the record's number),
  then the 56-byte record. Record k lives in slot ``k % capacity``.

The writer never waits for a reader. It stores a slot's sequence before the
record's bytes and the write index after them, so a reader that copies
records and then finds their slots still carrying the sequence it expected
knows the copy is whole; a slot carrying a later sequence was overwritten: the
reader fell more than `capacity` records behind (an overrun), and counts what
it lost.
"""
from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from tickaccel.live.wire import BBO_RECORD

MAGIC = b"TKRING01"
VERSION = 1
SLOT_BYTES = 64
HEADER_BYTES = 64
RECORD_AT = 8  # the record's first byte inside its slot
RECORD_BYTES = BBO_RECORD.itemsize
# Header words (u64).
_W_MAGIC, _W_VERSION_SLOT, _W_CAPACITY, _W_WRITE, _W_FLAGS = range(5)
FLAG_ENDED, FLAG_STALE = 1, 2
DEFAULT_CAPACITY = 1 << 18  # 16 MiB of slots: a quarter of a second at 1 M records/s


@intrinsic
def _store_barrier(typingctx):
    """A release fence: stores before it are not moved after stores behind it (x86: free)."""
    def codegen(context, builder, signature, args):
        builder.fence("release")
        return context.get_dummy_value()
    return types.none(), codegen


@njit(cache=True, nogil=True)
def ring_put(header, slot_words, slot_bytes, rows, n):
    """Append the first `n` records of `rows` ((rows, 56) bytes) to the ring; returns the new
    write index. Readers see them once the write index moves past them."""
    capacity = slot_words.shape[0]
    write = header[_W_WRITE]
    for r in range(n):
        slot = (write + np.uint64(r)) & np.uint64(capacity - 1)
        slot_words[slot, 0] = write + np.uint64(r)
        _store_barrier()
        for k in range(RECORD_BYTES):
            slot_bytes[slot, RECORD_AT + k] = rows[r, k]
    _store_barrier()
    header[_W_WRITE] = write + np.uint64(n)
    return header[_W_WRITE]


def _map(path: Path | None, capacity: int, create: bool) -> tuple[object, np.ndarray]:
    """The ring's memory as bytes: a shared file's mapping, or private memory."""
    size = HEADER_BYTES + capacity * SLOT_BYTES
    if path is None:
        return None, np.zeros(size, np.uint8)
    if create:
        # A new file, never the old one truncated: readers still mapping that keep it whole.
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.ftruncate(fd, size)
            memory = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        return memory, np.frombuffer(memory, np.uint8)
    with open(path, "rb") as f:
        memory = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    return memory, np.frombuffer(memory, np.uint8)


class BboRing:
    """The writer's side of the ring; see the module doc.

    `header` (u64 words), `slot_words` ((capacity, 8) u64) and `slot_bytes`
    ((capacity, 64) u8) are the views the compiled receive loop writes through.
    """

    def __init__(self, path: str | Path | None = None, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 2 or capacity & (capacity - 1):
            raise ValueError("ring capacity must be a power of two")
        self.path = Path(path) if path is not None else None
        self.capacity = capacity
        self._memory, raw = _map(self.path, capacity, create=True)
        self.header = raw[:HEADER_BYTES].view(np.uint64)
        self.slot_bytes = raw[HEADER_BYTES:].reshape(capacity, SLOT_BYTES)
        self.slot_words = self.slot_bytes.view(np.uint64)
        self.slot_words[:, 0] = np.uint64(2**64 - 1)  # no record yet
        self.header[_W_CAPACITY] = capacity
        self.header[_W_VERSION_SLOT] = VERSION | (SLOT_BYTES << 32)
        self.header[_W_MAGIC] = np.frombuffer(MAGIC, np.uint64)[0]  # last: the ring is ready

    @property
    def written(self) -> int:
        return int(self.header[_W_WRITE])

    def put(self, records: np.ndarray) -> int:
        """Append contiguous records (BBO_RECORD) from Python; returns the new write index."""
        rows = records.view(np.uint8).reshape(len(records), BBO_RECORD.itemsize)
        return int(ring_put(self.header, self.slot_words, self.slot_bytes, rows, len(rows)))

    def record_bytes(self, first: int, end: int) -> list[np.ndarray]:
        """Records `first` .. `end` - 1 as (rows, 56) byte views, one or two (at the wrap)."""
        start, stop = first % self.capacity, (end - 1) % self.capacity + 1
        if end <= first:
            return []
        if start < stop:
            return [self.slot_bytes[start:stop, RECORD_AT:]]
        return [self.slot_bytes[start:, RECORD_AT:], self.slot_bytes[:stop, RECORD_AT:]]

    def set_flags(self, *, stale: bool = False, ended: bool = False) -> None:
        self.header[_W_FLAGS] = (FLAG_STALE if stale else 0) | (FLAG_ENDED if ended else 0)

    def close(self) -> None:
        """Release the mapping (the file stays, marked ended, for readers still attached)."""
        if self._memory is not None:
            del self.header, self.slot_bytes, self.slot_words
            self._memory.close()
            self._memory = None


class BboRingReader:
    """Reads a ring's records in order from where it attaches (the oldest record still in it,
    or the next one with `from_now`); counts the records an overrun made it lose.

    `ring` is a `BboRing` of this process or the path of a shared one.
    """

    def __init__(self, ring: BboRing | str | Path, from_now: bool = False) -> None:
        if isinstance(ring, BboRing):
            self._memory, self.header = None, ring.header
            self.slot_bytes, self.capacity = ring.slot_bytes, ring.capacity
        else:
            self._memory, raw = _map(Path(ring), 0, create=False)
            if raw[:8].tobytes() != MAGIC:
                del raw  # the view must go before the mapping closes
                self._memory.close()
                raise ValueError(f"not a tickaccel BBO ring: {ring}")
            self.header = raw[:HEADER_BYTES].view(np.uint64)
            self.capacity = int(self.header[_W_CAPACITY])
            self.slot_bytes = raw[HEADER_BYTES:HEADER_BYTES + self.capacity * SLOT_BYTES] \
                .reshape(self.capacity, SLOT_BYTES)
        self._slot_seqs = self.slot_bytes.view(np.uint64)[:, 0]
        written = int(self.header[_W_WRITE])
        self.next = written if from_now else max(0, written - self.capacity)
        self.lost = 0

    @property
    def ended(self) -> bool:
        return bool(int(self.header[_W_FLAGS]) & FLAG_ENDED)

    @property
    def stale(self) -> bool:
        return bool(int(self.header[_W_FLAGS]) & FLAG_STALE)

    def available(self) -> int:
        """Records written and not read yet (more than the ring holds after an overrun)."""
        return int(self.header[_W_WRITE]) - self.next

    def read(self, limit: int = 1 << 16) -> np.ndarray:
        """Up to `limit` next records, copied (BBO_RECORD); empty when none is new."""
        written = int(self.header[_W_WRITE])
        if written - self.next > self.capacity:  # lapped before we looked
            self.lost += written - self.capacity - self.next
            self.next = written - self.capacity
        end = min(written, self.next + limit)
        n = end - self.next
        out = np.empty(n, BBO_RECORD)
        if n == 0:
            return out
        rows = out.view(np.uint8).reshape(n, BBO_RECORD.itemsize)
        slots = (np.arange(self.next, end, dtype=np.uint64) % np.uint64(self.capacity)).astype(
            np.int64)
        rows[:] = self.slot_bytes[slots, RECORD_AT:]
        # Whole only where the slot still holds the record we meant: the writer marks a slot
        # with its new sequence before overwriting it, so a later sequence means lost.
        overwritten = np.flatnonzero(self._slot_seqs[slots] != np.arange(self.next, end,
                                                                          dtype=np.uint64))
        keep = 0 if not len(overwritten) else int(overwritten[-1]) + 1
        self.lost += keep
        self.next = end
        return out[keep:]

    def close(self) -> None:
        """Drop the views (so the ring's mapping can close), and the mapping if it is ours."""
        self.header = self.slot_bytes = self._slot_seqs = None
        if self._memory is not None:
            self._memory.close()
            self._memory = None
