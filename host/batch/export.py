"""One symbol's book events in the formats research tools read: LOBSTER and hftbacktest.

Both exports come from one compiled pass over the feed (`symbol_events`): a `FastBook`
filtered to the symbol applies every record, and the symbol's own messages are applied
one at a time so each gets the book state right after it. The pass keeps the symbol's
live orders (reference -> price, shares, side) to give deletions and executions their
price, size and side (an R that names the symbol makes its locate's resting orders the
symbol's), and reads the book's acceptance of an add (a duplicate reference or zero shares
is refused, as the oracle documents) from its live-order count.

- `export_lobster`: LOBSTER's message and orderbook CSV files (no header), one row of
  each per event: Time (seconds after midnight, ns precision), Event Type, Order ID,
  Size, Price (ITCH Price(4), dollars x 10000), Direction (1 buy, -1 sell); then Ask
  Price 1, Ask Size 1, Bid Price 1, Bid Size 1, ... after the event, with empty levels
  as ask 9999999999, bid -9999999999, size 0. Event types: 1 add (A, F), 2 partial
  cancel (X; also one that cancels what is left), 3 deletion (D), 4 execution of a
  visible order (E, C; C at its execution price), 5 hidden execution (P), 6 cross (Q,
  Order ID -1 opening, -2 closing, -3 halt or IPO, -4 intraday; direction 0), 7 trading
  action (H: Price -1 halted or paused, 0 quotation only, 1 trading; Order ID 0, Size
  0, direction -1). A replace (U) is a deletion of the old order, with the book
  between the two halves, then the add of the new one.
- `export_hftbacktest`: the symbol's market-by-order (L3) events as hftbacktest's
  ``event_dtype`` array in ``np.savez_compressed(path, data=events)``: adds, modifies
  (a partial cancel or execution leaves the order at its price with fewer shares, so
  it keeps its place in the queue), cancels, and for executions a trade and a fill of
  the resting order. The file opens with a depth clear and, when it starts at a time
  of day (``start``), the symbol's resting orders then as adds (the snapshot), in time
  priority, stamped at that time.

Damaged input is counted and skipped as in a replay; the results carry the counts.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from numba import njit, types
from numba.typed import Dict

from tickaccel.book.fast import DONE, GROW_LEVELS, GROW_ORDERS, FastBook, run_records
from tickaccel.book.oracle import MAX_DEPTH
from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.source import open_feed
from tickaccel.schema import itch
from tickaccel.schema.analysis import TableForm, midnight_epoch_ns
from tickaccel.schema.units import NS_PER_SECOND, PRICE_SCALE, time_of_day_ns
from tickaccel.jit import materialize

materialize()  # this module's Numba code calls the book's kernel: make it real first

# LOBSTER event types.
ADD, CANCEL, DELETE, EXECUTE, HIDDEN_EXECUTE, CROSS, TRADING_ACTION = 1, 2, 3, 4, 5, 6, 7
# LOBSTER's prices for an empty level.
EMPTY_ASK_PRICE, EMPTY_BID_PRICE = 9_999_999_999, -9_999_999_999
# Order ID of a cross row, by ITCH cross type (LOBSTER's pseudo orders).
CROSS_ORDER_IDS = {"O": -1, "C": -2, "H": -3, "I": -4}
# Price of a trading-action row, by ITCH trading state.
TRADING_STATE_PRICES = {"H": -1, "P": -1, "Q": 0, "T": 1}
END_OF_DAY_MS = 24 * 3600 * 1000

# One event of the symbol, as the pass writes it.
EXPORT_EVENT = np.dtype([
    ("seq", np.uint64),          # the record's sequence number
    ("timestamp", np.uint64),    # ns after midnight
    ("event", np.uint8),         # LOBSTER event type (above)
    ("direction", np.int8),      # 1 buy, -1 sell, 0 none (a cross)
    ("order_id", np.int64),      # order reference; a cross's pseudo order; 0 for an H
    ("size", np.int64),          # shares added, cancelled, deleted or executed
    ("price", np.int64),         # Price(4): the order's, or the execution's (C, P, Q); H: state
    ("order_price", np.uint32),  # the resting order's price (book events)
    ("shares_left", np.uint32),  # the order's shares after the event (0: it is gone)
])

# hftbacktest's event record and flags (hftbacktest.types).
HFTBACKTEST_EVENT = np.dtype([
    ("ev", "u8"), ("exch_ts", "i8"), ("local_ts", "i8"), ("px", "f8"), ("qty", "f8"),
    ("order_id", "u8"), ("ival", "i8"), ("fval", "f8"),
], align=True)
HBT_TRADE, HBT_DEPTH_CLEAR, HBT_ADD_ORDER, HBT_CANCEL_ORDER, HBT_MODIFY_ORDER, HBT_FILL = 2, 3, 10, 11, 12, 13
HBT_EXCH, HBT_LOCAL, HBT_BUY, HBT_SELL = 1 << 31, 1 << 30, 1 << 29, 1 << 28

# Pass statuses beside the book's: the event rows are full; an R named the symbol (its
# locate's resting orders become the symbol's).
_ROWS_FULL, _NAMED = 16, 17
_ROWS = 1 << 16  # event rows per hand-out


def _off(mtype: str, field: str) -> int:
    return itch.field_offsets(mtype)[field][0]


_LOCATE_AT, _TIMESTAMP_AT = _off("A", "stock_locate"), _off("A", "timestamp")
_ADD_SIDE, _ADD_SHARES, _ADD_PRICE = _off("A", "side"), _off("A", "shares"), _off("A", "price")
_REF = _off("E", "order_ref")  # where every message with an order reference has it
assert all(_off(t, "order_ref") == _REF for t in "AFCXDP") and _off("U", "original_order_ref") == _REF
_EXEC_SHARES, _C_PRICE, _X_SHARES = (
    _off("E", "executed_shares"), _off("C", "execution_price"), _off("X", "cancelled_shares"))
_U_NEW_REF, _U_SHARES, _U_PRICE = _off("U", "new_order_ref"), _off("U", "shares"), _off("U", "price")
_P_SIDE, _P_SHARES, _P_PRICE = _off("P", "side"), _off("P", "shares"), _off("P", "price")
_Q_SHARES, _Q_PRICE, _Q_CROSS_TYPE = _off("Q", "shares"), _off("Q", "cross_price"), _off("Q", "cross_type")
_H_STATE = _off("H", "trading_state")
_LENGTHS = itch.LENGTH_BY_TYPE
(_A, _F, _E, _C, _X, _D, _U, _P, _Q, _H, _R) = (ord(t) for t in "AFECXDUPQHR")
_SELL = itch.SIDE_SELL
_CROSS_IDS = np.zeros(256, np.int64)
for _type, _id in CROSS_ORDER_IDS.items():
    _CROSS_IDS[ord(_type)] = _id
_STATE_PRICES = np.zeros(256, np.int64)
for _state, _price in TRADING_STATE_PRICES.items():
    _STATE_PRICES[ord(_state)] = _price
_ORDER = types.UniTuple(types.int64, 4)  # the pass's live order: price, shares, side (0 bid, 1 ask), locate


# ---- the compiled pass ----

@njit(cache=True, inline="always")
def _be(data, p, width):
    """The big-endian unsigned `width`-byte field at `data[p]` (an 8-byte one as its int64 bits)."""
    value = np.int64(0)
    for k in range(width):
        value = (value << 8) | np.int64(data[p + k])
    return value


@njit(cache=True, inline="always")
def _concerns(data, p, mtype, locates, symbol_orders):
    """Whether the well-formed message at `p` is one of the symbol's: an add, trade or trading
    action on a locate that names it, or a change to one of its orders."""
    if mtype == _A or mtype == _F or mtype == _P or mtype == _Q or mtype == _H:
        return locates[_be(data, p + _LOCATE_AT, 2)].emit
    if mtype == _E or mtype == _C or mtype == _X or mtype == _D or mtype == _U:
        return np.uint64(_be(data, p + _REF, 8)) in symbol_orders
    return False


@njit(cache=True)
def _take_depth(tally, depth_levels, top):
    """Keep the book's latest depth row (the symbol's levels) in `top` and mark its rows taken."""
    pending = tally[0].pending_rows
    n = pending[1]
    if n > 0:
        levels = top.shape[1]
        for side in range(2):
            for r in range(levels):
                cell = depth_levels[n - 1, side * levels + r]
                top[side, r, 0] = cell.price
                top[side, r, 1] = cell.size
                top[side, r, 2] = cell.orders
    pending[0] = 0
    pending[1] = 0
    pending[2] = 0


@njit(cache=True)
def _without_order(top, side, price, shares):
    """`top` less one order: the book between the two halves of a replace. Levels are one more
    than the rows show, so the level that comes into view when one empties is known."""
    out = top.copy()
    levels = top.shape[1]
    for r in range(levels):
        if out[side, r, 2] > 0 and out[side, r, 0] == price:
            out[side, r, 1] -= shares
            out[side, r, 2] -= 1
            if out[side, r, 2] == 0:
                for k in range(r, levels - 1):
                    out[side, k, :] = out[side, k + 1, :]
                out[side, levels - 1, :] = 0
            break
    return out


@njit(cache=True)
def _put(rows, book_rows, n, seq, ts, event, direction, order_id, size, price, order_price,
         shares_left, top):
    row = rows[n]
    row.seq = seq
    row.timestamp = ts
    row.event = event
    row.direction = direction
    row.order_id = order_id
    row.size = size
    row.price = price
    row.order_price = order_price
    row.shares_left = shares_left
    # LOBSTER's orderbook row: ask price, ask size, bid price, bid size per level.
    for r in range(book_rows.shape[1] // 4):
        for side, empty, col in ((1, EMPTY_ASK_PRICE, 0), (0, EMPTY_BID_PRICE, 2)):
            if top[side, r, 2] > 0:
                book_rows[n, 4 * r + col] = top[side, r, 0]
                book_rows[n, 4 * r + col + 1] = top[side, r, 1]
            else:
                book_rows[n, 4 * r + col] = empty
                book_rows[n, 4 * r + col + 1] = 0
    return n + 1


@njit(cache=True)
def _export_pass(data, seqs, first_seq, base_offset, pos, index,
                 orders, books, levels, locates, tally, errors, type_counts,
                 bbo, depth, depth_levels, trades, filter_on, wanted,
                 symbol_orders, top, rows, book_rows, n_rows, named):
    """Apply `data` from record `index` at `pos` on; returns (status, pos, index, rows written).

    The book's state and outputs are `FastBook.kernel_state()`. Records that are not the
    symbol's go to the book in runs; each of the symbol's goes alone, then becomes one
    event row (two for a replace) with the book after it. Status: `DONE`, the book's
    GROW_ORDERS / GROW_LEVELS (grow it and call again), `_ROWS_FULL`, or `_NAMED` with
    the locate in ``named[0]`` (add its resting orders to `symbol_orders`, call again).
    """
    end = data.shape[0]
    while pos < end:
        if n_rows + 2 > rows.shape[0]:
            return _ROWS_FULL, pos, index, n_rows
        # The run of records up to the next one of the symbol's or an R (which may name it).
        scan = pos
        stop = 0  # 0: the chunk's end (or a truncated record), 1: the symbol's, 2: an R
        while scan + 2 <= end:
            length = _be(data, scan, 2)
            if scan + 2 + length > end:
                break
            mtype = data[scan + 2]
            if length > 0 and length == _LENGTHS[mtype]:
                if mtype == _R:
                    stop = 2
                    break
                if _concerns(data, scan + 2, mtype, locates, symbol_orders):
                    stop = 1
                    break
            scan += 2 + length
        if stop == 0:
            scan = end  # the book counts a truncated record
        if scan > pos:
            status, pos, index = run_records(
                data[:scan], seqs, first_seq, base_offset, pos, index, orders, books, levels,
                locates, tally, errors, type_counts, bbo, depth, depth_levels, trades,
                filter_on, wanted)
            _take_depth(tally, depth_levels, top)
            if status == GROW_ORDERS or status == GROW_LEVELS:
                return status, pos, index, n_rows
            if pos < scan:  # the book's rows were full or a symbol was renamed: taken, go on
                continue
        if stop == 0:
            break
        # One record: the symbol's, or an R.
        p = pos + 2
        nxt = p + _be(data, pos, 2)
        mtype = data[p]
        seq = np.uint64(seqs[index]) if seqs.shape[0] > 0 else np.uint64(first_seq + index)
        ts = np.uint64(_be(data, p + _TIMESTAMP_AT, 6))
        ref = np.uint64(_be(data, p + _REF, 8))
        loc = _be(data, p + _LOCATE_AT, 2)
        changes_order = mtype == _E or mtype == _C or mtype == _X or mtype == _D or mtype == _U
        old = (np.int64(0), np.int64(0), np.int64(0), loc)
        if changes_order:
            old = symbol_orders[ref]
        live_before = tally[0].live_orders
        was_named = locates[loc].emit
        status, pos, index = run_records(
            data[:nxt], seqs, first_seq, base_offset, pos, index, orders, books, levels,
            locates, tally, errors, type_counts, bbo, depth, depth_levels, trades,
            filter_on, wanted)
        if status == GROW_ORDERS or status == GROW_LEVELS:
            _take_depth(tally, depth_levels, top)
            return status, pos, index, n_rows
        between = top
        if mtype == _U:
            between = _without_order(top, old[2], old[0], old[1])
        _take_depth(tally, depth_levels, top)
        added = tally[0].live_orders - live_before  # 1: an add taken; 0: a replace's new half taken
        if mtype == _R:
            if locates[loc].emit and not was_named:
                named[0] = loc
                return _NAMED, pos, index, n_rows
            continue
        emit = locates[old[3]].emit  # the order's own locate names the symbol now
        direction = np.int8(-1 if old[2] == 1 else 1)
        if mtype == _A or mtype == _F:
            if added == 1:
                side = np.int64(1 if data[p + _ADD_SIDE] == _SELL else 0)
                price = _be(data, p + _ADD_PRICE, 4)
                shares = _be(data, p + _ADD_SHARES, 4)
                symbol_orders[ref] = (price, shares, side, loc)
                n_rows = _put(rows, book_rows, n_rows, seq, ts, ADD, np.int8(-1 if side else 1),
                              np.int64(ref), shares, price, price, shares, top)
        elif mtype == _E or mtype == _C or mtype == _X:
            wanted_shares = _be(data, p + (_X_SHARES if mtype == _X else _EXEC_SHARES), 4)
            take = min(wanted_shares, old[1])
            left = old[1] - take
            if left > 0:
                symbol_orders[ref] = (old[0], left, old[2], old[3])
            else:
                symbol_orders.pop(ref)
            if emit:
                price = _be(data, p + _C_PRICE, 4) if mtype == _C else old[0]
                n_rows = _put(rows, book_rows, n_rows, seq, ts, CANCEL if mtype == _X else EXECUTE,
                              direction, np.int64(ref), take, price, old[0], left, top)
        elif mtype == _D or mtype == _U:
            symbol_orders.pop(ref)
            if emit:
                n_rows = _put(rows, book_rows, n_rows, seq, ts, DELETE, direction, np.int64(ref),
                              old[1], old[0], old[0], 0, between)
            if mtype == _U and added == 0:
                new_ref = np.uint64(_be(data, p + _U_NEW_REF, 8))
                price = _be(data, p + _U_PRICE, 4)
                shares = _be(data, p + _U_SHARES, 4)
                symbol_orders[new_ref] = (price, shares, old[2], old[3])
                if emit:
                    n_rows = _put(rows, book_rows, n_rows, seq, ts, ADD, direction,
                                  np.int64(new_ref), shares, price, price, shares, top)
        elif mtype == _P:
            n_rows = _put(rows, book_rows, n_rows, seq, ts, HIDDEN_EXECUTE,
                          np.int8(-1 if data[p + _P_SIDE] == _SELL else 1),
                          np.int64(ref), _be(data, p + _P_SHARES, 4),
                          _be(data, p + _P_PRICE, 4), 0, 0, top)
        elif mtype == _Q:
            n_rows = _put(rows, book_rows, n_rows, seq, ts, CROSS, np.int8(0),
                          _CROSS_IDS[data[p + _Q_CROSS_TYPE]], _be(data, p + _Q_SHARES, 8),
                          _be(data, p + _Q_PRICE, 4), 0, 0, top)
        else:  # H
            n_rows = _put(rows, book_rows, n_rows, seq, ts, TRADING_ACTION, np.int8(-1), 0, 0,
                          _STATE_PRICES[data[p + _H_STATE]], 0, 0, top)
    return DONE, pos, index, n_rows


# ---- the pass, driven over a feed ----

class SymbolEvents(NamedTuple):
    """The symbol's events (`EXPORT_EVENT` rows), LOBSTER's orderbook row after each
    (int64, 4 columns a level), the records read and the input problems counted."""

    events: np.ndarray
    book: np.ndarray
    records: int
    errors: ErrorLog


def symbol_events(feed: str | os.PathLike, symbol: str, *, levels: int = 0,
                  udp_port: int | None = None, chunk_bytes: int = 16 << 20) -> SymbolEvents:
    """Every event of `symbol` in `feed`, each with the symbol's best `levels` a side after it.

    Raises `TickaccelError` when no R message of the feed names `symbol`, naming some that do.
    """
    if not 0 <= levels < MAX_DEPTH:
        raise TickaccelError(f"--levels must be 1 to {MAX_DEPTH - 1}, got {levels}")
    if not symbol or len(symbol.encode("latin-1", "replace")) > 8:
        raise TickaccelError(f"an ITCH symbol is 1 to 8 characters, not {symbol!r}")
    feed_errors = ErrorLog()
    # One level more than the rows show: the book between a replace's halves needs it.
    book = FastBook(depth=levels + 1 if levels else 0, symbols=[symbol], output_rows=1 << 12)
    symbol_orders = Dict.empty(key_type=types.uint64, value_type=_ORDER)
    top = np.zeros((2, book.depth, 3), np.int64)
    rows = np.zeros(_ROWS, EXPORT_EVENT)
    book_rows = np.zeros((_ROWS, 4 * levels), np.int64)
    named = np.zeros(1, np.int64)  # the locate an R just named the symbol
    ever_named = False
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    n_rows = records = 0
    for chunk in open_feed(feed, errors=feed_errors, chunk_bytes=chunk_bytes, udp_port=udp_port):
        data = np.ascontiguousarray(chunk.data, np.uint8)
        seqs = np.zeros(0, np.uint64) if chunk.seqs is None else np.ascontiguousarray(chunk.seqs, np.uint64)
        pos = index = 0
        while True:
            status, pos, index, n_rows = _export_pass(
                data, seqs, chunk.first_seq, chunk.base_offset, pos, index, *book.kernel_state(),
                symbol_orders, top, rows, book_rows, n_rows, named)
            if status in (GROW_ORDERS, GROW_LEVELS):
                book.make_room(status)
            elif status == _ROWS_FULL:
                parts.append((rows[:n_rows].copy(), book_rows[:n_rows].copy()))
                n_rows = 0
            elif status == _NAMED:
                ever_named = True
                loc = int(named[0])
                for order in book.resting_orders(loc):
                    symbol_orders[np.uint64(order["ref"])] = (
                        int(order["price"]), int(order["shares"]), int(order["side"] == _SELL), loc)
            else:
                break
        records += index
    if not ever_named:
        known = sorted(book.symbols.values())
        hint = (f"; it names {len(known)}, e.g. {', '.join(known[:5])}" if known
                else "; it has no R message naming any")
        raise TickaccelError(f"no symbol {symbol!r} in {os.fspath(feed)}{hint}")
    parts.append((rows[:n_rows].copy(), book_rows[:n_rows].copy()))
    errors = ErrorLog()
    errors.merge(feed_errors)
    errors.merge(book.errors)
    return SymbolEvents(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                        records, errors)


# ---- LOBSTER ----

class ExportResult(NamedTuple):
    """What an export wrote: its files, the rows (events) in them, the feed's records read
    and the input problems counted and skipped."""

    paths: list[Path]
    rows: int
    records: int
    errors: ErrorLog


def _window(start: str | int | None, end: str | int | None) -> tuple[int, int]:
    """The time-of-day window (ns after midnight, both ends included) of `start` / `end`."""
    first = 0 if start is None else time_of_day_ns(start)
    last = END_OF_DAY_MS * 1_000_000 - 1 if end is None else time_of_day_ns(end)
    if last < first:
        raise TickaccelError(f"--to ({end}) is before --from ({start})")
    return first, last


def _trading_date(date: str | dt.date) -> dt.date:
    checked = TableForm.make(date=date).date
    assert checked is not None
    return checked


def lobster_names(symbol: str, date: str | dt.date, levels: int, start: str | int | None = None,
                  end: str | int | None = None) -> tuple[str, str]:
    """LOBSTER's names of the message and orderbook files: ``TICKER_date_start_end_message_N.csv``,
    start and end in ms after midnight (the whole day, 0 to 86400000, by default)."""
    first, last = _window(start, end)
    start_ms = first // 1_000_000
    end_ms = END_OF_DAY_MS if end is None else last // 1_000_000
    stem = f"{symbol}_{_trading_date(date).isoformat()}_{start_ms}_{end_ms}"
    return f"{stem}_message_{levels}.csv", f"{stem}_orderbook_{levels}.csv"


def export_lobster(feed: str | os.PathLike, symbol: str, outdir: str | os.PathLike, *,
                   date: str | dt.date, levels: int = 10, start: str | int | None = None,
                   end: str | int | None = None, udp_port: int | None = None) -> ExportResult:
    """Write `symbol`'s LOBSTER message and orderbook files (see the module doc) into `outdir`.

    `date` (YYYY-MM-DD) names the files; `start` / `end` (``"HH:MM[:SS]"``, both included)
    keep the events of that part of the day, the book still built from the feed's start.
    """
    if levels < 1:
        raise TickaccelError(f"--levels must be 1 to {MAX_DEPTH - 1}, got {levels}")
    message_name, book_name = lobster_names(symbol, date, levels, start, end)
    first, last = _window(start, end)
    found = symbol_events(feed, symbol, levels=levels, udp_port=udp_port)
    keep = (found.events["timestamp"] >= first) & (found.events["timestamp"] <= last)
    events, book = found.events[keep], found.book[keep]
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    no_header = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    seconds, fraction = np.divmod(events["timestamp"], np.uint64(NS_PER_SECOND))
    time = pc.binary_join_element_wise(
        pc.cast(pa.array(seconds), pa.string()),
        pc.utf8_lpad(pc.cast(pa.array(fraction), pa.string()), 9, "0"), ".")
    messages = pa.table({"time": time, "event": events["event"], "order_id": events["order_id"],
                         "size": events["size"], "price": events["price"],
                         "direction": events["direction"]})
    pa_csv.write_csv(messages, out / message_name, no_header)
    pa_csv.write_csv(pa.table({str(i): book[:, i] for i in range(book.shape[1])}), out / book_name,
                     no_header)
    return ExportResult([out / message_name, out / book_name], len(events), found.records, found.errors)


# ---- hftbacktest ----

def hftbacktest_events(events: np.ndarray, *, date: str | dt.date, latency_ns: int = 0,
                       start: str | int | None = None, end: str | int | None = None) -> np.ndarray:
    """`symbol_events` rows as hftbacktest events (`HFTBACKTEST_EVENT`), see the module doc.

    exch_ts is ns since the epoch (`date` in America/New_York); a timestamp earlier than the
    one before it (a damaged feed) is raised to it, so the events stay in feed order as
    hftbacktest needs. local_ts is exch_ts plus `latency_ns`.
    """
    if latency_ns < 0:
        raise TickaccelError(f"--latency-ns is 0 or more, not {latency_ns}")
    first, last = _window(start, end)
    midnight = midnight_epoch_ns(_trading_date(date))
    stamps = np.maximum.accumulate(events["timestamp"].astype(np.int64))
    before = stamps < first
    snapshot = _resting_orders(events[before])
    events, stamps = events[~before & (stamps <= last)], stamps[~before & (stamps <= last)]

    kind, direction = events["event"], events["direction"]
    side = np.where(direction < 0, HBT_SELL, HBT_BUY).astype(np.uint64)
    initiator = np.where(direction < 0, HBT_BUY, HBT_SELL).astype(np.uint64)  # against the resting order
    executed = (kind == EXECUTE) & (events["size"] > 0)
    # Up to three hftbacktest events per row: a trade, the resting order's fill, its book change.
    slots = np.zeros((len(events), 3), HFTBACKTEST_EVENT)
    valid = np.zeros((len(events), 3), bool)
    trade = executed | (kind == HIDDEN_EXECUTE) | (kind == CROSS)
    slots[:, 0]["ev"] = HBT_TRADE | np.where(kind == CROSS, np.uint64(0), initiator)
    slots[:, 0]["px"] = events["price"] / PRICE_SCALE
    slots[:, 0]["qty"] = events["size"]
    valid[:, 0] = trade
    slots[:, 1]["ev"] = HBT_FILL | side
    slots[:, 1]["px"] = events["price"] / PRICE_SCALE
    slots[:, 1]["qty"] = events["size"]
    slots[:, 1]["order_id"] = events["order_id"]
    valid[:, 1] = executed
    left = events["shares_left"]
    book_kind = np.select([kind == ADD, left > 0], [HBT_ADD_ORDER, HBT_MODIFY_ORDER], HBT_CANCEL_ORDER)
    slots[:, 2]["ev"] = book_kind.astype(np.uint64) | side
    slots[:, 2]["px"] = events["order_price"] / PRICE_SCALE
    slots[:, 2]["qty"] = left
    slots[:, 2]["order_id"] = events["order_id"]
    reduced = ((kind == CANCEL) | (kind == EXECUTE)) & (events["size"] > 0)
    valid[:, 2] = (kind == ADD) | (kind == DELETE) | reduced
    slots["exch_ts"] = (stamps + midnight)[:, None]  # every event of a row at the row's time
    feed_events = slots[valid]

    opening = stamps[0] if len(stamps) else first
    head = np.zeros(1 + len(snapshot), HFTBACKTEST_EVENT)
    head["ev"][0] = HBT_DEPTH_CLEAR
    head["exch_ts"] = midnight + (first if start is not None else opening)
    head["ev"][1:] = HBT_ADD_ORDER | np.where(snapshot["direction"] < 0, HBT_SELL, HBT_BUY).astype(np.uint64)
    head["px"][1:] = snapshot["order_price"] / PRICE_SCALE
    head["qty"][1:] = snapshot["shares_left"]
    head["order_id"][1:] = snapshot["order_id"]
    out = np.concatenate([head, feed_events])
    out["local_ts"] = out["exch_ts"] + latency_ns
    out["ev"] |= np.uint64(HBT_EXCH | HBT_LOCAL)
    return out


def _resting_orders(events: np.ndarray) -> np.ndarray:
    """The orders resting after `events` (their last row each, with shares left), oldest first."""
    books = events[np.isin(events["event"], (ADD, CANCEL, DELETE, EXECUTE))]
    # The last row of each order tells what is left of it.
    last = len(books) - 1 - np.unique(books["order_id"][::-1], return_index=True)[1]
    final = books[np.sort(last)]
    final = final[final["shares_left"] > 0]
    return final[np.argsort(final["order_id"], kind="stable")]


def export_hftbacktest(feed: str | os.PathLike, symbol: str, path: str | os.PathLike, *,
                       date: str | dt.date, latency_ns: int = 0, start: str | int | None = None,
                       end: str | int | None = None, udp_port: int | None = None) -> ExportResult:
    """Write `symbol`'s market-by-order events for hftbacktest to `path` (``.npz``, key ``data``)."""
    _window(start, end)  # bad options are refused before the feed is read
    _trading_date(date)
    found = symbol_events(feed, symbol, udp_port=udp_port)
    events = hftbacktest_events(found.events, date=date, latency_ns=latency_ns, start=start, end=end)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, data=events)
    if path.suffix != ".npz":  # numpy adds the suffix
        path = path.with_name(path.name + ".npz")
    return ExportResult([path], len(events), found.records, found.errors)
