"""The fast order book: one Numba pass from raw length-prefixed bytes to BBO, depth and trade rows.

Same semantics as the oracle (`oracle.py`, which documents them); this module
only differs in how state is kept, in preallocated structured arrays:

- Orders (`_ORDER_SLOT` rows): an open-addressing hash table keyed by order
  reference (Fibonacci hashing, linear probing, backward-shift deletion); a
  slot holds the reference, ``price << 32 | shares`` and ``book + 1`` (0 =
  empty). It grows (doubles) at load 0.5, so memory follows the live orders.
- Levels: per book (``locate * 2 + side``, a `_BOOK` row) a sorted run of
  level keys with the best price at the END, stored as a segment of a pool of
  `_LEVEL` rows. Ask keys are ``0xFFFFFFFF - price`` so both sides sort the
  same way. Adds, reductions and deletes near the touch scan and move few
  entries. A full segment moves to a segment twice its size at the pool's
  top; when the pool itself is full, Python compacts it (dropping abandoned
  segments) into a pool sized for the live levels.
- Each book keeps its best level as last seen, so a message costs one
  comparison to decide whether it changed the top of book.
- Output rows go to one preallocated array per table, of the row records of
  `tickaccel.schema.tables`.

The kernel (`run_records`) never allocates: when the order table or level pool must
grow, an output array is full, or an R message renames a symbol with rows pending,
it returns a status and the record to resume at; `FastBook` acts (`make_room`, or
taking the rows) and calls again.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from tickaccel.schema import itch
from tickaccel.schema.itch import (
    MAX_MESSAGE_LENGTH, SIDE_BUY, SIDE_NONE, SIDE_SELL, TYPE_ADD_ORDER, TYPE_ADD_ORDER_MPID,
    TYPE_BROKEN_TRADE, TYPE_CROSS_TRADE, TYPE_ORDER_CANCEL, TYPE_ORDER_DELETE, TYPE_ORDER_EXECUTED,
    TYPE_ORDER_EXECUTED_WITH_PRICE, TYPE_ORDER_REPLACE, TYPE_STOCK_DIRECTORY, TYPE_TRADE)
from tickaccel.jit import kernel, lazy
from tickaccel.native import compiled, register
from tickaccel.errors import ErrorLog
from tickaccel.feed.chunk import FeedChunk
from tickaccel.book.oracle import BOOK_ERROR_KINDS, check_depth
from tickaccel.schema.tables import (
    BBO_ROW, DEPTH_LEVEL, DEPTH_ROW, NO_CHARACTER, PRINTABLE, TRADE_ROW,
    bbo_table, depth_table, symbol_column, symbol_names, trades_table)

N_LOCATES = 1 << 16
_BID, _ASK = 0, 1  # a locate's two books: locate * 2 + side
_N_BOOKS = 2 * N_LOCATES
_MIN_SEGMENT = 8
_NO_RANK = 1 << 30  # the rank of "no level touched", behind any real one
OUTPUT_ROWS = 1 << 18  # rows of each output table a book holds between hand-outs, by default
# Depth cells (one level of one side of one row) a book holds between hand-outs: the
# default output rows at five levels a side, so up to depth 5 nothing changes and a
# deeper book hands its rows out more often instead of growing (16 bytes a cell: 40 MiB).
DEPTH_CELL_BUDGET = OUTPUT_ROWS * 2 * 5

# Kernel status codes (`run_records`).
DONE, GROW_ORDERS, GROW_LEVELS, OUTPUT_FULL, RENAME = 0, 1, 2, 3, 4

(_E_ZERO_LENGTH, _E_BAD_LENGTH, _E_UNKNOWN_TYPE, _E_WRONG_LENGTH, _E_TRUNCATED,
 _E_UNKNOWN_REF, _E_DUPLICATE_REF, _E_OVERFILL, _E_ZERO_SHARE_ADD) = range(len(BOOK_ERROR_KINDS))

# The kernel's state records.
_ORDER_SLOT = np.dtype([
    ("ref", np.uint64),           # order reference number
    ("price_shares", np.uint64),  # price << 32 | live shares
    ("book_plus_1", np.uint64),   # the order's book + 1; 0 marks a free slot
])
_BOOK = np.dtype([
    ("start", np.int64),          # first pool row of the book's segment
    ("capacity", np.int64),       # rows in the segment
    ("levels", np.int64),         # levels in use, best last
    ("top_price", np.uint64),     # best level when last looked at (0, 0 when empty)
    ("top_shares", np.uint64),
])
_LEVEL = np.dtype([
    ("key", np.uint32),           # the price, mirrored on the ask side (`_level_key`)
    ("orders", np.uint32),
    ("shares", np.uint64),
])
_LOCATE = np.dtype([
    ("name", np.uint64),          # stock symbol, 8 space-padded ASCII bytes, first in the MSB
    ("emit", np.bool_),           # its rows pass the symbol filter
], align=True)
_TALLY = np.dtype([
    ("live_orders", np.int64),
    ("renames", np.int64),        # symbol renames (R messages that changed a name)
    ("pool_top", np.int64),       # first unused row of the level pool
    ("pending_rows", np.int64, (3,)),  # rows written, not yet handed out: bbo, depth, trades
])
_ERROR_COUNT = np.dtype([("count", np.int64), ("first", np.int64)])  # first: its position
# A live order as `FastBook.resting_orders` hands it out.
RESTING_ORDER = np.dtype([("ref", np.uint64), ("side", np.uint8), ("price", np.uint32),
                          ("shares", np.uint32)])


class _Outputs(NamedTuple):
    """The rows of every output table, in the order `_run` takes them; a table that is off
    has none. The records are those of `tickaccel.schema.tables`."""

    bbo: np.ndarray           # BBO_ROW
    depth: np.ndarray         # DEPTH_ROW: a depth row's head ...
    depth_levels: np.ndarray  # ... and its 2 * depth DEPTH_LEVEL cells: bid levels, then ask
    trades: np.ndarray        # TRADE_ROW


def _off(mtype: str, field: str) -> int:
    return itch.field_offsets(mtype)[field][0]


# Field offsets from the type byte, taken from the one message table.
_LOCATE_AT, _TIMESTAMP = _off("A", "stock_locate"), _off("A", "timestamp")
_ADD_REF, _ADD_SIDE, _ADD_SHARES, _ADD_PRICE = (
    _off("A", "order_ref"), _off("A", "side"), _off("A", "shares"), _off("A", "price"))
assert (_ADD_REF, _ADD_SIDE, _ADD_SHARES, _ADD_PRICE) == tuple(
    _off("F", f) for f in ("order_ref", "side", "shares", "price"))
_REF, _EXEC_SHARES, _EXEC_MATCH = (
    _off("E", "order_ref"), _off("E", "executed_shares"), _off("E", "match_number"))
_C_PRICE = _off("C", "execution_price")
_X_SHARES = _off("X", "cancelled_shares")
_U_NEW_REF, _U_SHARES, _U_PRICE = (
    _off("U", "new_order_ref"), _off("U", "shares"), _off("U", "price"))
_C_PRINTABLE = _off("C", "printable")
_P_REF, _P_SIDE, _P_SHARES, _P_PRICE, _P_MATCH = (
    _off("P", "order_ref"), _off("P", "side"), _off("P", "shares"), _off("P", "price"),
    _off("P", "match_number"))
_Q_SHARES, _Q_PRICE, _Q_MATCH, _Q_CROSS_TYPE = (
    _off("Q", "shares"), _off("Q", "cross_price"), _off("Q", "match_number"),
    _off("Q", "cross_type"))
_B_MATCH = _off("B", "match_number")
_NO_CROSS_TYPE = ord(NO_CHARACTER)  # the cross type of every trade row but Q's
_PRINTABLE = ord(PRINTABLE)
_R_STOCK = _off("R", "stock")

_LENGTH_BY_TYPE = itch.LENGTH_BY_TYPE  # a compile-time constant of the kernel
_PREFIX = 2  # bytes of a record's big-endian length, before the message
_PRICE_SHIFT = np.uint64(32)  # an order slot packs price << 32 | shares
_FIB = np.uint64(0x9E3779B97F4A7C15)
_U32 = np.uint64(0xFFFFFFFF)
_SPACE8 = np.uint64(0x2020202020202020)
_NO_SEQS = np.zeros(0, np.uint64)


def _big_endian_load(width):
    """A Numba intrinsic: the big-endian unsigned `width`-byte integer at `buf[p]`, as uint64.

    One unaligned load and a byte swap; LLVM does not merge byte-by-byte reads into that.
    """
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic

    @intrinsic
    def load(typingctx, buf, p):
        def codegen(context, builder, signature, args):
            data = context.make_array(signature.args[0])(context, builder, args[0]).data
            int_type = ir.IntType(8 * width)
            ptr = builder.bitcast(builder.gep(data, [args[1]]), int_type.as_pointer())
            swap = builder.module.declare_intrinsic("llvm.bswap", [int_type])
            value = builder.call(swap, [builder.load(ptr, align=1)])
            return builder.zext(value, ir.IntType(64)) if width < 8 else value
        return types.uint64(buf, p), codegen
    return load


_be64, _be32, _be16 = (lazy(partial(_big_endian_load, width)) for width in (8, 4, 2))
_U48 = np.uint64((1 << 48) - 1)


# ---- order store ----

@kernel(cache=True, inline="always")
def _slot_of(key, shift):
    return np.int64((key * _FIB) >> shift)


@kernel(cache=True, inline="always")
def _probe(orders, mask, shift, key):
    """Slot holding `key`, or the free slot where it would go; and whether it was found."""
    i = _slot_of(key, shift)
    while orders[i].book_plus_1 != 0:
        if orders[i].ref == key:
            return i, True
        i = (i + 1) & mask
    return i, False


@kernel(cache=True, inline="always")
def _delete_order(orders, mask, shift, slot):
    """Backward-shift deletion: pull later entries of the probe run into the hole."""
    hole = slot
    j = slot
    while True:
        j = (j + 1) & mask
        if orders[j].book_plus_1 == 0:
            break
        home = _slot_of(orders[j].ref, shift)
        # Entry j may move into the hole only if its home is not cyclically in (hole, j].
        if hole <= j:
            stays = hole < home <= j
        else:
            stays = home > hole or home <= j
        if not stays:
            orders[hole] = orders[j]
            hole = j
    orders[hole].book_plus_1 = 0


@kernel(cache=True)
def _shift_for(capacity):
    """Right shift that maps a 64-bit hash onto a power-of-two table of `capacity` slots."""
    bits = 0
    while (1 << bits) < capacity:
        bits += 1
    return np.uint64(64 - bits)


@register
@kernel(cache=True)
def _rehash(old, new):
    mask = new.shape[0] - 1
    shift = _shift_for(new.shape[0])
    for i in range(old.shape[0]):
        if old[i].book_plus_1 != 0:
            slot, _ = _probe(new, mask, shift, old[i].ref)
            new[slot] = old[i]


@kernel(cache=True, inline="always")
def _order_store_full(orders, tally):
    """Whether one more order would take the table past load 0.5."""
    return tally.live_orders + 1 > orders.shape[0] >> 1


# ---- price levels ----

@kernel(cache=True, inline="always")
def _level_key(price, side):
    return np.uint32(price) if side == _BID else np.uint32(_U32 - np.uint64(price))


@kernel(cache=True, inline="always")
def _key_price(key, side):
    return np.uint32(key) if side == _BID else np.uint32(_U32 - np.uint64(key))


@kernel(cache=True, inline="always")
def _level_pool_full(books, levels, tally, b):
    """Whether a new level in book `b` could need a bigger segment than the pool has left."""
    book = books[b]
    return book.levels == book.capacity and \
        tally.pool_top + max(_MIN_SEGMENT, 2 * book.capacity) > levels.shape[0]


@kernel(cache=True, inline="always")
def _level_add(books, levels, tally, b, key, shares):
    """Add one order of `shares` at `key` to book `b`; returns the level's rank (0 = best)."""
    book = books[b]
    start, n = book.start, book.levels
    i = n - 1
    while i >= 0 and levels[start + i].key > key:
        i -= 1
    if i >= 0 and levels[start + i].key == key:
        levels[start + i].shares += shares
        levels[start + i].orders += 1
        return n - 1 - i
    if n == book.capacity:
        # Move the full segment to a twice bigger one at the top of the pool.
        capacity = max(_MIN_SEGMENT, 2 * n)
        top = tally.pool_top
        for k in range(n):
            levels[top + k] = levels[start + k]
        tally.pool_top = top + capacity
        book.start = top
        book.capacity = capacity
        start = top
    p = i + 1
    for k in range(start + n, start + p, -1):
        levels[k] = levels[k - 1]
    level = levels[start + p]
    level.key = key
    level.shares = shares
    level.orders = 1
    book.levels = n + 1
    return n - p


