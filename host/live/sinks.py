"""Book stages of the live receiver: in-order chunks in, published records (`tickaccel.live.wire`) out.

`BookSink` keeps one fast book in process and writes its rows as records in
Numba; `TableSink` wraps any stage whose ``process(chunk)`` returns BBO
tables (such as `tickaccel.batch.cluster.ShardedSink`): same outputs, the slower path.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tickaccel.book.fast import N_LOCATES, FastBook
from tickaccel.errors import ErrorLog
from tickaccel.feed.binaryfile import frame_messages
from tickaccel.feed.chunk import FeedChunk
from tickaccel.live.wire import BBO_RECORD, fill_wire_records, record_bytes, wire_records
from tickaccel.schema import itch


def _warm_up_book_growth() -> None:
    """Make a tiny book grow its order table and compact its level pool once.

    Numba loads those paths on first use, which takes tens to hundreds of
    milliseconds; without this, the first growth of a live session stalls the loop.
    """
    adds = [itch.encode_message(itch.make("A", stock_locate=locate, order_ref=ref, side="B",
                                          shares=1, price=ref))
            for ref, locate in enumerate((1, 2, 3, 4, 5, 1, 2, 3), 1)]
    data = np.frombuffer(frame_messages(adds), np.uint8)
    tiny = FastBook(order_capacity=2, level_pool=8)
    tiny.process_columns(FeedChunk(data, 1, np.arange(1, len(adds) + 1, dtype=np.uint64), -1))


class BookSink:
    """The in-process book stage: applies in-order chunks to one fast book.

    `records` hands back the published records of a chunk, built in Numba
    from the book's raw columns into a reused buffer. The book keeps its
    small starting order table: presized to 2**21 slots (48 MiB), back-to-back
    runs at 200 k msg/s on the bench VM had p99 174-224 ms instead of 4-21 ms
    (likely the table's fresh pages faulted in mid-session, a new order landing
    on an untouched page), far worse than the few rehashes of growing it.
    """

    def __init__(self, depth: int = 0, symbols: Iterable[str] | None = None) -> None:
        self.book = FastBook(depth=depth, trades=False, symbols=symbols)
        self.names = np.full((N_LOCATES, 8), ord(" "), np.uint8)  # symbol bytes per locate
        self._grow(1024)
        _warm_up_book_growth()

    def _grow(self, rows: int) -> None:
        self._records = np.zeros(rows, BBO_RECORD)

    def records(self, chunk: FeedChunk, stale: bool) -> np.ndarray:
        """The BBO records of `chunk` (its `seqs` set, as live numbers every message): a view
        of a reused buffer, valid until the next call."""
        bbo = self.book.process_columns(chunk)["bbo"]
        n = len(bbo["seq"])
        if n > len(self._records):
            self._grow(2 * n)
        fill_wire_records(chunk.data, chunk.seqs, self.names, bbo["seq"], bbo["timestamp"],
                          bbo["stock_locate"], bbo["bid_price"], bbo["ask_price"],
                          bbo["bid_size"], bbo["ask_size"], stale, record_bytes(self._records))
        return self._records[:n]

    @property
    def errors(self) -> ErrorLog:
        return self.book.errors

    @property
    def message_counts(self) -> dict[str, int]:
        return self.book.message_counts

    def close(self) -> None:
        """Nothing to release for an in-process book."""


class TableSink:
    """A book stage whose `process(chunk)` returns BBO tables (`cluster.ShardedSink`), as records."""

    def __init__(self, stage) -> None:
        self.stage = stage

    def records(self, chunk: FeedChunk, stale: bool) -> np.ndarray:
        return wire_records(self.stage.process(chunk), stale)

    @property
    def errors(self) -> ErrorLog:
        return self.stage.errors

    @property
    def message_counts(self) -> dict[str, int]:
        return self.stage.message_counts

    def close(self) -> None:
        self.stage.close()
