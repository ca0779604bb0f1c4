"""The fast order book: one Numba pass from raw length-prefixed bytes to BBO, depth and trade rows.

Same semantics as the oracle (`oracle.py`, which documents them); this module
only differs in how state is kept:

- Orders: an open-addressing hash table keyed by order reference (Fibonacci
  hashing, linear probing, backward-shift deletion), one row of three uint64
  per slot: reference, ``price << 32 | shares``, ``book + 1`` (0 = empty).
  It grows (doubles) at load 0.5, so memory follows the live orders.
- Levels: per book (``locate * 2 + side``) a sorted run of level keys with the
  best price at the END, stored as a segment of pooled arrays (key, shares,
  order count). Ask keys are ``0xFFFFFFFF - price`` so both sides sort the same
  way. Adds, reductions and deletes near the touch scan and move few entries.
  A full segment moves to a segment twice its size at the pool's top; when
  the pool itself is full, Python compacts it (dropping abandoned segments)
  into a pool sized for the live levels.
- BBO per locate is cached, so a message costs one comparison to decide
  whether it changed the top of book.

The kernel never allocates: when the order table or level pool must grow, an
output array is full, or an R message renames a symbol with rows pending, it
returns a status and the record to resume at; `FastBook` acts and calls again.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pyarrow as pa
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from tickaccel.schema import itch
from tickaccel.errors import ErrorLog
from tickaccel.feed.chunk import FeedChunk
from tickaccel.book.oracle import BOOK_ERROR_KINDS
from tickaccel.schema.tables import bbo_table, depth_table, symbol_column, trades_table

N_LOCATES = 1 << 16
_N_BOOKS = 2 * N_LOCATES
_MIN_SEGMENT = 8

# Kernel status codes.
_DONE, _GROW_ORDERS, _GROW_LEVELS, _OUTPUT_FULL, _RENAME = 0, 1, 2, 3, 4

(_E_ZERO_LENGTH, _E_BAD_LENGTH, _E_UNKNOWN_TYPE, _E_WRONG_LENGTH, _E_TRUNCATED,
 _E_UNKNOWN_REF, _E_DUPLICATE_REF, _E_OVERFILL, _E_ZERO_SHARE_ADD) = range(len(BOOK_ERROR_KINDS))


def _off(mtype: str, field: str) -> int:
    return itch.field_offsets(mtype)[field][0]


# Field offsets from the type byte, taken from the one message table.
_LOCATE, _TIMESTAMP = _off("A", "stock_locate"), _off("A", "timestamp")
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
_P_SIDE, _P_SHARES, _P_PRICE, _P_MATCH = (
    _off("P", "side"), _off("P", "shares"), _off("P", "price"), _off("P", "match_number"))
_Q_SHARES, _Q_PRICE, _Q_MATCH = (
    _off("Q", "shares"), _off("Q", "cross_price"), _off("Q", "match_number"))
_R_STOCK = _off("R", "stock")

_LENGTH_BY_TYPE = itch.LENGTH_BY_TYPE  # a compile-time constant of the kernel
_FIB = np.uint64(0x9E3779B97F4A7C15)
_U32 = np.uint64(0xFFFFFFFF)
_SPACE8 = np.uint64(0x2020202020202020)
_NO_SEQS = np.zeros(0, np.uint64)

# Column names of the output buffers, in kernel order; those of `tables` minus the symbol.
_BBO_COLUMNS = ("seq", "timestamp", "stock_locate", "bid_price", "ask_price",
                "bid_size", "ask_size")
_DEPTH_COLUMNS = ("seq", "timestamp", "stock_locate", "price", "size", "orders")
_TRADE_COLUMNS = ("seq", "timestamp", "stock_locate", "type", "side", "price", "shares",
                  "match_number")


def _big_endian_load(width):
    """A Numba intrinsic: the big-endian unsigned `width`-byte integer at `buf[p]`, as uint64.

    One unaligned load and a byte swap; LLVM does not merge byte-by-byte reads into that.
    """
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


_be64, _be32, _be16 = (_big_endian_load(width) for width in (8, 4, 2))
_U48 = np.uint64((1 << 48) - 1)


@njit(cache=True, inline="always")
def _slot_of(key, shift):
    return np.int64((key * _FIB) >> shift)


@njit(cache=True, inline="always")
def _probe(orders, mask, shift, key):
    """Slot holding `key`, or the free slot where it would go; and whether it was found."""
    i = _slot_of(key, shift)
    while orders[i, 2] != 0:
        if orders[i, 0] == key:
            return i, True
        i = (i + 1) & mask
    return i, False


@njit(cache=True, inline="always")
def _delete_order(orders, mask, shift, slot):
    """Backward-shift deletion: pull later entries of the probe run into the hole."""
    hole = slot
    j = slot
    while True:
        j = (j + 1) & mask
        if orders[j, 2] == 0:
            break
        home = _slot_of(orders[j, 0], shift)
        # Entry j may move into the hole only if its home is not cyclically in (hole, j].
        if hole <= j:
            stays = hole < home <= j
        else:
            stays = home > hole or home <= j
        if not stays:
            orders[hole, 0] = orders[j, 0]
            orders[hole, 1] = orders[j, 1]
            orders[hole, 2] = orders[j, 2]
            hole = j
    orders[hole, 2] = 0


@njit(cache=True)
def _shift_for(capacity):
    """Right shift that maps a 64-bit hash onto a power-of-two table of `capacity` slots."""
    bits = 0
    while (1 << bits) < capacity:
        bits += 1
    return np.uint64(64 - bits)


@njit(cache=True)
def _rehash(old, new):
    mask = new.shape[0] - 1
    shift = _shift_for(new.shape[0])
    for i in range(old.shape[0]):
        if old[i, 2] != 0:
            slot, _ = _probe(new, mask, shift, old[i, 0])
            new[slot, 0] = old[i, 0]
            new[slot, 1] = old[i, 1]
            new[slot, 2] = old[i, 2]


@njit(cache=True, inline="always")
def _level_key(price, side):
    return np.uint32(price) if side == 0 else np.uint32(_U32 - np.uint64(price))


@njit(cache=True, inline="always")
def _key_price(key, side):
    return np.uint32(key) if side == 0 else np.uint32(_U32 - np.uint64(key))


@njit(cache=True, inline="always")
def _level_add(books, pool, lv_key, lv_shares, lv_count, b, key, shares):
    """Add one order of `shares` at `key` to book `b`; returns the level's rank (0 = best)."""
    start, n = books[b, 0], books[b, 2]
    i = n - 1
    while i >= 0 and lv_key[start + i] > key:
        i -= 1
    if i >= 0 and lv_key[start + i] == key:
        lv_shares[start + i] += shares
        lv_count[start + i] += 1
        return n - 1 - i
    if n == books[b, 1]:
        # Move the full segment to a twice bigger one at the top of the pool.
        cap = max(_MIN_SEGMENT, 2 * n)
        top = pool[0]
        for k in range(n):
            lv_key[top + k] = lv_key[start + k]
            lv_shares[top + k] = lv_shares[start + k]
            lv_count[top + k] = lv_count[start + k]
        pool[0] = top + cap
        books[b, 0] = top
        books[b, 1] = cap
        start = top
    p = i + 1
    for k in range(start + n, start + p, -1):
        lv_key[k] = lv_key[k - 1]
        lv_shares[k] = lv_shares[k - 1]
        lv_count[k] = lv_count[k - 1]
    lv_key[start + p] = key
    lv_shares[start + p] = shares
    lv_count[start + p] = 1
    books[b, 2] = n + 1
    return n - p