@kernel(cache=True, inline="always")
def _level_reduce(books, levels, b, key, shares, removes_order):
    """Take `shares` (and the order, if it goes) off the level at `key`; returns its rank."""
    book = books[b]
    start, n = book.start, book.levels
    i = n - 1
    while levels[start + i].key != key:
        i -= 1
    j = start + i
    levels[j].shares -= shares
    if removes_order:
        levels[j].orders -= 1
        if levels[j].orders == 0:
            for k in range(j, start + n - 1):
                levels[k] = levels[k + 1]
            book.levels = n - 1
    return n - 1 - i


@register
@kernel(cache=True)
def _compact(books, old, new):
    """Copy every live segment into the new pool; empty books give their segment up."""
    top = 0
    for b in range(books.shape[0]):
        book = books[b]
        n = book.levels
        if n == 0:
            book.start = 0
            book.capacity = 0
            continue
        for k in range(n):
            new[top + k] = old[book.start + k]
        book.start = top
        top += book.capacity
    return top


@kernel(cache=True, inline="always")
def _top_moved(books, levels, b, side):
    """Look at book `b`'s best level again; whether it differs from the last look."""
    book = books[b]
    price = np.uint64(0)
    shares = np.uint64(0)
    if book.levels > 0:
        best = levels[book.start + book.levels - 1]
        price = np.uint64(_key_price(best.key, side))
        shares = best.shares
    if book.top_price == price and book.top_shares == shares:
        return False
    book.top_price = price
    book.top_shares = shares
    return True


