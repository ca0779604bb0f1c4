"""The oracle order book: plain Python, one decoded message at a time, obviously right.

Semantics shared by every book implementation (the fast book in `book.py`,
the RTL) and checked against this one:

- A/F add an order; E, C and X reduce its shares (C trades at its own price,
  the order keeps its price); D removes it; U removes the original and adds
  the new reference with the original's side and locate at the new price
  and shares. P, Q and B change no book. Book changes go to the book of the
  order's own locate, whatever the header of the E/C/X/D/U says.
- E/C/X/D/U of an unknown reference: counted as ``unknown_order_ref`` and
  otherwise ignored (no trade row either).
- An order reduced to zero shares is removed. A reduction by more than the
  order's shares removes it and is counted as ``overfill``.
- An add (A/F, or the new half of a U) whose reference is already live is
  counted as ``duplicate_order_ref`` and ignored; one with zero shares is
  counted as ``zero_share_add`` and ignored (it would be removed at once).
  The original of such a U is still removed.
- Records: ``zero_length`` (skip the 2-byte prefix), ``bad_length`` (length
  above 50: skip by the prefix), ``unknown_type``, ``wrong_length`` (known
  type, length not the table's) are counted and skipped; ``truncated_message``
  (a record running past the end of its chunk) is counted and ends the chunk.
  Every record, good or bad, takes one sequence number.
- Error positions: the file offset of the record's length prefix for
  BinaryFILE chunks, the message's sequence number otherwise.

Output rows: one BBO row per message that changes its symbol's best bid/ask
price or size, one depth row per message that changes any top-N value, one
trade row per E, C, P, Q (with C's printable flag, the order reference and Q's
cross type) and per B (type "B", its match number; see `tickaccel.schema.tables`).
The symbol of a row is the name the latest R message gave its locate, "" before any.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa

from tickaccel.schema import itch
from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.chunk import FeedChunk
from tickaccel.schema.tables import (
    BROKEN_TRADE, NO_CHARACTER, PRINTABLE, TRADES_SCHEMA, bbo_table, depth_table, trades_table)

BOOK_ERROR_KINDS = (
    "zero_length", "bad_length", "unknown_type", "wrong_length", "truncated_message",
    "unknown_order_ref", "duplicate_order_ref", "overfill", "zero_share_add",
)

_BOOK_TYPES = frozenset("AFECXDU")

# The most levels per side a depth table may have: every book keeps memory bounded by
# it, and a feed's books rarely have more levels worth a row.
MAX_DEPTH = 100


def check_depth(depth: int) -> None:
    """Raise `TickaccelError` unless `depth` (levels per side in depth rows) is 0..`MAX_DEPTH`."""
    if not 0 <= depth <= MAX_DEPTH:
        raise TickaccelError(f"--depth must be 0 to {MAX_DEPTH} levels per side, got {depth}")


def iter_messages(chunk: FeedChunk, errors: ErrorLog,
                  on_record: Callable[[], None] | None = None) -> Iterator[tuple[int, int, bytes]]:
    """(seq, position, message bytes) of each well-formed record of `chunk`.

    Malformed records are counted in `errors` and skipped; `on_record` is
    called once per record, good or bad.
    """
    data = bytes(chunk.data)
    offset, index = 0, 0
    while offset < len(data):
        seq = chunk.first_seq + index if chunk.seqs is None else int(chunk.seqs[index])
        pos = chunk.base_offset + offset if chunk.seqs is None else seq
        length = int.from_bytes(data[offset:offset + 2], "big")
        end = offset + 2 + length
        if end > len(data):
            errors.add("truncated_message", pos)
            return
        if on_record is not None:
            on_record()
        mtype = chr(data[offset + 2]) if length else ""
        if length == 0:
            errors.add("zero_length", pos)
        elif length > itch.MAX_MESSAGE_LENGTH:
            errors.add("bad_length", pos)
        elif mtype not in itch.MESSAGES:
            errors.add("unknown_type", pos)
        elif itch.MESSAGE_LENGTHS[mtype] != length:
            errors.add("wrong_length", pos)
        else:
            yield seq, pos, data[offset + 2:end]
        offset, index = end, index + 1


class OracleBook:
    """L3 order store plus aggregated L2 levels per (locate, side), kept with dicts."""

    def __init__(self, depth: int = 0, trades: bool = False,
                 symbols: Iterable[str] | None = None) -> None:
        check_depth(depth)
        self.depth = depth
        self.trades = trades
        self._wanted_symbols = None if symbols is None else frozenset(symbols)
        self.orders: dict[int, list] = {}  # ref -> [locate, side, price, shares]
        self.levels: dict[tuple[int, str], dict[int, list[int]]] = {}  # price -> [shares, orders]
        self.symbols: dict[int, str] = {}  # stock locate -> name of its latest R message
        self.errors = ErrorLog()
        self.message_counts: dict[str, int] = {}
        self.records = 0

    # ---- queries ----

    def top(self, locate: int, side: str, n: int) -> list[tuple[int, int, int]]:
        """The best `n` levels of one side as (price, shares, orders), best first."""
        book = self.levels.get((locate, side), {})
        if n == 1 and book:
            prices = [max(book) if side == "B" else min(book)]
        else:
            prices = sorted(book, reverse=(side == "B"))[:n]
        return [(p, book[p][0], book[p][1]) for p in prices]

    def bbo(self, locate: int) -> tuple[int, int, int, int]:
        """(bid_price, ask_price, bid_size, ask_size), zeros for an empty side."""
        bid = self.top(locate, "B", 1) or [(0, 0, 0)]
        ask = self.top(locate, "S", 1) or [(0, 0, 0)]
        return bid[0][0], ask[0][0], bid[0][1], ask[0][1]

    def _depth_values(self, locate: int) -> tuple:
        values = []
        for side in ("B", "S"):
            levels = self.top(locate, side, self.depth)
            values += levels + [(0, 0, 0)] * (self.depth - len(levels))
        return tuple(values)

    # ---- book changes ----

    def _add(self, ref: int, locate: int, side: str, price: int, shares: int, pos: int) -> None:
        if ref in self.orders:
            self.errors.add("duplicate_order_ref", pos)
            return
        if shares == 0:
            self.errors.add("zero_share_add", pos)
            return
        self.orders[ref] = [locate, side, price, shares]
        level = self.levels.setdefault((locate, side), {}).setdefault(price, [0, 0])
        level[0] += shares
        level[1] += 1

    def _reduce(self, ref: int, shares: int, pos: int) -> None:
        order = self.orders[ref]
        locate, side, price, live = order
        if shares > live:
            self.errors.add("overfill", pos)
            shares = live
        book = self.levels[(locate, side)]
        book[price][0] -= shares
        order[3] -= shares
        if order[3] == 0:
            del self.orders[ref]
            book[price][1] -= 1
            if book[price][1] == 0:
                del book[price]

    # ---- messages ----

    def _apply(self, msg: tuple, seq: int, pos: int, rows: dict[str, list]) -> None:
        t = msg.type
        if t == "R":
            self.symbols[msg.stock_locate] = msg.stock
            return
        locate = msg.stock_locate
        if t in "AF":
            self._add(msg.order_ref, locate, msg.side, msg.price, msg.shares, pos)
        elif t in "ECXDU":
            ref = msg.original_order_ref if t == "U" else msg.order_ref
            order = self.orders.get(ref)
            if order is None:
                self.errors.add("unknown_order_ref", pos)
                return
            locate, side, price = order[0], order[1], order[2]
            if t == "E":
                self._trade(rows, seq, msg, locate, "E", side, price, msg.executed_shares,
                            True, ref)
                self._reduce(ref, msg.executed_shares, pos)
            elif t == "C":
                self._trade(rows, seq, msg, locate, "C", side, msg.execution_price,
                            msg.executed_shares, msg.printable == PRINTABLE, ref)
                self._reduce(ref, msg.executed_shares, pos)
            elif t == "X":
                self._reduce(ref, msg.cancelled_shares, pos)
            elif t == "D":
                self._reduce(ref, order[3], pos)
            else:
                self._reduce(ref, order[3], pos)
                self._add(msg.new_order_ref, locate, side, msg.price, msg.shares, pos)
        elif t == "P":
            self._trade(rows, seq, msg, locate, "P", msg.side, msg.price, msg.shares, True,
                        msg.order_ref)
        elif t == "Q":
            self._trade(rows, seq, msg, locate, "Q", NO_CHARACTER, msg.cross_price, msg.shares,
                        True, 0, msg.cross_type)
        elif t == BROKEN_TRADE:
            self._trade(rows, seq, msg, locate, BROKEN_TRADE, NO_CHARACTER, 0, 0, False, 0)

    def _trade(self, rows: dict[str, list], seq: int, msg: tuple, locate: int, kind: str,
               side: str, price: int, shares: int, printable: bool, order_ref: int,
               cross_type: str = NO_CHARACTER) -> None:
        if self.trades and self._wanted(locate):
            rows["trades"].append((seq, msg.timestamp, locate, self.symbols.get(locate, ""),
                                   kind, side, price, shares, msg.match_number, printable,
                                   order_ref, cross_type))

    def _wanted(self, locate: int) -> bool:
        return self._wanted_symbols is None or self.symbols.get(locate) in self._wanted_symbols

    def _message(self, data: bytes, seq: int, pos: int, rows: dict[str, list]) -> None:
        msg = itch.decode_message(data)
        self.message_counts[msg.type] = self.message_counts.get(msg.type, 0) + 1
        if msg.type not in _BOOK_TYPES:
            self._apply(msg, seq, pos, rows)
            return
        # The order's own locate is the one whose book can change.
        ref = msg.original_order_ref if msg.type == "U" else msg.order_ref
        order = self.orders.get(ref)
        locate = msg.stock_locate if msg.type in "AF" or order is None else order[0]
        bbo_before = self.bbo(locate)
        depth_before = self._depth_values(locate) if self.depth else None
        self._apply(msg, seq, pos, rows)
        if not self._wanted(locate):
            return
        head = (seq, msg.timestamp, locate, self.symbols.get(locate, ""))
        bbo_after = self.bbo(locate)
        if bbo_after != bbo_before:
            rows["bbo"].append(head + bbo_after)
        if self.depth:
            depth_after = self._depth_values(locate)
            if depth_after != depth_before:
                rows["depth"].append(head + (depth_after,))

    def process(self, chunk: FeedChunk) -> dict[str, pa.Table]:
        """Apply every record of `chunk`; returns the rows it produced as Arrow tables."""
        rows: dict[str, list] = {"bbo": [], "depth": [], "trades": []}
        for seq, pos, message in iter_messages(chunk, self.errors, self._count_record):
            self._message(message, seq, pos, rows)
        return self._tables(rows)

    def _count_record(self) -> None:
        self.records += 1

    def _tables(self, rows: dict[str, list]) -> dict[str, pa.Table]:
        def column(table: str, i: int) -> list:
            return [r[i] for r in rows[table]]

        out = {"bbo": bbo_table(*(column("bbo", i) for i in range(8)))}
        if self.depth:
            levels = np.array([r[4] for r in rows["depth"]], np.uint64)
            levels = levels.reshape(len(rows["depth"]), 2 * self.depth, 3)
            out["depth"] = depth_table(*(column("depth", i) for i in range(4)),
                                       levels[:, :, 0], levels[:, :, 1], levels[:, :, 2])
        if self.trades:
            out["trades"] = trades_table(*(column("trades", i) for i in range(len(TRADES_SCHEMA))))
        return out