@njit(cache=True, inline="always")
def _level_reduce(books, lv_key, lv_shares, lv_count, b, key, shares, removes_order):
    """Take `shares` (and the order, if it goes) off the level at `key`; returns its rank."""
    start, n = books[b, 0], books[b, 2]
    i = n - 1
    while lv_key[start + i] != key:
        i -= 1
    j = start + i
    lv_shares[j] -= shares
    if removes_order:
        lv_count[j] -= 1
        if lv_count[j] == 0:
            for k in range(j, start + n - 1):
                lv_key[k] = lv_key[k + 1]
                lv_shares[k] = lv_shares[k + 1]
                lv_count[k] = lv_count[k + 1]
            books[b, 2] = n - 1
    return n - 1 - i


@njit(cache=True)
def _compact(books, old_key, old_shares, old_count, new_key, new_shares, new_count):
    """Copy every live segment into the new pool; empty books give their segment up."""
    top = 0
    for b in range(books.shape[0]):
        n = books[b, 2]
        if n == 0:
            books[b, 0] = 0
            books[b, 1] = 0
            continue
        start = books[b, 0]
        for k in range(n):
            new_key[top + k] = old_key[start + k]
            new_shares[top + k] = old_shares[start + k]
            new_count[top + k] = old_count[start + k]
        books[b, 0] = top
        top += books[b, 1]
    return top