# ---- orders on levels ----

@kernel(cache=True, inline="always")
def _add_order(orders, mask, shift, books, levels, tally, errors, where, b, side, ref, price,
               shares):
    """Store a new order and add it to its level, unless its reference is live or it has no
    shares (counted errors); returns whether it was added, and the level's rank."""
    slot, found = _probe(orders, mask, shift, ref)
    if found:
        _count_error(errors, _E_DUPLICATE_REF, where)
        return False, _NO_RANK
    if shares == 0:
        _count_error(errors, _E_ZERO_SHARE_ADD, where)
        return False, _NO_RANK
    order = orders[slot]
    order.ref = ref
    order.price_shares = (price << _PRICE_SHIFT) | shares
    order.book_plus_1 = np.uint64(b + 1)
    tally.live_orders += 1
    return True, _level_add(books, levels, tally, b, _level_key(price, side), shares)


@kernel(cache=True, inline="always")
def _take_shares(orders, mask, shift, books, levels, tally, slot, b, side, price, live, take):
    """Take `take` of the `live` shares of the order in `slot`, deleting it when none are
    left, and off its level; returns the level's rank."""
    gone = take == live
    rank = _level_reduce(books, levels, b, _level_key(price, side), take, gone)
    if gone:
        _delete_order(orders, mask, shift, slot)
        tally.live_orders -= 1
    else:
        orders[slot].price_shares -= take
    return rank


# ---- output rows and counts ----

@kernel(cache=True, inline="always")
def _count_error(errors, kind, position):
    error = errors[kind]
    if error.count == 0 or position < error.first:
        error.first = position
    error.count += 1


@kernel(cache=True, inline="always")
def _write_bbo(row, seq, ts, loc, books):
    """A BBO row: both sides' best levels of `loc`."""
    bid, ask = books[2 * loc + _BID], books[2 * loc + _ASK]
    row.seq = seq
    row.timestamp = ts
    row.stock_locate = loc
    row.bid_price = bid.top_price
    row.bid_size = bid.top_shares
    row.ask_price = ask.top_price
    row.ask_size = ask.top_shares


