"""Decode the RTL order book's output stream into the tables `tickaccel replay` writes.

The stream is BBO update records (`tickaccel.schema.bbo_records`), in feed order,
42 bytes each or wider when the book sends depth (``DEPTH_OUT`` levels per
side). Symbol names come from the stream's own ``R`` records, so each row
gets the name its locate had at that point of the feed, as in the software
books. Rows flagged stale are not book values anyone should trust: they are
left out of the tables and reported per symbol instead (`DecodedStream.stale`).

Depth: a record with `FLAG_DEPTH` carries the best levels of one side after
its event; the decoder keeps each side's last levels, so it knows both sides
at every record and writes a depth row (`tables.depth_schema`) whenever the
best `levels` of the symbol changed, the software books' rule.

The records are replayed in one compiled pass (Numba) over the raw bytes, which
leaves record indices; the table columns are then gathered from those records
by the fields' byte positions (`bbo_records.positions`, all byte aligned), so no
Python code runs per record.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from numba import njit

from tickaccel.schema import bbo_records
from tickaccel.schema.tables import bbo_table, depth_table

_LOCATES = 1 << 16  # stock_locate is 16 bits
_BBO_COLUMNS = ("seq", "timestamp", "stock_locate", "bid_price", "ask_price", "bid_size", "ask_size")
# module-level constants, so the compiled pass sees them as literals
_KIND_SYMBOL = bbo_records.KIND_SYMBOL
_FLAG_STALE, _FLAG_DEPTH = bbo_records.FLAG_STALE, bbo_records.FLAG_DEPTH
_FLAG_ASK, _FLAG_DEPTH_ONLY = bbo_records.FLAG_ASK, bbo_records.FLAG_DEPTH_ONLY


def _byte_fields(names: tuple[str, ...], depth: int) -> np.ndarray:
    """(first byte, bytes) of each named field of the record with `depth` levels; all are byte aligned."""
    at = bbo_records.positions(depth)
    return np.array([(at[name][0] // 8, at[name][1] // 8) for name in names], np.int64).reshape(-1, 2)


@dataclass
class DecodedStream:
    bbo: pa.Table
    stale: dict[int, dict[str, int]] = field(default_factory=dict)  # locate -> rows, first_seq
    names: dict[int, str] = field(default_factory=dict)
    depth: pa.Table | None = None  # when decoded with levels > 0


def _name(packed: int) -> str:
    return int(packed).to_bytes(8, "big").decode("latin-1").rstrip(" ")


def decode(data: bytes | bytearray | memoryview | np.ndarray, depth: int = 0,
           levels: int | None = None) -> DecodedStream:
    """The BBO table (BBO_SCHEMA), the stale report and, when `levels` > 0, the depth table.

    `depth` is the stream's DEPTH_OUT (record size); `levels` the depth table's
    levels per side, at most `depth` (default: `depth`).
    """
    levels = depth if levels is None else levels
    if not 0 <= levels <= depth:
        raise ValueError(f"a stream with {depth} depth levels gives 0..{depth} levels, not {levels}")
    size = bbo_records.layout(depth).nbytes
    raw = np.frombuffer(data, np.uint8)
    if raw.size % size:
        raise ValueError(f"{raw.size} bytes is not a whole number of {size}-byte records")
    raw = raw.reshape(-1, size)
    (kind_at, _), (flags_at, _), (locate_at, _) = _byte_fields(("kind", "flags", "stock_locate"), depth)
    kind = raw[:, kind_at]
    unknown = (kind != bbo_records.KIND_SYMBOL) & (kind != bbo_records.KIND_BBO)
    if unknown.any():
        raise ValueError(f"record {int(np.argmax(unknown))}: unknown kind {int(kind[unknown][0])}")
    levels_from = bbo_records.RECORD_BYTES  # the levels follow the BBO fields, best first
    kept, row_name, namer, name_records, stale_rows, stale_first, depth_at, depth_name, depth_sides = _replay(
        raw, kind_at, flags_at, locate_at, levels_from, levels_from + levels * bbo_records.LEVEL_WIDTH // 8)
    seq, timestamp, locate, bid_price, ask_price, bid_size, ask_size = \
        _gather(raw, kept, _byte_fields(_BBO_COLUMNS, depth)).T
    # every name the stream holds, decoded once; index 0 for rows before their locate's first R record
    symbols = pa.array([""] + _name_strings(raw, name_records, depth), pa.string())
    table = bbo_table(seq, timestamp, locate, symbols.take(row_name + 1),
                      bid_price, ask_price, bid_size, ask_size)
    # the dicts in the order the stream first flagged each locate stale / first named it
    stale_locates = np.flatnonzero(stale_rows)
    stale_locates = stale_locates[np.argsort(stale_first[stale_locates])]
    first_seq = _gather(raw, stale_first[stale_locates], _byte_fields(("seq",), depth))[:, 0]
    stale = {loc: {"rows": rows, "first_seq": seq} for loc, rows, seq in
             zip(stale_locates.tolist(), stale_rows[stale_locates].tolist(), first_seq.tolist())}
    named = _gather(raw, name_records, _byte_fields(("stock_locate",), depth))[:, 0]
    named = named[np.sort(np.unique(named, return_index=True)[1])]
    names = {loc: symbols[int(namer[loc]) + 1].as_py() for loc in named.tolist()}
    decoded = DecodedStream(table, stale, names)
    if levels:
        # (rows, 2 * levels, 3): each side's last carried levels (zeros before the first), bid then ask
        level_fields = _byte_fields(tuple(f"{name}_{k}" for k in range(1, levels + 1)
                                          for name, _, _ in bbo_records.LEVEL_FIELDS), depth)
        values = np.concatenate([_gather(raw, depth_sides[:, side], level_fields).reshape(-1, levels, 3)
                                 for side in (0, 1)], axis=1)
        seq, timestamp, locate = _gather(raw, depth_at, _byte_fields(_BBO_COLUMNS[:3], depth)).T
        decoded.depth = depth_table(seq, timestamp, locate, symbols.take(depth_name + 1),
                                    values[:, :, 0], values[:, :, 1], values[:, :, 2])
    return decoded


def _name_strings(raw: np.ndarray, name_records: np.ndarray, depth: int) -> list[str]:
    """The symbol each R record at `name_records` names."""
    return [_name(p) for p in _gather(raw, name_records, _byte_fields(("bid_size",), depth))[:, 0].tolist()]


@njit(cache=True)
def _gather(raw, rows, fields):
    """out[r, f]: field f ((first byte, bytes), little-endian) of record rows[r]; 0 where rows[r] is -1."""
    out = np.zeros((len(rows), len(fields)), np.uint64)
    for r in range(len(rows)):
        i = rows[r]
        if i < 0:
            continue
        row = raw[i]
        for f in range(len(fields)):
            first = fields[f, 0]
            value = np.uint64(0)
            for b in range(fields[f, 1]):
                value |= np.uint64(row[first + b]) << np.uint64(8 * b)
            out[r, f] = value
    return out


@njit(cache=True)
def _replay(raw, kind_at, flags_at, locate_at, levels_from, levels_to):
    """One pass over the records in feed order, keeping the stream's state at each record.

    Names are numbered by their R records in stream order. Returns the BBO rows (record
    indices) and the name of each (-1: none yet); per locate its last name; the R records;
    per locate the stale rows and the first of them; the depth rows, the name of each and per
    side the record whose levels are the side's then (-1: none yet). A side's levels changed when bytes `levels_from:levels_to` of its new record differ
    from its last one's (zeros before the first).
    """
    n = raw.shape[0]
    namer = np.full(_LOCATES, -1, np.int64)
    name_records = np.empty(n, np.int64)
    side_at = np.full((_LOCATES, 2), -1, np.int64)
    stale_rows = np.zeros(_LOCATES, np.int64)
    stale_first = np.full(_LOCATES, -1, np.int64)
    kept = np.empty(n, np.int64)
    row_name = np.empty(n, np.int64)
    depth_at = np.empty(n, np.int64)
    depth_name = np.empty(n, np.int64)
    depth_sides = np.empty((n, 2), np.int64)
    rows = depth_rows = names = 0
    for i in range(n):
        loc = np.int64(raw[i, locate_at]) | np.int64(raw[i, locate_at + 1]) << 8
        flags = raw[i, flags_at]
        if raw[i, kind_at] == _KIND_SYMBOL:
            namer[loc] = names
            name_records[names] = i
            names += 1
            continue
        changed = False
        if levels_to > levels_from and flags & _FLAG_DEPTH:
            side = 1 if flags & _FLAG_ASK else 0
            before = side_at[loc, side]
            for b in range(levels_from, levels_to):
                if raw[i, b] != (raw[before, b] if before >= 0 else 0):
                    changed = True
                    break
            side_at[loc, side] = i
        if flags & _FLAG_STALE:
            if stale_rows[loc] == 0:
                stale_first[loc] = i
            stale_rows[loc] += 1
            continue
        if not flags & _FLAG_DEPTH_ONLY:
            kept[rows] = i
            row_name[rows] = namer[loc]
            rows += 1
        if changed:
            depth_at[depth_rows] = i
            depth_name[depth_rows] = namer[loc]
            depth_sides[depth_rows, 0] = side_at[loc, 0]
            depth_sides[depth_rows, 1] = side_at[loc, 1]
            depth_rows += 1
    return (kept[:rows], row_name[:rows], namer, name_records[:names], stale_rows, stale_first,
            depth_at[:depth_rows], depth_name[:depth_rows], depth_sides[:depth_rows])
