"""ZeroMQ publisher and subscriber of BBO frames (`tickaccel.live.wire`), numbered to count losses.

`RingPublisher` feeds a `BboPublisher` from the BBO ring (`tickaccel.live.shm_ring`)
in a thread of its own, woken through an eventfd by whoever writes the ring.
"""
from __future__ import annotations

import os
import threading

import numpy as np

from tickaccel.live.shm_ring import BboRing, BboRingReader
from tickaccel.live.wire import (
    BBO_RECORD,
    FLAG_STALE,
    FRAME_HEADER,
    KIND_BBO,
    KIND_END,
    MAGIC,
    decode_frame,
    pack_frame_header,
    record_bytes,
)


class BboPublisher:
    """ZeroMQ PUB of BBO batches; never blocks: a slow subscriber loses batches past its HWM.

    Each frame carries a batch number, so a subscriber counts what it lost.
    Frames are assembled in one reused buffer (header, then records) and
    copied once into ZeroMQ.
    """

    def __init__(self, endpoint: str, hwm: int = 1000) -> None:
        import zmq

        self._zmq = zmq
        self.socket = zmq.Context.instance().socket(zmq.PUB)
        self.socket.setsockopt(zmq.SNDHWM, hwm)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind(endpoint)
        self.endpoint = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.batch = 0
        self.dropped = 0
        self._grow(1024)

    def _grow(self, rows: int) -> None:
        self._frame = np.zeros(FRAME_HEADER.size + rows * BBO_RECORD.itemsize, np.uint8)
        self._frame_records = self._frame[FRAME_HEADER.size:].reshape(rows, BBO_RECORD.itemsize)

    def send(self, records: np.ndarray, stale: bool, kind: int = KIND_BBO) -> None:
        n = len(records)
        if n > len(self._frame_records):
            self._grow(2 * n)
        self.batch += 1
        pack_frame_header(self._frame, kind, self.batch, n, stale)
        self._frame_records[:n] = record_bytes(records)
        size = FRAME_HEADER.size + n * BBO_RECORD.itemsize
        try:
            self.socket.send(self._frame.data[:size], self._zmq.NOBLOCK, copy=True)
        except self._zmq.Again:
            self.dropped += 1

    def send_end(self, stale: bool) -> None:
        """Publish the end-of-stream frame (no records), so subscribers stop waiting."""
        self.send(np.zeros(0, BBO_RECORD), stale, KIND_END)

    def close(self) -> None:
        self.socket.close(linger=0)


class RingPublisher:
    """Publishes every record written to `ring` on a `BboPublisher`, from its own thread.

    The writer calls `notify` (or writes 8 bytes to `event_fd` itself, as the
    compiled receive loop does) after records went in; the thread wakes, reads
    all new records and sends them, at most `max_frame` to a frame. It blocks
    only in that wake-up and in pyzmq's send, both without the GIL, so it never
    holds up the receive loop; a thread more than the ring's capacity behind
    loses records (counted in `overrun_records`), never blocks the writer.
    """

    def __init__(self, publisher: BboPublisher, ring: BboRing, max_frame: int = 4096) -> None:
        self.publisher = publisher
        self.max_frame = max_frame
        self._reader = BboRingReader(ring, from_now=True)
        if hasattr(os, "eventfd"):
            self.event_fd = self._wake_fd = os.eventfd(0, os.EFD_CLOEXEC)
        else:  # a pipe; non-blocking writes, so a sleeping reader never stalls the writer
            self._wake_fd, self.event_fd = os.pipe()
            os.set_blocking(self.event_fd, False)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="tickaccel-bbo-publisher",
                                        daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        return self.publisher.dropped

    @property
    def batch(self) -> int:
        return self.publisher.batch

    @property
    def overrun_records(self) -> int:
        return self._reader.lost

    def notify(self) -> None:
        """Wake the thread: records were written."""
        try:
            os.write(self.event_fd, (1).to_bytes(8, "little"))
        except BlockingIOError:  # the pipe is full of wake-ups already
            pass

    def _run(self) -> None:
        while True:
            os.read(self._wake_fd, 4096)
            self._send_available()
            if self._stopping:
                return

    def _send_available(self) -> None:
        while len(records := self._reader.read(self.max_frame)):
            self.publisher.send(records, bool((records["flags"] & FLAG_STALE).any()))

    def close(self, stale: bool) -> None:
        """Send what is left, then the end-of-stream frame; stop the thread."""
        self._stopping = True
        self.notify()
        self._thread.join()
        self._send_available()
        self.publisher.send_end(stale)
        self.publisher.close()
        self._reader.close()
        os.close(self.event_fd)
        if self._wake_fd != self.event_fd:
            os.close(self._wake_fd)


class BboSubscriber:
    """Receives published BBO frames; counts batches lost to the publisher's HWM."""

    def __init__(self, endpoint: str, hwm: int = 1000) -> None:
        import zmq

        self._zmq = zmq
        self.socket = zmq.Context.instance().socket(zmq.SUB)
        self.socket.setsockopt(zmq.RCVHWM, hwm)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.SUBSCRIBE, MAGIC)
        self.socket.connect(endpoint)
        self.last_batch = 0
        self.lost_batches = 0
        self.ended = False

    def receive(self, timeout_ms: int) -> np.ndarray | None:
        """The next batch's records, or None when nothing came within `timeout_ms`."""
        if not self.socket.poll(timeout_ms):
            return None
        header, records = decode_frame(self.socket.recv(copy=True))
        if self.last_batch and header["batch"] > self.last_batch + 1:
            self.lost_batches += header["batch"] - self.last_batch - 1
        self.last_batch = header["batch"]
        self.ended = header["kind"] == KIND_END
        return records

    def close(self) -> None:
        self.socket.close(linger=0)