@kernel(cache=True, inline="always")
def _write_depth(head, cells, seq, ts, loc, books, levels, n_levels):
    """A depth row: `loc`'s best `n_levels` levels per side into `cells`, zeros past the last."""
    head.seq = seq
    head.timestamp = ts
    head.stock_locate = loc
    for side in (_BID, _ASK):
        book = books[2 * loc + side]
        for r in range(n_levels):
            cell = cells[side * n_levels + r]
            if r < book.levels:
                level = levels[book.start + book.levels - 1 - r]
                cell.price = _key_price(level.key, side)
                cell.size = level.shares
                cell.orders = level.orders
            else:
                cell.price = 0
                cell.size = 0
                cell.orders = 0


@kernel(cache=True, inline="always")
def _write_trade(row, seq, ts, loc, mtype, side, price, shares, match, printable, order_ref,
                 cross_type):
    """A trade row; `mtype`, `side` and `cross_type` are ASCII codes."""
    row.seq = seq
    row.timestamp = ts
    row.stock_locate = loc
    row.type = mtype
    row.side = side
    row.price = price
    row.shares = shares
    row.match_number = match
    row.printable = printable
    row.order_ref = order_ref
    row.cross_type = cross_type


@kernel(cache=True, inline="always")
def _name_locate(locate, name, filter_on, wanted):
    """Give a stock locate its (new) name, and decide whether its rows pass the filter."""
    locate.name = name
    if filter_on:
        locate.emit = False
        for w in wanted:
            if w == name:
                locate.emit = True


# ---- the kernel ----

