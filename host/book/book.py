"""`Book`: every symbol's order book of one feed, queried by symbol, stepped through the feed.

The fast book (`tickaccel.book.fast`) keeps every book of a feed; this wraps it for
research use: queries take symbols and answer in dollars, and the feed is applied up to
any message or any time of day, so the state can be read between any two messages::

    book = Book("data/demo.itch")
    book.advance_to("10:30:00")          # every message stamped at or before 10:30:00
    book.bbo("SYM0042")                  # Quote(bid_price=..., ask_price=..., ...)
    book.levels("SYM0042", "S", 5)       # the five best asks, best first
    book.orders("SYM0042")               # the resting orders (L3), best price first

`book_at` is the one-call form of the first three lines.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from tickaccel.book.fast import FastBook
from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.binaryfile import record_offsets
from tickaccel.feed.chunk import FeedChunk
from tickaccel.feed.source import open_feed
from tickaccel.schema.units import PRICE_SCALE, format_time_of_day, time_of_day_ns

# Bytes from a record's length prefix to its message's 6-byte timestamp: the 2-byte length,
# then message type (1), stock locate (2) and tracking number (2).
_TIMESTAMP_AT = 2 + 5
_SIDES = {"B": "B", "BID": "B", "BUY": "B", "S": "S", "ASK": "S", "SELL": "S", "A": "S"}


class Level(NamedTuple):
    """One price level: price in dollars, shares resting, orders resting."""

    price: float
    shares: int
    orders: int


class Quote(NamedTuple):
    """Best bid and offer; a side without orders has price None and size 0."""

    bid_price: float | None
    bid_size: int
    ask_price: float | None
    ask_size: int


class Order(NamedTuple):
    """One resting order: its reference number, side ("B"/"S"), price in dollars, shares left."""

    ref: int
    side: str
    price: float
    shares: int


def _record_timestamps(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Each record's timestamp; a record too short to hold one counts as stamped 0 (it is
    applied where it is, and the book counts it as an error)."""
    lengths = (data[offsets].astype(np.int64) << 8) | data[offsets + 1]
    whole = lengths >= _TIMESTAMP_AT + 6 - 2
    at = offsets[whole] + _TIMESTAMP_AT
    stamps = np.zeros(len(offsets), np.uint64)
    whole_stamps = np.zeros(len(at), np.uint64)
    for byte in range(6):
        whole_stamps = (whole_stamps << np.uint64(8)) | data[at + byte].astype(np.uint64)
    stamps[whole] = whole_stamps
    return stamps


def _records(chunk: FeedChunk, offsets: np.ndarray, start: int, stop: int) -> FeedChunk:
    """Records `start` to `stop` of `chunk` (whose record offsets are `offsets`) as a chunk."""
    begin = int(offsets[start])
    end = int(offsets[stop]) if stop < len(offsets) else len(chunk.data)
    seqs = chunk.seqs
    return FeedChunk(chunk.data[begin:end],
                     chunk.first_seq + start if seqs is None else int(seqs[start]),
                     None if seqs is None else seqs[start:stop],
                     chunk.base_offset + begin if chunk.base_offset >= 0 else -1)


