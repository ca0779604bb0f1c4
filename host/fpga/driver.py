"""`FeedToBook`: feed_to_book on a board or on the simulated board, driven the same way.

Everything above the transport is here and shared: packing frames (from
`tickaccel.feed.framing`) into DMA buffers (`tickaccel.fpga.layout`), collecting
and unpadding record slots, register access by name and waiting for the pipeline
to empty; `tickaccel.batch.fpga` replays a feed file through it. A transport
(`PynqTransport` over real or simulated PYNQ) only moves buffers and register values.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Protocol

import numpy as np

from tickaccel.schema import csr, records
from tickaccel.errors import TickaccelError
from tickaccel.feed.framing import DEST_IP, DEST_PORT, FrameBlock, ip_to_int
from tickaccel.fpga import layout, registers

Progress = Callable[[int, "int | None"], None]  # (frames sent, total frames or None)
_BOOK_EVENT_COUNTERS = tuple(f"feed_{csr.MESSAGE_COUNTER[t]}" for t in records.BOOK_EVENT_TYPES)


class DrainTimeout(RuntimeError):
    """The board stopped answering while frames or records were still in flight: a failed
    replay of a usable feed (`tickaccel.batch.replay` writes its summary.json), not bad input."""


class Transport(Protocol):
    """What a board must do for the driver; frames arrive already packed into one DMA buffer."""

    send_buffer_bytes: int

    def send_frames(self, batch: np.ndarray) -> None: ...
    def receive_records(self) -> bytes: ...
    def read_register(self, name: str) -> int: ...
    def write_register(self, name: str, value: int) -> None: ...
    def close(self) -> None: ...


class FeedToBook:
    """One feed_to_book core: send frames, collect BBO update records, read counters by name."""

    def __init__(self, transport: Transport, *, batch_bytes: int | None = None) -> None:
        self.transport = transport
        self.batch_bytes = batch_bytes or transport.send_buffer_bytes
        if self.batch_bytes > transport.send_buffer_bytes:
            raise TickaccelError(f"batches of {self.batch_bytes} bytes do not fit the "
                                 f"{transport.send_buffer_bytes}-byte send buffer")
        self.frames_sent = 0
        self.batches_sent = 0
        self.bytes_sent = 0
        self._slots: list[bytes] = []
        self.records_received = 0
        for name, expected in (registers.FEED_DEVICE_ID, registers.BOOK_DEVICE_ID):
            found = self.read_register(name)
            if found != expected:
                raise TickaccelError(f"register {name} reads {found:#010x}, not {expected:#010x}: "
                                     "the overlay is not feed_to_book or is not responding")

    def read_register(self, name: str) -> int:
        return self.transport.read_register(registers.resolve(name).name)

    def write_register(self, name: str, value: int) -> None:
        self.transport.write_register(registers.resolve(name).name, value)

    def configure(self, dest_ip: str = DEST_IP, dest_port: int = DEST_PORT) -> None:
        """Accept UDP to `dest_ip`:`dest_port` and enable the feed handler."""
        self.write_register("feed_filter_ip", ip_to_int(dest_ip))
        self.write_register("feed_filter_port", dest_port)
        self.write_register("feed_control", 1)

    def send(self, blocks: Iterable[FrameBlock], progress: Progress | None = None,
             total: int | None = None) -> None:
        """Send the blocks' frames in DMA batches of at most `batch_bytes`, collecting records as they land."""
        for batch, count in layout.batch_frames(blocks, self.batch_bytes):
            self.transport.send_frames(batch)
            self.frames_sent += count
            self.batches_sent += 1
            self.bytes_sent += batch.nbytes
            self._take(self.transport.receive_records())
            if progress is not None:
                progress(self.frames_sent, total)

    def _take(self, slots: bytes) -> None:
        if slots:
            self._slots.append(slots)
            self.records_received += len(slots) // layout.RECORD_SLOT_BYTES

    def drain(self, timeout_s: float = 30.0, stable_polls: int = 3) -> None:
        """Wait until every frame sent is through and every record the book sent has landed.

        Done when the feed handler has seen every frame, the book has taken
        every event the feed handler decoded, the records received equal the
        book's output counters, and all that holds unchanged for `stable_polls`
        polls in a row (an event inside the book may still produce a record).
        """
        deadline = time.monotonic() + timeout_s
        last, stable = None, 0
        while True:
            self._take(self.transport.receive_records())
            state = self._pipeline_state()
            frames_in, pending_events, emitted = state
            done = frames_in == self.frames_sent and pending_events == 0 \
                and emitted == self.records_received
            stable = stable + 1 if done and state == last else 0
            if stable >= stable_polls:
                return
            last = state
            if time.monotonic() > deadline:
                raise DrainTimeout(
                    f"feed_to_book did not drain in {timeout_s:g} s: {frames_in}/{self.frames_sent} "
                    f"frames in, {pending_events} events not yet in the book, "
                    f"{self.records_received}/{emitted} records received")

    def _pipeline_state(self) -> tuple[int, int, int]:
        decoded = sum(self.read_register(name) for name in _BOOK_EVENT_COUNTERS)
        emitted = self.read_register("book_bbo_updates") + self.read_register("book_symbol_updates")
        return self.read_register("feed_frames_in"), decoded - self.read_register("book_events"), emitted

    def record_bytes(self) -> bytes:
        """The BBO update records received so far, 42 bytes each (`tickaccel.schema.bbo_records`)."""
        return layout.records_from_slots(b"".join(self._slots))

    def counters(self) -> dict[str, dict[str, int]]:
        """Every counter and status register by name, per block (as the sim backend's summary has them)."""
        out: dict[str, dict[str, int]] = {"feed": {}, "book": {}}
        for reg in registers.REGISTERS:
            if reg.access in ("counter", "status"):
                out[reg.block][reg.short] = self.read_register(reg.name)
        return out

    def close(self) -> None:
        self.transport.close()