@register
@kernel(cache=True, nogil=True)
def run_records(data, seqs, first_seq, base_offset, pos, index,
                orders, books, levels, locates, tally, errors, type_counts,
                bbo, depth, depth_levels, trades, filter_on, wanted):
    """Apply records from `data[pos]` on; returns (status, position, record index) to resume at.

    The chunk (`FeedChunk`) and where to resume in it:

    data: uint8, length-prefixed records.
    seqs: uint64, each record's sequence number; empty: record n is ``first_seq + n``.
    first_seq: sequence number of record 0 when `seqs` is empty.
    base_offset: feed offset of ``data[0]``, the position of errors when `seqs` is empty.
    pos, index: byte position and number (from 0) of the first record to apply.

    State, carried between calls:

    orders: `_ORDER_SLOT` rows, the order store; a power of two of them.
    books: `_BOOK` rows, one per book ``locate * 2 + side`` (`_BID`, `_ASK`).
    levels: `_LEVEL` rows, the pool that holds every book's segment.
    locates: `_LOCATE` rows, one per stock locate.
    tally: one `_TALLY` row.
    errors: `_ERROR_COUNT` rows, one per `BOOK_ERROR_KINDS` entry.
    type_counts: int64 per type byte, the well-formed messages applied.

    Outputs, rows from the tally's ``pending_rows`` on free, as many rows each
    as `bbo` (`depth` may have fewer) or none (that table is off):

    bbo: `BBO_ROW` rows.
    depth: `DEPTH_ROW` rows, the head of each depth row ...
    depth_levels: ... and its `DEPTH_LEVEL` cells, (rows, 2 * levels per side):
        bid levels then ask, best first.
    trades: `TRADE_ROW` rows.

    The symbol filter:

    filter_on: write rows only for the symbols in `wanted` (uint64 packed names).
    """
    end = data.shape[0]
    use_seqs = seqs.shape[0] > 0
    mask = orders.shape[0] - 1
    shift = _shift_for(orders.shape[0])
    cap_rows = bbo.shape[0]
    n_levels = depth_levels.shape[1] // 2
    # Depth rows may be fewer than the others (`FastBook.depth_row_capacity`); with depth off
    # there are none and none are written, so only the other tables' capacity counts.
    cap_depth = depth.shape[0] if n_levels > 0 else cap_rows
    want_trades = trades.shape[0] > 0
    counts = tally[0]
    # Row counts live in registers; the tally only carries them between calls.
    pending = counts.pending_rows
    n_bbo, n_depth, n_trades = pending[0], pending[1], pending[2]
    status = DONE
    while pos < end:
        if n_bbo >= cap_rows or n_depth >= cap_depth or n_trades >= cap_rows:
            status = OUTPUT_FULL
            break
        if use_seqs:
            seq = np.uint64(seqs[index])
            where = np.int64(seq)
        else:
            seq = np.uint64(first_seq + index)
            where = base_offset + pos
        if pos + _PREFIX > end:
            _count_error(errors, _E_TRUNCATED, where)
            pos = end
            break
        length = np.int64(_be16(data, pos))
        nxt = pos + _PREFIX + length
        if length == 0:
            _count_error(errors, _E_ZERO_LENGTH, where)
            pos = nxt
            index += 1
            continue
        if nxt > end:
            _count_error(errors, _E_TRUNCATED, where)
            pos = end
            break
        p = pos + _PREFIX
        mtype = data[p]
        if length > MAX_MESSAGE_LENGTH:
            _count_error(errors, _E_BAD_LENGTH, where)
        elif _LENGTH_BY_TYPE[mtype] == 0:
            _count_error(errors, _E_UNKNOWN_TYPE, where)
        elif _LENGTH_BY_TYPE[mtype] != length:
            _count_error(errors, _E_WRONG_LENGTH, where)
        else:
            # One well-formed message.
            # The 6-byte timestamp: the 8 bytes ending with it, less the two before.
            ts = _be64(data, p + _TIMESTAMP - 2) & _U48
            loc = np.int64(_be16(data, p + _LOCATE_AT))
            changed = False       # did the book of `loc`, side `side`, change?
            rank = np.int64(_NO_RANK)  # best rank of the levels it touched
            side = _BID
            if mtype == TYPE_ADD_ORDER or mtype == TYPE_ADD_ORDER_MPID:
                if _order_store_full(orders, counts):
                    status = GROW_ORDERS
                    break
                side = _ASK if data[p + _ADD_SIDE] == SIDE_SELL else _BID
                b = 2 * loc + side
                if _level_pool_full(books, levels, counts, b):
                    status = GROW_LEVELS
                    break
                changed, rank = _add_order(
                    orders, mask, shift, books, levels, counts, errors, where, b, side,
                    _be64(data, p + _ADD_REF), _be32(data, p + _ADD_PRICE),
                    _be32(data, p + _ADD_SHARES))
            elif mtype == TYPE_ORDER_EXECUTED or mtype == TYPE_ORDER_EXECUTED_WITH_PRICE or \
                    mtype == TYPE_ORDER_CANCEL or mtype == TYPE_ORDER_DELETE or \
                    mtype == TYPE_ORDER_REPLACE:
                # All start from a live order.
                slot, found = _probe(orders, mask, shift, _be64(data, p + _REF))
                if not found:
                    _count_error(errors, _E_UNKNOWN_REF, where)
                else:
                    b = np.int64(orders[slot].book_plus_1) - 1
                    loc = b >> 1
                    side = b & 1
                    packed = orders[slot].price_shares
                    price = packed >> _PRICE_SHIFT
                    live = packed & _U32
                    if mtype == TYPE_ORDER_REPLACE:
                        if _order_store_full(orders, counts):
                            status = GROW_ORDERS
                            break
                        if _level_pool_full(books, levels, counts, b):
                            status = GROW_LEVELS
                            break
                        take = live
                    elif mtype == TYPE_ORDER_DELETE:
                        take = live
                    elif mtype == TYPE_ORDER_CANCEL:
                        take = _be32(data, p + _X_SHARES)
                    else:
                        take = _be32(data, p + _EXEC_SHARES)
                        if want_trades and locates[loc].emit:
                            with_price = mtype == TYPE_ORDER_EXECUTED_WITH_PRICE
                            _write_trade(
                                trades[n_trades], seq, ts, loc, mtype,
                                SIDE_SELL if side == _ASK else SIDE_BUY,
                                _be32(data, p + _C_PRICE) if with_price else price,
                                take, _be64(data, p + _EXEC_MATCH),
                                not with_price or data[p + _C_PRINTABLE] == _PRINTABLE,
                                orders[slot].ref, _NO_CROSS_TYPE)
                            n_trades += 1
                    if take > live:
                        _count_error(errors, _E_OVERFILL, where)
                        take = live
                    if take > 0:
                        rank = _take_shares(orders, mask, shift, books, levels, counts, slot, b,
                                            side, price, live, take)
                        changed = True
                    if mtype == TYPE_ORDER_REPLACE:
                        new_price = _be32(data, p + _U_PRICE)
                        new_shares = _be32(data, p + _U_SHARES)
                        added, new_rank = _add_order(
                            orders, mask, shift, books, levels, counts, errors, where, b, side,
                            _be64(data, p + _U_NEW_REF), new_price, new_shares)
                        if added:
                            rank = min(rank, new_rank)
                            # Same price, same shares: the book ends as it was.
                            changed = new_price != price or new_shares != live
            elif mtype == TYPE_TRADE:
                if want_trades and locates[loc].emit:
                    _write_trade(trades[n_trades], seq, ts, loc, mtype, data[p + _P_SIDE],
                                 _be32(data, p + _P_PRICE), _be32(data, p + _P_SHARES),
                                 _be64(data, p + _P_MATCH), True, _be64(data, p + _P_REF),
                                 _NO_CROSS_TYPE)
                    n_trades += 1
            elif mtype == TYPE_CROSS_TRADE:
                if want_trades and locates[loc].emit:
                    _write_trade(trades[n_trades], seq, ts, loc, mtype, SIDE_NONE,
                                 _be32(data, p + _Q_PRICE), _be64(data, p + _Q_SHARES),
                                 _be64(data, p + _Q_MATCH), True, np.uint64(0),
                                 data[p + _Q_CROSS_TYPE])
                    n_trades += 1
            elif mtype == TYPE_BROKEN_TRADE:
                if want_trades and locates[loc].emit:
                    _write_trade(trades[n_trades], seq, ts, loc, mtype, SIDE_NONE, 0,
                                 np.uint64(0), _be64(data, p + _B_MATCH), False, np.uint64(0),
                                 _NO_CROSS_TYPE)
                    n_trades += 1
            elif mtype == TYPE_STOCK_DIRECTORY:
                name = _be64(data, p + _R_STOCK)
                if name != locates[loc].name:
                    if n_bbo + n_depth + n_trades > 0:
                        status = RENAME
                        break
                    _name_locate(locates[loc], name, filter_on, wanted)
                    counts.renames += 1
            type_counts[mtype] += 1
            if changed:
                if _top_moved(books, levels, 2 * loc + side, side) and locates[loc].emit:
                    _write_bbo(bbo[n_bbo], seq, ts, loc, books)
                    n_bbo += 1
                if rank < n_levels and locates[loc].emit:
                    _write_depth(depth[n_depth], depth_levels[n_depth], seq, ts, loc,
                                 books, levels, n_levels)
                    n_depth += 1
        pos = nxt
        index += 1
    pending[0], pending[1], pending[2] = n_bbo, n_depth, n_trades
    return status, pos, index


def new_order_store(capacity: int) -> np.ndarray:
    """An empty order store of `capacity` slots (a power of two)."""
    return np.zeros(capacity, _ORDER_SLOT)