@njit(cache=True, inline="always")
def _error(errors, kind, position):
    if errors[kind, 0] == 0 or position < errors[kind, 1]:
        errors[kind, 1] = position
    errors[kind, 0] += 1


@njit(cache=True, inline="always")
def _write_depth(books, lv_key, lv_shares, lv_count, loc, n_levels, d_px, d_sz, d_ct, row):
    for side in range(2):
        b = 2 * loc + side
        start, n = books[b, 0], books[b, 2]
        for r in range(n_levels):
            col = side * n_levels + r
            if r < n:
                j = start + n - 1 - r
                d_px[row, col] = _key_price(lv_key[j], side)
                d_sz[row, col] = lv_shares[j]
                d_ct[row, col] = lv_count[j]
            else:
                d_px[row, col] = 0
                d_sz[row, col] = 0
                d_ct[row, col] = 0


@njit(cache=True)
def _run(buf, pos, index, first_seq, seqs, use_seqs, base_offset,
         orders, counters, books, pool, lv_key, lv_shares, lv_count,
         bbo_cache, names, emit, wanted, filter_on, type_counts, errors,
         n_rows, cap_rows, depth, want_trades,
         b_seq, b_ts, b_loc, b_bpx, b_apx, b_bsz, b_asz,
         d_seq, d_ts, d_loc, d_px, d_sz, d_ct,
         t_seq, t_ts, t_loc, t_type, t_side, t_px, t_sz, t_match):
    """Apply records from `buf[pos]` on; returns (status, position, record index) to resume at."""
    end = buf.shape[0]
    mask = orders.shape[0] - 1
    shift = _shift_for(orders.shape[0])
    pool_size = lv_key.shape[0]
    # Row counts live in registers; the array only carries them between calls.
    n_bbo, n_depth, n_trades = n_rows[0], n_rows[1], n_rows[2]
    status = _DONE
    while pos < end:
        if n_bbo >= cap_rows or n_depth >= cap_rows or n_trades >= cap_rows:
            status = _OUTPUT_FULL
            break
        seq = np.uint64(seqs[index]) if use_seqs else np.uint64(first_seq + index)
        where = np.int64(seq) if use_seqs else base_offset + pos
        if pos + 2 > end:
            _error(errors, _E_TRUNCATED, where)
            pos = end
            break
        length = np.int64(_be16(buf, pos))
        nxt = pos + 2 + length
        if length == 0:
            _error(errors, _E_ZERO_LENGTH, where)
            pos = nxt
            index += 1
            continue
        if nxt > end:
            _error(errors, _E_TRUNCATED, where)
            pos = end
            break
        p = pos + 2
        mtype = buf[p]
        if length > 50:
            _error(errors, _E_BAD_LENGTH, where)
        elif _LENGTH_BY_TYPE[mtype] == 0:
            _error(errors, _E_UNKNOWN_TYPE, where)
        elif _LENGTH_BY_TYPE[mtype] != length:
            _error(errors, _E_WRONG_LENGTH, where)
        else:
            # One well-formed message.
            # The 6-byte timestamp: the 8 bytes ending with it, less the two before.
            ts = _be64(buf, p + _TIMESTAMP - 2) & _U48
            loc = np.int64(_be16(buf, p + _LOCATE))
            changed = False       # did the book of `loc`, side `side`, change?
            rank = np.int64(1 << 30)  # best rank of the levels it touched
            side = 0
            if mtype == 65 or mtype == 70:  # A, F
                if counters[0] + 1 > (mask + 1) >> 1:
                    status = _GROW_ORDERS
                    break
                side = 1 if buf[p + _ADD_SIDE] == 83 else 0
                b = 2 * loc + side
                if books[b, 2] == books[b, 1] and \
                        pool[0] + max(_MIN_SEGMENT, 2 * books[b, 1]) > pool_size:
                    status = _GROW_LEVELS
                    break
                ref = _be64(buf, p + _ADD_REF)
                shares = _be32(buf, p + _ADD_SHARES)
                price = _be32(buf, p + _ADD_PRICE)
                slot, found = _probe(orders, mask, shift, ref)
                if found:
                    _error(errors, _E_DUPLICATE_REF, where)
                elif shares == 0:
                    _error(errors, _E_ZERO_SHARE_ADD, where)
                else:
                    orders[slot, 0] = ref
                    orders[slot, 1] = (price << np.uint64(32)) | shares
                    orders[slot, 2] = np.uint64(b + 1)
                    counters[0] += 1
                    rank = _level_add(books, pool, lv_key, lv_shares, lv_count, b,
                                      _level_key(price, side), shares)
                    changed = True
            elif mtype == 69 or mtype == 67 or mtype == 88 or mtype == 68 or mtype == 85:
                # E, C, X, D, U: all start from a live order.
                ref = _be64(buf, p + _REF)
                slot, found = _probe(orders, mask, shift, ref)
                if not found:
                    _error(errors, _E_UNKNOWN_REF, where)
                else:
                    b = np.int64(orders[slot, 2]) - 1
                    loc = b >> 1
                    side = b & 1
                    packed = orders[slot, 1]
                    price = packed >> np.uint64(32)
                    live = packed & _U32
                    new_ref = np.uint64(0)
                    new_shares = np.uint64(0)
                    new_price = np.uint64(0)
                    if mtype == 85:
                        if counters[0] + 1 > (mask + 1) >> 1:
                            status = _GROW_ORDERS
                            break
                        if books[b, 2] == books[b, 1] and \
                                pool[0] + max(_MIN_SEGMENT, 2 * books[b, 1]) > pool_size:
                            status = _GROW_LEVELS
                            break
                        new_ref = _be64(buf, p + _U_NEW_REF)
                        new_shares = _be32(buf, p + _U_SHARES)
                        new_price = _be32(buf, p + _U_PRICE)
                        take = live
                    elif mtype == 68:
                        take = live
                    elif mtype == 88:
                        take = _be32(buf, p + _X_SHARES)
                    else:
                        take = _be32(buf, p + _EXEC_SHARES)
                        if want_trades and emit[loc]:
                            r = n_trades
                            t_seq[r] = seq
                            t_ts[r] = ts
                            t_loc[r] = loc
                            t_type[r] = mtype
                            t_side[r] = 83 if side == 1 else 66
                            t_px[r] = _be32(buf, p + _C_PRICE) if mtype == 67 else price
                            t_sz[r] = take
                            t_match[r] = _be64(buf, p + _EXEC_MATCH)
                            n_trades = r + 1
                    if take > live:
                        _error(errors, _E_OVERFILL, where)
                        take = live
                    if take > 0:
                        gone = take == live
                        rank = _level_reduce(books, lv_key, lv_shares, lv_count, b,
                                             _level_key(price, side), take, gone)
                        changed = True
                        if gone:
                            _delete_order(orders, mask, shift, slot)
                            counters[0] -= 1
                        else:
                            orders[slot, 1] = packed - take
                    if mtype == 85:
                        slot, found = _probe(orders, mask, shift, new_ref)
                        if found:
                            _error(errors, _E_DUPLICATE_REF, where)
                        elif new_shares == 0:
                            _error(errors, _E_ZERO_SHARE_ADD, where)
                        else:
                            orders[slot, 0] = new_ref
                            orders[slot, 1] = (new_price << np.uint64(32)) | new_shares
                            orders[slot, 2] = np.uint64(b + 1)
                            counters[0] += 1
                            rank = min(rank, _level_add(
                                books, pool, lv_key, lv_shares, lv_count, b,
                                _level_key(new_price, side), new_shares))
                            # Same price, same shares: the book ends as it was.
                            changed = new_price != price or new_shares != live
            elif mtype == 80:  # P
                if want_trades and emit[loc]:
                    r = n_trades
                    t_seq[r] = seq
                    t_ts[r] = ts
                    t_loc[r] = loc
                    t_type[r] = mtype
                    t_side[r] = buf[p + _P_SIDE]
                    t_px[r] = _be32(buf, p + _P_PRICE)
                    t_sz[r] = _be32(buf, p + _P_SHARES)
                    t_match[r] = _be64(buf, p + _P_MATCH)
                    n_trades = r + 1
            elif mtype == 81:  # Q
                if want_trades and emit[loc]:
                    r = n_trades
                    t_seq[r] = seq
                    t_ts[r] = ts
                    t_loc[r] = loc
                    t_type[r] = mtype
                    t_side[r] = 32
                    t_px[r] = _be32(buf, p + _Q_PRICE)
                    t_sz[r] = _be64(buf, p + _Q_SHARES)
                    t_match[r] = _be64(buf, p + _Q_MATCH)
                    n_trades = r + 1
            elif mtype == 82:  # R
                name = _be64(buf, p + _R_STOCK)
                if name != names[loc]:
                    if n_bbo + n_depth + n_trades > 0:
                        status = _RENAME
                        break
                    names[loc] = name
                    counters[1] += 1
                    if filter_on:
                        emit[loc] = False
                        for w in wanted:
                            if w == name:
                                emit[loc] = True
            type_counts[mtype] += 1
            if changed:
                b = 2 * loc + side
                n = books[b, 2]
                top_px = np.uint64(0)
                top_sz = np.uint64(0)
                if n > 0:
                    j = books[b, 0] + n - 1
                    top_px = np.uint64(_key_price(lv_key[j], side))
                    top_sz = lv_shares[j]
                c = 2 * side
                if bbo_cache[loc, c] != top_px or bbo_cache[loc, c + 1] != top_sz:
                    bbo_cache[loc, c] = top_px
                    bbo_cache[loc, c + 1] = top_sz
                    if emit[loc]:
                        r = n_bbo
                        b_seq[r] = seq
                        b_ts[r] = ts
                        b_loc[r] = loc
                        b_bpx[r] = bbo_cache[loc, 0]
                        b_bsz[r] = bbo_cache[loc, 1]
                        b_apx[r] = bbo_cache[loc, 2]
                        b_asz[r] = bbo_cache[loc, 3]
                        n_bbo = r + 1
                if rank < depth and emit[loc]:
                    r = n_depth
                    d_seq[r] = seq
                    d_ts[r] = ts
                    d_loc[r] = loc
                    _write_depth(books, lv_key, lv_shares, lv_count, loc, depth,
                                 d_px, d_sz, d_ct, r)
                    n_depth = r + 1
        pos = nxt
        index += 1
    n_rows[0], n_rows[1], n_rows[2] = n_bbo, n_depth, n_trades
    return status, pos, index