class Book:
    """The books of every symbol of `feed` (BinaryFILE, gzip, pcap or pcapng), applied in steps.

    The book starts empty, before the feed's first message; `advance`, `advance_to` and
    `advance_all` apply it. Queries take symbol names as the feed's R messages give them
    (`symbols` lists them) and answer in dollars. Damaged input is counted in `errors`,
    as in a replay.
    """

    def __init__(self, feed: str | os.PathLike, *, udp_port: int | None = None,
                 chunk_bytes: int = 16 << 20) -> None:
        self.errors = ErrorLog()
        self._feed_errors = ErrorLog()
        self._book = FastBook(symbols=())  # writes no rows: the book is read by query only
        self._chunks: Iterator[FeedChunk] = open_feed(feed, errors=self._feed_errors,
                                                      chunk_bytes=chunk_bytes, udp_port=udp_port)
        # The chunk being applied, its records' offsets and timestamps, and how many are applied.
        self._chunk: FeedChunk | None = None
        self._offsets = self._stamps = np.zeros(0, np.int64)
        self._done = 0
        self._names_at = -1  # the book's rename count `_locate_of` was built at
        self._locate_of: dict[str, int] = {}
        self.time = 0  # timestamp of the last message applied (ns after midnight)
        self.ended = False

    # ---- stepping through the feed ----

    @property
    def messages(self) -> int:
        """Records applied so far (damaged ones included)."""
        return self._book.records

    def advance(self, messages: int = 1) -> int:
        """Apply the next `messages` records; returns how many there were (fewer at the feed's end)."""
        return self._advance(limit=messages)

    def advance_to(self, time: str | int) -> int:
        """Apply the records up to the first one stamped after `time` (`time_of_day_ns`), so
        on a feed in time order every record stamped at or before it; returns how many."""
        return self._advance(until=np.uint64(time_of_day_ns(time)))

    def advance_all(self) -> int:
        """Apply the rest of the feed; returns how many records that was."""
        return self._advance()

    def _advance(self, limit: int | None = None, until: np.uint64 | None = None) -> int:
        """Apply up to `limit` records, stopping before the first stamped after `until`."""
        applied = 0
        while limit is None or applied < limit:
            if self._done == len(self._offsets) and not self._next_chunk():
                break
            stop = len(self._offsets) if limit is None else min(len(self._offsets),
                                                                 self._done + limit - applied)
            if until is not None:
                later = np.flatnonzero(self._stamps[self._done:stop] > until)
                stop = self._done + int(later[0]) if len(later) else stop
            if stop > self._done:
                self._book.process_columns(_records(self._chunk, self._offsets, self._done, stop))
                self.time = max(self.time, int(self._stamps[self._done:stop].max()))
                applied += stop - self._done
                self._done = stop
            if stop < len(self._offsets) and until is not None:
                break
        self.errors = ErrorLog()
        self.errors.merge(self._feed_errors)
        self.errors.merge(self._book.errors)
        return applied

    def _next_chunk(self) -> bool:
        """Read the next chunk; False at the feed's end."""
        self._chunk = next(self._chunks, None)
        if self._chunk is None:
            self.ended = True
            self._offsets = np.zeros(0, np.int64)
            self._done = 0
            return False
        self._offsets = record_offsets(self._chunk.data)
        self._stamps = _record_timestamps(self._chunk.data, self._offsets)
        self._done = 0
        return True

    # ---- queries ----

    @property
    def symbols(self) -> list[str]:
        """The symbols the feed has named so far (R messages), sorted."""
        return sorted(self._locates())

    def locate(self, symbol: str) -> int:
        """The stock locate `symbol` has now; raises `TickaccelError` naming a few known symbols."""
        locates = self._locates()
        if symbol not in locates:
            known = sorted(locates)
            hint = (f"; the feed names {len(known)} so far, e.g. {', '.join(known[:5])}" if known
                    else "; no R message has named a symbol yet")
            raise TickaccelError(f"no symbol {symbol!r} in the feed at {format_time_of_day(self.time)}{hint}")
        return locates[symbol]

    def bbo(self, symbol: str) -> Quote:
        """The best bid and offer of `symbol` now."""
        loc = self.locate(symbol)
        bid = self._book.top(loc, "B", 1)
        ask = self._book.top(loc, "S", 1)
        return Quote(bid[0][0] / PRICE_SCALE if bid else None, bid[0][1] if bid else 0,
                     ask[0][0] / PRICE_SCALE if ask else None, ask[0][1] if ask else 0)

    def levels(self, symbol: str, side: str, n: int = 5) -> list[Level]:
        """The best `n` price levels of one side ("B"/"bid" or "S"/"ask") of `symbol`, best first."""
        if n < 1:
            raise TickaccelError(f"levels: n is at least 1, not {n}")
        return [Level(price / PRICE_SCALE, shares, orders)
                for price, shares, orders in self._book.top(self.locate(symbol), _side(side), n)]

    def orders(self, symbol: str, side: str | None = None) -> list[Order]:
        """The resting orders of `symbol` (of one side when given): best price first; within a
        price, by order reference, which the exchange assigns in increasing order through the
        day, so that is time priority (an order that was replaced (U) has its new reference)."""
        resting = self._book.resting_orders(self.locate(symbol))
        if side is not None:
            resting = resting[resting["side"] == ord(_side(side))]
        bids = resting[resting["side"] == ord("B")]
        asks = resting[resting["side"] == ord("S")]
        bids = bids[np.lexsort((bids["ref"], -bids["price"].astype(np.int64)))]
        asks = asks[np.lexsort((asks["ref"], asks["price"]))]
        return [Order(int(o["ref"]), chr(o["side"]), int(o["price"]) / PRICE_SCALE, int(o["shares"]))
                for rows in (bids, asks) for o in rows]

    def _locates(self) -> dict[str, int]:
        renames = self._book.renames
        if renames != self._names_at:
            self._names_at = renames
            self._locate_of = {name: loc for loc, name in sorted(self._book.symbols.items())}
        return self._locate_of


def _side(side: str) -> str:
    found = _SIDES.get(str(side).upper())
    if found is None:
        raise TickaccelError(f"a side is 'B' (bid) or 'S' (ask), not {side!r}")
    return found


def book_at(feed: str | os.PathLike, time: str | int, *, udp_port: int | None = None) -> Book:
    """The books of `feed` after every message stamped at or before `time` (``"10:30:00"``).

    Query the result by symbol: ``book_at(feed, "10:30").levels("AAPL", "B", 10)``.
    """
    book = Book(feed, udp_port=udp_port)
    book.advance_to(time)
    return book