def grown_order_store(orders: np.ndarray) -> np.ndarray:
    """The orders of `orders` in a store twice its size."""
    grown = new_order_store(2 * orders.shape[0])
    compiled(_rehash)(orders, grown)
    return grown


# ---- routing records to books sharded by locate (`tickaccel.book.shards`) ----

_D_LENGTH = itch.MESSAGE_LENGTHS["D"]
# A U's first bytes are a D of its original order: type, locate, tracking, timestamp, reference.
assert _off("U", "original_order_ref") == _off("D", "order_ref") == _D_LENGTH - 8


@register
@kernel(cache=True, nogil=True)
def route_records(data, pos, index, owners, live, shard_of_locate, shards, offsets, rewrites):
    """Give each record of `data` from `pos` (record number `index`) on the shard whose book
    must apply it; returns (status, position, record index) to resume at, as `run_records`.

    owners: `_ORDER_SLOT` rows, the live orders of every shard as the order store keeps them,
        with the order's locate + 1 in ``book_plus_1`` and its shares in ``price_shares``;
        GROW_ORDERS asks for it bigger before a record that may add one.
    live: int64[1], the orders in `owners`.
    shard_of_locate: the shard of each stock locate.
    Out, per record: `shards` (uint8), `offsets` (of its length prefix) and `rewrites`: a U
    whose new reference is live in another shard, which its shard must apply as a D.

    A/F, R, P, Q, B and a message of an unknown order go to the shard of their locate (a
    duplicate add to the shard holding the order, which counts it); E/C/X/D/U to the shard
    holding the order; bad records, and a truncated last one (one record more), to shard 0.
    """
    end = data.shape[0]
    mask = owners.shape[0] - 1
    shift = _shift_for(owners.shape[0])
    while pos < end:
        offsets[index] = pos
        shards[index] = 0
        rewrites[index] = False
        if pos + _PREFIX > end:
            return DONE, end, index + 1
        length = np.int64(_be16(data, pos))
        nxt = pos + _PREFIX + length
        if nxt > end:
            return DONE, end, index + 1
        p = pos + _PREFIX
        mtype = data[p]
        if 0 < length <= MAX_MESSAGE_LENGTH and _LENGTH_BY_TYPE[mtype] == length:
            target = shard_of_locate[_be16(data, p + _LOCATE_AT)]
            adds = mtype == TYPE_ADD_ORDER or mtype == TYPE_ADD_ORDER_MPID
            if (adds or mtype == TYPE_ORDER_REPLACE) and live[0] + 1 > owners.shape[0] >> 1:
                return GROW_ORDERS, pos, index
            if adds:
                ref = _be64(data, p + _ADD_REF)
                slot, found = _probe(owners, mask, shift, ref)
                if found:
                    target = shard_of_locate[owners[slot].book_plus_1 - 1]
                elif _be32(data, p + _ADD_SHARES) > 0:
                    owners[slot].ref = ref
                    owners[slot].price_shares = _be32(data, p + _ADD_SHARES)
                    owners[slot].book_plus_1 = _be16(data, p + _LOCATE_AT) + 1
                    live[0] += 1
            elif mtype == TYPE_ORDER_EXECUTED or mtype == TYPE_ORDER_EXECUTED_WITH_PRICE or \
                    mtype == TYPE_ORDER_CANCEL or mtype == TYPE_ORDER_DELETE or \
                    mtype == TYPE_ORDER_REPLACE:
                slot, found = _probe(owners, mask, shift, _be64(data, p + _REF))
                if found:
                    owner = owners[slot].book_plus_1
                    target = shard_of_locate[owner - 1]
                    shares = owners[slot].price_shares
                    if mtype == TYPE_ORDER_EXECUTED or mtype == TYPE_ORDER_EXECUTED_WITH_PRICE:
                        take = _be32(data, p + _EXEC_SHARES)
                    elif mtype == TYPE_ORDER_CANCEL:
                        take = _be32(data, p + _X_SHARES)
                    else:
                        take = shares
                    if take >= shares:
                        _delete_order(owners, mask, shift, slot)
                        live[0] -= 1
                    else:
                        owners[slot].price_shares = shares - take
                    if mtype == TYPE_ORDER_REPLACE:
                        new = _be64(data, p + _U_NEW_REF)
                        slot, found = _probe(owners, mask, shift, new)
                        if found:
                            rewrites[index] = shard_of_locate[owners[slot].book_plus_1 - 1] != target
                        elif _be32(data, p + _U_SHARES) > 0:
                            owners[slot].ref = new
                            owners[slot].price_shares = _be32(data, p + _U_SHARES)
                            owners[slot].book_plus_1 = owner
                            live[0] += 1
            shards[index] = target
        pos = nxt
        index += 1
    return DONE, pos, index


@kernel(cache=True, nogil=True)
def gather_records(data, count, shards, offsets, rewrites, shard, out, kept):
    """Copy the records of shard `shard` among the first `count` routed (`route_records`)
    back to back into `out`, a rewritten U as its D; `kept[j]` gets the record number of
    the j-th. Returns (bytes, records) written."""
    end = data.shape[0]
    w = 0
    k = 0
    for i in range(count):
        if shards[i] != shard:
            continue
        start = offsets[i]
        if rewrites[i]:
            size = _PREFIX + _D_LENGTH
        elif start + _PREFIX > end:
            size = end - start
        else:
            size = min(end - start, _PREFIX + np.int64(_be16(data, start)))
        for b in range(size):  # records are short: a loop beats a slice copy's set-up
            out[w + b] = data[start + b]
        if rewrites[i]:
            out[w + 1] = _D_LENGTH
            out[w + 2] = TYPE_ORDER_DELETE
        w += size
        kept[k] = i
        k += 1
    return w, k


