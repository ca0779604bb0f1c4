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
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from tickaccel.schema import bbo_records
from tickaccel.schema.tables import bbo_table, depth_table


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
    rec = bbo_records.to_array(data, depth)
    is_symbol = rec["kind"] == bbo_records.KIND_SYMBOL
    is_bbo = rec["kind"] == bbo_records.KIND_BBO
    unknown = ~(is_symbol | is_bbo)
    if unknown.any():
        raise ValueError(f"record {int(np.argmax(unknown))}: unknown kind {int(rec['kind'][unknown][0])}")
    flags = rec["flags"]
    stale_rows = is_bbo & ((flags & bbo_records.FLAG_STALE) != 0)
    bbo_rows = is_bbo & ((flags & bbo_records.FLAG_DEPTH_ONLY) == 0)
    carries_depth = is_bbo & ((flags & bbo_records.FLAG_DEPTH) != 0)
    if levels:
        # (rows, levels, 3): price, size, orders of each carried level
        carried = np.stack([np.stack([rec[f"{name}_{k}"] for name, _, _ in bbo_records.LEVEL_FIELDS], -1)
                            for k in range(1, levels + 1)], 1).astype(np.uint64)
    # Replay the records in order: the R records name the locates; the depth
    # records update each side's levels.
    names: dict[int, str] = {}
    symbols: list[str] = []
    depth_symbols: list[str] = []
    stale: dict[int, dict[str, int]] = {}
    keep = np.zeros(len(rec), np.bool_)
    sides: dict[tuple[int, int], np.ndarray] = {}
    empty = np.zeros((levels, 3), np.uint64)
    depth_rows: list[int] = []
    depth_values: list[np.ndarray] = []
    for i in np.flatnonzero(is_symbol | is_bbo).tolist():
        locate = int(rec["stock_locate"][i])
        if is_symbol[i]:
            names[locate] = _name(rec["bid_size"][i])
            continue
        changed = False
        if levels and carries_depth[i]:
            side = int(flags[i] & bbo_records.FLAG_ASK != 0)
            before = sides.get((locate, side), empty)
            sides[(locate, side)] = carried[i]
            changed = not np.array_equal(before, carried[i])
        if stale_rows[i]:
            entry = stale.setdefault(locate, {"rows": 0, "first_seq": int(rec["seq"][i])})
            entry["rows"] += 1
            continue
        if bbo_rows[i]:
            keep[i] = True
            symbols.append(names.get(locate, ""))
        if changed:
            depth_rows.append(i)
            depth_symbols.append(names.get(locate, ""))
            depth_values.append(np.concatenate([sides.get((locate, 0), empty), sides.get((locate, 1), empty)]))
    rows = rec[keep]
    table = bbo_table(rows["seq"], rows["timestamp"], rows["stock_locate"], symbols,
                      rows["bid_price"], rows["ask_price"], rows["bid_size"], rows["ask_size"])
    decoded = DecodedStream(table, stale, names)
    if levels:
        at = np.array(depth_rows, np.int64)
        values = np.array(depth_values, np.uint64).reshape(len(depth_rows), 2 * levels, 3)
        decoded.depth = depth_table(rec["seq"][at], rec["timestamp"][at], rec["stock_locate"][at],
                                    depth_symbols, values[:, :, 0], values[:, :, 1], values[:, :, 2])
    return decoded
