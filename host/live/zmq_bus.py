"""ZeroMQ publisher and subscriber of BBO frames (`tickaccel.live.wire`), numbered to count losses."""
from __future__ import annotations

import numpy as np

from tickaccel.live.wire import (
    BBO_RECORD,
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