def _pack_name(name: str) -> np.uint64:
    raw = name.encode("latin-1")
    if len(raw) > 8:
        raise ValueError(f"ITCH symbols are at most 8 characters: {name!r}")
    return np.uint64(int.from_bytes(raw.ljust(8, b" "), "big"))


def _unpack_name(packed: int) -> str:
    return int(packed).to_bytes(8, "big").decode("latin-1").rstrip(" ")


def _fields(rows: np.ndarray) -> dict[str, np.ndarray]:
    """The columns of a structured array, as views."""
    return {name: rows[name] for name in rows.dtype.names}


class FastBook:
    """Every book of a feed, kept in preallocated arrays between chunks; see the module doc."""

    def __init__(self, depth: int = 0, trades: bool = False,
                 symbols: Iterable[str] | None = None, *, output_rows: int = OUTPUT_ROWS,
                 order_capacity: int = 1 << 16, level_pool: int = 1 << 16,
                 gil_free: bool = False) -> None:
        if order_capacity & (order_capacity - 1) or order_capacity < 2:
            raise ValueError("order_capacity must be a power of two")
        check_depth(depth)
        self.depth = depth
        self.trades = trades
        self.records = 0
        # The native build holds the GIL while it runs; books on threads of their own
        # (`gil_free`) run Numba's, which releases it.
        self._run_records = run_records if gil_free else compiled(run_records)
        self._orders = new_order_store(order_capacity)
        self._books = np.zeros(_N_BOOKS, _BOOK)
        self._levels = np.zeros(level_pool, _LEVEL)
        self._locates = np.zeros(N_LOCATES, _LOCATE)
        self._locates["name"] = _SPACE8
        self._locates["emit"] = symbols is None
        self._tally = np.zeros(1, _TALLY)
        self._pending_counts = self._tally["pending_rows"][0]  # a plain view: cheap to read
        self._type_counts = np.zeros(256, np.int64)
        self._errors = np.zeros(len(BOOK_ERROR_KINDS), _ERROR_COUNT)
        self._names_renames = 0  # renames `_names` has seen
        self._names = symbol_names({}, N_LOCATES)
        self._filter_on = symbols is not None
        self._wanted = np.array([_pack_name(s) for s in (symbols or ())], np.uint64)
        depth_rows = min(output_rows, max(1, DEPTH_CELL_BUDGET // (2 * depth))) if depth else 0
        self._out = _Outputs(np.zeros(output_rows, BBO_ROW), np.zeros(depth_rows, DEPTH_ROW),
                             np.zeros((depth_rows, 2 * depth), DEPTH_LEVEL),
                             np.zeros(output_rows if trades else 0, TRADE_ROW))

    @property
    def depth_row_capacity(self) -> int:
        """Depth rows held between hand-outs: memory for depth is this times ``2 * depth`` cells."""
        return self._out.depth.shape[0]

    # ---- state growth ----

    def _grow_orders(self) -> None:
        self._orders = grown_order_store(self._orders)

    def _compact_levels(self) -> None:
        capacity = self._books["capacity"]
        live = int(capacity[self._books["levels"] > 0].sum())
        size = max(self._levels.shape[0], 2 * live + 4 * max(int(capacity.max()), _MIN_SEGMENT))
        pool = np.zeros(size, _LEVEL)
        self._tally["pool_top"] = compiled(_compact)(self._books, self._levels, pool)
        self._levels = pool

    def kernel_state(self) -> tuple:
        """The state and output arrays in the order `run_records` takes them after `index`
        (for compiled callers; valid until `make_room` replaces one)."""
        out = self._out
        return (self._orders, self._books, self._levels, self._locates, self._tally,
                self._errors, self._type_counts, out.bbo, out.depth, out.depth_levels,
                out.trades, self._filter_on, self._wanted)

    def make_room(self, status: int) -> None:
        """Grow what `run_records` asked for with GROW_ORDERS or GROW_LEVELS."""
        if status == GROW_ORDERS:
            self._grow_orders()
        elif status == GROW_LEVELS:
            self._compact_levels()

    # ---- processing ----

    def process(self, chunk: FeedChunk) -> dict[str, pa.Table]:
        """Apply every record of `chunk`; returns the rows it produced as Arrow tables."""
        tables: list[dict[str, pa.Table]] = []

        def hand_out() -> None:
            tables.append(self._tables(self._pending_rows()))

        self._apply(chunk, hand_out)
        hand_out()
        if len(tables) == 1:
            return tables[0]
        return {name: pa.concat_tables([t[name] for t in tables]) for name in tables[0]}

    def process_columns(self, chunk: FeedChunk) -> dict[str, dict[str, np.ndarray]]:
        """Apply every record of `chunk`; returns its rows as raw NumPy columns, no Arrow, no symbols.

        ``{"bbo": {...}}`` plus ``"depth"`` / ``"trades"`` when enabled, with the
        columns of the `process` tables minus ``symbol``: depth ``price``/``size``/``orders``
        are (rows, 2N) arrays, N bid levels then N ask; trades ``type``/``side``/``cross_type``
        are ASCII codes (uint8). The arrays are (strided) views of the book's
        output rows, valid only until the next `process` or `process_columns`
        call (copy what you keep); a chunk that filled the buffers or renamed a
        symbol mid-chunk gets fresh rows instead. For the live path: a call
        allocates no big arrays and does no Arrow work.
        """
        parts: list[_Outputs] = []

        def hand_out() -> None:
            parts.append(_Outputs(*(rows.copy() for rows in self._pending_rows())))

        self._apply(chunk, hand_out)
        rows = self._pending_rows()
        if parts:
            parts.append(rows)
            rows = _Outputs(*(np.concatenate(table) for table in zip(*parts)))
        return self._columns(rows)

    def _apply(self, chunk: FeedChunk, hand_out: Callable[[], None]) -> None:
        """Run the kernel over `chunk`, growing state as it asks.

        `hand_out` must take the pending rows (`_pending_rows`) whenever the
        kernel needs its output buffers back: full, or an R message renaming a
        symbol that pending rows still carry.
        """
        data = np.ascontiguousarray(chunk.data, dtype=np.uint8)
        seqs = _NO_SEQS if chunk.seqs is None else np.ascontiguousarray(chunk.seqs, np.uint64)
        out = self._out
        pos, index = 0, 0
        while True:
            status, pos, index = self._run_records(
                data, seqs, chunk.first_seq, chunk.base_offset, pos, index,
                self._orders, self._books, self._levels, self._locates, self._tally,
                self._errors, self._type_counts,
                out.bbo, out.depth, out.depth_levels, out.trades, self._filter_on, self._wanted)
            if status in (GROW_ORDERS, GROW_LEVELS):
                self.make_room(status)
            elif status in (OUTPUT_FULL, RENAME):
                hand_out()
            else:
                break
        self.records += index

    def _pending_rows(self) -> _Outputs:
        """Views of the rows written since the last hand-out, per table; marks them taken."""
        n_bbo, n_depth, n_trades = self._pending_counts.tolist()
        self._pending_counts[:] = 0
        out = self._out
        return _Outputs(out.bbo[:n_bbo], out.depth[:n_depth], out.depth_levels[:n_depth],
                        out.trades[:n_trades])

    def _columns(self, rows: _Outputs) -> dict[str, dict[str, np.ndarray]]:
        """`rows` as the column views of `process_columns`, in table column order."""
        columns = {"bbo": _fields(rows.bbo)}
        if self.depth:
            columns["depth"] = _fields(rows.depth) | _fields(rows.depth_levels)
        if self.trades:
            columns["trades"] = _fields(rows.trades)
        return columns

    def _tables(self, rows: _Outputs) -> dict[str, pa.Table]:
        """Arrow tables of `_pending_rows` output, with the symbols as named now."""
        # Copies: pyarrow would wrap the reused output buffers without copying.
        cols = {name: [a.copy() for a in table.values()]
                for name, table in self._columns(rows).items()}
        seq, ts, loc, *rest = cols["bbo"]
        tables = {"bbo": bbo_table(seq, ts, loc, self._symbols(loc), *rest)}
        if "depth" in cols:
            seq, ts, loc, *rest = cols["depth"]
            tables["depth"] = depth_table(seq, ts, loc, self._symbols(loc), *rest)
        if "trades" in cols:
            seq, ts, loc, *rest = cols["trades"]
            tables["trades"] = trades_table(seq, ts, loc, self._symbols(loc), *rest)
        return tables

    def _symbols(self, locates: np.ndarray) -> pa.Array:
        renames = int(self._tally["renames"][0])
        if self._names_renames != renames:
            self._names_renames = renames
            self._names = symbol_names(self.symbols, N_LOCATES)
        return symbol_column(locates, self._names)

    # ---- results ----

    @property
    def errors(self) -> ErrorLog:
        """Counted record and book errors so far, with their first positions."""
        log = ErrorLog()
        for kind, error in zip(BOOK_ERROR_KINDS, self._errors):
            log.add(kind, int(error["first"]), int(error["count"]))
        return log

    @property
    def message_counts(self) -> dict[str, int]:
        """Well-formed messages so far, per message type."""
        return {chr(t): int(n) for t, n in enumerate(self._type_counts) if n}

    @property
    def symbols(self) -> dict[int, str]:
        """Stock locate -> symbol, from the R messages seen so far."""
        names = self._locates["name"]
        return {int(loc): _unpack_name(names[loc]) for loc in np.flatnonzero(names != _SPACE8)}

    @property
    def live_orders(self) -> int:
        return int(self._tally["live_orders"][0])

    @property
    def renames(self) -> int:
        """R messages so far that named a locate or changed its name: `symbols` changes with it."""
        return int(self._tally["renames"][0])

    def resting_orders(self, locate: int) -> np.ndarray:
        """The live orders of one locate, unsorted, as `RESTING_ORDER` rows (price in Price(4))."""
        slots = self._orders[self._orders["book_plus_1"] > 0]
        slots = slots[(slots["book_plus_1"] - np.uint64(1)) // np.uint64(2) == locate]
        rows = np.zeros(len(slots), RESTING_ORDER)
        rows["ref"] = slots["ref"]
        rows["side"] = np.where((slots["book_plus_1"] - np.uint64(1)) % np.uint64(2) == _ASK, ord("S"), ord("B"))
        rows["price"] = slots["price_shares"] >> np.uint64(32)
        rows["shares"] = slots["price_shares"] & np.uint64(0xFFFFFFFF)
        return rows

    def top(self, locate: int, side: str, n: int) -> list[tuple[int, int, int]]:
        """The best `n` levels of one side as (price, shares, orders), best first."""
        s = _ASK if side == "S" else _BID
        book = self._books[2 * locate + s]
        start, count = int(book["start"]), int(book["levels"])
        out = []
        for level in self._levels[max(start, start + count - n):start + count][::-1]:
            key = int(level["key"])
            out.append((key if s == _BID else int(_U32) - key, int(level["shares"]),
                        int(level["orders"])))
        return out