def _pack_name(name: str) -> np.uint64:
    raw = name.encode("latin-1")
    if len(raw) > 8:
        raise ValueError(f"ITCH symbols are at most 8 characters: {name!r}")
    return np.uint64(int.from_bytes(raw.ljust(8, b" "), "big"))


def _unpack_name(packed: int) -> str:
    return int(packed).to_bytes(8, "big").decode("latin-1").rstrip(" ")


class FastBook:
    """Every book of a feed, kept in preallocated arrays between chunks; see the module doc."""

    def __init__(self, depth: int = 0, trades: bool = False,
                 symbols: Iterable[str] | None = None, *, output_rows: int = 1 << 18,
                 order_capacity: int = 1 << 16, level_pool: int = 1 << 16) -> None:
        if order_capacity & (order_capacity - 1) or order_capacity < 2:
            raise ValueError("order_capacity must be a power of two")
        self.depth = depth
        self.trades = trades
        self.records = 0
        self._orders = np.zeros((order_capacity, 3), np.uint64)
        self._counters = np.zeros(2, np.int64)  # live orders, symbol renames
        self._books = np.zeros((_N_BOOKS, 3), np.int64)  # segment start, capacity, levels
        self._pool = np.zeros(1, np.int64)  # first unused slot of the level pool
        self._lv_key = np.zeros(level_pool, np.uint32)
        self._lv_shares = np.zeros(level_pool, np.uint64)
        self._lv_count = np.zeros(level_pool, np.uint32)
        self._bbo_cache = np.zeros((N_LOCATES, 4), np.uint64)
        self._names = np.full(N_LOCATES, _SPACE8, np.uint64)  # packed 8-byte stock names
        self._names_arrow_renames = 0  # renames `_names_arrow` has seen
        self._names_arrow = pa.array([""] * N_LOCATES, pa.string())
        self._filter_on = symbols is not None
        self._wanted = np.array([_pack_name(s) for s in (symbols or ())], np.uint64)
        self._emit = np.full(N_LOCATES, not self._filter_on, np.bool_)
        self._type_counts = np.zeros(256, np.int64)
        self._errors = np.zeros((len(BOOK_ERROR_KINDS), 2), np.int64)
        self._n_rows = np.zeros(3, np.int64)
        self._cap_rows = output_rows
        rows, cols = output_rows, 2 * depth
        self._bbo_out = (np.zeros(rows, np.uint64), np.zeros(rows, np.uint64),
                         np.zeros(rows, np.uint16), np.zeros(rows, np.uint32),
                         np.zeros(rows, np.uint32), np.zeros(rows, np.uint64),
                         np.zeros(rows, np.uint64))
        depth_rows = rows if depth else 0
        self._depth_out = (np.zeros(depth_rows, np.uint64), np.zeros(depth_rows, np.uint64),
                           np.zeros(depth_rows, np.uint16),
                           np.zeros((depth_rows, cols), np.uint32),
                           np.zeros((depth_rows, cols), np.uint64),
                           np.zeros((depth_rows, cols), np.uint32))
        trade_rows = rows if trades else 0
        self._trades_out = (np.zeros(trade_rows, np.uint64), np.zeros(trade_rows, np.uint64),
                            np.zeros(trade_rows, np.uint16), np.zeros(trade_rows, np.uint8),
                            np.zeros(trade_rows, np.uint8), np.zeros(trade_rows, np.uint32),
                            np.zeros(trade_rows, np.uint64), np.zeros(trade_rows, np.uint64))

    # ---- state growth ----

    def _grow_orders(self) -> None:
        grown = np.zeros((2 * self._orders.shape[0], 3), np.uint64)
        _rehash(self._orders, grown)
        self._orders = grown

    def _compact_levels(self) -> None:
        live = int(self._books[:, 1][self._books[:, 2] > 0].sum())
        biggest = int(self._books[:, 1].max())
        size = max(self._lv_key.shape[0], 2 * live + 4 * max(biggest, _MIN_SEGMENT))
        key, shares, count = (np.zeros(size, np.uint32), np.zeros(size, np.uint64),
                              np.zeros(size, np.uint32))
        self._pool[0] = _compact(self._books, self._lv_key, self._lv_shares, self._lv_count,
                                 key, shares, count)
        self._lv_key, self._lv_shares, self._lv_count = key, shares, count

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
        are (rows, 2N) arrays, N bid levels then N ask; trades ``type``/``side``
        are ASCII codes (uint8). The arrays are views of the book's output
        buffers, valid only until the next `process` or `process_columns` call
        (copy what you keep); a chunk that filled the buffers or renamed a
        symbol mid-chunk gets fresh arrays instead. For the live path: a call
        allocates no big arrays and does no Arrow work.
        """
        parts: list[dict[str, dict[str, np.ndarray]]] = []

        def hand_out() -> None:
            parts.append({name: {col: a.copy() for col, a in cols.items()}
                          for name, cols in self._pending_rows().items()})

        self._apply(chunk, hand_out)
        last = self._pending_rows()
        if not parts:
            return last
        parts.append(last)
        return {name: {col: np.concatenate([p[name][col] for p in parts]) for col in cols}
                for name, cols in last.items()}

    def _apply(self, chunk: FeedChunk, hand_out: Callable[[], None]) -> None:
        """Run the kernel over `chunk`, growing state as it asks.

        `hand_out` must take the pending rows (`_pending_rows`) whenever the
        kernel needs its output buffers back: full, or an R message renaming a
        symbol that pending rows still carry.
        """
        data = np.ascontiguousarray(chunk.data, dtype=np.uint8)
        use_seqs = chunk.seqs is not None
        seqs = np.ascontiguousarray(chunk.seqs, dtype=np.uint64) if use_seqs else _NO_SEQS
        pos, index = 0, 0
        while True:
            status, pos, index = _run(
                data, pos, index, chunk.first_seq, seqs, use_seqs, chunk.base_offset,
                self._orders, self._counters, self._books, self._pool,
                self._lv_key, self._lv_shares, self._lv_count, self._bbo_cache, self._names,
                self._emit, self._wanted, self._filter_on, self._type_counts, self._errors,
                self._n_rows, self._cap_rows, self.depth, self.trades,
                *self._bbo_out, *self._depth_out, *self._trades_out)
            if status == _GROW_ORDERS:
                self._grow_orders()
            elif status == _GROW_LEVELS:
                self._compact_levels()
            elif status in (_OUTPUT_FULL, _RENAME):
                hand_out()
            else:
                break
        self.records += index

    def _pending_rows(self) -> dict[str, dict[str, np.ndarray]]:
        """Views of the rows written since the last hand-out, per table; marks them taken."""
        n_bbo, n_depth, n_trades = self._n_rows.tolist()
        self._n_rows[:] = 0
        rows = {"bbo": {col: a[:n_bbo] for col, a in zip(_BBO_COLUMNS, self._bbo_out)}}
        if self.depth:
            rows["depth"] = {col: a[:n_depth] for col, a in zip(_DEPTH_COLUMNS, self._depth_out)}
        if self.trades:
            rows["trades"] = {col: a[:n_trades]
                              for col, a in zip(_TRADE_COLUMNS, self._trades_out)}
        return rows

    def _tables(self, rows: dict[str, dict[str, np.ndarray]]) -> dict[str, pa.Table]:
        """Arrow tables of `_pending_rows` output, with the symbols as named now."""
        # Copies: pyarrow would wrap the reused output buffers without copying.
        cols = {name: [a.copy() for a in table.values()] for name, table in rows.items()}
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
        if self._names_arrow_renames != self._counters[1]:
            self._names_arrow_renames = int(self._counters[1])
            names = [""] * N_LOCATES
            for loc in np.flatnonzero(self._names != _SPACE8):
                names[loc] = _unpack_name(self._names[loc])
            self._names_arrow = pa.array(names, pa.string())
        return symbol_column(locates, self._names_arrow)

    # ---- results ----

    @property
    def errors(self) -> ErrorLog:
        """Counted record and book errors so far, with their first positions."""
        log = ErrorLog()
        for kind, (count, first) in zip(BOOK_ERROR_KINDS, self._errors):
            log.add(kind, int(first), int(count))
        return log

    @property
    def message_counts(self) -> dict[str, int]:
        """Well-formed messages so far, per message type."""
        return {chr(t): int(n) for t, n in enumerate(self._type_counts) if n}

    @property
    def symbols(self) -> dict[int, str]:
        """Stock locate -> symbol, from the R messages seen so far."""
        return {int(loc): _unpack_name(self._names[loc])
                for loc in np.flatnonzero(self._names != _SPACE8)}

    @property
    def live_orders(self) -> int:
        return int(self._counters[0])

    def top(self, locate: int, side: str, n: int) -> list[tuple[int, int, int]]:
        """The best `n` levels of one side as (price, shares, orders), best first."""
        s = 1 if side == "S" else 0
        start, _, count = self._books[2 * locate + s]
        out = []
        for j in range(start + count - 1, max(start + count - 1 - n, start - 1), -1):
            key = int(self._lv_key[j])
            out.append((key if s == 0 else 0xFFFFFFFF - key, int(self._lv_shares[j]),
                        int(self._lv_count[j])))
        return out
